"""`manage.py verify_audit`: prove the activity log's SHA-256 chain is intact, or say where not."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import activity_chain_verify
from audit.services.retention import archive_verify, archives_join_problems


class Command(BaseCommand):
    help = (
        "Check the activity log's hash chain: any edited, deleted, inserted or reordered row is "
        "reported and the command exits with status 1. With --archive, also check pruned "
        "archives (oldest first) and that they join up with each other and the live log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--archive",
            action="append",
            default=[],
            metavar="FILE",
            help="An archive written by prune_activity; repeat for several, oldest first.",
        )

    def handle(self, *args, archive: list[str], **options) -> None:
        problems: list[str] = []
        archives = [archive_verify(path=Path(path)) for path in archive]
        for report in archives:
            problems += list(report.problems)
        if archives:
            problems += archives_join_problems(reports=archives)
        report = activity_chain_verify()
        problems += [problem.message for problem in report.problems]
        if problems:
            for message in problems:
                self.stderr.write(message)
            raise CommandError(f"Activity chain broken: {len(problems)} problem(s).")
        if report.rows:
            summary = f"{report.rows} rows (#{report.first_seq}..#{report.last_seq})"
        else:
            summary = "0 rows"
        archived = sum(report.rows for report in archives)
        if archives:
            summary += f", and {archived} archived rows in {len(archives)} archive(s)"
        self.stdout.write(self.style.SUCCESS(f"Activity chain intact: {summary}."))
