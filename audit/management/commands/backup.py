"""`manage.py backup`: write a consistent copy of the database, then rotate old copies."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services.backups import backup_create
from trading_lab.exceptions import ApplicationError


class Command(BaseCommand):
    help = (
        "Copy the database into BACKUP_DIR (pg_dump custom format on PostgreSQL, SQLite's "
        "online backup API otherwise), keeping BACKUP_KEEP_DAILY daily and BACKUP_KEEP_WEEKLY "
        "weekly copies."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--folder", help="Write here instead of BACKUP_DIR.")

    def handle(self, *args, folder: str | None, **options) -> None:
        try:
            path = backup_create(folder=folder)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        except OSError as exc:
            raise CommandError(f"Could not write the backup: {exc}") from exc
        size = path.stat().st_size
        self.stdout.write(self.style.SUCCESS(f"Backup written: {path} ({size:,} bytes)."))
