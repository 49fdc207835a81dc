"""`/api/v1/backtests`: 202 with a job, validation by field, results, exports, cancel, delete,
and another user's backtest answering 404 (SPEC §6, issue 4 item 5)."""

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from audit.models import ActivityAction, ActivityLog, BackgroundJob, JobStatus
from bots.models import Backtest, BacktestStatus
from bots.services.backtests import backtest_run_task
from tests.bots.backtest_builders import (
    SPEC_CONFIG,
    START,
    finished_backtest,
    priced_instrument,
    queued_backtest,
    request_body,
)

pytestmark = pytest.mark.django_db

LIST = reverse("api-backtests")


def detail(pk: int) -> str:
    return reverse("api-backtest-detail", kwargs={"id": pk})


def export(pk: int, fmt: str) -> str:
    return reverse("api-backtest-export", kwargs={"id": pk}) + f"?format={fmt}"


@pytest.fixture
def instrument(db):
    return priced_instrument()


def test_post_answers_202_with_the_queued_job_and_the_backtest_id(token_client, user, instrument):
    response = token_client.post(LIST, request_body(instrument, name="Spec"), format="json")

    assert response.status_code == HTTPStatus.ACCEPTED
    body = response.json()
    backtest = Backtest.objects.get(pk=body["backtest_id"])
    assert (backtest.user, backtest.instrument, backtest.name) == (user, instrument, "Spec")
    assert backtest.status == BacktestStatus.QUEUED
    assert (body["id"], body["status"], body["job_type"]) == (backtest.job_id, "queued", "backtest")
    assert response["Location"] == detail(backtest.pk)
    assert BackgroundJob.objects.get(pk=backtest.job_id).params == {"backtest_id": backtest.pk}
    assert ActivityLog.objects.filter(
        user=user, action=ActivityAction.BACKTEST_CREATED, details__backtest_id=backtest.pk
    ).exists()


def test_defaults_fill_balance_fee_and_slippage_from_the_paper_settings(
    token_client, instrument, settings
):
    settings.BOTS_FEE_RATE = "0.002"
    body = request_body(instrument)
    for name in ("initial_balance", "fee_rate", "slippage_bps"):
        del body[name]

    response = token_client.post(LIST, body, format="json")

    backtest = Backtest.objects.get(pk=response.json()["backtest_id"])
    assert (backtest.initial_balance, backtest.fee_rate) == (Decimal(10_000), Decimal("0.002"))


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"config": {**SPEC_CONFIG, "base_order_size": "-5"}}, "config.base_order_size", ""),
        ({"config": {**SPEC_CONFIG, "take_profit_pct": None}}, "config.take_profit_pct", ""),
        ({"config": {**SPEC_CONFIG, "colour": "red"}}, "config.colour", "Unknown"),
        ({"config": ["not", "an", "object"]}, "config", "JSON object"),
        ({"start": "2024-03-01", "end": "2024-02-01"}, "end", "on or after"),
        ({"interval": "1h"}, "interval", "daily bars"),
        ({"interval": "2w"}, "interval", ""),
        ({"start": "2020-01-01", "end": "2020-12-31"}, "start", "run from 2024-01-01"),
        ({"initial_balance": "1000"}, "initial_balance", "needs 1500"),
        ({"initial_balance": "0"}, "initial_balance", ""),
        ({"fee_rate": "1"}, "fee_rate", "fraction"),
        ({"slippage_bps": "-1"}, "slippage_bps", ""),
        ({"symbol": "NOPE"}, "symbol", "Unknown symbol"),
        ({"start": "yesterday"}, "start", ""),
    ],
)
def test_a_bad_request_answers_400_naming_the_field_and_creates_nothing(
    token_client, instrument, overrides, field, text
):
    response = token_client.post(LIST, request_body(instrument, **overrides), format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    errors = response.json()["errors"]
    assert field in errors, errors
    assert text in " ".join(errors[field])
    assert not Backtest.objects.exists()
    assert not BackgroundJob.objects.exists()


def test_another_users_private_instrument_is_an_unknown_symbol(token_client, other_user):
    theirs = priced_instrument(symbol="MINE", owner=other_user)

    response = token_client.post(LIST, request_body(theirs), format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "symbol" in response.json()["errors"]


def test_a_finished_backtest_holds_metrics_equity_curve_and_spec_orders(
    token_client, user, instrument
):
    response = token_client.post(LIST, request_body(instrument), format="json")
    job_id = response.json()["id"]

    backtest_run_task.call(job_id=job_id)

    body = token_client.get(detail(response.json()["backtest_id"])).json()
    assert (body["status"], body["progress"], body["bars"]) == ("succeeded", 100, 8)
    assert body["metrics"]["deals_closed"] == 2
    assert body["metrics"]["orders"] == len(body["orders"]) == 7
    assert set(body["orders"][0]) >= {"side", "kind", "price", "quantity", "fee", "time"}
    kinds = [order["kind"] for order in body["orders"]]
    assert kinds == [
        "base",
        "safety_1",
        "safety_2",
        "safety_3",
        "take_profit",
        "base",
        "take_profit",
    ]
    assert body["equity_curve"][0] == {
        "time": "2024-01-01T00:00:00+00:00",
        "equity": "10000.00000000",
    }
    assert len(body["deals"]) == 2
    job = BackgroundJob.objects.get(pk=job_id)
    assert (job.status, job.progress) == (JobStatus.SUCCEEDED, 100)


def test_the_list_is_yours_only_and_leaves_the_order_lists_out(
    token_client, user, other_user, instrument
):
    mine = finished_backtest(user, instrument)
    finished_backtest(other_user, instrument)

    body = token_client.get(LIST).json()

    assert [row["id"] for row in body["results"]] == [mine.pk]
    assert "orders" not in body["results"][0]
    assert body["results"][0]["metrics"]["orders"] == 7


def test_csv_export_is_the_order_list(token_client, user, instrument):
    backtest = finished_backtest(user, instrument)

    response = token_client.get(export(backtest.pk, "csv"))

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["kind"] for row in rows] == [order["kind"] for order in backtest.orders]
    assert [Decimal(row["price"]) for row in rows] == [
        Decimal(order["price"]) for order in backtest.orders
    ]
    assert ActivityLog.objects.filter(
        user=user, action=ActivityAction.EXPORT, details__backtest_id=backtest.pk
    ).exists()


def test_json_export_parses_back_to_the_stored_results(token_client, user, instrument):
    backtest = finished_backtest(user, instrument)

    document = json.loads(token_client.get(export(backtest.pk, "json")).content)

    assert document["symbol"] == instrument.symbol
    assert document["start"] == START.isoformat()
    assert document["metrics"] == backtest.metrics
    assert document["orders"] == backtest.orders
    assert document["equity_curve"] == backtest.equity_curve
    assert document["config"]["max_safety_orders"] == 3


def test_xlsx_export_has_a_sheet_each_with_numbers_as_numbers(token_client, user, instrument):
    backtest = finished_backtest(user, instrument)

    response = token_client.get(export(backtest.pk, "xlsx"))

    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Summary", "Orders", "Deals", "Equity curve"]
    orders = list(book["Orders"].iter_rows(values_only=True))
    assert orders[0] == ("time", "deal", "side", "kind", "price", "quantity", "fee")
    assert len(orders) == 1 + len(backtest.orders)
    assert orders[1][4] == pytest.approx(100)
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True)}
    assert summary["metrics.orders"] == 7
    assert summary["symbol"] == instrument.symbol


def test_an_unknown_export_format_answers_400(token_client, user, instrument):
    backtest = finished_backtest(user, instrument)

    response = token_client.get(export(backtest.pk, "pdf"))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "format" in response.json()["errors"]


def test_a_backtest_without_results_cannot_be_exported(token_client, user, instrument):
    backtest = queued_backtest(user, instrument)

    response = token_client.get(export(backtest.pk, "csv"))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "queued" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", lambda pk: detail(pk)),
        ("delete", lambda pk: detail(pk)),
        ("get", lambda pk: export(pk, "csv")),
        ("post", lambda pk: reverse("api-backtest-cancel", kwargs={"id": pk})),
    ],
)
def test_another_users_backtest_answers_404_and_stays(token_client, other_user, method, url):
    theirs = finished_backtest(other_user, priced_instrument())

    response = getattr(token_client, method)(url(theirs.pk))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert Backtest.objects.filter(pk=theirs.pk, status=BacktestStatus.SUCCEEDED).exists()


def test_delete_removes_it_and_records_the_activity(token_client, user, instrument):
    backtest = finished_backtest(user, instrument)

    response = token_client.delete(detail(backtest.pk))

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert not Backtest.objects.filter(pk=backtest.pk).exists()
    assert ActivityLog.objects.filter(
        user=user, action=ActivityAction.BACKTEST_DELETED, details__backtest_id=backtest.pk
    ).exists()


def test_deleting_a_queued_backtest_cancels_its_job(token_client, user, instrument):
    backtest = queued_backtest(user, instrument)

    token_client.delete(detail(backtest.pk))

    assert BackgroundJob.objects.get(pk=backtest.job_id).status == JobStatus.CANCELLED


def test_cancel_stops_a_queued_backtest_and_its_job(token_client, user, instrument):
    backtest = queued_backtest(user, instrument)

    response = token_client.post(reverse("api-backtest-cancel", kwargs={"id": backtest.pk}))

    assert response.status_code == HTTPStatus.OK
    assert response.json()["status"] == "cancelled"
    assert BackgroundJob.objects.get(pk=backtest.job_id).status == JobStatus.CANCELLED
    # The worker, handed the job anyway, finds nothing to run.
    backtest_run_task.call(job_id=backtest.job_id)
    backtest.refresh_from_db()
    assert backtest.status == BacktestStatus.CANCELLED


def test_a_finished_backtest_cannot_be_cancelled(token_client, user, instrument):
    backtest = finished_backtest(user, instrument)

    response = token_client.post(reverse("api-backtest-cancel", kwargs={"id": backtest.pk}))

    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_anonymous_callers_get_401(api_client):
    assert api_client.get(LIST).status_code == HTTPStatus.UNAUTHORIZED


def test_a_period_longer_than_the_bars_uses_the_bars_inside_it(token_client, user, instrument):
    backtest = finished_backtest(
        user, instrument, start=START + timedelta(days=1), end=START + timedelta(days=3)
    )

    assert backtest.bars == 3
    assert backtest.equity_curve[0]["time"] == "2024-01-02T00:00:00+00:00"
