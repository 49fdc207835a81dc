"""Activity retention: old rows go to a gzip JSON-lines archive, the chain stays verifiable."""

import gzip
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from audit.models import GENESIS_HASH, ActivityAction, ActivityChainHead, ActivityLog
from audit.services import activity_chain_verify, activity_record
from audit.services.retention import activity_prune, archive_verify, archives_join_problems
from trading_lab.exceptions import ApplicationError

pytestmark = pytest.mark.django_db

DAYS = 90


def _append(user, count: int, label: str) -> list[ActivityLog]:
    return [
        activity_record(
            user=user,
            action=ActivityAction.SIGN_IN,
            description=f"{label} {n}",
            details={"n": n},
            ip_address="192.0.2.10",
            user_agent_text="pytest",
        )
        for n in range(count)
    ]


def _prune_before(moment, folder, **kwargs):
    """Prune as if today were DAYS after `moment`: rows older than `moment` go."""
    return activity_prune(
        older_than_days=DAYS, archive_dir=folder, now=moment + timedelta(days=DAYS), **kwargs
    )


def test_prune_archives_old_rows_deletes_them_and_the_live_chain_still_verifies(user, tmp_path):
    old = _append(user, 3, "old")
    cut = timezone.now()
    recent = _append(user, 2, "recent")

    report = _prune_before(cut, tmp_path)

    assert (report.rows, report.first_seq, report.last_seq) == (3, old[0].seq, old[-1].seq)
    assert list(ActivityLog.objects.order_by("seq").values_list("seq", flat=True)) == [
        row.seq for row in recent
    ]
    head = ActivityChainHead.objects.get(pk=1)
    assert (head.anchor_seq, head.anchor_hash) == (old[-1].seq, old[-1].row_hash)
    assert activity_chain_verify().intact
    archived = archive_verify(path=report.archive)
    assert archived.intact, archived.problems
    assert (archived.rows, archived.anchor_hash, archived.last_hash) == (
        3,
        GENESIS_HASH,
        old[-1].row_hash,
    )
    assert archives_join_problems(reports=[archived]) == []


def test_archive_holds_a_header_and_every_row_with_its_hashes(user, tmp_path):
    old = _append(user, 2, "old")
    report = _prune_before(timezone.now(), tmp_path)

    with gzip.open(report.archive, "rt") as archive:
        header, *rows = [json.loads(line) for line in archive]
    assert header["format"] == "trading-lab-activity-archive/1"
    assert (header["first_seq"], header["last_seq"], header["rows"]) == (old[0].seq, old[1].seq, 2)
    assert [row["row_hash"] for row in rows] == [row.row_hash for row in old]
    assert rows[0]["description"] == "old 0"
    assert rows[0]["user_id"] == user.pk


def test_two_prunes_make_archives_that_chain_into_each_other_and_the_live_log(user, tmp_path):
    _append(user, 2, "first")
    first = _prune_before(timezone.now(), tmp_path)
    _append(user, 2, "second")
    second = _prune_before(timezone.now(), tmp_path)
    _append(user, 1, "live")

    reports = [archive_verify(path=first.archive), archive_verify(path=second.archive)]

    assert all(report.intact for report in reports)
    assert archives_join_problems(reports=reports) == []
    assert archives_join_problems(reports=list(reversed(reports)))
    call_command("verify_audit", "--archive", str(first.archive), "--archive", str(second.archive))


def test_an_edited_archive_is_reported(user, tmp_path):
    _append(user, 3, "old")
    report = _prune_before(timezone.now(), tmp_path)
    with gzip.open(report.archive, "rt") as archive:
        lines = archive.readlines()
    lines[2] = lines[2].replace('"old 1"', '"forged"')
    with gzip.open(report.archive, "wt") as archive:
        archive.writelines(lines)

    checked = archive_verify(path=report.archive)

    assert not checked.intact
    assert any("was changed" in problem for problem in checked.problems)
    with pytest.raises(CommandError):
        call_command("verify_audit", "--archive", str(report.archive))


def test_dry_run_and_nothing_old_change_nothing(user, tmp_path):
    rows = _append(user, 2, "young")

    dry = _prune_before(timezone.now(), tmp_path, dry_run=True)
    nothing = activity_prune(archive_dir=tmp_path)

    assert (dry.rows, dry.archive, nothing.rows) == (2, None, 0)
    assert ActivityLog.objects.count() == len(rows)
    assert list(tmp_path.iterdir()) == []


def test_a_broken_chain_is_never_pruned_and_nothing_is_written(user, tmp_path):
    rows = _append(user, 3, "old")
    table = connection.ops.quote_name(ActivityLog._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET description = %s WHERE seq = %s",  # noqa: S608 (test tampering)
            ["forged", rows[1].seq],
        )

    with pytest.raises(ApplicationError, match="do not verify"):
        _prune_before(timezone.now(), tmp_path)

    assert ActivityLog.objects.count() == 3
    assert list(tmp_path.iterdir()) == []


def test_archive_write_failure_deletes_nothing(user, tmp_path):
    _append(user, 2, "old")
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")

    with pytest.raises(FileExistsError):
        _prune_before(timezone.now(), blocked)

    assert ActivityLog.objects.count() == 2
    assert ActivityChainHead.objects.get(pk=1).anchor_seq == 0


def test_prune_activity_command_reports_what_it_did_and_refuses_bad_input(user, tmp_path, capsys):
    _append(user, 2, "young")

    call_command("prune_activity", "--dry-run", "--archive-dir", str(tmp_path))
    assert "Nothing to prune." in capsys.readouterr().out
    with pytest.raises(CommandError, match="at least one day"):
        call_command("prune_activity", "--days", "0", "--archive-dir", str(tmp_path))
    assert ActivityLog.objects.count() == 2


def test_prune_activity_is_a_default_schedule():
    from audit.services.scheduler import DEFAULT_SCHEDULES

    names = {schedule.name: schedule.task for schedule in DEFAULT_SCHEDULES}
    assert names["prune-activity"] == "audit.tasks.prune_activity"


def test_prune_history_flushes_entries_older_than_the_retention_only(user, settings):
    from auditlog.models import LogEntry

    from audit.tasks import prune_history

    settings.HISTORY_RETENTION_DAYS = 365
    user.is_staff = True
    user.save()
    user.is_staff = False
    user.save()
    old, *recent = LogEntry.objects.get_for_object(user).order_by("pk")
    assert recent, "both changes should be in history"
    LogEntry.objects.filter(pk=old.pk).update(timestamp=timezone.now() - timedelta(days=400))

    prune_history.call()

    assert not LogEntry.objects.filter(pk=old.pk).exists()
    assert set(LogEntry.objects.get_for_object(user).values_list("pk", flat=True)) == {
        entry.pk for entry in recent
    }
