"""`manage.py prune_activity`: archive activity rows past retention, then delete them."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services.retention import activity_prune
from trading_lab.exceptions import ApplicationError


class Command(BaseCommand):
    help = (
        "Write activity log rows older than the retention (ACTIVITY_RETENTION_DAYS, 90 by "
        "default) to a gzip JSON-lines archive, then delete them. The chain stays verifiable: "
        "the archive records its last hash, where the live chain now starts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, help="Keep this many days (default: setting).")
        parser.add_argument("--archive-dir", help="Folder of the archive (default: setting).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be pruned; change nothing."
        )

    def handle(self, *args, days: int | None, archive_dir: str | None, dry_run: bool, **options):
        try:
            report = activity_prune(older_than_days=days, archive_dir=archive_dir, dry_run=dry_run)
        except ApplicationError as exc:
            for messages in (exc.extra or {}).values():
                for message in messages:
                    self.stderr.write(str(message))
            raise CommandError(exc.message) from exc
        except OSError as exc:
            raise CommandError(f"Could not write the archive: {exc}") from exc
        if not report.rows:
            self.stdout.write("Nothing to prune.")
        elif dry_run:
            span = f"#{report.first_seq}..#{report.last_seq}"
            self.stdout.write(f"Would archive and delete {report.rows} rows ({span}).")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Archived and deleted {report.rows} rows "
                    f"(#{report.first_seq}..#{report.last_seq}) to {report.archive}."
                )
            )
