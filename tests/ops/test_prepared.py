"""Prepared reads (trading_lab/prepared.py): compiled once, then the same rows as the ORM."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, transaction
from django.db.models.signals import post_save, pre_save
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from audit.models import BackgroundJob
from portfolio.models import Portfolio, PriceBar
from tests.factories import InstrumentFactory, PortfolioFactory, PriceBarFactory, UserFactory
from trading_lab.prepared import PreparedInsert, PreparedRead, PreparedUpdate

pytestmark = pytest.mark.django_db


class CountingBuilder:
    """A builder that counts how often the read was built (that is, compiled)."""

    def __init__(self, build):
        self.build, self.calls = build, 0

    def __call__(self, **values):
        self.calls += 1
        return self.build(**values)


def test_a_model_read_gives_the_orms_rows_and_compiles_once():
    user = UserFactory()
    first = PortfolioFactory(user=user, name="Growth")
    PortfolioFactory(user=user, name="Income")
    other = PortfolioFactory(name="Growth")
    builder = CountingBuilder(
        lambda owner, name: (
            Portfolio.objects.select_related("user").filter(user=owner, name=name).order_by("pk")
        )
    )
    read = PreparedRead(builder, owner=int, name=str)

    found = read.rows(owner=user.pk, name="Growth")
    again = read.first(owner=other.user_id, name="Growth")

    assert found == [first]
    assert again == other
    assert builder.calls == 2  # two compilations (the sentinels), then none
    expected = Portfolio.objects.get(pk=first.pk)
    for field in Portfolio._meta.concrete_fields:
        assert getattr(found[0], field.attname) == getattr(expected, field.attname), field.name
    assert found[0]._state.adding is False
    assert found[0]._state.db == "default"
    with CaptureQueriesContext(connection) as queries:
        assert found[0].user == user  # select_related filled it in: no query
    assert len(queries) == 0
    assert read.first(owner=user.pk, name="Nothing") is None


def test_a_values_list_read_converts_like_the_orm():
    instrument = InstrumentFactory()
    PriceBarFactory(instrument=instrument, close=Decimal("101.2500"))
    PriceBarFactory(instrument=instrument, close=Decimal("99.5"))

    def queryset(instrument):
        return (
            PriceBar.objects.filter(instrument=instrument)
            .order_by("-date")
            .values_list("close", "date", "instrument__currency")
        )

    read = PreparedRead(queryset, instrument=int)

    rows = read.rows(instrument=instrument.pk)

    assert rows == list(queryset(instrument.pk))
    assert all(type(close) is Decimal for close, _, _ in rows)


def test_the_sql_is_the_orms_and_goes_through_the_connections_cursor():
    user = UserFactory()
    read = PreparedRead(lambda owner: Portfolio.objects.filter(user=owner), owner=int)
    read.rows(owner=user.pk)  # compiled here

    with CaptureQueriesContext(connection) as prepared:
        read.rows(owner=user.pk + 1)
    with CaptureQueriesContext(connection) as orm:
        list(Portfolio.objects.filter(user=user.pk + 1))

    assert [query["sql"] for query in prepared] == [query["sql"] for query in orm]


def test_a_parameter_the_compiler_would_transform_is_refused():
    read = PreparedRead(lambda name: Portfolio.objects.filter(name__icontains=name), name=str)

    with pytest.raises(ImproperlyConfigured, match="exact lookups"):
        read.rows(name="gro")


def test_a_value_of_the_wrong_type_is_refused():
    read = PreparedRead(lambda owner: Portfolio.objects.filter(user=owner), owner=int)

    with pytest.raises(TypeError, match="'owner' must be int"):
        read.rows(owner="1")


def test_only_int_and_str_parameters_are_accepted():
    with pytest.raises(ImproperlyConfigured, match="must be int or str"):
        PreparedRead(lambda when: Portfolio.objects.filter(created_at=when), when=object)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # autocommit, as outside any test transaction
def test_a_locking_read_outside_a_transaction_is_refused_like_djangos():
    read = PreparedRead(lambda pk: Portfolio.objects.select_for_update().filter(pk=pk), pk=int)
    portfolio = PortfolioFactory()
    with transaction.atomic():
        assert read.first(pk=portfolio.pk) == portfolio

    with pytest.raises(TransactionManagementError):
        read.first(pk=portfolio.pk)


@pytest.mark.django_db(transaction=True)
def test_each_thread_compiles_on_its_own_connection():
    portfolio = PortfolioFactory()
    builder = CountingBuilder(lambda pk: Portfolio.objects.filter(pk=pk))
    read = PreparedRead(builder, pk=int)
    assert read.first(pk=portfolio.pk) == portfolio
    found = []

    def other_thread():
        try:
            found.append(read.first(pk=portfolio.pk))
        finally:
            connection.close()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()

    assert found == [portfolio]
    assert builder.calls == 4  # two per connection


def test_a_small_integer_parameter_keeps_the_backends_wrapper():
    # PostgreSQL's backend wraps a small integer field's value (psycopg's Int2) for the driver;
    # the prepared read must find the parameter under the wrapper and wrap new values alike.
    user = UserFactory()
    halfway = BackgroundJob.objects.create(user=user, job_type="price_import", progress=50)
    BackgroundJob.objects.create(user=user, job_type="price_import", progress=20)
    read = PreparedRead(
        lambda owner, progress: BackgroundJob.objects.filter(user=owner, progress=progress),
        owner=int,
        progress=int,
    )

    assert read.rows(owner=user.pk, progress=50) == [halfway]
    assert read.rows(owner=user.pk, progress=70) == []


def test_a_read_made_after_another_was_collected_never_runs_the_others_sql():
    # CPython gives a collected object's id to the next one of its size; a cache keyed by id()
    # handed a new read the SQL of a dropped one (CI failed on it). Each round drops a read and
    # makes one with other parameters and another table.
    portfolio = PortfolioFactory()
    job = BackgroundJob.objects.create(user=portfolio.user, job_type="price_import", progress=5)
    for _ in range(20):
        by_owner = PreparedRead(lambda owner: Portfolio.objects.filter(user=owner), owner=int)
        assert by_owner.rows(owner=portfolio.user_id) == [portfolio]
        del by_owner
        by_progress = PreparedRead(
            lambda progress: BackgroundJob.objects.filter(progress=progress), progress=int
        )
        assert by_progress.rows(progress=5) == [job]
        del by_progress


class SignalLog:
    """The pre_save and post_save signals of one model, as (signal, created, update_fields)."""

    def __init__(self, model):
        self.model, self.seen = model, []

    def __enter__(self):
        pre_save.connect(self._pre, sender=self.model, weak=False)
        post_save.connect(self._post, sender=self.model, weak=False)
        return self

    def __exit__(self, *exc):
        pre_save.disconnect(self._pre, sender=self.model)
        post_save.disconnect(self._post, sender=self.model)

    def _pre(self, sender, instance, update_fields, **kwargs):
        self.seen.append(("pre", None, update_fields))

    def _post(self, sender, instance, created, update_fields, **kwargs):
        self.seen.append(("post", created, update_fields))


def test_a_prepared_update_saves_like_save_with_update_fields():
    job = BackgroundJob.objects.create(user=UserFactory(), job_type="price_import")
    stamped = job.updated_at
    update = PreparedUpdate(BackgroundJob, ["progress", "params", "updated_at"])
    job.progress, job.params, job.message = 40, {"file": "prices.csv"}, "not saved"

    with SignalLog(BackgroundJob) as signals:
        update.save(job)

    stored = BackgroundJob.objects.get(pk=job.pk)
    assert (stored.progress, stored.params, stored.message) == (40, {"file": "prices.csv"}, "")
    assert stored.updated_at == job.updated_at > stamped  # auto_now moved, as save() moves it
    fields = frozenset({"progress", "params", "updated_at"})
    assert signals.seen == [("pre", None, fields), ("post", False, fields)]


def test_a_prepared_update_without_signals_sends_none_and_a_missing_row_is_an_error():
    job = BackgroundJob.objects.create(user=UserFactory(), job_type="price_import")
    update = PreparedUpdate(BackgroundJob, ["progress"], signals=False)
    job.progress = 70
    with SignalLog(BackgroundJob) as signals:
        update.save(job)
    assert signals.seen == []
    assert BackgroundJob.objects.get(pk=job.pk).progress == 70

    BackgroundJob.objects.filter(pk=job.pk).delete()
    with pytest.raises(DatabaseError, match="did not affect any rows"):
        update.save(job)


def test_a_prepared_insert_saves_like_save_and_save_many_like_bulk_create():
    user = UserFactory()
    insert = PreparedInsert(BackgroundJob)
    job = BackgroundJob(user=user, job_type="price_import", params={"rows": 3})

    with SignalLog(BackgroundJob) as signals:
        insert.save(job)
        insert.save_many([BackgroundJob(user=user, job_type=f"bulk {n}") for n in range(3)])

    assert job.pk is not None
    assert job._state.adding is False
    stored = BackgroundJob.objects.get(pk=job.pk)
    assert (stored.params, stored.created_at) == ({"rows": 3}, job.created_at)
    assert signals.seen == [("pre", None, None), ("post", True, None)]  # none from save_many
    assert sorted(BackgroundJob.objects.filter(user=user).values_list("job_type", flat=True)) == [
        "bulk 0",
        "bulk 1",
        "bulk 2",
        "price_import",
    ]
    with pytest.raises(TypeError):
        insert.save(job)  # already saved


def test_save_rows_inserts_what_bulk_create_inserts_sharing_the_templates_other_values():
    user, other = UserFactory(), UserFactory()
    insert = PreparedInsert(BackgroundJob)
    template = BackgroundJob(user=user, job_type="shared", params={"from": "template"})
    columns = ("job_type", "progress", "params", "result")
    rows = [
        ("first", 10, {"n": 1}, None),
        ("second", 55, {"n": [2, "two"]}, {"ok": True}),
        ("third", 100, {}, [1, "2", None]),
    ]

    with SignalLog(BackgroundJob) as signals, CaptureQueriesContext(connection) as queries:
        insert.save_rows(template, columns, rows)
    BackgroundJob.objects.bulk_create(
        [BackgroundJob(user=other, **dict(zip(columns, row, strict=True))) for row in rows]
    )

    assert signals.seen == []
    assert len(queries) == 1  # one executemany
    own = ("id", "user_id", "created_at", "updated_at")
    compared = [f.attname for f in BackgroundJob._meta.concrete_fields if f.attname not in own]
    saved = list(BackgroundJob.objects.filter(user=user).order_by("pk").values(*compared))
    made = list(BackgroundJob.objects.filter(user=other).order_by("pk").values(*compared))
    assert saved == made
    assert [row["job_type"] for row in saved] == ["first", "second", "third"]
    # The template's automatic times are worked out once: every row has the same ones.
    times = set(BackgroundJob.objects.filter(user=user).values_list("created_at", "updated_at"))
    assert len(times) == 1
    assert template.created_at is not None


def test_save_rows_refuses_a_saved_template_another_model_and_an_unknown_column():
    user = UserFactory()
    insert = PreparedInsert(BackgroundJob)
    saved = BackgroundJob.objects.create(user=user, job_type="saved")

    with pytest.raises(TypeError):
        insert.save_rows(saved, ("job_type",), [("x",)])
    with pytest.raises(TypeError):
        insert.save_rows(Portfolio(user=user, name="p"), ("name",), [("x",)])
    with pytest.raises(ImproperlyConfigured, match="no_such"):
        insert.save_rows(BackgroundJob(user=user), ("job_type", "no_such"), [("x", 1)])
    insert.save_rows(BackgroundJob(user=user), ("job_type",), [])  # nothing to do

    assert list(BackgroundJob.objects.values_list("job_type", flat=True)) == ["saved"]
