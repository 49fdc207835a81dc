"""The demo trader's finished backtest: run through the service over the synthetic prices, once."""

import pytest
from django.utils import timezone

from bots.demo_backtests import DEMO_NAME, demo_backtest_seed
from bots.models import Backtest, BacktestStatus
from portfolio.demo import demo_market_seed, demo_window
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_demo_backtest_is_a_finished_year_of_acme_and_is_made_once():
    today = timezone.localdate()
    start, end = demo_window(today=today)
    demo_market_seed(start=start, end=end)
    user = UserFactory()

    changes = demo_backtest_seed(user=user, today=today)
    again = demo_backtest_seed(user=user, today=today)

    backtest = Backtest.objects.get(user=user, name=DEMO_NAME)
    assert backtest.status == BacktestStatus.SUCCEEDED
    assert backtest.instrument.symbol == "ACME"
    assert backtest.instrument.is_synthetic
    assert 200 < backtest.bars < 300  # a year of weekdays
    assert backtest.metrics["orders"] > 0
    assert len(changes) == 1
    assert "demo backtest" in changes[0]
    assert again == []


def test_without_demo_prices_there_is_no_demo_backtest():
    assert demo_backtest_seed(user=UserFactory(), today=timezone.localdate()) == []
    assert not Backtest.objects.exists()
