"""`manage.py import_prices FILE.csv`: load daily price bars into the shared reference data.

Columns (case-insensitive, aliases accepted): symbol, exchange, date, open, high, low, close,
adjusted close, volume, dividend, split coefficient; only symbol, date and close are required.
With a `currency` column (and optionally `name`, `asset_class`) unknown symbols become new
shared instruments; without one an unknown symbol is an error naming its line.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portfolio.csv_utils import CsvFileError
from portfolio.services.market import ImportResult, price_bars_import_csv
from trading_lab.exceptions import ApplicationError


class Command(BaseCommand):
    help = (
        "Import daily price bars from a CSV file: all-or-nothing, idempotent (re-importing "
        "changes nothing, a changed value updates its bar)."
    )
    noun = "price bars"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The CSV file (UTF-8, with a header row).")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check the file and report what would change; write nothing.",
        )

    def run_import(self, content: bytes, *, dry_run: bool) -> ImportResult:
        return price_bars_import_csv(content=content, dry_run=dry_run)

    def handle(self, *args, **options) -> None:
        path: Path = options["file"]
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from exc
        try:
            result = self.run_import(content, dry_run=options["dry_run"])
        except CsvFileError as exc:
            for issue in exc.issues:
                self.stderr.write(f"{path.name}: {issue}")
            raise CommandError(exc.message) from exc
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        prefix = "Dry run, nothing written. " if result.dry_run else ""
        self.stdout.write(self.style.SUCCESS(prefix + result.summary(self.noun)))
