"""The bulk write's shortcuts give what the slow, obvious way gives.

PostgreSQL's COPY path against the ORM's bulk_create path, the batch diff against auditlog's
own, and the batch field checks against the model's full_clean.
"""

import json
import time
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from auditlog.context import set_extra_data
from auditlog.diff import model_instance_diff
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection, models
from django.db import transaction as db_transaction
from django.db.models.signals import post_init
from django.forms.models import model_to_dict
from hypothesis import example, given
from hypothesis import strategies as st

from portfolio.models import Holding, Portfolio, PortfolioSnapshot, Transaction, TransactionType
from portfolio.selectors import ledger_derive, ledger_records
from portfolio.services import TransactionInput, transactions_bulk_create
from portfolio.services import history as history_module
from portfolio.services import ledger as ledger_module
from portfolio.services.bulk_write import (
    ConnectionBusyError,
    constraints_check,
    copy_rows,
    sequence_take,
)
from portfolio.services.history import create_changes_json, create_differ
from portfolio.services.imports import transactions_import
from tests.factories import FxRateFactory, InstrumentFactory, PortfolioFactory, PriceBarFactory
from trading_lab.exceptions import ApplicationError

pytestmark = pytest.mark.django_db

D = Decimal
# Columns whose values differ between two otherwise equal rows written at different moments.
OWN_VALUES = {"id", "portfolio", "created_at", "updated_at"}


def _inputs(usd, eur, prefix: str) -> list[TransactionInput]:
    return [
        TransactionInput(type=TransactionType.DEPOSIT, date=date(2024, 1, 2), quantity=None,
                         price=D("5000"), notes="In \"q\"\tt", external_id=f"{prefix}1"),
        TransactionInput(type=TransactionType.BUY, date=date(2024, 1, 3), quantity=D("10"),
                         price=D("101.25"), fee=D("1.5"), instrument=usd, external_id=f"{prefix}2"),
        TransactionInput(type=TransactionType.BUY, date=date(2024, 1, 3), quantity=D("4.5"),
                         price=D("50"), instrument=eur, notes="ünïcode\\back\nslash"),
        TransactionInput(type=TransactionType.SELL, date=date(2024, 1, 4), quantity=D("3"),
                         price=D("110"), instrument=usd, external_id=f"{prefix}4"),
        TransactionInput(type=TransactionType.FEE, date=date(2024, 1, 5), quantity=None,
                         price=D("2.50"), currency="EUR", fx_rate=D("1.2")),
    ]  # fmt: skip


@pytest.fixture
def market():
    FxRateFactory(base="EUR", quote="USD", date=date(2024, 1, 1), rate=D("1.1"))
    return InstrumentFactory(currency="USD"), InstrumentFactory(currency="EUR")


def _stored(portfolio: Portfolio) -> list[dict]:
    return [
        {k: v for k, v in model_to_dict(txn).items() if k not in OWN_VALUES}
        for txn in Transaction.objects.filter(portfolio=portfolio).order_by("date", "id")
    ]


def _history(rows: list[Transaction]) -> list[dict]:
    found = []
    for txn in rows:
        [entry] = LogEntry.objects.get_for_object(txn)
        found.append(
            {
                "changes": {k: v for k, v in entry.changes.items() if k not in OWN_VALUES},
                "changed": set(entry.changes),
                "object_repr": entry.object_repr,
                "object_pk": entry.object_pk == str(txn.pk) and entry.object_id == txn.pk,
                **{
                    name: getattr(entry, name)
                    for name in ("action", "actor_id", "actor_email", "remote_addr", "cid")
                },
            }
        )
    return found


@pytest.mark.postgres
def test_copy_and_bulk_create_write_the_same_rows_and_history(user, market, monkeypatch):
    context = {"actor": user, "remote_addr": "192.0.2.9", "remote_port": None, "cid": "req-9"}
    copied_portfolio = PortfolioFactory(user=user, name="Copied")
    with set_extra_data(context):
        copied = transactions_bulk_create(
            portfolio=copied_portfolio, inputs=_inputs(*market, prefix="c-")
        )
    orm_portfolio = PortfolioFactory(user=user, name="ORM")
    # The other databases' path, on the same PostgreSQL database.
    monkeypatch.setattr(ledger_module, "copy_supported", lambda using: False)
    monkeypatch.setattr(history_module, "copy_supported", lambda using: False)
    with set_extra_data(context):
        inserted = transactions_bulk_create(
            portfolio=orm_portfolio, inputs=_inputs(*market, prefix="c-")
        )

    assert _stored(copied_portfolio) == _stored(orm_portfolio)
    assert [t.pk for t in copied] == sorted(t.pk for t in copied)
    fresh = Transaction.objects.filter(pk__in=[t.pk for t in copied]).order_by("id")
    assert [t.created_at for t in copied] == [t.created_at for t in fresh]
    assert _history(copied) == _history(inserted)
    assert _history(copied)[0]["actor_id"] == user.pk


def test_the_batch_diff_is_auditlogs_diff(user, market):
    usd, _ = market
    portfolio = PortfolioFactory(user=user, config={"theme": "dark", "limits": [1, 2]})
    rows = transactions_bulk_create(portfolio=portfolio, inputs=_inputs(*market, prefix="d-"))
    for instance in [*rows, portfolio, usd]:
        concrete = [field.name for field in type(instance)._meta.concrete_fields]
        expected = model_instance_diff(
            None, instance, fields_to_check=concrete, use_json_for_changes=True
        )
        assert create_differ(type(instance))(instance) == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity", D("0.1234567890123")),  # more decimal places than the column keeps
        ("price", D("123456789012345")),  # more digits before the point than the column keeps
        ("fx_rate", D("1.00000000000001")),
        ("fee", D("0.000000001")),
        ("notes", None),
    ],
)
def test_the_batch_field_checks_give_full_cleans_errors(user, market, field, value):
    _, eur = market
    portfolio = PortfolioFactory(user=user)
    data = TransactionInput(
        type=TransactionType.BUY, date=date(2024, 1, 3), quantity=D("2"), price=D("10"),
        instrument=eur, fx_rate=D("1.1"),
    )  # fmt: skip
    if field == "notes":
        data.external_id = "x" * 201  # longer than the column
        field = "external_id"
    else:
        setattr(data, field, value)
    reference = Transaction()
    ledger_module._fill(reference, portfolio, data, fx=None)
    with pytest.raises(ledger_module.ApplicationError) as expected:
        ledger_module._clean(
            reference,
            exclude=["portfolio", "instrument"],
            validate_unique=False,
            validate_constraints=False,
        )

    with pytest.raises(ledger_module.ApplicationError) as refused:
        transactions_bulk_create(portfolio=portfolio, inputs=[data, data])
    assert refused.value.extra == {"0": expected.value.extra, "1": expected.value.extra}
    assert field in refused.value.extra["0"]
    assert not Transaction.objects.filter(portfolio=portfolio).exists()


def test_an_imported_ledger_has_no_drift_and_one_history_entry_per_row(user, market):
    usd, eur = market
    portfolio = PortfolioFactory(user=user, base_currency="USD")
    content = (
        "date,type,symbol,quantity,price,fee,currency,external_id\n"
        "2024-01-02,DEPOSIT,,1,5000,0,USD,i-1\n"
        f"2024-01-03,BUY,{usd.symbol},10,101.25,1.5,USD,i-2\n"
        f"2024-01-03,BUY,{eur.symbol},4,50,0,EUR,i-3\n"
        f"2024-01-04,SELL,{usd.symbol},3,110,0,USD,i-4\n"
    ).encode()
    report = transactions_import(
        user=user, portfolio=portfolio, content=content, filename="i.csv", dry_run=False
    )
    assert report.ok
    assert report.created == 4

    out = StringIO()
    call_command("verify_ledger", stdout=out, stderr=StringIO())
    assert "no drift." in out.getvalue()
    rows = list(Transaction.objects.filter(portfolio=portfolio).order_by("date", "id"))
    assert [t.external_id for t in rows] == ["i-1", "i-2", "i-3", "i-4"]
    assert rows[2].fx_rate == D("1.1")
    assert [len(LogEntry.objects.get_for_object(t)) for t in rows] == [1, 1, 1, 1]


def test_the_changes_json_is_the_diffs_json(user, market):
    """The COPY path's `changes` text: json.dumps of the batch diff, character for character."""
    usd, _ = market
    portfolio = PortfolioFactory(user=user, config={"theme": "dark", "limits": [1, 2]})
    rows = transactions_bulk_create(portfolio=portfolio, inputs=_inputs(*market, prefix="j-"))
    for instance in [*rows, portfolio, usd]:
        expected = create_differ(type(instance))(instance)
        assert create_changes_json(type(instance))([instance]) == [json.dumps(expected)]
    # Written a column at a time: the rows together give what each gives alone, a column with
    # and without values (the cash rows' instrument) and with mixed types included.
    differ = create_differ(Transaction)
    assert any(row.instrument_id is None for row in rows)
    assert any(row.instrument_id is not None for row in rows)
    assert create_changes_json(Transaction)(rows) == [json.dumps(differ(row)) for row in rows]
    rows[0].notes, rows[1].notes = 7, True  # not what the form gives, but what a diff logs
    assert create_changes_json(Transaction)(rows) == [json.dumps(differ(row)) for row in rows]
    assert create_changes_json(Transaction)([]) == []
    # Escapes too: quotes, tabs, backslashes, newlines and non-ASCII text in the notes.
    assert "\\\\back\\nslash" in create_changes_json(Transaction)([rows[2]])[0]


def test_the_changes_json_is_left_to_auditlog_where_the_diff_is(settings):
    settings.AUDITLOG_STORE_JSON_CHANGES = False
    assert create_changes_json(Transaction) is None


def _constructed(portfolio: Portfolio, values: dict) -> Transaction:
    instrument = values["instrument"]
    columns = {
        **values,
        "portfolio_id": portfolio.pk,
        "instrument_id": instrument.pk if instrument else None,
    }
    txn = Transaction(*map(columns.get, ledger_module.ROW_ATTNAMES))
    Transaction.portfolio.field.set_cached_value(txn, portfolio)
    if instrument is not None:
        Transaction.instrument.field.set_cached_value(txn, instrument)
    return txn


def _state(txn: Transaction) -> tuple:
    return (txn._state.adding, txn._state.db, dict(txn._state.fields_cache))


def test_a_new_row_is_what_the_constructor_builds(user, market):
    portfolio = PortfolioFactory(user=user)
    for data in _inputs(*market, prefix="n-"):
        values = ledger_module._filled(portfolio, data, fx=None)
        quick = ledger_module._new_row(portfolio, dict(values), signals=False)
        built = _constructed(portfolio, values)
        attributes = {k: v for k, v in vars(quick).items() if k != "_state"}
        assert attributes == {k: v for k, v in vars(built).items() if k != "_state"}
        assert list(attributes) == [k for k in vars(built) if k != "_state"]
        assert _state(quick) == _state(built)
        assert quick.instrument == data.instrument
        assert str(quick) == str(built)


def test_a_new_row_goes_through_the_constructor_when_its_signals_have_a_receiver(user, market):
    portfolio = PortfolioFactory(user=user)
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(receiver, sender=Transaction)
    try:
        data = _inputs(*market, prefix="s-")[1]
        signals = ledger_module._init_signals_received()
        values = ledger_module._filled(portfolio, data, fx=None)
        txn = ledger_module._new_row(portfolio, values, signals=signals)
    finally:
        post_init.disconnect(receiver, sender=Transaction)
    assert seen == [txn]
    assert txn.instrument_id == data.instrument.pk


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("currency", "XYZ"),  # not an ISO 4217 code
        ("currency", "EURO"),  # longer than the column, and not a code
        ("external_id", "x" * 201),
        ("quantity", D("1E+20")),  # more digits before the point than the column keeps
        ("price", D("0.000000000000001")),  # more decimal places than the column keeps
        ("fx_rate", D("Infinity")),
        ("date", "2024-13-01"),  # text, not a date: `clean` parses it
    ],
)
def test_the_quick_field_checks_give_full_cleans_errors(user, field, value):
    """Values of the field's own type that fail its validators get `clean`'s messages."""
    portfolio = PortfolioFactory(user=user)
    txn = Transaction(
        portfolio=portfolio, type="DEPOSIT", quantity=D(1), price=D(10), fee=D(0),
        currency="USD", fx_rate=D(1), date=date(2024, 1, 3),
    )  # fmt: skip
    setattr(txn, field, value)
    with pytest.raises(ledger_module.ApplicationError) as expected:
        ledger_module._clean(
            txn, exclude=["portfolio", "instrument"], validate_unique=False,
            validate_constraints=False,
        )  # fmt: skip
    checker = ledger_module._FieldChecker(Transaction, exclude=("portfolio", "instrument"))
    refused = checker.clean_many([txn])
    assert refused == {0: expected.value.extra}
    assert field in refused[0]


_SHAPES = [(30, 8), (20, 8), (12, 2), (5, 0), (3, 2), (2, 2)]


@st.composite
def _column(draw):
    """A column's (max_digits, decimal_places) and values near its limits: coefficients of up
    to a few digits more than it keeps, exponents a few places either side of its own."""
    digits, places = draw(st.sampled_from(_SHAPES))
    value = st.builds(
        lambda sign, coefficient, exponent: Decimal((sign, tuple(coefficient), exponent)),
        st.integers(0, 1),
        st.lists(st.integers(0, 9), min_size=1, max_size=digits + 3),
        st.integers(-places - 3, digits - places + 2),
    )
    return digits, places, draw(st.lists(value, min_size=1, max_size=3))


@given(column=_column())
# The edges: the largest size and one past it, a zero, trailing zeros past the places.
@example(column=(12, 2, [D("9999999999.99"), D("1E+10")]))
@example(column=(12, 2, [D("9999999999.99")]))
@example(column=(3, 2, [D("0"), D("0.00"), D("0E+2")]))
@example(column=(2, 2, [D("0.5")]))
@example(column=(20, 8, [D("1.000000000")]))
def test_the_whole_column_decimal_check_agrees_with_the_fields_clean(column):
    """A column passes at once exactly when each value passes `clean` (Django's own
    `DecimalValidator`); where a column's digits are all decimals, it never claims a pass."""
    digits, places, values = column
    field = models.DecimalField(max_digits=digits, decimal_places=places)

    def cleans(value):
        try:
            field.clean(value, None)
        except ValidationError:
            return False
        return True

    passes = ledger_module.column_passes(field, values, Decimal)
    if digits > places:
        assert passes == all(map(cleans, values))
    else:
        assert not passes


def test_the_whole_column_checks_leave_other_columns_to_each_value():
    field = Transaction._meta.get_field("external_id")
    assert ledger_module.column_passes(field, ["a", "b" * 200], str)
    assert not ledger_module.column_passes(field, ["a", "b" * 201], str)
    assert not ledger_module.column_passes(field, ["a", 1], str)  # not all text
    currency = Transaction._meta.get_field("currency")  # a validator of its own
    assert not ledger_module.column_passes(currency, ["USD"], str)
    price = Transaction._meta.get_field("price")
    assert not ledger_module.column_passes(price, [D(1), D("NaN")], Decimal)
    required = models.CharField(max_length=5)
    assert not ledger_module.column_passes(required, ["a", ""], str)


def test_the_quick_field_checks_keep_what_full_clean_keeps(user):
    portfolio = PortfolioFactory(user=user)
    checker = ledger_module._FieldChecker(Transaction, exclude=("portfolio", "instrument"))
    for quantity, price in [(D("1.50"), D("10.000")), (D("0.00000001"), D("99999999999.9"))]:
        txn = Transaction(
            portfolio=portfolio, type="BUY", quantity=quantity, price=price, fee=D("0.0"),
            currency="USD", fx_rate=D("1"), date=date(2024, 1, 3), external_id="e",
        )  # fmt: skip
        assert checker.clean_many([txn]) == {}
        reference = Transaction(**{f: getattr(txn, f) for f in ledger_module._EDITABLE[2:]})
        reference.full_clean(exclude=["portfolio", "instrument", "type"], validate_unique=False,
                             validate_constraints=False)  # fmt: skip
        for name in ("quantity", "price", "fee", "fx_rate", "date", "currency", "external_id"):
            assert str(getattr(txn, name)) == str(getattr(reference, name))
            assert type(getattr(txn, name)) is type(getattr(reference, name))


def test_the_recompute_is_given_the_ledger_as_the_database_reads_it(user, market):
    """The records made in memory for a bulk write are the ones `ledger_records` reads back."""
    portfolio = PortfolioFactory(user=user)
    transactions_bulk_create(portfolio=portfolio, inputs=_inputs(*market, prefix="a-")[:2])
    ledger = ledger_records(portfolio=portfolio)
    # Same dates as the rows already there, and amounts with fewer decimals than the columns.
    added = transactions_bulk_create(portfolio=portfolio, inputs=_inputs(*market, prefix="b-"))
    assert ledger_module._with_new(ledger, added) == ledger_records(portfolio=portfolio)
    assert [str(r.price) for r in ledger_module._with_new(ledger, added)] == [
        str(r.price) for r in ledger_records(portfolio=portfolio)
    ]
    unsaved = Transaction(date=date(2024, 1, 9))
    with pytest.raises(ValueError, match="inserted transactions only"):
        ledger_module._with_new(ledger, [*added, unsaved])


@pytest.mark.postgres
def test_sequence_values_are_taken_in_one_read(django_assert_num_queries):
    table = Transaction._meta.db_table
    with django_assert_num_queries(2):
        ids = sequence_take(using="default", table=table, count=2500)
    assert ids == sorted(set(ids))
    assert len(ids) == 2500
    assert sequence_take(using="default", table=table, count=0) == []
    assert sequence_take(using="default", table=table, count=1)[0] > ids[-1]


def test_a_quantity_with_every_digit_its_column_keeps_is_recorded_whole(user):
    """30 digits: more than Decimal's default context holds, as many as the column does."""
    portfolio = PortfolioFactory(user=user)
    quantity = D("123456789012345678.123456789012")
    txn = Transaction(
        pk=7, portfolio=portfolio, type="DEPOSIT", quantity=quantity, price=D(1), fee=D(0),
        currency="USD", fx_rate=D(1), date=date(2024, 1, 3),
    )  # fmt: skip
    [record] = ledger_module._with_new([], [txn])
    assert record.quantity == quantity
    assert str(record.quantity) == str(quantity)


@pytest.mark.parametrize(
    "day", [date(2024, 1, 3), date(2024, 1, 10)], ids=["backdated", "appended"]
)
def test_a_bulk_write_into_a_ledger_is_folded_as_a_recompute_from_scratch(user, market, day):
    """The bulk write reads prices, rates and splits before its inserts and folds in memory:
    an instrument new to the ledger, priced, must be valued as a full recompute values it."""
    portfolio = PortfolioFactory(user=user, base_currency="USD")
    transactions_bulk_create(portfolio=portfolio, inputs=_inputs(*market, prefix="a-"))
    newcomer = InstrumentFactory(currency="USD")
    for offset in range(12):
        PriceBarFactory(instrument=newcomer, date=date(2024, 1, 1) + timedelta(days=offset),
                        close=D(120 + offset))  # fmt: skip
    transactions_bulk_create(
        portfolio=portfolio,
        inputs=[TransactionInput(type=TransactionType.BUY, date=day, quantity=D("2"),
                                 price=D("100"), instrument=newcomer, external_id="late")],
    )  # fmt: skip

    derived = ledger_derive(portfolio=portfolio)
    stored = PortfolioSnapshot.objects.filter(portfolio=portfolio).order_by("date")
    assert [(s.date, s.value, s.cash) for s in stored] == [
        (s.date, s.value, s.cash) for s in derived.snapshots
    ]
    assert sorted((h.instrument_id, h.quantity, h.cost_basis)
                  for h in Holding.objects.filter(portfolio=portfolio)) == sorted(
        (h.instrument_id, h.quantity, h.cost_basis) for h in derived.holdings
    )  # fmt: skip
    assert Holding.objects.get(portfolio=portfolio, instrument=newcomer).quantity == D(2)


@pytest.mark.postgres
def test_a_copy_runs_other_work_while_the_server_takes_the_rows():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE copy_scratch (n integer, t text)")
    rows = [(n, f"row\t{n}") for n in range(5000)]
    seen = []
    result = copy_rows(
        using="default", table="copy_scratch", columns=["n", "t"], rows=rows,
        meanwhile=lambda: seen.append("ran") or "folded",
    )  # fmt: skip
    assert result == "folded"
    assert seen == ["ran"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), max(t) FROM copy_scratch")
        assert cursor.fetchone() == (5000, "row\t999")


@pytest.mark.postgres
def test_work_run_during_a_copy_cannot_query_and_a_failure_cancels_the_copy():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE copy_scratch (n integer)")

    def query():
        return Portfolio.objects.count()  # would wait for the COPY's own lock forever

    with pytest.raises(ConnectionBusyError), db_transaction.atomic():
        copy_rows(using="default", table="copy_scratch", columns=["n"], rows=[(1,), (2,)],
                  meanwhile=query)  # fmt: skip

    def fail():
        raise RuntimeError("the fold refused the ledger")

    with pytest.raises(RuntimeError, match="refused"), db_transaction.atomic():
        copy_rows(using="default", table="copy_scratch", columns=["n"], rows=[(3,)],
                  meanwhile=fail)  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM copy_scratch")
        assert cursor.fetchone() == (0,)


def _scratch_with_a_deferred_key() -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE fk_parent (id integer PRIMARY KEY)")
        cursor.execute("INSERT INTO fk_parent VALUES (1)")
        cursor.execute(
            "CREATE TEMPORARY TABLE fk_scratch (parent integer REFERENCES fk_parent (id) "
            "DEFERRABLE INITIALLY DEFERRED)"
        )


def _scratch_insert(parent: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO fk_scratch VALUES (%s)", [parent])


@pytest.mark.postgres
def test_deferred_key_checks_run_on_the_server_while_other_work_runs():
    """The checks are on the server before `meanwhile` ends (another session sees them as this
    one's latest statement), a violation is an IntegrityError, and the keys are deferred
    again afterwards."""
    import psycopg

    _scratch_with_a_deferred_key()
    _scratch_insert(1)
    pid = connection.connection.info.backend_pid
    seen = []

    def watch() -> str:
        with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
            for _ in range(100):
                (latest,) = other.execute(
                    "SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]
                ).fetchone()
                if "SET CONSTRAINTS" in latest:
                    seen.append(latest)
                    break
                time.sleep(0.05)
        return "folded"

    assert constraints_check(using="default", tables=["fk_scratch"], meanwhile=watch) == "folded"
    assert seen, "the checks were not sent before the work run meanwhile ended"
    inserted = []

    def orphan_then_check() -> None:
        _scratch_insert(2)  # no such parent
        inserted.append(2)  # deferred again: no error yet
        constraints_check(using="default", tables=["fk_scratch"], meanwhile=lambda: None)

    with pytest.raises(IntegrityError), db_transaction.atomic():
        orphan_then_check()
    assert inserted == [2]


@pytest.mark.postgres
def test_work_run_during_the_key_checks_cannot_query(user):
    PortfolioFactory(user=user)
    _scratch_with_a_deferred_key()
    _scratch_insert(1)
    with pytest.raises(ConnectionBusyError), db_transaction.atomic():
        constraints_check(
            using="default", tables=["fk_scratch"], meanwhile=lambda: Portfolio.objects.count()
        )
    assert Portfolio.objects.filter(user=user).count() == 1  # the connection still works


def test_key_checks_of_tables_without_deferred_keys_only_run_the_other_work():
    # SQLite has no `SET CONSTRAINTS`; on PostgreSQL, LogEntry's table has deferred keys and a
    # table of none has nothing to check.
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE plain_scratch (n integer)")
    assert constraints_check(using="default", tables=["plain_scratch"], meanwhile=lambda: 7) == 7
    assert constraints_check(using="default", tables=["plain_scratch"]) is None


def test_only_columns_that_reach_the_row_unchanged_can_be_checked_by_the_caller(user, market):
    portfolio = PortfolioFactory(user=user)
    with pytest.raises(ValueError, match="can be checked by the caller"):
        transactions_bulk_create(
            portfolio=portfolio, inputs=_inputs(*market, prefix="p-"), prechecked={"fx_rate"}
        )
    rows = transactions_bulk_create(
        portfolio=portfolio,
        inputs=_inputs(*market, prefix="p-"),
        prechecked=ledger_module.PRECHECKABLE,
    )
    # The columns left to the ledger are still checked: a bad type is refused.
    bad = _inputs(*market, prefix="q-")
    bad[0].type = "SWAP"
    with pytest.raises(ApplicationError) as caught:
        transactions_bulk_create(
            portfolio=portfolio, inputs=bad, prechecked=ledger_module.PRECHECKABLE
        )
    assert "type" in caught.value.extra["0"]
    assert len(rows) == 5


def test_bulk_rows_store_the_timestamps_they_hold(user, market):
    """The COPY sends the timestamps as text: the stored instants are the rows' own."""
    portfolio = PortfolioFactory(user=user)
    rows = transactions_bulk_create(portfolio=portfolio, inputs=_inputs(*market, prefix="t-"))
    stored = Transaction.objects.filter(portfolio=portfolio).values_list(
        "pk", "created_at", "updated_at"
    )
    assert {(t.pk, t.created_at, t.updated_at) for t in rows} == set(stored)


def test_inputs_checked_a_chunk_at_a_time_are_refused_together(user, market, monkeypatch):
    """On PostgreSQL a chunk is in the COPY before the next is checked: an error in a later
    chunk still refuses the whole write, and every input's errors are reported."""
    monkeypatch.setattr(ledger_module, "CHECK_CHUNK", 2)
    portfolio = PortfolioFactory(user=user)
    entries_before = LogEntry.objects.count()
    inputs = _inputs(*market, prefix="k-")
    inputs[1].fee = D("-1")  # in the first chunk
    inputs[4].external_id = "k-1"  # in the third chunk, a repeat of the first chunk's id
    with pytest.raises(ApplicationError) as caught:
        transactions_bulk_create(portfolio=portfolio, inputs=inputs)
    assert caught.value.extra == {
        "1": {"fee": ["Must not be negative."]},
        "4": {"external_id": ["k-1 is already in this portfolio."]},
    }
    assert not Transaction.objects.filter(portfolio=portfolio).exists()
    assert LogEntry.objects.count() == entries_before
    # The connection is usable afterwards, and the same rows, mended, go in.
    inputs[1].fee, inputs[4].external_id = D(0), "k-5"
    assert len(transactions_bulk_create(portfolio=portfolio, inputs=inputs)) == 5


def test_inputs_checked_a_chunk_at_a_time_are_stored_as_in_one_chunk(user, market, monkeypatch):
    whole = PortfolioFactory(user=user, name="Whole")
    transactions_bulk_create(portfolio=whole, inputs=_inputs(*market, prefix="w-"))
    monkeypatch.setattr(ledger_module, "CHECK_CHUNK", 2)
    chunked = PortfolioFactory(user=user, name="Chunked")
    rows = transactions_bulk_create(portfolio=chunked, inputs=_inputs(*market, prefix="w-"))
    assert _stored(chunked) == _stored(whole)
    assert [t.pk for t in rows] == sorted(t.pk for t in rows)
    assert [t.external_id for t in rows] == ["w-1", "w-2", "", "w-4", ""]
    assert _history(rows) == _history(list(Transaction.objects.filter(portfolio=whole)
                                             .order_by("id")))  # fmt: skip
