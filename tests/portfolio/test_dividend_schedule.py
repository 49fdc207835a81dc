"""The daily `propose-dividends` job: every portfolio gets its own owner's proposals, once."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from audit.models import ActivityAction, ActivityLog
from audit.services.scheduler import DEFAULT_SCHEDULES
from portfolio.models import Dividend, DividendStatus
from portfolio.tasks import propose_dividends
from tests.factories import InstrumentFactory, PortfolioFactory, PriceBarFactory, TransactionFactory

BOUGHT = date(2024, 3, 1)


@pytest.fixture
def paying(db):
    """ACME pays 0.40 a share ex 2024-04-02."""
    acme = InstrumentFactory(symbol="ACME")
    PriceBarFactory(instrument=acme, date=BOUGHT, close=Decimal(50))
    PriceBarFactory(
        instrument=acme, date=date(2024, 4, 2), close=Decimal(52), dividend=Decimal("0.4")
    )
    return acme


def test_the_job_proposes_for_every_holder_as_its_owner_and_only_once(paying, user, other_user):
    mine = PortfolioFactory(user=user)
    theirs = PortfolioFactory(user=other_user)
    for portfolio, quantity in ((mine, 10), (theirs, 4)):
        TransactionFactory(
            portfolio=portfolio, instrument=paying, date=BOUGHT, quantity=Decimal(quantity)
        )
    bought_after_ex = PortfolioFactory(user=user)
    TransactionFactory(
        portfolio=bought_after_ex, instrument=paying, date=BOUGHT + timedelta(days=60)
    )

    first = propose_dividends.call()
    again = propose_dividends.call()

    assert (first["proposed"], again["proposed"]) == (2, 0)
    assert first["failed"] == []
    proposed = {
        d.portfolio_id: (d.shares, d.total, d.status) for d in Dividend.objects.order_by("pk")
    }
    assert proposed == {
        mine.pk: (Decimal(10), Decimal(4), DividendStatus.PENDING),
        theirs.pk: (Decimal(4), Decimal("1.6"), DividendStatus.PENDING),
    }
    for owner in (user, other_user):
        assert (
            ActivityLog.objects.filter(user=owner, action=ActivityAction.DIVIDENDS_PROPOSED).count()
            == 1
        )


def test_a_rejected_proposal_is_not_proposed_again(paying, user):
    portfolio = PortfolioFactory(user=user)
    TransactionFactory(portfolio=portfolio, instrument=paying, date=BOUGHT, quantity=Decimal(3))
    propose_dividends.call()
    Dividend.objects.update(status=DividendStatus.REJECTED)

    assert propose_dividends.call()["proposed"] == 0
    assert Dividend.objects.get().status == DividendStatus.REJECTED


def test_the_job_is_a_daily_default_schedule():
    [schedule] = [d for d in DEFAULT_SCHEDULES if d.name == "propose-dividends"]

    assert (schedule.task, schedule.interval_seconds) == (
        "portfolio.tasks.propose_dividends",
        24 * 60 * 60,
    )
