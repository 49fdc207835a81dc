"""The activity log: a SHA-256 chained append and its verification."""

import functools
import hashlib
import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any, TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address

from audit.models import GENESIS_HASH, ActivityChainHead, ActivityLog, ActivityStatus
from trading_lab.exceptions import ApplicationError
from trading_lab.net import client_ip, user_agent

F = TypeVar("F", bound=Callable[..., Any])

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
    """The address exactly as the database will give it back, or None when it is not one.

    The hash is computed before the row is saved, so the value must already be in the form
    Django's GenericIPAddressField stores: an IPv4-mapped IPv6 address keeps its dotted tail
    (`::ffff:1.2.3.4`, where `ipaddress` would say `::ffff:102:304`) and a zone id is dropped.
    """
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if address.version == 6:
        return clean_ipv6_address(str(address).split("%", 1)[0])
    return str(address)


def _text(value: str, limit: int) -> str:
    # PostgreSQL text cannot hold NUL, and a client chooses its user agent.
    return value.replace("\x00", "")[:limit]


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
    request_id = (getattr(request, "request_id", "") or "") if request is not None else ""
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
            "description": _text(description, 500),
            "details": clean_details,
            "ip_address": _normalise_ip(ip_address),
            "user_agent": _text(user_agent_text, 512),
            "request_id": _text(request_id, 64),
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
    """One thing wrong with the chain: `seq` is the row concerned, None for the whole chain."""

    seq: int | None
    message: str


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a verification: the rows checked and every problem found."""

    problems: tuple[ChainProblem, ...]
    rows: int
    first_seq: int | None
    last_seq: int | None

    @property
    def intact(self) -> bool:
        return not self.problems


def activity_chain_verify() -> ChainReport:
    """Walk the chain from its anchor and report every edited, missing, inserted or moved row.

    Reads without locking, so sign-ins go on meanwhile: rows appended after the head was read
    are not checked by this run, and are told apart from forged rows by reading the head again.
    """
    head = ActivityChainHead.objects.filter(pk=1).first()
    problems: list[ChainProblem] = []
    rows = ActivityLog.objects.order_by("seq").values("prev_hash", "row_hash", *HASHED_FIELDS)
    if head is None:
        anchor_seq, expected_prev = 0, GENESIS_HASH
        if ActivityLog.objects.exists():
            problems.append(
                ChainProblem(None, "The chain head is missing although the log holds rows.")
            )
    else:
        anchor_seq, expected_prev = head.anchor_seq, head.anchor_hash
        rows = rows.filter(seq__lte=head.last_seq)
    expected_seq = anchor_seq + 1
    checked, first_seq, last_seq = 0, None, None
    for row in rows.iterator(chunk_size=2000):
        seq = row["seq"]
        if seq <= anchor_seq:
            # Pruning archives and deletes these rows as it moves the anchor past them.
            problems.append(
                ChainProblem(seq, f"Row #{seq} lies before the chain's anchor #{anchor_seq}.")
            )
            continue
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
        checked += 1
        first_seq = seq if first_seq is None else first_seq
        last_seq = seq
    if head is not None:
        problems += _end_problems(head, expected_seq - 1, expected_prev)
    return ChainReport(tuple(problems), checked, first_seq, last_seq)


def _end_problems(head: ActivityChainHead, end_seq: int, end_hash: str) -> list[ChainProblem]:
    """Rows missing at the end, or rows beyond the end that the service did not write."""
    problems = []
    if head.last_seq != end_seq or head.last_hash != end_hash:
        problems.append(
            ChainProblem(
                None,
                f"The chain should end at #{head.last_seq} but ends at #{end_seq}: "
                "rows at the end are missing or were changed.",
            )
        )
    beyond = list(
        ActivityLog.objects.filter(seq__gt=head.last_seq)
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    if beyond:
        # A row the service wrote commits together with the head, so the head read now
        # covers every genuine row the query above saw.
        current_end = ActivityChainHead.objects.values_list("last_seq", flat=True).get(pk=1)
        problems += [
            ChainProblem(
                seq, f"Row #{seq} lies beyond the chain's end: it was added outside the service."
            )
            for seq in beyond
            if seq > current_end
        ]
    return problems


# The rows a refused action needs to name its owner: the first of these arguments that has one.
_OWNER_ARGUMENTS = ("bot", "backtest", "account", "order", "portfolio")


def _acting_user(kwargs: dict[str, Any]) -> Any:
    # Whoever tried: the request's user (the owner, or staff acting in the admin), else the
    # service's `user=`, else the owner of the row it was asked to act on (a background task).
    candidates = [getattr(kwargs.get("request"), "user", None), kwargs.get("user")]
    candidates += [getattr(kwargs.get(name), "user", None) for name in _OWNER_ARGUMENTS]
    for candidate in candidates:
        if getattr(candidate, "is_authenticated", False):
            return candidate
    return None


def activity_records_failure(action: str, what: str) -> Callable[[F], F]:
    """Record a `failure` row of `action` when the decorated service refuses (ApplicationError).

    Success rows stay with the service, inside its transaction, where it knows the details. A
    refusal rolls that transaction back, so its row is written here, after the rollback and in
    its own transaction: the user's activity tab shows what they tried and why it failed. The
    service takes keyword arguments only; the row goes to the request's user, else `user=`,
    else the owner of `bot=`, `backtest=`, `account=`, `order=` or `portfolio=`. The details
    hold the refusal's messages, which never carry secrets (services word them).
    """

    def decorator(service: F) -> F:
        @functools.wraps(service)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return service(*args, **kwargs)
            except ApplicationError as exc:
                user = _acting_user(kwargs)
                if user is not None:
                    activity_record(
                        user=user,
                        action=action,
                        status=ActivityStatus.FAILURE,
                        description=f"{what} failed: {exc.message}",
                        details={"errors": exc.extra} if exc.extra else {},
                        request=kwargs.get("request"),
                    )
                raise

        return wrapper  # type: ignore[return-value]

    return decorator
