"""`manage.py import_fx FILE.csv`: load FX rates (columns base, quote, date, rate).

A row means 1 base = rate quote on that date. All-or-nothing and idempotent, like
`import_prices`, whose file handling and error report this command shares.
"""

from portfolio.management.commands import import_prices
from portfolio.services.market import ImportResult, fx_rates_import_csv


class Command(import_prices.Command):
    help = (
        "Import FX rates (base, quote, date, rate) from a CSV file: all-or-nothing, idempotent "
        "(re-importing changes nothing, a changed rate updates its row)."
    )
    noun = "FX rates"

    def run_import(self, content: bytes, *, dry_run: bool) -> ImportResult:
        return fx_rates_import_csv(content=content, dry_run=dry_run)
