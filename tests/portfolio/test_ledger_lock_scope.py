"""A ledger write locks its portfolio row, not its owner's user row.

`select_for_update()` with `select_related("user")` locks every joined row. Holding the user row
FOR UPDATE deadlocked, under bench/load.py's mix, with writes of the same user that take the
activity chain head first and then insert a row referencing the user (an order, an activity row:
the foreign key check takes FOR KEY SHARE on the user row). Transactional test on PostgreSQL:
the probe runs on a second connection while the first holds the lock.
"""

import threading

import pytest
from django.db import OperationalError, connections, transaction

from accounts.models import User
from portfolio.models import Portfolio
from portfolio.services import portfolio_create
from portfolio.services.ledger import _locked
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _try_lock(table: str, pk: int, mode: str) -> str:
    """From a new connection: "free" if the row lock is granted at once, else "locked"."""
    outcome: list[str] = []

    def probe() -> None:
        try:
            with transaction.atomic(), connections["default"].cursor() as cursor:
                cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s {mode} NOWAIT", [pk])  # noqa: S608
            outcome.append("free")
        except OperationalError:
            outcome.append("locked")
        finally:
            connections.close_all()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return outcome[0]


def test_the_ledger_lock_holds_the_portfolio_and_leaves_the_owner_free_for_key_share():
    user = UserFactory()
    portfolio = portfolio_create(user=user, name="Locks", base_currency="USD")

    with transaction.atomic():
        locked = _locked(portfolio)
        assert locked.user == user  # the owner still comes with the portfolio, in one query
        portfolio_row = _try_lock(Portfolio._meta.db_table, portfolio.pk, "FOR UPDATE")
        user_row = _try_lock(User._meta.db_table, user.pk, "FOR KEY SHARE")

    assert portfolio_row == "locked"
    assert user_row == "free"
