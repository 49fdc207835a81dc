"""transactions_bulk_create writes its rows in bulk, each with the history a save would give it."""

from datetime import date
from decimal import Decimal

import pytest
from auditlog.context import disable_auditlog, set_extra_data
from auditlog.models import LogEntry

from portfolio.models import Transaction, TransactionType
from portfolio.services import TransactionInput, transaction_create, transactions_bulk_create
from tests.factories import FxRateFactory, InstrumentFactory, PortfolioFactory

pytestmark = pytest.mark.django_db

D = Decimal
# Columns whose values differ between two otherwise equal rows written at different moments.
OWN_VALUES = {"id", "portfolio", "created_at", "updated_at", "external_id"}


def _inputs(usd, eur) -> list[TransactionInput]:
    return [
        TransactionInput(type=TransactionType.DEPOSIT, date=date(2024, 1, 2), quantity=None,
                         price=D("5000"), notes="Opening deposit", external_id="b-1"),
        TransactionInput(type=TransactionType.BUY, date=date(2024, 1, 3), quantity=D("10"),
                         price=D("101.25"), fee=D("1.5"), instrument=usd, external_id="b-2"),
        TransactionInput(type=TransactionType.BUY, date=date(2024, 1, 3), quantity=D("4"),
                         price=D("50"), instrument=eur, external_id="b-3"),
        TransactionInput(type=TransactionType.SELL, date=date(2024, 1, 4), quantity=D("3"),
                         price=D("110"), instrument=usd, external_id="b-4"),
    ]  # fmt: skip


@pytest.fixture
def market():
    FxRateFactory(base="EUR", quote="USD", date=date(2024, 1, 1), rate=D("1.1"))
    return InstrumentFactory(currency="USD"), InstrumentFactory(currency="EUR")


def _entries(txn: Transaction):
    return list(LogEntry.objects.get_for_object(txn))


def test_each_bulk_row_has_one_create_entry_with_the_actor_and_address(user, market):
    portfolio = PortfolioFactory(user=user)
    # What AuditContextMiddleware (trading_lab/middleware.py) puts in the context of a request.
    context = {"actor": user, "remote_addr": "192.0.2.7", "remote_port": None, "cid": "req-42"}
    with set_extra_data(context):
        rows = transactions_bulk_create(portfolio=portfolio, inputs=_inputs(*market))

    assert [t.pk for t in rows] == sorted(
        Transaction.objects.filter(portfolio=portfolio).values_list("pk", flat=True)
    )
    for txn in rows:
        entries = _entries(txn)
        assert len(entries) == 1
        entry = entries[0]
        assert entry.action == LogEntry.Action.CREATE
        assert entry.actor == user
        assert entry.actor_email == user.email
        assert entry.remote_addr == "192.0.2.7"
        assert entry.cid == "req-42"
        assert entry.object_id == txn.pk
        assert entry.object_repr == str(txn)
        assert entry.changes["id"] == [None, txn.pk]
        assert entry.changes["external_id"] == [None, txn.external_id]


def test_bulk_history_has_the_same_changes_a_save_would_log(user, market):
    """The same inputs through transaction_create (one save each) log the same entries."""
    bulk_portfolio = PortfolioFactory(user=user, name="Bulk")
    saved_portfolio = PortfolioFactory(user=user, name="Saved")
    context = {"actor": user, "remote_addr": "198.51.100.3", "remote_port": None, "cid": "r-1"}
    with set_extra_data(context):
        bulk_rows = transactions_bulk_create(portfolio=bulk_portfolio, inputs=_inputs(*market))
        saved_rows = [
            transaction_create(portfolio=saved_portfolio, data=data) for data in _inputs(*market)
        ]

    for bulk, saved in zip(bulk_rows, saved_rows, strict=True):
        [bulk_entry], [saved_entry] = _entries(bulk), _entries(saved)
        assert set(bulk_entry.changes) == set(saved_entry.changes)
        for name in set(bulk_entry.changes) - OWN_VALUES:
            assert bulk_entry.changes[name] == saved_entry.changes[name], name
        assert bulk_entry.changes["portfolio"] == [None, bulk_portfolio.pk]
        for name in ("action", "actor", "actor_email", "remote_addr", "cid", "object_repr"):
            assert getattr(bulk_entry, name) == getattr(saved_entry, name), name


def test_an_ended_context_gives_no_actor(user, market):
    """auditlog leaves the last context's values behind; only a live context names the actor."""
    with set_extra_data({"actor": user, "remote_addr": "192.0.2.1", "cid": "old"}):
        pass
    rows = transactions_bulk_create(portfolio=PortfolioFactory(user=user), inputs=_inputs(*market))
    [entry] = _entries(rows[0])
    assert entry.actor is None
    assert entry.remote_addr is None


def test_bulk_rows_keep_ledger_order_and_are_stored_as_given(user, market):
    portfolio = PortfolioFactory(user=user)
    rows = transactions_bulk_create(portfolio=portfolio, inputs=_inputs(*market))
    stored = list(Transaction.objects.filter(portfolio=portfolio).order_by("date", "id"))
    assert [t.external_id for t in stored] == ["b-1", "b-2", "b-3", "b-4"]
    assert stored[2].fx_rate == D("1.1")
    assert [t.pk for t in stored] == [t.pk for t in rows]


def test_no_history_when_auditlog_is_disabled(user, market):
    portfolio = PortfolioFactory(user=user)
    with disable_auditlog():
        rows = transactions_bulk_create(portfolio=portfolio, inputs=_inputs(*market))
    assert all(_entries(txn) == [] for txn in rows)
