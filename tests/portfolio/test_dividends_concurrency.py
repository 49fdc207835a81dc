"""Two confirms of one dividend at once on PostgreSQL: exactly one DIVIDEND transaction.

Transactional test: each confirm must commit for the other to see it (one wrapping test
transaction would hide a missing lock).
"""

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connections

from portfolio.models import Dividend, Transaction, TransactionType
from portfolio.services import (
    TransactionInput,
    dividend_confirm,
    dividend_create,
    portfolio_create,
    transaction_create,
)
from tests.factories import InstrumentFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_concurrent_confirms_record_the_dividend_once():
    portfolio = portfolio_create(user=UserFactory(), name="Race", base_currency="USD")
    stock = InstrumentFactory(currency="USD")
    transaction_create(
        portfolio=portfolio,
        data=TransactionInput(
            TransactionType.BUY, date(2024, 1, 2), Decimal(5), Decimal(10), instrument=stock
        ),
    )
    dividend = dividend_create(
        portfolio=portfolio, instrument=stock, ex_date=date(2024, 2, 1), amount_per_share=Decimal(1)
    )
    start = threading.Barrier(2)
    confirmed_with: list[int] = []
    unexpected: list[BaseException] = []

    def confirm() -> None:
        try:
            start.wait()
            done = dividend_confirm(dividend=Dividend.objects.get(pk=dividend.pk))
            confirmed_with.append(done.transaction_id)
        except BaseException as exc:
            unexpected.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert unexpected == []
    payouts = Transaction.objects.filter(portfolio=portfolio, type=TransactionType.DIVIDEND)
    assert payouts.count() == 1
    assert confirmed_with == [payouts.get().pk] * 2
