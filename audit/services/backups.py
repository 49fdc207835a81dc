"""Backups of the database: a consistent copy with rotation, and restoring one.

PostgreSQL is copied with `pg_dump --format=custom` (one snapshot, so the copy is consistent
while the app keeps writing) and restored with `pg_restore --clean --single-transaction`.
SQLite, the embedded default, is copied with its online backup API, page by page under its
own locking, and restored the same way in the other direction.

Each copy is written under a temporary name and renamed when complete, so a file with a backup
name is always whole. Rotation keeps the newest copy of each of the last `BACKUP_KEEP_DAILY`
days and of each of the last `BACKUP_KEEP_WEEKLY` ISO weeks before those, and deletes the rest.
"""

import os
import re
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from trading_lab.exceptions import ApplicationError

PREFIX = "trading-lab-"
SUFFIXES = {"postgresql": ".dump", "sqlite": ".sqlite3"}
NAME = re.compile(r"^trading-lab-(?P<stamp>\d{8}T\d{6}Z)\.(?P<kind>dump|sqlite3)$")
COMMAND_TIMEOUT_SECONDS = 60 * 60
SQLITE_LOCK_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class BackupFile:
    path: Path
    taken_at: datetime


def _vendor() -> str:
    vendor = connection.vendor
    if vendor not in SUFFIXES:
        raise ApplicationError(f"Backups support PostgreSQL and SQLite, not {vendor}.")
    return vendor


def backup_files(*, folder: Path | str | None = None) -> list[BackupFile]:
    """The backups in the folder, newest first (files of other names are left alone)."""
    folder = Path(folder or settings.BACKUP_DIR)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = NAME.match(path.name)
        if match:
            taken_at = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            found.append(BackupFile(path=path, taken_at=taken_at))
    return sorted(found, key=lambda backup: backup.taken_at, reverse=True)


def backup_create(*, folder: Path | str | None = None, now: datetime | None = None) -> Path:
    """Write a consistent copy of the database into the folder, then rotate old copies."""
    vendor = _vendor()
    folder = Path(folder or settings.BACKUP_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (now or timezone.now()).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{PREFIX}{stamp}{SUFFIXES[vendor]}"
    if path.exists():
        raise ApplicationError(f"{path.name} already exists; try again in a second.")
    partial = path.with_name(path.name + ".partial")
    try:
        if vendor == "postgresql":
            _pg_dump(partial)
        else:
            _sqlite_copy(partial)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    backups_rotate(folder=folder)
    return path


def _pg_environment() -> tuple[list[str], dict[str, str]]:
    params = connection.settings_dict
    arguments = []
    if params.get("HOST"):
        arguments += ["--host", str(params["HOST"])]
    if params.get("PORT"):
        arguments += ["--port", str(params["PORT"])]
    if params.get("USER"):
        arguments += ["--username", str(params["USER"])]
    environment = {**os.environ}
    if params.get("PASSWORD"):
        # Through the environment, never the command line (visible to every local user).
        environment["PGPASSWORD"] = str(params["PASSWORD"])
    return arguments, environment


def _run(command: list[str], environment: dict[str, str]) -> None:
    try:
        done = subprocess.run(  # noqa: S603 (fixed program, arguments from settings)
            command,
            env=environment,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ApplicationError(
            f"{command[0]} is not installed: install the PostgreSQL client tools."
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise ApplicationError(f"{command[0]} did not finish within the time limit.") from exc
    if done.returncode != 0:
        raise ApplicationError(f"{command[0]} failed: {done.stderr.strip()[-2000:]}")


def _pg_dump(target: Path) -> None:
    arguments, environment = _pg_environment()
    name = str(connection.settings_dict["NAME"])
    _run(
        ["pg_dump", "--format=custom", "--no-owner", *arguments, "--file", str(target), name],
        environment,
    )


def _sqlite_connect() -> sqlite3.Connection:
    # A connection of our own: the backup API refuses a source connection that is writing,
    # and this way a backup never depends on the state of Django's connection.
    name = str(connection.settings_dict["NAME"])
    return sqlite3.connect(name, uri=name.startswith("file:"), timeout=30)


def _sqlite_backup(source: sqlite3.Connection, target: sqlite3.Connection) -> None:
    """Copy page by page; give up with a clear error if the database stays locked."""
    deadline = time.monotonic() + SQLITE_LOCK_TIMEOUT_SECONDS

    def give_up_when_stuck(status: int, remaining: int, total: int) -> None:
        if time.monotonic() > deadline:
            raise ApplicationError(
                "The SQLite database stayed locked by another writer; try again later."
            )

    source.backup(target, pages=1024, progress=give_up_when_stuck)


def _sqlite_copy(target: Path) -> None:
    source = _sqlite_connect()
    try:
        copy = sqlite3.connect(target)
        try:
            _sqlite_backup(source, copy)
        finally:
            copy.close()
    finally:
        source.close()


def backups_rotate(*, folder: Path | str | None = None) -> list[Path]:
    """Delete backups outside the daily and weekly windows; returns what was deleted.

    Newest first: the newest copy of each of the first `BACKUP_KEEP_DAILY` days stays; then the
    newest copy of each of the next `BACKUP_KEEP_WEEKLY` ISO weeks that hold no kept day.
    """
    keep_daily, keep_weekly = settings.BACKUP_KEEP_DAILY, settings.BACKUP_KEEP_WEEKLY
    days: set[date] = set()
    weeks: set[tuple[int, int]] = set()
    deleted = []
    for backup in backup_files(folder=folder):
        day = backup.taken_at.date()
        week = tuple(day.isocalendar())[:2]
        daily_weeks = {tuple(kept.isocalendar())[:2] for kept in days}
        if day not in days and len(days) < keep_daily:
            days.add(day)
            continue
        if day not in days and week not in daily_weeks | weeks and len(weeks) < keep_weekly:
            weeks.add(week)
            continue
        backup.path.unlink(missing_ok=True)
        deleted.append(backup.path)
    return deleted


def backup_restore(*, path: Path | str) -> None:
    """Replace the database's contents with a backup made by `backup_create`."""
    vendor = _vendor()
    path = Path(path)
    if not path.is_file():
        raise ApplicationError(f"No backup file at {path}.")
    if not path.name.endswith(SUFFIXES[vendor]):
        raise ApplicationError(
            f"{path.name} is not a {vendor} backup (expected a {SUFFIXES[vendor]} file)."
        )
    if vendor == "postgresql":
        connections.close_all()
        arguments, environment = _pg_environment()
        name = str(connection.settings_dict["NAME"])
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                *arguments,
                "--dbname",
                name,
                str(path),
            ],
            environment,
        )
        return
    try:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        source.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ApplicationError(f"{path.name} is not a readable SQLite database.") from exc
    connections.close_all()
    live = _sqlite_connect()
    try:
        _sqlite_backup(source, live)
    finally:
        live.close()
        source.close()
