"""Backups: a consistent copy of the database, rotation, and restore (SQLite and PostgreSQL)."""

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit.services.backups import backup_create, backup_files, backup_restore, backups_rotate
from portfolio.models import Portfolio
from portfolio.services import portfolio_create
from trading_lab.exceptions import ApplicationError


def _touch(folder, when: datetime, suffix: str = ".dump"):
    path = folder / f"trading-lab-{when:%Y%m%dT%H%M%SZ}{suffix}"
    path.write_bytes(b"x")
    return path


def test_rotation_keeps_the_newest_of_seven_days_and_then_of_four_weeks(tmp_path, settings):
    settings.BACKUP_KEEP_DAILY, settings.BACKUP_KEEP_WEEKLY = 7, 4
    newest = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)  # a Sunday
    for day in range(60):
        _touch(tmp_path, newest - timedelta(days=day))
    early_copy = _touch(tmp_path, newest.replace(hour=1))
    stranger = tmp_path / "notes.txt"
    stranger.write_text("not a backup")

    deleted = backups_rotate(folder=tmp_path)

    kept = [backup.taken_at for backup in backup_files(folder=tmp_path)]
    assert kept[:7] == [newest - timedelta(days=day) for day in range(7)]
    # Days 7..: the newest copy of each ISO week without a kept day: the Sundays before.
    assert kept[7:] == [newest - timedelta(days=7 * week) for week in range(1, 5)]
    assert early_copy in deleted
    assert stranger.exists()


def test_rotation_with_few_backups_deletes_nothing(tmp_path):
    now = datetime(2026, 11, 22, tzinfo=UTC)
    for day in range(3):
        _touch(tmp_path, now - timedelta(days=day))

    assert backups_rotate(folder=tmp_path) == []
    assert len(backup_files(folder=tmp_path)) == 3


@pytest.mark.django_db(transaction=True)
def test_backup_then_restore_brings_back_what_changed_since(user, tmp_path):
    kept = portfolio_create(user=user, name="Kept")

    path = backup_create(folder=tmp_path)
    portfolio_create(user=user, name="Made after the backup")
    Portfolio.objects.filter(pk=kept.pk).delete()
    backup_restore(path=path)

    assert list(Portfolio.objects.values_list("name", flat=True)) == ["Kept"]
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.django_db(transaction=True)
def test_sqlite_backup_is_a_database_holding_the_rows(user, tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite copy; test_postgres_backup_is_a_custom_format_dump covers PG")
    portfolio_create(user=user, name="In the copy")

    path = backup_create(folder=tmp_path)

    assert path.suffix == ".sqlite3"
    with sqlite3.connect(path) as copy:
        names = [row[0] for row in copy.execute("SELECT name FROM portfolio_portfolio")]
    assert names == ["In the copy"]


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_backup_is_a_custom_format_dump(tmp_path):
    path = backup_create(folder=tmp_path)

    assert path.suffix == ".dump"
    assert path.read_bytes()[:5] == b"PGDMP"


@pytest.mark.django_db
def test_restore_refuses_a_missing_file_or_one_of_the_other_database(tmp_path):
    other = ".sqlite3" if connection.vendor == "postgresql" else ".dump"
    wrong = _touch(tmp_path, datetime(2026, 1, 1, tzinfo=UTC), suffix=other)

    with pytest.raises(ApplicationError, match="No backup file"):
        backup_restore(path=tmp_path / "nothing.dump")
    with pytest.raises(ApplicationError, match="is not a"):
        backup_restore(path=wrong)


@pytest.mark.django_db(transaction=True)
def test_commands_write_a_backup_and_restore_asks_for_confirmation(tmp_path, capsys):
    call_command("backup", "--folder", str(tmp_path))
    assert "Backup written" in capsys.readouterr().out
    [backup] = backup_files(folder=tmp_path)

    with pytest.raises(CommandError, match="without confirmation"):
        call_command("restore", str(backup.path), interactive=False)
    with pytest.raises(CommandError, match="No backup file"):
        call_command("restore", str(tmp_path / "missing.dump"), "--yes")


@pytest.mark.django_db
def test_sqlite_backup_gives_up_with_a_clear_error_while_a_writer_holds_the_lock(
    user, tmp_path, monkeypatch
):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite locking; pg_dump reads a snapshot and never waits for writers")
    monkeypatch.setattr("audit.services.backups.SQLITE_LOCK_TIMEOUT_SECONDS", 0.5)
    portfolio_create(user=user, name="Uncommitted: this test's transaction holds the lock")

    with pytest.raises(ApplicationError, match="stayed locked"):
        backup_create(folder=tmp_path)
    assert backup_files(folder=tmp_path) == []
    assert not list(tmp_path.glob("*.partial"))


def test_backup_is_a_default_schedule():
    from audit.services.scheduler import DEFAULT_SCHEDULES

    names = {schedule.name: schedule.task for schedule in DEFAULT_SCHEDULES}
    assert names["backup"] == "audit.tasks.backup_database"
