"""The paper engine's book made durable: lock, read and write one balance and one position.

Every writer of balances and positions (manual orders, limit matching, bot ticks, resets) goes
through `book_lock` and `book_save` inside its own `transaction.atomic`, so a fill updates order,
balance and position together. Rows are always locked in the same order (balance, then position)
so two writers never deadlock.
"""

import uuid
from dataclasses import dataclass
from typing import TypeVar

from django.db import IntegrityError, models, transaction

from bots.app_settings import app_settings
from bots.engine import Balance, PaperBook, Position
from bots.models import PaperAccount, PaperBalance, PaperPosition
from bots.services.history import HistoryBatch, history_snapshot
from portfolio.models import Instrument
from trading_lab.prepared import PreparedRead

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class LockedBook:
    """The locked rows behind one order, and the engine's view of them."""

    account: PaperAccount
    balance: PaperBalance
    position: PaperPosition

    @property
    def book(self) -> PaperBook:
        return PaperBook(
            balance=Balance(free=self.balance.free, locked=self.balance.locked),
            position=Position(
                quantity=self.position.quantity,
                locked=self.position.locked,
                cost_basis=self.position.cost_basis,
                realized_pnl=self.position.realized_pnl,
            ),
        )


def client_order_id_new(*, prefix: str = "tl") -> str:
    """A fresh client order id (unique column; bots derive theirs from the tick instead)."""
    return f"{prefix}-{uuid.uuid4().hex}"


def paper_account_default(*, user) -> PaperAccount:
    """The user's default paper account, created with the default balance the first time.

    Two requests racing here both end with the same account: the partial unique constraint on
    (user, is_default) lets one insert win and the other reads it.
    """
    account = PaperAccount.objects.for_user(user).filter(is_default=True).first()
    if account is not None:
        return account
    currency = app_settings.default_paper_currency
    amount = app_settings.default_paper_balance
    try:
        with transaction.atomic():
            account = PaperAccount.objects.create(
                user=user,
                name="Paper account",
                quote_currency=currency,
                starting_balance=amount,
                is_default=True,
            )
            PaperBalance.objects.create(account=account, currency=currency, free=amount)
    except IntegrityError:
        account = PaperAccount.objects.for_user(user).get(is_default=True)
    return account


def book_lock(*, account: PaperAccount, instrument: Instrument) -> LockedBook:
    """Lock (creating if missing) the balance in the instrument's currency and the position.

    Call inside `transaction.atomic`. A currency the account has never held gets a zero balance,
    so an order in it is rejected for want of funds, never an error.
    """
    balance = _locked_row(
        _BALANCE_LOCK.first(account=account.pk, currency=instrument.currency),
        PaperBalance,
        account=account,
        currency=instrument.currency,
    )
    position = _locked_row(
        _POSITION_LOCK.first(account=account.pk, instrument=instrument.pk),
        PaperPosition,
        account=account,
        instrument=instrument,
    )
    return LockedBook(account=account, balance=balance, position=position)


# Every fill locks these two rows: the reads are compiled once per connection.
_BALANCE_LOCK = PreparedRead(
    lambda account, currency: (
        PaperBalance.objects.select_for_update()
        .filter(account=account, currency=currency)
        .order_by()[:1]
    ),
    account=int,
    currency=str,
)
_POSITION_LOCK = PreparedRead(
    lambda account, instrument: (
        PaperPosition.objects.select_for_update()
        .filter(account=account, instrument=instrument)
        .order_by()[:1]
    ),
    account=int,
    instrument=int,
)


def _locked_row(row, model, **key):
    # The row nearly always exists (`row`, read with its lock). A missing one is created
    # (get_or_create settles a race between two creators) and then locked.
    if row is None:
        created, _ = model.objects.get_or_create(**key)
        row = model.objects.select_for_update().get(pk=created.pk)
    return row


def book_save(*, locked: LockedBook, book: PaperBook, history: HistoryBatch | None = None) -> None:
    """Write the engine's new book back to the locked rows (only what changed).

    With `history`, the rows' history entries go into that batch instead of one by one.
    """
    balance, position = locked.balance, locked.position
    if (balance.free, balance.locked) != (book.balance.free, book.balance.locked):
        old = history_snapshot(balance) if history is not None else None
        balance.free, balance.locked = book.balance.free, book.balance.locked
        _save(balance, old, ["free", "locked", "updated_at"], history)
    new = book.position
    if (position.quantity, position.locked, position.cost_basis, position.realized_pnl) != (
        new.quantity,
        new.locked,
        new.cost_basis,
        new.realized_pnl,
    ):
        old = history_snapshot(position) if history is not None else None
        position.quantity, position.locked = new.quantity, new.locked
        position.cost_basis, position.realized_pnl = new.cost_basis, new.realized_pnl
        fields = ["quantity", "locked", "cost_basis", "realized_pnl", "updated_at"]
        _save(position, old, fields, history)


def _save(row, old, fields: list[str], history: HistoryBatch | None) -> None:
    if history is None:
        row.save(update_fields=fields)
    else:
        history.update(row, old=old, fields=fields)
