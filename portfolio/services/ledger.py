"""Writes of the ledger: portfolios, private instruments, transactions and their derived rows.

Every write locks the portfolio row, so writes to one portfolio serialise, and recomputes the
holdings, totals and snapshots in the same database transaction (SPEC §3 Holding). The maths is
the engine's (`portfolio.engine`); this module only feeds it and stores what it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Context, Decimal
from operator import attrgetter
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import DecimalValidator, MaxLengthValidator
from django.db import IntegrityError, models, router
from django.db import transaction as db_transaction
from django.db.models import F
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.http import HttpRequest
from django.utils import timezone

from audit.models import ActivityAction
from audit.services import activity_record
from portfolio import engine
from portfolio.models import (
    INSTRUMENT_TYPES,
    AssetClass,
    Holding,
    Instrument,
    LedgerTotals,
    Portfolio,
    PortfolioSnapshot,
    Transaction,
    TransactionType,
)
from portfolio.selectors import (
    HOLDING_FIELDS,
    LEDGER_RECORD_COLUMNS,
    TOTALS_FIELDS,
    DerivedLedger,
    fx_table,
    ledger_derive,
    ledger_fold,
    ledger_inputs,
    ledger_record,
    ledger_records,
    quantize,
)
from portfolio.services.bulk_write import (
    constraints_check,
    copy_rows,
    copy_supported,
    sequence_take,
)
from portfolio.services.history import CreatedEntries
from trading_lab.decimals import RATE
from trading_lab.exceptions import ApplicationError
from trading_lab.gc_pause import gc_paused

INVALID = "Invalid input."
PORTFOLIO_FIELDS = ("name", "base_currency", "description", "config")
CASH_ONLY_TYPES = (TransactionType.DEPOSIT, TransactionType.WITHDRAWAL)
# Looked up once: `TransactionType.values` builds its list on every call.
TYPE_VALUES = tuple(TransactionType.values)
# A transaction's columns in the order its model takes them positionally.
ROW_ATTNAMES = tuple(field.attname for field in Transaction._meta.concrete_fields)
_BLANK_ROW = dict.fromkeys(ROW_ATTNAMES)
BULK_BATCH_SIZE = 2000


@dataclass
class TransactionInput:
    """A transaction as a caller gives it; `None` fields take the SPEC §3 defaults."""

    type: str
    date: date
    quantity: Decimal | None
    price: Decimal
    fee: Decimal = Decimal(0)
    instrument: Instrument | None = None
    currency: str | None = None
    fx_rate: Decimal | None = None
    notes: str = ""
    external_id: str = ""


# --- helpers ---------------------------------------------------------------------------------


def _locked(portfolio: Portfolio) -> Portfolio:
    # Only the portfolio row: locking the joined user row too deadlocked with the same user's
    # writes that insert rows referencing it (tests/portfolio/test_ledger_lock_scope.py).
    return (
        Portfolio.objects.select_for_update(of=("self",))
        .select_related("user")
        .get(pk=portfolio.pk)
    )


def _field_errors(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == NON_FIELD_ERRORS else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {"non_field_errors": exc.messages}


def _clean(obj, **kwargs) -> None:
    try:
        obj.full_clean(**kwargs)
    except ValidationError as exc:
        raise ApplicationError(INVALID, _field_errors(exc)) from exc


def _engine_error(exc: engine.EngineValidationError) -> ApplicationError:
    if isinstance(exc, engine.OversellError):
        instrument = Instrument.objects.filter(pk=exc.instrument).first()
        message = (
            f"The sell of {exc.requested.normalize():f} {instrument or exc.instrument} on "
            f"{exc.on.isoformat()} would exceed the {exc.held.normalize():f} held on that date."
        )
        return ApplicationError(message, {"quantity": [message]})
    return ApplicationError(exc.message, exc.as_field_errors())


def _money(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _write_derived(portfolio: Portfolio, derived: DerivedLedger) -> None:
    """Store `derived`: holdings and totals row by row (with history), snapshots in bulk."""
    existing = {h.instrument_id: h for h in Holding.objects.filter(portfolio=portfolio)}
    for new in derived.holdings:
        old = existing.pop(new.instrument_id, None)
        if old is None:
            new.save()
            continue
        changed = [f for f in HOLDING_FIELDS if getattr(old, f) != getattr(new, f)]
        if changed:
            for name in changed:
                setattr(old, name, getattr(new, name))
            old.save(update_fields=[*changed, "updated_at"])
    for gone in existing.values():
        gone.delete()

    totals = LedgerTotals.objects.filter(portfolio=portfolio).first()
    if totals is None:
        derived.totals.save()
    else:
        changed = [f for f in TOTALS_FIELDS if getattr(totals, f) != getattr(derived.totals, f)]
        if changed:
            for name in changed:
                setattr(totals, name, getattr(derived.totals, name))
            totals.save(update_fields=[*changed, "updated_at"])

    # Snapshots are a cache rewritten in bulk, with no model history (audit/history.py says why).
    stale = PortfolioSnapshot.objects.filter(portfolio=portfolio)
    if derived.snapshots_after is not None:
        stale = stale.filter(date__gt=derived.snapshots_after)
    stale.delete()
    PortfolioSnapshot.objects.bulk_create(derived.snapshots, batch_size=1000)


def _recompute(portfolio: Portfolio, since: date | None) -> None:
    try:
        derived = ledger_derive(portfolio=portfolio, since=since)
    except engine.EngineValidationError as exc:
        raise _engine_error(exc) from exc
    _write_derived(portfolio, derived)


def _decimal(value):
    # Integers are exact; anything else (a float above all) is left for the type check to refuse.
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def _today() -> date:
    return timezone.localdate()


def _fx_rate(*, table: engine.FxTable, currency: str, base: str, day: date) -> Decimal:
    try:
        return quantize(table.rate(currency=currency, base=base, day=day), RATE)
    except engine.MissingFxRateError as exc:
        raise ApplicationError(exc.message, exc.as_field_errors()) from exc


def _fill(
    txn: Transaction, portfolio: Portfolio, data: TransactionInput, fx: engine.FxTable | None
) -> None:
    """Set `txn` from `data` with the SPEC §3 defaults; raise every field error found at once.

    `fx` is a preloaded table for bulk writes; without it a missing rate is looked up.
    """
    values = _filled(portfolio, data, fx)
    txn.portfolio = portfolio
    for name, value in values.items():
        setattr(txn, name, value)


def _filled(
    portfolio: Portfolio,
    data: TransactionInput,
    fx: engine.FxTable | None,
    *,
    today: date | None = None,
    rates: dict[tuple[str, date], Decimal] | None = None,
) -> dict[str, Any]:
    """The fields of a transaction of `portfolio` from `data` (see `_fill`), by name.

    Bulk writes pass `today` once for all their rows, and `rates` to keep the FX rates they
    have looked up in `fx` by currency and day.
    """
    errors: dict[str, list[str]] = {}
    kind = data.type
    if kind not in TYPE_VALUES:
        errors["type"] = [f"Must be one of {', '.join(TYPE_VALUES)}."]
    instrument = data.instrument
    if kind in INSTRUMENT_TYPES and instrument is None:
        errors["instrument"] = [f"An instrument is required for {kind}."]
    if kind in CASH_ONLY_TYPES and instrument is not None:
        errors["instrument"] = [f"A {kind} takes no instrument."]
    if instrument is not None and instrument.owner_id not in (None, portfolio.user_id):
        # Another user's private instrument does not exist as far as this caller can tell.
        errors["instrument"] = ["Object does not exist."]
    if not isinstance(data.date, date) or data.date > (today or _today()):
        errors["date"] = ["Must not be in the future."]
    quantity = data.quantity
    if quantity is None:
        if kind in INSTRUMENT_TYPES:
            errors["quantity"] = [f"A quantity is required for {kind}."]
        quantity = Decimal(1)
    fee = _decimal(data.fee) if data.fee is not None else Decimal(0)
    quantity = _decimal(quantity)
    price = _decimal(data.price)
    for name, value, minimum in (("quantity", quantity, 0), ("price", price, 0)):
        if not isinstance(value, Decimal) or not value.is_finite():
            errors.setdefault(name, ["Must be a decimal number."])
        elif value <= minimum:
            errors.setdefault(name, ["Must be greater than zero."])
    if not isinstance(fee, Decimal) or not fee.is_finite():
        errors["fee"] = ["Must be a decimal number."]
    elif fee < 0:
        errors["fee"] = ["Must not be negative."]
    currency = (data.currency or "").upper() or (
        instrument.currency if instrument is not None else portfolio.base_currency
    )
    if instrument is not None and currency != instrument.currency:
        errors["currency"] = [
            f"{instrument} is quoted in {instrument.currency}; record the transaction in it."
        ]
    fx_rate = data.fx_rate
    if currency == portfolio.base_currency:
        if fx_rate is not None and fx_rate != 1:
            errors["fx_rate"] = [f"Must be 1 for the base currency {currency}."]
        fx_rate = Decimal(1)
    elif fx_rate is not None:
        fx_rate = _decimal(fx_rate)
        if not isinstance(fx_rate, Decimal) or not fx_rate.is_finite() or fx_rate <= 0:
            errors["fx_rate"] = ["Must be a decimal number greater than zero."]
    if errors:
        raise ApplicationError(INVALID, errors)
    if fx_rate is None:
        if fx is None:
            fx_rate = fx_rate_lookup(currency=currency, base=portfolio.base_currency, day=data.date)
        else:
            fx_rate = None if rates is None else rates.get((currency, data.date))
            if fx_rate is None:
                fx_rate = _fx_rate(
                    table=fx, currency=currency, base=portfolio.base_currency, day=data.date
                )
                if rates is not None:
                    rates[(currency, data.date)] = fx_rate

    return {
        "type": kind,
        "instrument": instrument,
        "quantity": quantity,
        "price": price,
        "fee": fee,
        "currency": currency,
        "fx_rate": fx_rate,
        "date": data.date,
        "notes": data.notes or "",
        "external_id": (data.external_id or "").strip(),
    }


def _init_signals_received() -> bool:
    """Whether anything receives `Transaction`'s `pre_init` or `post_init` (see `_new_row`)."""
    return pre_init.has_listeners(Transaction) or post_init.has_listeners(Transaction)


def _new_row(portfolio: Portfolio, values: dict[str, Any], *, signals: bool) -> Transaction:
    """An unsaved transaction from `_filled` values, built the quick way.

    What `Transaction(*values)` builds (the same attributes and state), without its per-field
    `setattr` and its `pre_init`/`post_init` signals. With `signals` (a receiver of either, as
    `_init_signals_received` tells once per batch) the model's own constructor runs.
    """
    instrument = values["instrument"]
    instrument_id = instrument.pk if instrument is not None else None
    if signals:
        by_column = {**values, "portfolio_id": portfolio.pk, "instrument_id": instrument_id}
        txn = Transaction(*map(by_column.get, ROW_ATTNAMES))
    else:
        txn = Transaction.__new__(Transaction)
        txn._state = ModelState()
        attributes = txn.__dict__
        attributes.update(_BLANK_ROW)  # every column, in the constructor's order
        attributes.update(values)
        del attributes["instrument"]  # the related object: cached below, not an attribute
        attributes["portfolio_id"] = portfolio.pk
        attributes["instrument_id"] = instrument_id
    # What assigning the related objects would cache, so reading them runs no query.
    Transaction.portfolio.field.set_cached_value(txn, portfolio)
    if instrument is not None:
        Transaction.instrument.field.set_cached_value(txn, instrument)
    return txn


# Field classes whose `to_python` returns a value of this type unchanged (a finite Decimal,
# text, a calendar date): for them `clean` is only the field's validators.
_PLAIN_TYPES: tuple[tuple[type, type], ...] = (
    (models.DecimalField, Decimal),
    (models.CharField, str),
    (models.TextField, str),
    (models.DateField, date),
)


# Distinct values a `_FieldChecker` keeps per field: a column of distinct values (prices) would
# otherwise keep one entry per row.
_MEMO_MAX = 10_000


def _value_key(value: Any) -> Any:
    # A Decimal's text keeps its exponent: 1.0 and 1.00 are equal but not the same digits.
    kind = type(value)
    return value if kind is str else str(value) if kind is Decimal else (kind, value)


# Types whose equal values are the same value to a field's checks (unlike Decimal: 1.0 and 1.00):
# a column of one of them is its own list of keys.
_SELF_KEYED = frozenset({str, int, date, type(None)})


def _value_keys(values: list) -> list:
    """`_value_key` of each value; a column of one type (the usual case) in one step."""
    kinds = set(map(type, values))
    if len(kinds) == 1:
        kind = kinds.pop()
        if kind in _SELF_KEYED:
            return values
        if kind is Decimal:
            return list(map(str, values))
    return [_value_key(value) for value in values]


def column_passes(field: models.Field, values: list, plain: type) -> bool:
    """Whether every value, all of the field's plain type, surely passes `field.clean`
    unchanged, found with a few whole-column steps (a False is not a refusal: each value is
    then checked on its own).

    For the validators a transaction's columns have: `MaxLengthValidator` (the longest value) and
    `DecimalValidator`. A finite Decimal passes the latter exactly when it has at most
    `decimal_places` decimals (its exponent) and fewer whole digits than `max_digits -
    decimal_places` (its size); Django also counts digits in all, which these two bound.
    """
    if set(map(type, values)) != {plain}:
        return False
    if plain is Decimal:
        if not all(map(Decimal.is_finite, values)):
            return False
    elif plain is str and not field.blank and "" in values:
        return False
    for validator in field.validators:
        kind = type(validator)
        if kind is MaxLengthValidator and type(validator.limit_value) is int:
            if max(map(len, values)) > validator.limit_value:
                return False
        elif kind is DecimalValidator and plain is Decimal:
            places, digits = validator.decimal_places, validator.max_digits
            if places is None or digits is None or digits <= places:
                return False
            exponents = map(attrgetter("exponent"), map(Decimal.as_tuple, values))
            if min(exponents) < -places or max(map(abs, values)) >= 10 ** (digits - places):
                return False
        else:
            return False
    return True


class _FieldChecker:
    """`full_clean(exclude=..., validate_unique=False, validate_constraints=False)` for many rows.

    The same field checks and messages as the model's own `clean_fields`; each field's result
    is kept per distinct value (a field's checks depend on its value only), so a column of
    repeated values (types, currencies, dates) is checked once per value. A value of a column
    of distinct values (prices, quantities, external ids) that is already of the field's type
    runs the field's validators only, which is all its `clean` would do with it; a value that
    fails them goes through `clean` for its messages.
    """

    def __init__(self, model: type, *, exclude: tuple[str, ...]) -> None:
        self.fields = [
            (field, {}, self._plain_type(field))
            for field in model._meta.fields
            if field.name not in exclude and not field.generated
        ]

    @staticmethod
    def _plain_type(field) -> type | None:
        if field.choices or not field.editable:
            return None
        # The exact classes: a subclass may convert values in its own `to_python`.
        return next((plain for kind, plain in _PLAIN_TYPES if type(field) is kind), None)

    def clean_many(self, objs: list) -> dict[int, dict[str, list[str]]]:
        """Check the rows column by column, each distinct value once; set what `clean` cleans.

        Returns the field errors of each refused row by its position in `objs`, the fields in
        the model's order as `full_clean` gives them.
        """
        found: dict[int, dict[str, list]] = {}
        for field, memo, plain in self.fields:
            values = list(map(attrgetter(field.attname), objs))
            if plain is not None and values and column_passes(field, values, plain):
                continue
            try:
                keys = _value_keys(values)
                # Each distinct value at one of its rows.
                at = dict(zip(keys, range(len(keys)), strict=True))
            except TypeError:  # an unhashable value: each one checked
                keys = list(range(len(values)))
                at, memo = dict(zip(keys, keys, strict=True)), {}
            verdicts = {}
            for key, position in at.items():
                known = memo.get(key)
                if known is None:
                    raw = values[position]
                    if field.blank and raw in field.empty_values:
                        known = (raw, None)
                    else:
                        known = self._check(field, raw, objs[position], plain)
                    if len(memo) < _MEMO_MAX:
                        memo[key] = known
                verdicts[key] = known
            refused = {key for key, (_, problems) in verdicts.items() if problems is not None}
            # `clean` gave another object (an equal Decimal, a parsed date): rows take it.
            replaced = {
                key
                for key, (cleaned, problems) in verdicts.items()
                if problems is None and cleaned is not values[at[key]]
            }
            if not refused and not replaced:
                continue
            for position, key in enumerate(keys):
                if key in refused:
                    found.setdefault(position, {})[field.name] = verdicts[key][1]
                elif key in replaced:
                    setattr(objs[position], field.attname, verdicts[key][0])
        if objs and type(objs[0]).clean is not models.Model.clean:  # the model's own checks
            for position, obj in enumerate(objs):
                try:
                    obj.clean()
                except ValidationError as exc:
                    found[position] = exc.update_error_dict(found.get(position, {}))
        return {
            position: _field_errors(ValidationError(errors))
            for position, errors in sorted(found.items())
        }

    @staticmethod
    def _check(field, raw, obj, plain: type | None) -> tuple[Any, list | None]:
        """(cleaned value, None) or (raw, the field's errors)."""
        # An empty value, or a Decimal that is not finite, gets `clean`'s own verdict. Of a
        # Decimal, a str and a date, only "" is among the fields' `empty_values`.
        if type(raw) is plain and (raw.is_finite() if plain is Decimal else raw != ""):
            try:
                for validator in field.validators:
                    validator(raw)
            except ValidationError:
                pass  # `clean` below gives the messages
            else:
                return raw, None
        try:
            return field.clean(raw, obj), None
        except ValidationError as exc:
            return raw, exc.error_list


def _insert(
    checked: Iterable[list[Transaction]], *, count: int, finish: Callable[[], None]
) -> list[Transaction]:
    """Insert new transactions, ids in their order: PostgreSQL's COPY, else `bulk_create`.

    `checked` gives the rows a chunk at a time as they are checked; `count` is at most how many
    there are. `finish` runs once every chunk is checked and may raise to refuse them all, so
    nothing is kept. On PostgreSQL each chunk goes to the server while the next one is checked
    and `finish` runs before the `COPY` ends (see `copy_rows`); elsewhere, before the insert.
    """
    using = router.db_for_write(Transaction)
    if not copy_supported(using):
        rows = [txn for chunk in checked for txn in chunk]
        finish()
        Transaction.objects.bulk_create(rows, batch_size=BULK_BATCH_SIZE)
        return rows
    meta = Transaction._meta
    ids = iter(sequence_take(using=using, table=meta.db_table, count=count))
    now = timezone.now()
    rows: list[Transaction] = []
    # Ids, numbers, text and dates: psycopg adapts them as Django's PostgreSQL backend would
    # (its adapt_*_value functions pass these through unchanged). The timestamps, the same for
    # every row, go last and as ISO 8601 text written once: adapting a datetime costs psycopg
    # more than the rest of a row.
    stamped = ("created_at", "updated_at")
    fields = [field for field in meta.concrete_fields if field.attname not in stamped]
    fields += [meta.get_field(name) for name in stamped]
    read = attrgetter(*[field.attname for field in fields[: -len(stamped)]])
    stamps = (now.isoformat(),) * len(stamped)

    def stream() -> Iterator[tuple[Any, ...]]:
        for chunk in checked:
            for txn in chunk:
                # What bulk_create would set on each row.
                txn.id = next(ids)
                txn.created_at = txn.updated_at = now
                txn._state.adding = False
                txn._state.db = using
                rows.append(txn)
                yield read(txn) + stamps

    copy_rows(
        using=using,
        table=meta.db_table,
        columns=[field.column for field in fields],
        rows=stream(),
        meanwhile=finish,
    )
    return rows


# Each amount column's place among the record's columns and its decimal places: a record made
# in memory holds what reading it back gives.
_RECORD_SCALES = tuple(
    (
        LEDGER_RECORD_COLUMNS.index(name),
        Decimal(1).scaleb(-Transaction._meta.get_field(name).decimal_places),
    )
    for name in ("quantity", "price", "fee", "fx_rate")
)
# Wide enough for every amount column's digits (a quantity has 30; the default context 28).
_RECORD_CONTEXT = Context(
    prec=max(
        Transaction._meta.get_field(LEDGER_RECORD_COLUMNS[at]).max_digits
        for at, _ in _RECORD_SCALES
    )
)
_RECORD_READ = attrgetter(*LEDGER_RECORD_COLUMNS)


def _with_new(
    ledger: list[engine.TransactionRecord], rows: list[Transaction]
) -> list[engine.TransactionRecord]:
    """The ledger with `rows` (just inserted) in ledger order, as `ledger_records` would read
    it back. Every row must have its id (both inserts give them one)."""
    new = []
    for txn in rows:
        if txn.pk is None:
            raise ValueError("The ledger's records are made of inserted transactions only.")
        values = list(_RECORD_READ(txn))
        for at, exponent in _RECORD_SCALES:
            values[at] = values[at].quantize(exponent, context=_RECORD_CONTEXT)
        new.append(ledger_record(values))
    merged = ledger + new
    merged.sort(key=_ledger_order)
    return merged


def _ledger_order(record: engine.TransactionRecord) -> tuple[date, Any]:
    return record.date, record.id


def _details(txn: Transaction) -> dict:
    return {
        "portfolio_id": txn.portfolio_id,
        "transaction_id": txn.pk,
        "type": txn.type,
        "symbol": txn.instrument.symbol if txn.instrument else None,
        "date": txn.date,
        "quantity": _money(txn.quantity),
        "price": _money(txn.price),
        "currency": txn.currency,
    }


def _describe(txn: Transaction) -> str:
    subject = f" {txn.instrument}" if txn.instrument else ""
    return f"{txn.type.title()}{subject} on {txn.date.isoformat()} in “{txn.portfolio.name}”"


# --- portfolios ------------------------------------------------------------------------------


def _check_name_free(*, user, name: str, exclude_pk: int | None = None) -> None:
    taken = Portfolio.objects.for_user(user).filter(name=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ApplicationError(INVALID, {"name": ["You already have a portfolio with this name."]})


def portfolio_create(
    *,
    user,
    name: str,
    base_currency: str = "USD",
    description: str = "",
    config: dict | None = None,
    request: HttpRequest | None = None,
) -> Portfolio:
    """Create a portfolio of `user` (the owner is always the caller)."""
    config = {} if config is None else config
    if not isinstance(config, dict):
        raise ApplicationError(INVALID, {"config": ["Must be a JSON object."]})
    portfolio = Portfolio(
        user=user,
        name=(name or "").strip(),
        base_currency=(base_currency or "").upper(),
        description=description or "",
        config=config,
    )
    with db_transaction.atomic():
        _check_name_free(user=user, name=portfolio.name)
        _clean(portfolio)
        portfolio.save()
        LedgerTotals.objects.create(portfolio=portfolio)
        activity_record(
            user=user,
            action=ActivityAction.PORTFOLIO_CREATED,
            description=f"Portfolio “{portfolio.name}” created",
            details={"portfolio_id": portfolio.pk, "base_currency": portfolio.base_currency},
            request=request,
        )
    return portfolio


def portfolio_update(
    *, portfolio: Portfolio, data: dict, request: HttpRequest | None = None
) -> Portfolio:
    """Change name, base currency, description or config; the base only while it is empty.

    Recorded when anything changed.
    """
    unknown = sorted(set(data) - set(PORTFOLIO_FIELDS))
    if unknown:
        raise ApplicationError(INVALID, {name: ["Cannot be changed."] for name in unknown})
    values = dict(data)
    if "name" in values:
        values["name"] = (values["name"] or "").strip()
    if "base_currency" in values:
        values["base_currency"] = (values["base_currency"] or "").upper()
    if "config" in values and not isinstance(values["config"], dict):
        raise ApplicationError(INVALID, {"config": ["Must be a JSON object."]})
    with db_transaction.atomic():
        locked = _locked(portfolio)
        changed = [name for name, value in values.items() if getattr(locked, name) != value]
        if not changed:
            return locked
        if "name" in changed:
            _check_name_free(user=locked.user, name=values["name"], exclude_pk=locked.pk)
        if "base_currency" in changed and locked.transactions.exists():
            raise ApplicationError(
                INVALID,
                {
                    "base_currency": [
                        "Cannot change while the portfolio has transactions: their FX rates "
                        "are to the current base currency."
                    ]
                },
            )
        for name in changed:
            setattr(locked, name, values[name])
        _clean(locked)
        locked.save()
        activity_record(
            user=locked.user,
            action=ActivityAction.PORTFOLIO_UPDATED,
            description=f"Portfolio “{locked.name}” updated",
            details={"portfolio_id": locked.pk, "fields": sorted(changed)},
            request=request,
        )
    return locked


def portfolio_delete(*, portfolio: Portfolio, request: HttpRequest | None = None) -> None:
    """Delete a portfolio with its whole ledger and derived rows (recorded in the activity log)."""
    with db_transaction.atomic():
        locked = _locked(portfolio)
        count = locked.transactions.count()
        activity_record(
            user=locked.user,
            action=ActivityAction.PORTFOLIO_DELETED,
            description=f"Portfolio “{locked.name}” deleted with {count} transactions",
            details={"portfolio_id": locked.pk, "name": locked.name, "transactions": count},
            request=request,
        )
        locked.delete()


# --- instruments and FX ----------------------------------------------------------------------


def instrument_find(*, user, symbol: str, exchange: str = "") -> Instrument | None:
    """The instrument a user means by symbol and exchange: a shared one first, then the user's
    private one; never another user's. Matching ignores case and surrounding spaces; without an
    exchange, a symbol listed on one exchange only matches it.
    """
    match = {"symbol__iexact": symbol.strip(), "exchange__iexact": (exchange or "").strip()}
    found = Instrument.objects.filter(owner__isnull=True, **match).first()
    found = found or Instrument.objects.for_user(user).filter(**match).first()
    if found is None and not match["exchange__iexact"]:
        # No exchange given (broker CSVs and Ghostfolio files often have none): a symbol
        # listed on one exchange only is that one, not a new private instrument without prices.
        listed = list(
            Instrument.objects.visible_to(user)
            .filter(symbol__iexact=match["symbol__iexact"])
            .order_by(F("owner_id").asc(nulls_first=True), "exchange")[:10]
        )
        if len({i.exchange for i in listed}) == 1:
            found = listed[0]
    return found


def instrument_resolve(
    *,
    user,
    symbol: str,
    exchange: str = "",
    currency: str | None = None,
    name: str = "",
    asset_class: str | None = None,
) -> Instrument:
    """A shared instrument first, then the user's private one; an unknown symbol with a
    currency becomes a new private instrument of the user. Matching ignores case.
    """
    symbol = (symbol or "").strip()
    exchange = (exchange or "").strip()
    if not symbol:
        raise ApplicationError(INVALID, {"symbol": ["This field is required."]})
    found = instrument_find(user=user, symbol=symbol, exchange=exchange)
    if found is not None:
        return found
    if not currency:
        label = f"{symbol}.{exchange}" if exchange else symbol
        raise ApplicationError(
            INVALID,
            {"symbol": [f"Unknown symbol {label}; give its currency to add it as your own."]},
        )
    instrument = Instrument(
        owner=user,
        symbol=symbol.upper(),
        exchange=exchange.upper(),
        name=name or "",
        currency=currency.upper(),
        asset_class=asset_class or AssetClass.OTHER,
    )
    _clean(instrument, validate_constraints=False)
    try:
        with db_transaction.atomic():
            instrument.save()
    except IntegrityError:
        # Another request created it between the lookup and the insert.
        return Instrument.objects.for_user(user).get(
            symbol__iexact=symbol, exchange__iexact=exchange
        )
    return instrument


def fx_rate_lookup(*, currency: str, base: str, day: date) -> Decimal:
    """Units of `base` per unit of `currency` on `day`: 1 for the same currency, else the last
    rate on or before `day` (direct or inverse pair); a missing rate is an `fx_rate` error.
    """
    if currency == base:
        return Decimal(1)
    table = fx_table(base=base, currencies=[currency], start=day, end=day)
    return _fx_rate(table=table, currency=currency, base=base, day=day)


# --- transactions ----------------------------------------------------------------------------


def transaction_create(
    *, portfolio: Portfolio, data: TransactionInput, request: HttpRequest | None = None
) -> Transaction:
    """Add one transaction and recompute the holdings and snapshots from its date."""
    with db_transaction.atomic():
        locked = _locked(portfolio)
        txn = Transaction()
        _fill(txn, locked, data, fx=None)
        _clean(txn)
        txn.save()
        _recompute(locked, since=txn.date)
        activity_record(
            user=locked.user,
            action=ActivityAction.TRANSACTION_CREATED,
            description=f"{_describe(txn)} added",
            details=_details(txn),
            request=request,
        )
    return txn


def transaction_update(
    *, transaction: Transaction, data: TransactionInput, request: HttpRequest | None = None
) -> Transaction:
    """Replace a transaction's fields; refused whole if it makes any sell an oversell."""
    with db_transaction.atomic():
        locked = _locked(transaction.portfolio)
        txn = Transaction.objects.select_related("instrument").get(
            pk=transaction.pk, portfolio=locked
        )
        before = {f: getattr(txn, f) for f in _EDITABLE}
        _fill(txn, locked, data, fx=None)
        changed = sorted(f for f in _EDITABLE if getattr(txn, f) != before[f])
        if not changed:
            return txn
        _clean(txn)
        txn.save()
        _recompute(locked, since=min(before["date"], txn.date))
        activity_record(
            user=locked.user,
            action=ActivityAction.TRANSACTION_UPDATED,
            description=f"{_describe(txn)} edited",
            details={**_details(txn), "fields": changed},
            request=request,
        )
    return txn


def transaction_delete(*, transaction: Transaction, request: HttpRequest | None = None) -> None:
    """Delete a transaction; refused if a later sell would then exceed what is held."""
    with db_transaction.atomic():
        locked = _locked(transaction.portfolio)
        txn = Transaction.objects.select_related("instrument").get(
            pk=transaction.pk, portfolio=locked
        )
        details, description = _details(txn), f"{_describe(txn)} deleted"
        txn.delete()
        _recompute(locked, since=txn.date)
        activity_record(
            user=locked.user,
            action=ActivityAction.TRANSACTION_DELETED,
            description=description,
            details=details,
            request=request,
        )


# Columns whose input values reach the row unchanged (`_filled` passes them through), so a
# caller can check them with the field's validators itself (`transactions_bulk_create`).
PRECHECKABLE = frozenset({"quantity", "price", "fee", "notes", "external_id"})

# Rows checked, then sent to the server, at a time: the server takes one chunk while the next
# is checked.
CHECK_CHUNK = 5000


def _checked_rows(
    portfolio: Portfolio,
    inputs: list[TransactionInput],
    *,
    fx: engine.FxTable,
    today: date,
    known: set[str],
    errors: dict[int, dict[str, list[str]]],
    prechecked: Collection[str] = (),
) -> Iterator[list[Transaction]]:
    """The inputs as new rows of `portfolio`, checked, `CHECK_CHUNK` at a time.

    An input with a problem is left out and its field errors go to `errors` by its position;
    `known` is the portfolio's external ids, and takes each new one (a repeat is an error).
    Foreign keys were checked by `_filled`; constraints come back from the engine and the
    external id check, without a query per row. Queries nothing itself.
    """
    checker = _FieldChecker(Transaction, exclude=("portfolio", "instrument", *prechecked))
    rates: dict[tuple[str, date], Decimal] = {}
    signals = _init_signals_received()
    for start in range(0, len(inputs), CHECK_CHUNK):
        built: list[tuple[int, Transaction]] = []
        for index, data in enumerate(inputs[start : start + CHECK_CHUNK], start=start):
            try:
                values = _filled(portfolio, data, fx, rates=rates, today=today)
                built.append((index, _new_row(portfolio, values, signals=signals)))
            except ApplicationError as exc:
                errors[index] = exc.extra or {"non_field_errors": [exc.message]}
        refused = checker.clean_many([txn for _, txn in built])
        rows: list[Transaction] = []
        for position, (index, txn) in enumerate(built):
            if position in refused:
                errors[index] = refused[position]
                continue
            if txn.external_id:
                if txn.external_id in known:
                    errors[index] = {
                        "external_id": [f"{txn.external_id} is already in this portfolio."]
                    }
                    continue
                known.add(txn.external_id)
            rows.append(txn)
        yield rows


@gc_paused()
def transactions_bulk_create(
    *,
    portfolio: Portfolio,
    inputs: list[TransactionInput],
    request: HttpRequest | None = None,
    prechecked: Collection[str] = (),
) -> list[Transaction]:
    """Add many transactions at once, all or nothing, with one recompute at the end.

    Errors are keyed by the input's 0-based position (`"3.quantity"`); an `external_id` already
    in the portfolio, or repeated in `inputs`, is an error (the import service filters first).
    The rows are inserted in bulk, each with the CREATE history entry a save would have logged.

    `prechecked` names columns (of `PRECHECKABLE`) whose input values the caller has already
    run through the Transaction field's own validators, as the import does to report them with
    a file's other errors; they are not run again. Every other check still runs.
    """
    if not set(prechecked) <= PRECHECKABLE:
        raise ValueError(f"Only {sorted(PRECHECKABLE)} can be checked by the caller.")
    if not inputs:
        return []
    with db_transaction.atomic():
        locked = _locked(portfolio)
        known = set(
            Transaction.objects.filter(portfolio=locked)
            .exclude(external_id="")
            .values_list("external_id", flat=True)
        )
        currencies = {
            (i.currency or (i.instrument.currency if i.instrument else "")).upper() for i in inputs
        }
        today = _today()
        valid_dates = [i.date for i in inputs if isinstance(i.date, date)]
        fx = fx_table(
            base=locked.base_currency,
            currencies=currencies - {""},
            start=None,
            end=max(valid_dates, default=today),
        )
        errors: dict[int, dict[str, list[str]]] = {}
        checked = _checked_rows(
            locked, inputs, fx=fx, today=today, known=known, errors=errors, prechecked=prechecked
        )
        # The ledger before this write, read once: with the new rows, the recompute's input.
        # What its fold reads besides (prices, FX rates, splits) is read before the inserts,
        # for every instrument, currency and date the inputs name.
        ledger = ledger_records(portfolio=locked)
        since = min(valid_dates, default=today)
        fold_inputs = ledger_inputs(
            portfolio=locked,
            first=min([since, *(r.date for r in ledger[:1])]),
            last=max([since, *valid_dates, *(r.date for r in ledger[-1:])]),
            instrument_ids={r.instrument for r in ledger if r.instrument is not None}
            | {i.instrument.pk for i in inputs if i.instrument is not None},
            currencies={r.currency for r in ledger} | currencies - {""} | {locked.base_currency},
            since=since,
        )

        def refuse_if_invalid() -> None:
            if errors:
                raise ApplicationError(
                    f"{len(errors)} of {len(inputs)} transactions are invalid.",
                    {str(index): found for index, found in sorted(errors.items())},
                )

        # In bulk, ledger order kept (same-day entries are ordered by id); a bulk insert sends
        # no signals, so each row's CREATE history entry is written in bulk beside it. On
        # PostgreSQL the Python of each step runs while the server takes the rows of the one
        # before: the rows are checked a chunk at a time during their own COPY, and the
        # history entries are built, and the ledger folded, during the entries' COPY.
        rows = _insert(checked, count=len(inputs), finish=refuse_if_invalid)

        def fold() -> DerivedLedger | engine.EngineValidationError:
            # A refusal is returned, not raised: raised, it would cancel the COPY and abort the
            # transaction before its message could look up the instrument it names.
            try:
                return ledger_fold(
                    portfolio=locked, records=_with_new(ledger, rows), inputs=fold_inputs
                )
            except engine.EngineValidationError as exc:
                return exc

        # The history entries are built while the server takes them; then the new rows' and
        # entries' foreign keys are checked while the ledger is folded, which leaves the commit
        # little to do.
        history = CreatedEntries.for_model(Transaction)
        if history is not None:
            history.write(history.build(rows))
        derived = constraints_check(
            using=router.db_for_write(Transaction),
            tables=[Transaction._meta.db_table, *([] if history is None else [history.table])],
            meanwhile=fold,
        )
        if isinstance(derived, engine.EngineValidationError):
            raise _engine_error(derived) from derived
        _write_derived(locked, derived)
        activity_record(
            user=locked.user,
            action=ActivityAction.TRANSACTIONS_IMPORTED,
            description=f"{len(rows)} transactions added to “{locked.name}”",
            details={
                "portfolio_id": locked.pk,
                "count": len(rows),
                "first_date": min(t.date for t in rows),
                "last_date": max(t.date for t in rows),
            },
            request=request,
        )
    return rows


# --- derived rows ----------------------------------------------------------------------------


def ledger_recompute(*, portfolio: Portfolio, since: date | None = None) -> None:
    """Recompute holdings, totals and snapshots (snapshots from `since`, or all of them)."""
    with db_transaction.atomic():
        _recompute(_locked(portfolio), since=since)


def snapshots_rebuild_for_instruments(*, instrument_ids: list[int], since: date) -> int:
    """Rebuild every portfolio that trades one of the instruments from `since` (new prices,
    FX rates or splits); return how many portfolios were rebuilt.
    """
    portfolio_ids = sorted(
        set(
            Transaction.objects.filter(instrument_id__in=instrument_ids)
            .order_by()
            .values_list("portfolio_id", flat=True)
        )
    )
    with db_transaction.atomic():
        # Ascending id order: two rebuilds lock the same portfolios in the same order.
        for portfolio in Portfolio.objects.filter(pk__in=portfolio_ids).order_by("pk"):
            _recompute(_locked(portfolio), since=since)
    return len(portfolio_ids)


_EDITABLE = (
    "type",
    "instrument",
    "quantity",
    "price",
    "fee",
    "currency",
    "fx_rate",
    "date",
    "notes",
    "external_id",
)
