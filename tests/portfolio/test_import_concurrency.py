"""Two imports of one file into one portfolio at once, on PostgreSQL with real row locks.

Transactional test: each import must commit for the other to see it (a test wrapped in one
transaction would hide a missing lock).
"""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from portfolio.models import Holding, Transaction
from portfolio.services.imports import transactions_import
from portfolio.services.ledger import portfolio_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = timezone.localdate() - timedelta(days=5)
ROWS = 40


def test_the_same_file_imported_twice_at_once_lands_once(user):
    portfolio = portfolio_create(user=user, name="Main")
    text = "date,type,symbol,quantity,price,currency\n" + "".join(
        f"{D + timedelta(days=n % 3)},BUY,ACME,1,{10 + n},USD\n" for n in range(ROWS)
    )
    start = threading.Barrier(2)
    reports = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            reports.append(
                transactions_import(
                    user=user,
                    portfolio=portfolio,
                    content=text.encode(),
                    filename="t.csv",
                    dry_run=False,
                )
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert all(report.ok for report in reports)
    assert sorted((r.created, len(r.duplicates)) for r in reports) == [(0, ROWS), (ROWS, 0)]
    assert Transaction.objects.filter(portfolio=portfolio).count() == ROWS
    assert Holding.objects.get(portfolio=portfolio).quantity == ROWS
