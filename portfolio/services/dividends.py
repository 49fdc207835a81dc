"""Writes of dividends (SPEC §3 Dividend): record, edit, confirm into the ledger, reject, propose.

The shares a dividend pays on are the ledger's holding at the end of the day before the ex
date (whoever holds the stock going into the ex date is paid). Confirming records the DIVIDEND
transaction through the ledger's own `transaction_create`, once: the dividend keeps the
transaction (a one-to-one link), so confirming again changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction as db_transaction
from django.http import HttpRequest

from audit.models import ActivityAction
from audit.services import activity_record
from portfolio import engine
from portfolio.models import (
    Dividend,
    DividendKind,
    DividendSource,
    DividendStatus,
    Instrument,
    Portfolio,
    PriceBar,
    Transaction,
    TransactionType,
)
from portfolio.selectors import ledger_records, quantize, split_calendar
from portfolio.services.ledger import TransactionInput, transaction_create
from trading_lab.decimals import MONEY, QUANTITY, ZERO
from trading_lab.exceptions import ApplicationError

INVALID = "Invalid input."
EDITABLE_FIELDS = (
    "ex_date",
    "pay_date",
    "record_date",
    "declared_date",
    "amount_per_share",
    "kind",
    "notes",
)
OPEN_STATUSES = (DividendStatus.PENDING, DividendStatus.EDITED)


def _clean(dividend: Dividend) -> None:
    try:
        dividend.full_clean()
    except ValidationError as exc:
        raise ApplicationError(INVALID, exc.message_dict) from exc


def _locked_portfolio(portfolio: Portfolio) -> Portfolio:
    return Portfolio.objects.select_for_update().select_related("user").get(pk=portfolio.pk)


def shares_held_before(
    *, portfolio: Portfolio, wanted: Iterable[tuple[int, date]]
) -> dict[tuple[int, date], Decimal]:
    """Quantity of each (instrument, ex date) held at the end of the day before the ex date.

    One pass over the ledger for all the dates, split-adjusted through that day.
    """
    pairs = sorted(set(wanted), key=lambda pair: pair[1])
    if not pairs:
        return {}
    records = ledger_records(portfolio=portfolio, through=pairs[-1][1] - timedelta(days=1))
    splits = split_calendar(instrument_ids={pair[0] for pair in pairs})
    state = engine.ledger_new(base_currency=portfolio.base_currency)
    held: dict[tuple[int, date], Decimal] = {}
    position = 0
    for instrument_id, ex_date in pairs:
        eve = ex_date - timedelta(days=1)
        while position < len(records) and records[position].date <= eve:
            engine.ledger_fold(state=state, transaction=records[position], splits=splits)
            position += 1
        engine.ledger_advance(state=state, through=eve, splits=splits)
        current = state.positions.get(instrument_id)
        held[(instrument_id, ex_date)] = (
            quantize(current.quantity, QUANTITY) if current is not None else ZERO
        )
    return held


def _set_shares(dividend: Dividend) -> None:
    key = (dividend.instrument_id, dividend.ex_date)
    dividend.shares = shares_held_before(portfolio=dividend.portfolio, wanted=[key])[key]
    dividend.total = quantize(dividend.shares * dividend.amount_per_share, MONEY)


def _check_currency(dividend: Dividend) -> None:
    if dividend.currency != dividend.instrument.currency:
        # The ledger records a dividend in its instrument's currency (SPEC §3 Transaction).
        raise ApplicationError(
            INVALID,
            {"currency": [f"{dividend.instrument} pays in {dividend.instrument.currency}."]},
        )


def _check_instrument(portfolio: Portfolio, instrument: Instrument) -> None:
    if instrument.owner_id not in (None, portfolio.user_id):
        raise ApplicationError(INVALID, {"instrument": ["This instrument does not exist."]})


def _details(dividend: Dividend) -> dict[str, Any]:
    return {
        "dividend": dividend.pk,
        "portfolio": dividend.portfolio_id,
        "instrument": str(dividend.instrument),
        "ex_date": dividend.ex_date.isoformat(),
        "total": f"{dividend.total.normalize():f}",
        "status": dividend.status,
    }


def dividend_create(
    *,
    portfolio: Portfolio,
    instrument: Instrument,
    ex_date: date,
    amount_per_share: Decimal,
    currency: str | None = None,
    pay_date: date | None = None,
    record_date: date | None = None,
    declared_date: date | None = None,
    kind: str = DividendKind.CASH,
    source: str = DividendSource.MANUAL,
    notes: str = "",
    request: HttpRequest | None = None,
) -> Dividend:
    """Record a pending dividend; the shares and the total come from the ledger."""
    _check_instrument(portfolio, instrument)
    with db_transaction.atomic():
        portfolio = _locked_portfolio(portfolio)
        dividend = Dividend(
            portfolio=portfolio,
            instrument=instrument,
            ex_date=ex_date,
            pay_date=pay_date,
            record_date=record_date,
            declared_date=declared_date,
            amount_per_share=amount_per_share,
            currency=(currency or instrument.currency).upper(),
            kind=kind,
            source=source,
            notes=notes,
            shares=ZERO,
            total=ZERO,
        )
        _check_currency(dividend)
        _set_shares(dividend)
        _clean(dividend)
        dividend.save()
        activity_record(
            user=portfolio.user,
            action=ActivityAction.DIVIDEND_CREATED,
            description=f"Dividend of {instrument} ex {ex_date.isoformat()} recorded.",
            details=_details(dividend),
            request=request,
        )
    return dividend


def _locked_dividend(dividend: Dividend) -> Dividend:
    portfolio = _locked_portfolio(dividend.portfolio)
    locked = Dividend.objects.select_for_update().select_related("instrument").get(pk=dividend.pk)
    locked.portfolio = portfolio
    return locked


def dividend_update(
    *, dividend: Dividend, data: dict[str, Any], request: HttpRequest | None = None
) -> Dividend:
    """Edit an open (pending or edited) dividend; it becomes `edited` and is re-derived."""
    with db_transaction.atomic():
        dividend = _locked_dividend(dividend)
        if dividend.status not in OPEN_STATUSES:
            raise ApplicationError(
                f"A {dividend.status} dividend cannot be edited.",
                {"status": [f"A {dividend.status} dividend cannot be edited."]},
            )
        changed = [
            name
            for name in EDITABLE_FIELDS
            if name in data and getattr(dividend, name) != data[name]
        ]
        if not changed:
            return dividend
        for name in changed:
            setattr(dividend, name, data[name])
        dividend.status = DividendStatus.EDITED
        _set_shares(dividend)
        _clean(dividend)
        dividend.save()
        activity_record(
            user=dividend.portfolio.user,
            action=ActivityAction.DIVIDEND_UPDATED,
            description=f"Dividend of {dividend.instrument} ex {dividend.ex_date} edited.",
            details={**_details(dividend), "changed": changed},
            request=request,
        )
    return dividend


def dividend_delete(*, dividend: Dividend, request: HttpRequest | None = None) -> None:
    """Delete a dividend that is not confirmed (a confirmed one is in the ledger)."""
    with db_transaction.atomic():
        dividend = _locked_dividend(dividend)
        if dividend.status == DividendStatus.CONFIRMED:
            message = "A confirmed dividend is in the ledger: delete its transaction instead."
            raise ApplicationError(message, {"status": [message]})
        details = _details(dividend)
        dividend.delete()
        activity_record(
            user=dividend.portfolio.user,
            action=ActivityAction.DIVIDEND_DELETED,
            description=f"Dividend of {dividend.instrument} ex {dividend.ex_date} deleted.",
            details=details,
            request=request,
        )


def dividend_confirm(*, dividend: Dividend, request: HttpRequest | None = None) -> Dividend:
    """Record the dividend's DIVIDEND transaction; a confirmed dividend is returned unchanged."""
    with db_transaction.atomic():
        dividend = _locked_dividend(dividend)
        if dividend.status == DividendStatus.CONFIRMED and dividend.transaction_id is not None:
            return dividend
        if dividend.status == DividendStatus.REJECTED:
            message = "A rejected dividend cannot be confirmed."
            raise ApplicationError(message, {"status": [message]})
        _set_shares(dividend)
        if dividend.shares <= 0:
            message = f"No {dividend.instrument} was held going into {dividend.ex_date}."
            raise ApplicationError(message, {"shares": [message]})
        paid_on = dividend.pay_date or dividend.ex_date
        try:
            txn = transaction_create(
                portfolio=dividend.portfolio,
                data=TransactionInput(
                    type=TransactionType.DIVIDEND,
                    date=paid_on,
                    quantity=dividend.shares,
                    price=dividend.amount_per_share,
                    instrument=dividend.instrument,
                    currency=dividend.currency,
                    notes=f"Dividend ex {dividend.ex_date.isoformat()}",
                    # Keyed to the dividend: an import or a second confirm cannot double it.
                    external_id=f"dividend-{dividend.pk}",
                ),
                request=request,
            )
        except ApplicationError as exc:
            if "date" in exc.extra:
                message = f"It can be confirmed once paid ({paid_on.isoformat()})."
                raise ApplicationError(message, {"pay_date": [message]}) from exc
            raise
        dividend.transaction = txn
        dividend.status = DividendStatus.CONFIRMED
        _clean(dividend)
        dividend.save()
        activity_record(
            user=dividend.portfolio.user,
            action=ActivityAction.DIVIDEND_CONFIRMED,
            description=f"Dividend of {dividend.instrument} ex {dividend.ex_date} confirmed.",
            details={**_details(dividend), "transaction": txn.pk},
            request=request,
        )
    return dividend


def dividend_reject(*, dividend: Dividend, request: HttpRequest | None = None) -> Dividend:
    """Mark an open dividend rejected (it was never paid, or not to this portfolio)."""
    with db_transaction.atomic():
        dividend = _locked_dividend(dividend)
        if dividend.status == DividendStatus.REJECTED:
            return dividend
        if dividend.status == DividendStatus.CONFIRMED:
            message = "A confirmed dividend is in the ledger: delete its transaction instead."
            raise ApplicationError(message, {"status": [message]})
        dividend.status = DividendStatus.REJECTED
        dividend.save(update_fields=["status", "updated_at"])
        activity_record(
            user=dividend.portfolio.user,
            action=ActivityAction.DIVIDEND_REJECTED,
            description=f"Dividend of {dividend.instrument} ex {dividend.ex_date} rejected.",
            details=_details(dividend),
            request=request,
        )
    return dividend


def dividends_propose(
    *, portfolio: Portfolio, request: HttpRequest | None = None
) -> list[Dividend]:
    """Create pending dividends from price-bar dividends on days the portfolio held the stock.

    Idempotent: an (instrument, ex date) that already has a dividend, in any status, is skipped.
    """
    with db_transaction.atomic():
        portfolio = _locked_portfolio(portfolio)
        traded = Transaction.objects.filter(
            portfolio=portfolio, instrument__isnull=False
        ).values_list("instrument_id", flat=True)
        bars = list(
            PriceBar.objects.filter(instrument_id__in=traded, dividend__gt=0)
            .select_related("instrument")
            .order_by("date", "instrument_id")
        )
        known = set(
            Dividend.objects.filter(portfolio=portfolio).values_list("instrument_id", "ex_date")
        )
        bars = [bar for bar in bars if (bar.instrument_id, bar.date) not in known]
        held = shares_held_before(
            portfolio=portfolio, wanted=[(bar.instrument_id, bar.date) for bar in bars]
        )
        created = []
        for bar in bars:
            shares = held[(bar.instrument_id, bar.date)]
            if shares <= 0:
                continue
            dividend = Dividend(
                portfolio=portfolio,
                instrument=bar.instrument,
                ex_date=bar.date,
                amount_per_share=bar.dividend,
                currency=bar.instrument.currency,
                shares=shares,
                total=quantize(shares * bar.dividend, MONEY),
                source=DividendSource.PROVIDER,
            )
            _clean(dividend)
            dividend.save()
            created.append(dividend)
        if created:
            activity_record(
                user=portfolio.user,
                action=ActivityAction.DIVIDENDS_PROPOSED,
                description=f"{len(created)} dividends proposed for {portfolio}.",
                details={"portfolio": portfolio.pk, "dividends": [d.pk for d in created]},
                request=request,
            )
    return created
