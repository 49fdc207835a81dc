"""Market data in: price bars and FX rates from CSV files, the admin and providers (SPEC §3).

Both imports are all-or-nothing and idempotent: every row is checked first (field formats and
the model's CHECK rules, as errors naming the line and column), then the rows are upserted by
their unique key in one transaction, and the portfolios the new data touches are revalued.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from audit.models import ActivityAction
from audit.services import activity_record
from portfolio.csv_utils import CsvFileError, CsvIssue, CsvIssues, csv_read
from portfolio.models import AssetClass, FxRate, Instrument, PriceBar
from portfolio.services.alerts import price_alerts_check
from portfolio.services.ledger import snapshots_rebuild_for_instruments

BATCH_SIZE = 1000

PRICE_ALIASES: dict[str, tuple[str, ...]] = {
    "symbol": ("ticker", "code"),
    "exchange": ("market", "mic"),
    "date": ("day", "timestamp", "trade date"),
    "open": (),
    "high": (),
    "low": (),
    "close": ("price", "last"),
    "adjusted_close": ("adjusted close", "adj close", "adjclose"),
    "volume": (),
    "dividend": ("dividend amount", "dividends"),
    "split_coefficient": ("split coefficient", "split", "split ratio"),
    "currency": ("ccy",),
    "name": ("instrument name", "description"),
    "asset_class": ("asset class", "class"),
}
PRICE_REQUIRED = ("symbol", "date", "close")

FX_ALIASES: dict[str, tuple[str, ...]] = {
    "base": ("from", "base currency"),
    "quote": ("to", "quote currency", "counter"),
    "date": ("day", "timestamp"),
    "rate": ("fx rate", "price", "close"),
}
FX_REQUIRED = ("base", "quote", "date", "rate")

BAR_PRICE_FIELDS = ("open", "high", "low", "close", "adjusted_close")
BAR_VALUE_FIELDS = (*BAR_PRICE_FIELDS, "volume", "dividend", "split_coefficient")


@dataclass(frozen=True)
class PriceBarRow:
    """One bar to import; `line` is where it came from (the file line, else its 1-based index)."""

    symbol: str
    date: date
    close: Decimal
    exchange: str = ""
    open: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    adjusted_close: Decimal | None = None
    volume: Decimal = Decimal(0)
    dividend: Decimal = Decimal(0)
    split_coefficient: Decimal = Decimal(1)
    currency: str = ""
    name: str = ""
    asset_class: str = ""
    line: int = 0


@dataclass(frozen=True)
class FxRateRow:
    """1 `base` = `rate` `quote` on `date`."""

    base: str
    quote: str
    date: date
    rate: Decimal
    line: int = 0


@dataclass(frozen=True)
class ImportResult:
    """What an import did (or, on a dry run, would do)."""

    created: int
    updated: int
    unchanged: int
    dry_run: bool = False
    instruments_created: tuple[str, ...] = ()
    earliest_change: date | None = None
    portfolios_rebuilt: int = 0
    instrument_ids: tuple[int, ...] = field(default=(), repr=False)

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged

    def summary(self, noun: str) -> str:
        verb = "would be" if self.dry_run else "were"
        text = (
            f"{self.rows} {noun} read: {self.created} {verb} created, {self.updated} {verb} "
            f"updated, {self.unchanged} unchanged."
        )
        if self.instruments_created:
            text += f" New instruments: {', '.join(self.instruments_created)}."
        if self.portfolios_rebuilt:
            text += f" {self.portfolios_rebuilt} portfolios revalued."
        return text


@dataclass(frozen=True)
class BarRule:
    """A PriceBar CHECK constraint as a validation rule: which column it blames and why."""

    constraint: str
    column: str
    broken: Callable[[dict], bool]
    message: Callable[[dict], str]


def _gt_zero(column: str) -> BarRule:
    return BarRule(
        constraint=f"portfolio_pricebar_{column}_gt_0",
        column=column,
        broken=lambda bar: bar[column] is not None and bar[column] <= 0,
        message=lambda bar: f"must be greater than zero, not {bar[column]}.",
    )


def _ordered(low: str, high: str, constraint: str, column: str) -> BarRule:
    return BarRule(
        constraint=constraint,
        column=column,
        broken=lambda bar: None not in (bar[low], bar[high]) and bar[low] > bar[high],
        message=lambda bar: f"{low} {bar[low]} is above {high} {bar[high]}.",
    )


# Mirrors PriceBar.Meta.constraints (a test keeps the two in step): checked in Python so a
# large file costs no query per row, and a violation names its line instead of failing the
# whole INSERT with an IntegrityError.
BAR_RULES: tuple[BarRule, ...] = (
    *(_gt_zero(column) for column in BAR_PRICE_FIELDS),
    _ordered("low", "close", "portfolio_pricebar_low_lte_close", "low"),
    _ordered("close", "high", "portfolio_pricebar_close_lte_high", "high"),
    _ordered("low", "open", "portfolio_pricebar_low_lte_open", "low"),
    _ordered("open", "high", "portfolio_pricebar_open_lte_high", "high"),
    BarRule(
        constraint="portfolio_pricebar_volume_gte_0",
        column="volume",
        broken=lambda bar: bar["volume"] < 0,
        message=lambda bar: f"must not be negative, not {bar['volume']}.",
    ),
    BarRule(
        constraint="portfolio_pricebar_dividend_gte_0",
        column="dividend",
        broken=lambda bar: bar["dividend"] < 0,
        message=lambda bar: f"must not be negative, not {bar['dividend']}.",
    ),
    BarRule(
        constraint="portfolio_pricebar_split_gt_0",
        column="split_coefficient",
        broken=lambda bar: bar["split_coefficient"] <= 0,
        message=lambda bar: f"must be greater than zero, not {bar['split_coefficient']}.",
    ),
)


def price_bar_violations(values: dict) -> list[tuple[str, str]]:
    """(column, message) for every PriceBar CHECK rule that `values` break."""
    return [(rule.column, rule.message(values)) for rule in BAR_RULES if rule.broken(values)]


def _field_errors(
    model: type[models.Model], values: dict, *, line: int, issues: list[CsvIssue]
) -> None:
    # Field validators (digits, decimal places, currency codes) are pure Python: no query.
    for name, value in values.items():
        if value is None or value == "":
            continue
        try:
            model._meta.get_field(name).run_validators(value)
        except ValidationError as exc:
            issues.extend(CsvIssue(line=line, column=name, message=m) for m in exc.messages)


def _line(row: PriceBarRow | FxRateRow, index: int) -> int:
    return row.line or index + 1


def price_rows_from_csv(content: bytes) -> tuple[list[PriceBarRow], list[CsvIssue]]:
    """Parse a price CSV: the rows whose cells could be read, and the problems of the others."""
    table = csv_read(content, aliases=PRICE_ALIASES, required=PRICE_REQUIRED)
    issues = CsvIssues()
    rows = []
    for row in table.rows:
        symbol = issues.text(row, "symbol", required=True)
        day = issues.date(row, "date", required=True)
        close = issues.decimal(row, "close", required=True)
        optional = {name: issues.decimal(row, name) for name in ("open", "high", "low")}
        adjusted = issues.decimal(row, "adjusted_close")
        defaults = {
            "volume": issues.decimal(row, "volume"),
            "dividend": issues.decimal(row, "dividend"),
            "split_coefficient": issues.decimal(row, "split_coefficient"),
        }
        if symbol and day and close is not None:
            rows.append(
                PriceBarRow(
                    symbol=symbol,
                    exchange=row.get("exchange"),
                    date=day,
                    close=close,
                    adjusted_close=adjusted,
                    currency=row.get("currency").upper(),
                    name=row.get("name"),
                    asset_class=row.get("asset_class").lower(),
                    line=row.line,
                    **optional,
                    **{name: value for name, value in defaults.items() if value is not None},
                )
            )
    return rows, issues.issues


def fx_rows_from_csv(content: bytes) -> tuple[list[FxRateRow], list[CsvIssue]]:
    """Parse an FX CSV (base, quote, date, rate): readable rows, and the problems of the others."""
    table = csv_read(content, aliases=FX_ALIASES, required=FX_REQUIRED)
    issues = CsvIssues()
    rows = []
    for row in table.rows:
        base = issues.text(row, "base", required=True).upper()
        quote = issues.text(row, "quote", required=True).upper()
        day = issues.date(row, "date", required=True)
        rate = issues.decimal(row, "rate", required=True)
        if base and quote and day and rate is not None:
            rows.append(FxRateRow(base=base, quote=quote, date=day, rate=rate, line=row.line))
    return rows, issues.issues


def _bar_values(row: PriceBarRow) -> dict:
    return {name: getattr(row, name) for name in BAR_VALUE_FIELDS}


def _new_instrument_spec(
    rows: list[tuple[int, PriceBarRow]], issues: list[CsvIssue]
) -> dict[str, str] | None:
    """Currency, name and asset class of an instrument the file creates; None if it cannot."""
    line, first = rows[0]
    label = f"{first.symbol}.{first.exchange}" if first.exchange else first.symbol
    if not first.currency:
        issues.append(
            CsvIssue(
                line=line,
                column="symbol",
                message=f'unknown instrument "{label}"; add a "currency" column to create it.',
            )
        )
        return None
    spec = {
        "currency": first.currency,
        "name": first.name,
        "asset_class": first.asset_class or AssetClass.EQUITY,
    }
    if spec["asset_class"] not in AssetClass.values:
        issues.append(
            CsvIssue(
                line=line,
                column="asset_class",
                message=f'"{first.asset_class}" is not one of {", ".join(AssetClass.values)}.',
            )
        )
        return None
    _field_errors(Instrument, {"currency": spec["currency"]}, line=line, issues=issues)
    for other_line, other in rows[1:]:
        if other.currency and other.currency != spec["currency"]:
            issues.append(
                CsvIssue(
                    line=other_line,
                    column="currency",
                    message=f"{label} is {spec['currency']} on line {line}, not {other.currency}.",
                )
            )
    return spec


def price_bars_import(
    *,
    rows: Sequence[PriceBarRow],
    source: str = "csv",
    dry_run: bool = False,
    user: Any = None,
    request: HttpRequest | None = None,
) -> ImportResult:
    """Upsert price bars of shared instruments (creating those a row gives a currency for).

    All-or-nothing: any bad row raises CsvFileError listing every problem and writes nothing.
    `user` (staff uploading in the admin) gets an activity row; commands and tasks pass none.
    """
    issues: list[CsvIssue] = []
    by_key: dict[tuple[str, str], list[tuple[int, PriceBarRow]]] = {}
    seen: dict[tuple[str, str, date], int] = {}
    for index, row in enumerate(rows):
        line = _line(row, index)
        values = _bar_values(row)
        _field_errors(PriceBar, values, line=line, issues=issues)
        issues.extend(
            CsvIssue(line=line, column=column, message=message)
            for column, message in price_bar_violations(values)
        )
        key = (row.symbol, row.exchange)
        first = seen.setdefault((*key, row.date), line)
        if first != line:
            issues.append(
                CsvIssue(
                    line=line,
                    column="date",
                    message=f"{row.symbol} on {row.date} is already on line {first}.",
                )
            )
        by_key.setdefault(key, []).append((line, row))

    shared = Instrument.objects.filter(owner__isnull=True)
    # By symbol, then exchange in Python: an OR per instrument would outgrow SQLite's
    # expression depth limit on a file of a thousand symbols.
    symbols = {symbol for symbol, _ in by_key}
    known = {
        (i.symbol, i.exchange): i
        for i in shared.filter(symbol__in=symbols)
        if (i.symbol, i.exchange) in by_key
    }
    to_create: dict[tuple[str, str], dict[str, str]] = {}
    for key, keyed_rows in by_key.items():
        instrument = known.get(key)
        if instrument is None:
            spec = _new_instrument_spec(keyed_rows, issues)
            if spec is not None:
                to_create[key] = spec
            continue
        issues.extend(
            CsvIssue(
                line=line,
                column="currency",
                message=f"{instrument} is priced in {instrument.currency}, not {row.currency}.",
            )
            for line, row in keyed_rows
            if row.currency and row.currency != instrument.currency
        )
    if issues:
        raise CsvFileError(issues)

    with transaction.atomic():
        for key, spec in to_create.items():
            if dry_run:
                known[key] = Instrument(symbol=key[0], exchange=key[1], **spec)
            else:
                known[key], _ = Instrument.objects.get_or_create(
                    symbol=key[0], exchange=key[1], owner=None, defaults=spec
                )
        result = _upsert_bars(rows=rows, instruments=known, dry_run=dry_run)
        created_labels = tuple(str(known[key]) for key in to_create)
        result = replace(result, instruments_created=created_labels, dry_run=dry_run)
        if dry_run:
            return result
        if result.earliest_change is not None:
            rebuilt = _market_data_changed(
                instrument_ids=list(result.instrument_ids), since=result.earliest_change
            )
            result = replace(result, portfolios_rebuilt=rebuilt)
        _record_import(
            user=user,
            request=request,
            action=ActivityAction.PRICES_IMPORTED,
            result=result,
            noun="price bars",
            source=source,
        )
    return result


def _upsert_bars(
    *, rows: Sequence[PriceBarRow], instruments: dict[tuple[str, str], Instrument], dry_run: bool
) -> ImportResult:
    dates = [row.date for row in rows]
    saved_ids = [i.pk for i in instruments.values() if i.pk is not None]
    existing: dict[tuple[int, date], PriceBar] = {}
    if saved_ids and dates:
        existing = {
            (bar.instrument_id, bar.date): bar
            for bar in PriceBar.objects.filter(
                instrument_id__in=saved_ids, date__gte=min(dates), date__lte=max(dates)
            )
        }
    now = timezone.now()
    new: list[PriceBar] = []
    changed: list[PriceBar] = []
    changed_instruments: set[int] = set()
    earliest: date | None = None
    for row in rows:
        instrument = instruments[(row.symbol, row.exchange)]
        values = _bar_values(row)
        bar = existing.get((instrument.pk, row.date))
        if bar is None:
            new.append(PriceBar(instrument=instrument, date=row.date, **values))
        elif any(getattr(bar, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(bar, name, value)
            bar.updated_at = now
            changed.append(bar)
        else:
            continue
        changed_instruments.add(instrument.pk)
        earliest = row.date if earliest is None else min(earliest, row.date)
    if not dry_run:
        # The conflict clause covers a concurrent import of the same bars between our read
        # and this write; the counts then describe what this import found.
        PriceBar.objects.bulk_create(
            new,
            batch_size=BATCH_SIZE,
            update_conflicts=True,
            unique_fields=["instrument", "date"],
            update_fields=[*BAR_VALUE_FIELDS, "updated_at"],
        )
        PriceBar.objects.bulk_update(
            changed, [*BAR_VALUE_FIELDS, "updated_at"], batch_size=BATCH_SIZE
        )
    return ImportResult(
        created=len(new),
        updated=len(changed),
        unchanged=len(rows) - len(new) - len(changed),
        earliest_change=earliest,
        instrument_ids=tuple(sorted(i for i in changed_instruments if i is not None)),
    )


def fx_rates_import(
    *,
    rows: Sequence[FxRateRow],
    dry_run: bool = False,
    user: Any = None,
    request: HttpRequest | None = None,
) -> ImportResult:
    """Upsert FX rates by (base, quote, date); all-or-nothing like `price_bars_import`."""
    issues: list[CsvIssue] = []
    seen: dict[tuple[str, str, date], int] = {}
    for index, row in enumerate(rows):
        line = _line(row, index)
        _field_errors(
            FxRate,
            {"base": row.base, "quote": row.quote, "rate": row.rate},
            line=line,
            issues=issues,
        )
        if row.base == row.quote:
            issues.append(
                CsvIssue(
                    line=line, column="quote", message=f"must differ from the base {row.base}."
                )
            )
        if row.rate <= 0:
            issues.append(
                CsvIssue(
                    line=line, column="rate", message=f"must be greater than zero, not {row.rate}."
                )
            )
        first = seen.setdefault((row.base, row.quote, row.date), line)
        if first != line:
            issues.append(
                CsvIssue(
                    line=line,
                    column="date",
                    message=f"{row.base}/{row.quote} on {row.date} is already on line {first}.",
                )
            )
    if issues:
        raise CsvFileError(issues)
    if not rows:
        return ImportResult(created=0, updated=0, unchanged=0, dry_run=dry_run)
    dates = [row.date for row in rows]
    pairs = {(row.base, row.quote) for row in rows}
    with transaction.atomic():
        candidates = FxRate.objects.filter(
            base__in={base for base, _ in pairs},
            quote__in={quote for _, quote in pairs},
            date__gte=min(dates),
            date__lte=max(dates),
        )
        existing = {
            (rate.base, rate.quote, rate.date): rate
            for rate in candidates
            if (rate.base, rate.quote) in pairs
        }
        now = timezone.now()
        new, changed, currencies = [], [], set()
        earliest: date | None = None
        for row in rows:
            rate = existing.get((row.base, row.quote, row.date))
            if rate is None:
                new.append(FxRate(base=row.base, quote=row.quote, date=row.date, rate=row.rate))
            elif rate.rate != row.rate:
                rate.rate, rate.updated_at = row.rate, now
                changed.append(rate)
            else:
                continue
            currencies |= {row.base, row.quote}
            earliest = row.date if earliest is None else min(earliest, row.date)
        result = ImportResult(
            created=len(new),
            updated=len(changed),
            unchanged=len(rows) - len(new) - len(changed),
            dry_run=dry_run,
            earliest_change=earliest,
        )
        if dry_run:
            return result
        FxRate.objects.bulk_create(
            new,
            batch_size=BATCH_SIZE,
            update_conflicts=True,
            unique_fields=["base", "quote", "date"],
            update_fields=["rate", "updated_at"],
        )
        FxRate.objects.bulk_update(changed, ["rate", "updated_at"], batch_size=BATCH_SIZE)
        if earliest is not None:
            # A rate moves the value of every instrument priced in either currency (and the
            # conversion into any base currency is found through them).
            instrument_ids = list(
                Instrument.objects.filter(currency__in=currencies).values_list("pk", flat=True)
            )
            rebuilt = _market_data_changed(instrument_ids=instrument_ids, since=earliest)
            result = replace(result, portfolios_rebuilt=rebuilt)
        _record_import(
            user=user,
            request=request,
            action=ActivityAction.FX_RATES_IMPORTED,
            result=result,
            noun="FX rates",
            source="csv",
        )
    return result


def _record_import(
    *,
    user: Any,
    request: HttpRequest | None,
    action: str,
    result: ImportResult,
    noun: str,
    source: str,
) -> None:
    if not getattr(user, "is_authenticated", False):
        return
    activity_record(
        user=user,
        action=action,
        description=result.summary(noun),
        details={
            "source": source,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "instruments_created": list(result.instruments_created),
            "earliest_change": result.earliest_change,
        },
        request=request,
    )


def price_bars_import_csv(
    *,
    content: bytes,
    source: str = "csv",
    dry_run: bool = False,
    user: Any = None,
    request: HttpRequest | None = None,
) -> ImportResult:
    """Import a price CSV (see `PRICE_ALIASES`); CsvFileError lists every problem of the file."""
    rows, unreadable = price_rows_from_csv(content)
    return _import_all_or_nothing(
        unreadable,
        lambda check_only: price_bars_import(
            rows=rows, source=source, dry_run=dry_run or check_only, user=user, request=request
        ),
    )


def fx_rates_import_csv(
    *,
    content: bytes,
    dry_run: bool = False,
    user: Any = None,
    request: HttpRequest | None = None,
) -> ImportResult:
    """Import an FX CSV (base, quote, date, rate); CsvFileError lists every problem of the file."""
    rows, unreadable = fx_rows_from_csv(content)
    return _import_all_or_nothing(
        unreadable,
        lambda check_only: fx_rates_import(
            rows=rows, dry_run=dry_run or check_only, user=user, request=request
        ),
    )


def _import_all_or_nothing(
    unreadable: list[CsvIssue], run: Callable[[bool], ImportResult]
) -> ImportResult:
    # Rows with unreadable cells still leave the others to check, as a dry run, so one report
    # lists every problem of the file; nothing is written while any remains.
    try:
        result = run(bool(unreadable))
    except CsvFileError as exc:
        raise CsvFileError([*unreadable, *exc.issues]) from None
    if unreadable:
        raise CsvFileError(unreadable)
    return result


def _market_data_changed(*, instrument_ids: list[int], since: date) -> int:
    """Revalue what new prices or rates touch, in the importing transaction.

    Price alerts are checked from here as well, so every way prices arrive (CSV, admin,
    providers) triggers them.
    """
    if not instrument_ids:
        return 0
    rebuilt = snapshots_rebuild_for_instruments(instrument_ids=instrument_ids, since=since)
    price_alerts_check(instrument_ids=instrument_ids)
    # Imported here: the bots app builds on portfolio, not the other way round.
    from bots.services.paper import limit_orders_match

    limit_orders_match(instrument_ids=instrument_ids)
    return rebuilt
