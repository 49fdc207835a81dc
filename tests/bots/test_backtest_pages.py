"""Backtest and signal validation pages: form with errors by field, progress, results, compare,
delete, and another user's backtest answering 404. No inline code anywhere (CSP)."""

import re
from datetime import timedelta
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse

from bots.models import Backtest, BacktestStatus
from bots.services import signal_validation_record
from tests.bots.backtest_builders import (
    SPEC_CONFIG,
    START,
    finished_backtest,
    priced_instrument,
    queued_backtest,
)
from tests.pages.support import inline_code as _inline_code

pytestmark = pytest.mark.django_db

# Chart data travels in json_script blocks: data the CSP never runs.
JSON_SCRIPT = re.compile(r'<script[^>]*type="application/json"[^>]*>.*?</script>', re.DOTALL)


def inline_code(html: str) -> list[str]:
    return _inline_code(JSON_SCRIPT.sub("", html))


LIST = reverse("backtest_list")


@pytest.fixture
def page_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def instrument(db):
    return priced_instrument()


def form_data(instrument, **overrides):
    data = {
        "name": "Spec walk",
        "symbol": instrument.symbol,
        "exchange": "",
        "interval": "1d",
        "start": START.isoformat(),
        "end": (START + timedelta(days=30)).isoformat(),
        "initial_balance": "10000",
        "fee_rate": "0",
        "slippage_bps": "0",
        **{key: "" if value is None else value for key, value in SPEC_CONFIG.items()},
        "stop_loss_pct": "",
        "cooldown_seconds": "0",
    }
    data.update(overrides)
    return data


def test_the_list_shows_the_form_with_defaults_and_no_inline_code(page_client):
    response = page_client.get(LIST)

    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert 'id="backtest-form"' in html
    assert 'name="take_profit_pct"' in html
    assert inline_code(html) == []


def test_submitting_the_form_queues_a_backtest_and_opens_its_page(page_client, user, instrument):
    response = page_client.post(LIST, form_data(instrument))

    backtest = Backtest.objects.get(user=user)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("backtest_detail", args=[backtest.pk])
    assert backtest.name == "Spec walk"
    assert backtest.config["take_profit_pct"] == "1.5"
    page = page_client.get(response["Location"]).content.decode()
    assert 'data-job-poll="' + reverse("api-job-detail", args=[backtest.job_id]) in page
    assert 'role="progressbar"' in page


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"base_order_size": "-1"}, "base_order_size", ""),
        ({"interval": "1h"}, "interval", "daily bars"),
        ({"symbol": "NOPE"}, "symbol", "Unknown symbol"),
        ({"initial_balance": "100"}, "initial_balance", "needs"),
        ({"start": "2023-01-01", "end": "2023-02-01"}, "start", "no stored prices"),
    ],
)
def test_refusals_show_next_to_their_field(page_client, instrument, overrides, field, text):
    response = page_client.post(LIST, form_data(instrument, **overrides))

    assert response.status_code == HTTPStatus.OK
    errors = response.context["form"].errors
    assert field in errors, errors
    assert text in " ".join(errors[field])
    assert not Backtest.objects.exists()


def test_a_finished_backtest_shows_metrics_chart_orders_and_exports(page_client, user, instrument):
    backtest = finished_backtest(user, instrument)

    response = page_client.get(reverse("backtest_detail", args=[backtest.pk]))

    html = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert 'id="metrics"' in html
    assert 'data-chart-source="equity-chart-data"' in html
    assert "Equity from 10,000.00 on 2024-01-01" in html
    assert html.count("<tr>") >= 7
    assert "Safety 3" in html
    export = reverse("api-backtest-export", args=[backtest.pk])
    assert f"{export}?format=xlsx" in html
    assert inline_code(html) == []


def test_orders_are_paginated(page_client, user, instrument, monkeypatch):
    monkeypatch.setattr("bots.backtest_views.ORDERS_PER_PAGE", 3)
    backtest = finished_backtest(user, instrument)

    second = page_client.get(reverse("backtest_detail", args=[backtest.pk]), {"page": 3})

    assert [order["kind"] for order in second.context["orders"]] == ["take_profit"]


def test_a_failed_backtest_says_why(page_client, user, instrument):
    backtest = queued_backtest(user, instrument)
    Backtest.objects.filter(pk=backtest.pk).update(
        status=BacktestStatus.FAILED, error="bars: something readable"
    )

    html = page_client.get(reverse("backtest_detail", args=[backtest.pk])).content.decode()

    assert "The backtest failed: bars: something readable" in html


def test_compare_puts_metrics_side_by_side_and_curves_on_one_chart(page_client, user, instrument):
    one = finished_backtest(user, instrument)
    two = finished_backtest(user, instrument, fee_rate=Decimal("0.001"))

    response = page_client.get(reverse("backtest_compare"), {"ids": [one.pk, two.pk]})

    assert response.status_code == HTTPStatus.OK
    chart = response.context["chart"]
    assert [series["label"] for series in chart["series"]] == [f"#{one.pk} DCAX", f"#{two.pk} DCAX"]
    fees = next(row for row in response.context["metrics"] if row["key"] == "fees")
    assert fees["values"][0] == 0
    assert fees["values"][1] > 0
    assert inline_code(response.content.decode()) == []


def test_compare_needs_two_of_your_backtests(page_client, user, other_user, instrument):
    mine = finished_backtest(user, instrument)
    theirs = finished_backtest(other_user, instrument)

    response = page_client.get(reverse("backtest_compare"), {"ids": [mine.pk, theirs.pk]})

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == LIST


def test_delete_asks_then_deletes(page_client, user, instrument):
    backtest = finished_backtest(user, instrument)
    url = reverse("backtest_delete", args=[backtest.pk])

    assert page_client.get(url).status_code == HTTPStatus.OK
    response = page_client.post(url)

    assert response["Location"] == LIST
    assert not Backtest.objects.filter(pk=backtest.pk).exists()


def test_stop_cancels_a_queued_backtest(page_client, user, instrument):
    backtest = queued_backtest(user, instrument)

    page_client.post(reverse("backtest_cancel", args=[backtest.pk]))

    backtest.refresh_from_db()
    assert backtest.status == BacktestStatus.CANCELLED


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("backtest_detail", "get"),
        ("backtest_delete", "get"),
        ("backtest_delete", "post"),
        ("backtest_cancel", "post"),
    ],
)
def test_another_users_backtest_answers_404(page_client, other_user, instrument, name, method):
    theirs = queued_backtest(other_user, instrument)

    response = getattr(page_client, method)(reverse(name, args=[theirs.pk]))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert Backtest.objects.get(pk=theirs.pk).status == BacktestStatus.QUEUED


def test_signal_validations_page_charts_and_filters_your_runs(page_client, user, other_user):
    for accuracy, model in (("0.55", "xgb"), ("0.60", "xgb"), ("0.70", "lstm")):
        signal_validation_record(
            user=user,
            model_type=model,
            signal_type="momentum",
            accuracy=Decimal(accuracy),
            precision=Decimal("0.5"),
            recall=Decimal("0.5"),
            f1=Decimal("0.5"),
            sample_size=100,
        )
    signal_validation_record(
        user=other_user,
        model_type="secret-model",
        signal_type="momentum",
        accuracy=Decimal("0.9"),
        precision=Decimal("0.9"),
        recall=Decimal("0.9"),
        f1=Decimal("0.9"),
        sample_size=100,
    )
    url = reverse("signal_validation_list")

    everything = page_client.get(url)
    xgb = page_client.get(url, {"model_type": "xgb"})

    html = everything.content.decode()
    assert "secret-model" not in html
    assert everything.context["chart"]["series"][0]["values"] == [
        "0.550000000000",
        "0.600000000000",
        "0.700000000000",
    ]
    assert "accuracy went from 0.550 to 0.700" in html
    assert len(xgb.context["validations"]) == 2
    assert inline_code(html) == []
