"""`manage.py verify_audit`: prove the activity log's SHA-256 chain is intact, or say where not."""

from django.core.management.base import BaseCommand, CommandError

from audit.services import activity_chain_verify


class Command(BaseCommand):
    help = (
        "Check the activity log's hash chain: any edited, deleted, inserted or reordered row is "
        "reported and the command exits with status 1."
    )

    def handle(self, *args, **options) -> None:
        report = activity_chain_verify()
        if not report.intact:
            for problem in report.problems:
                self.stderr.write(problem.message)
            raise CommandError(f"Activity chain broken: {len(report.problems)} problem(s).")
        if report.rows:
            summary = f"{report.rows} rows (#{report.first_seq}..#{report.last_seq})"
        else:
            summary = "0 rows"
        self.stdout.write(self.style.SUCCESS(f"Activity chain intact: {summary}."))
