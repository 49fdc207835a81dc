"""Recompute every portfolio's holdings, totals and snapshots from scratch and report drift."""

from dataclasses import dataclass

from django.core.management.base import BaseCommand, CommandError

from portfolio import engine
from portfolio.models import Holding, LedgerTotals, Portfolio, PortfolioSnapshot
from portfolio.selectors import HOLDING_FIELDS, SNAPSHOT_FIELDS, TOTALS_FIELDS, ledger_derive
from portfolio.services import ledger_recompute
from trading_lab.exceptions import ApplicationError


@dataclass(frozen=True)
class Drift:
    """One stored value that differs from the recomputation (`stored`/`expected` None = absent)."""

    where: str
    field: str
    stored: object
    expected: object

    def __str__(self) -> str:
        return f"{self.where} {self.field}: stored {self.stored}, expected {self.expected}"


def _compare(where: str, fields, stored, expected) -> list[Drift]:
    if stored is None or expected is None:
        stored_state = "missing" if stored is None else "present"
        expected_state = "absent" if expected is None else "present"
        return [Drift(where, "row", stored_state, expected_state)]
    return [
        Drift(where, name, getattr(stored, name), getattr(expected, name))
        for name in fields
        if getattr(stored, name) != getattr(expected, name)
    ]


def ledger_drift(portfolio: Portfolio) -> list[Drift]:
    """Every difference between the stored derived rows and a recomputation from scratch.

    The recomputation runs through the day the stored rows run through, so a portfolio that
    has simply not been written to since is not drift.
    """
    totals = LedgerTotals.objects.filter(portfolio=portfolio).first()
    try:
        derived = ledger_derive(portfolio=portfolio, end=totals.as_of if totals else None)
    except engine.EngineValidationError as exc:
        return [Drift("ledger", exc.field, "refused", exc.message)]
    drifts = _compare("totals", TOTALS_FIELDS, totals, derived.totals)

    stored_holdings = {
        h.instrument_id: h
        for h in Holding.objects.filter(portfolio=portfolio).select_related("instrument")
    }
    for new in derived.holdings:
        old = stored_holdings.pop(new.instrument_id, None)
        drifts += _compare(f"holding {new.instrument}", HOLDING_FIELDS, old, new)
    for old in stored_holdings.values():
        drifts += _compare(f"holding {old.instrument}", HOLDING_FIELDS, old, None)

    stored_snapshots = {
        s.date: s for s in PortfolioSnapshot.objects.filter(portfolio=portfolio).order_by("date")
    }
    for new in derived.snapshots:
        old = stored_snapshots.pop(new.date, None)
        drifts += _compare(f"snapshot {new.date.isoformat()}", SNAPSHOT_FIELDS, old, new)
    for old in stored_snapshots.values():
        drifts += _compare(f"snapshot {old.date.isoformat()}", SNAPSHOT_FIELDS, old, None)
    return drifts


class Command(BaseCommand):
    help = (
        "Recompute every portfolio's holdings, totals and daily snapshots from its ledger and "
        "report any drift from the stored rows (exit 1). --fix rewrites the drifting portfolios."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--fix", action="store_true", help="Rewrite the derived rows of drifting portfolios."
        )
        parser.add_argument(
            "--portfolio", type=int, action="append", help="Only this portfolio id (repeatable)."
        )

    def handle(self, *args, fix: bool = False, portfolio: list[int] | None = None, **options):
        portfolios = Portfolio.objects.select_related("user").order_by("pk")
        if portfolio:
            portfolios = portfolios.filter(pk__in=portfolio)
        checked = drifting = unfixable = 0
        for item in portfolios.iterator(chunk_size=200):
            checked += 1
            drifts = ledger_drift(item)
            if not drifts:
                continue
            drifting += 1
            label = f"Portfolio {item.pk} “{item.name}” of {item.user.email}"
            for drift in drifts:
                self.stderr.write(f"{label}: {drift}")
            if fix:
                try:
                    ledger_recompute(portfolio=item)
                except ApplicationError as exc:
                    unfixable += 1
                    self.stderr.write(f"{label}: cannot be rewritten: {exc.message}")
                else:
                    self.stdout.write(f"{label}: derived rows rewritten.")
        if unfixable:
            raise CommandError(f"{unfixable} portfolios have a ledger the engine refuses.")
        if drifting and not fix:
            raise CommandError(
                f"{drifting} of {checked} portfolios drift from their ledger; "
                "run with --fix to rewrite them."
            )
        summary = f"{checked} portfolios checked"
        summary += f", {drifting} rewritten." if drifting else ", no drift."
        self.stdout.write(self.style.SUCCESS(summary))
