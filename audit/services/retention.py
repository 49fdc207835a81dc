"""Activity log retention: archive old rows to gzip JSON lines, then delete them.

The chain stays verifiable across the cut. An archive's header names the anchor it starts from
(the genesis hash, or the previous archive's last hash) and its last row's hash; the chain head's
anchor moves to that last row, so the live chain starts exactly where the archive ends, and
`archive_verify` re-checks an archive's rows as `activity_chain_verify` checks the live ones.

Rows are deleted only after their archive is written and flushed to disk, in the transaction
that holds the chain head, so a failure at any point leaves the log as it was (at worst an
archive file that a later prune writes again).
"""

import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.models import GENESIS_HASH, ActivityChainHead, ActivityLog
from audit.services.activity import HASHED_FIELDS, activity_row_hash
from audit.services.config import config_get
from trading_lab.exceptions import ApplicationError

ARCHIVE_FORMAT = "trading-lab-activity-archive/1"
STORED_FIELDS = ("user_id", *HASHED_FIELDS, "prev_hash", "row_hash")


@dataclass(frozen=True)
class PruneReport:
    """What a prune did (or, on a dry run, would do)."""

    rows: int
    first_seq: int | None
    last_seq: int | None
    archive: Path | None
    dry_run: bool


@dataclass(frozen=True)
class ArchiveReport:
    """An archive file checked on its own: its rows, both ends, and any problem."""

    path: Path
    rows: int
    anchor_hash: str
    last_hash: str
    problems: tuple[str, ...]

    @property
    def intact(self) -> bool:
        return not self.problems


def _chain_problems(rows: list[dict[str, Any]], anchor_seq: int, anchor_hash: str) -> list[str]:
    problems = []
    expected_seq, expected_prev = anchor_seq + 1, anchor_hash
    for row in rows:
        seq = row["seq"]
        if seq != expected_seq:
            problems.append(f"Row #{seq} found where #{expected_seq} was expected (gap).")
        if row["prev_hash"] != expected_prev:
            problems.append(f"Row #{seq} does not link to the row before it.")
        if activity_row_hash(prev_hash=row["prev_hash"], values=row) != row["row_hash"]:
            problems.append(f"Row #{seq} was changed after it was written.")
        expected_seq, expected_prev = seq + 1, row["row_hash"]
    return problems


def activity_prune(
    *,
    older_than_days: int | None = None,
    archive_dir: Path | str | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
) -> PruneReport:
    """Archive and delete activity rows older than the retention (system configuration).

    Refuses, deleting nothing, when the rows to prune do not verify: pruning must never hide a
    broken chain.
    """
    days = config_get("retention.activity_days") if older_than_days is None else older_than_days
    if days < 1:
        raise ApplicationError(
            "Retention must be at least one day.", {"older_than_days": ["At least 1."]}
        )
    folder = Path(archive_dir or settings.ACTIVITY_ARCHIVE_DIR)
    cutoff = (now or timezone.now()) - timedelta(days=days)
    with transaction.atomic():
        head = ActivityChainHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            return PruneReport(0, None, None, None, dry_run)
        # The rows to go are a prefix of the chain: everything up to the newest old row.
        last_seq = (
            ActivityLog.objects.filter(created_at__lt=cutoff, seq__lte=head.last_seq)
            .order_by("-seq")
            .values_list("seq", flat=True)
            .first()
        )
        if last_seq is None:
            return PruneReport(0, None, None, None, dry_run)
        rows = list(
            ActivityLog.objects.filter(seq__gt=head.anchor_seq, seq__lte=last_seq)
            .order_by("seq")
            .values(*STORED_FIELDS)
        )
        problems = _chain_problems(rows, head.anchor_seq, head.anchor_hash)
        if problems:
            raise ApplicationError(
                "The activity rows to prune do not verify; nothing was pruned. "
                "Run `manage.py verify_audit`.",
                {"chain": problems[:20]},
            )
        report = PruneReport(len(rows), rows[0]["seq"], last_seq, None, dry_run)
        if dry_run:
            return report
        path = _archive_write(folder, head, rows)
        try:
            ActivityLog._base_manager.filter(seq__lte=last_seq).delete()
            head.anchor_seq = last_seq
            head.anchor_hash = rows[-1]["row_hash"]
            head.save(update_fields=["anchor_seq", "anchor_hash", "updated_at"])
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    return PruneReport(report.rows, report.first_seq, last_seq, path, False)


def _archive_write(folder: Path, head: ActivityChainHead, rows: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"activity-{rows[0]['seq']:012d}-{rows[-1]['seq']:012d}-{stamp}.jsonl.gz"
    partial = path.with_name(path.name + ".partial")
    header = {
        "format": ARCHIVE_FORMAT,
        "anchor_seq": head.anchor_seq,
        "anchor_hash": head.anchor_hash,
        "first_seq": rows[0]["seq"],
        "last_seq": rows[-1]["seq"],
        "last_hash": rows[-1]["row_hash"],
        "rows": len(rows),
        "written_at": timezone.now(),
    }
    with open(partial, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb") as archive:
            for record in (header, *rows):
                line = json.dumps(_exact(record), cls=DjangoJSONEncoder, sort_keys=True)
                archive.write(line.encode() + b"\n")
        raw.flush()
        os.fsync(raw.fileno())
    # The name appears only once the whole file is on disk.
    partial.replace(path)
    return path


def _exact(record: dict[str, Any]) -> dict[str, Any]:
    # DjangoJSONEncoder cuts datetimes to milliseconds; the hash covers every microsecond.
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in record.items()
    }


def _archive_records(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as archive:
        for line in archive:
            if line.strip():
                yield json.loads(line)


def archive_verify(*, path: Path | str) -> ArchiveReport:
    """Re-check an archive's rows against its own header: every link and every row hash."""
    path = Path(path)
    try:
        records = list(_archive_records(path))
    except (OSError, EOFError, json.JSONDecodeError) as exc:
        return ArchiveReport(path, 0, "", "", (f"{path.name} cannot be read: {exc}",))
    if not records or records[0].get("format") != ARCHIVE_FORMAT:
        return ArchiveReport(path, 0, "", "", (f"{path.name} is not an activity archive.",))
    header, rows = records[0], records[1:]
    for row in rows:
        row["created_at"] = parse_datetime(row["created_at"])
    problems = _chain_problems(rows, header["anchor_seq"], header["anchor_hash"])
    if len(rows) != header["rows"] or (rows and rows[-1]["row_hash"] != header["last_hash"]):
        problems.append(f"{path.name}: rows are missing at its end.")
    return ArchiveReport(
        path, len(rows), header["anchor_hash"], header["last_hash"], tuple(problems)
    )


def archives_join_problems(*, reports: list[ArchiveReport]) -> list[str]:
    """Where a sequence of archives (oldest first) does not join up, and with the live chain."""
    problems = []
    expected = GENESIS_HASH
    for report in reports:
        if report.anchor_hash != expected:
            problems.append(f"{report.path.name} does not continue the archive before it.")
        expected = report.last_hash
    head = ActivityChainHead.objects.filter(pk=1).first()
    if reports and head is not None and head.anchor_hash != expected:
        problems.append("The live activity log does not continue the last archive.")
    return problems
