"""Ledger writes to one portfolio at once on PostgreSQL: the portfolio row lock serialises them.

Transactional test: each write must commit for the other to see it (one wrapping test
transaction would hide a missing lock).
"""

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connections

from portfolio.models import Holding, Transaction, TransactionType
from portfolio.services import TransactionInput, portfolio_create, transaction_create
from tests.factories import InstrumentFactory, UserFactory
from trading_lab.exceptions import ApplicationError

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_concurrent_sells_of_the_whole_position_let_exactly_one_through():
    portfolio = portfolio_create(user=UserFactory(), name="Race", base_currency="USD")
    stock = InstrumentFactory(currency="USD")
    transaction_create(
        portfolio=portfolio,
        data=TransactionInput(
            TransactionType.BUY, date(2024, 1, 2), Decimal(5), Decimal(10), instrument=stock
        ),
    )
    start = threading.Barrier(2)
    outcomes: list[str] = []
    unexpected: list[BaseException] = []

    def sell_everything() -> None:
        try:
            start.wait()
            transaction_create(
                portfolio=portfolio,
                data=TransactionInput(
                    TransactionType.SELL,
                    date(2024, 1, 3),
                    Decimal(5),
                    Decimal(11),
                    instrument=stock,
                ),
            )
            outcomes.append("sold")
        except ApplicationError as exc:
            outcomes.append(next(iter(exc.extra)))
        except BaseException as exc:
            unexpected.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sell_everything) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert unexpected == []
    assert sorted(outcomes) == ["quantity", "sold"]
    assert Transaction.objects.filter(portfolio=portfolio, type=TransactionType.SELL).count() == 1
    assert Holding.objects.get(portfolio=portfolio).quantity == 0
