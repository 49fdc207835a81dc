"""`manage.py restore FILE`: replace the database's contents with a backup, after confirming."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services.backups import backup_restore
from trading_lab.exceptions import ApplicationError


class Command(BaseCommand):
    help = (
        "Restore a backup written by `manage.py backup`. Everything written since the backup "
        "is lost; stop the web, worker and scheduler processes first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="A .dump (PostgreSQL) or .sqlite3 (SQLite) backup.")
        parser.add_argument(
            "--yes", action="store_true", help="Do not ask for confirmation (scripts)."
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Never prompt: without --yes, refuse instead of asking.",
        )

    def handle(self, *args, file: str, yes: bool, interactive: bool, **options) -> None:
        if not yes:
            if not interactive:
                raise CommandError("Refusing to restore without confirmation: pass --yes.")
            answer = input(
                f"Replace everything in the database with {file}? Type 'restore' to go on: "
            )
            if answer.strip() != "restore":
                raise CommandError("Not restored.")
        try:
            backup_restore(path=file)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"Restored {file}."))
