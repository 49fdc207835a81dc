"""The activity log: a SHA-256 chained append and its verification."""

import hashlib
import ipaddress
import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from audit.models import GENESIS_HASH, ActivityChainHead, ActivityLog, ActivityStatus
from trading_lab.net import client_ip, user_agent

HASHED_FIELDS = (
    "seq",
    "created_at",
    "user_ref",
    "action",
    "status",
    "description",
    "details",
    "ip_address",
    "user_agent",
    "request_id",
)


def activity_row_hash(*, prev_hash: str, values: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the row's recorded values, in a canonical form."""
    canonical = {
        "seq": int(values["seq"]),
        "created_at": values["created_at"].astimezone(UTC).isoformat(),
        "user_ref": str(values["user_ref"]) if values["user_ref"] else None,
        "action": values["action"],
        "status": values["status"],
        "description": values["description"],
        "details": values["details"],
        "ip_address": values["ip_address"] or None,
        "user_agent": values["user_agent"],
        "request_id": values["request_id"],
    }
    payload = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()


def _normalise_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        return None


def _locked_head() -> ActivityChainHead:
    head = ActivityChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        ActivityChainHead.objects.bulk_create([ActivityChainHead(pk=1)], ignore_conflicts=True)
        head = ActivityChainHead.objects.select_for_update().get(pk=1)
    return head


def activity_record(
    *,
    user: Any,
    action: str,
    status: str = ActivityStatus.SUCCESS,
    description: str = "",
    details: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
    ip_address: str | None = None,
    user_agent_text: str = "",
) -> ActivityLog:
    """Append one row to the activity log, chained to the previous row under a lock.

    `details` must never hold a secret. The client address and user agent come from `request`
    when given (trusted-proxy aware), else from the explicit arguments.
    """
    if request is not None:
        ip_address = client_ip(request)
        user_agent_text = user_agent(request)
    request_id = getattr(request, "request_id", "") if request is not None else ""
    user = user if getattr(user, "is_authenticated", False) else None
    # Round-trip through JSON so the hashed value equals what the database gives back.
    clean_details = json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder))
    with transaction.atomic():
        head = _locked_head()
        values = {
            "seq": head.last_seq + 1,
            "created_at": timezone.now(),
            "user_ref": user.audit_ref if user is not None else None,
            "action": action,
            "status": status,
            "description": description[:500],
            "details": clean_details,
            "ip_address": _normalise_ip(ip_address),
            "user_agent": user_agent_text[:512],
            "request_id": request_id[:64],
        }
        row_hash = activity_row_hash(prev_hash=head.last_hash, values=values)
        row = ActivityLog.objects.create(
            user=user, prev_hash=head.last_hash, row_hash=row_hash, **values
        )
        head.last_seq = row.seq
        head.last_hash = row_hash
        head.save(update_fields=["last_seq", "last_hash", "updated_at"])
    return row


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    message: str


def activity_chain_verify() -> list[ChainProblem]:
    """Walk the chain from its anchor and report every edited, missing, inserted or moved row."""
    head = ActivityChainHead.objects.filter(pk=1).first()
    anchor_seq = head.anchor_seq if head else 0
    expected_prev = head.anchor_hash if head else GENESIS_HASH
    expected_seq = anchor_seq + 1
    problems: list[ChainProblem] = []
    rows = ActivityLog.objects.order_by("seq").values("prev_hash", "row_hash", *HASHED_FIELDS)
    for row in rows.iterator(chunk_size=2000):
        seq = row["seq"]
        if seq != expected_seq:
            problems.append(
                ChainProblem(seq, f"Row #{seq} found where #{expected_seq} was expected (gap).")
            )
        if row["prev_hash"] != expected_prev:
            problems.append(ChainProblem(seq, f"Row #{seq} does not link to the row before it."))
        recomputed = activity_row_hash(prev_hash=row["prev_hash"], values=row)
        if recomputed != row["row_hash"]:
            problems.append(ChainProblem(seq, f"Row #{seq} was changed after it was written."))
        expected_prev = row["row_hash"]
        expected_seq = seq + 1
    if head is not None and (head.last_seq != expected_seq - 1 or head.last_hash != expected_prev):
        problems.append(
            ChainProblem(
                None,
                f"The chain should end at #{head.last_seq} but ends at #{expected_seq - 1}: "
                "rows at the end are missing or were added outside the service.",
            )
        )
    return problems
