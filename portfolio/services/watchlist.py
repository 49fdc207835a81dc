"""Writes of the watchlist: add one item, replace the whole list, remove one (SPEC §3)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction as db_transaction
from django.http import HttpRequest

from accounts.models import User
from audit.models import ActivityAction
from audit.services import activity_record
from portfolio.models import WatchlistItem
from trading_lab.exceptions import ApplicationError

INVALID = "Invalid input."


@dataclass(frozen=True)
class WatchlistEntry:
    """One watchlist item as a caller gives it."""

    symbol: str
    exchange: str = ""
    notes: str = ""
    target_price: Decimal | None = None


def _normalised(entry: WatchlistEntry) -> WatchlistEntry:
    return WatchlistEntry(
        symbol=entry.symbol.strip().upper(),
        exchange=entry.exchange.strip().upper(),
        notes=entry.notes,
        target_price=entry.target_price,
    )


def _item(user: User, entry: WatchlistEntry) -> WatchlistItem:
    item = WatchlistItem(
        user=user,
        symbol=entry.symbol,
        exchange=entry.exchange,
        notes=entry.notes,
        target_price=entry.target_price,
    )
    try:
        item.full_clean()
    except ValidationError as exc:
        raise ApplicationError(INVALID, exc.message_dict) from exc
    return item


def _label(entry: WatchlistEntry | WatchlistItem) -> str:
    return f"{entry.symbol}.{entry.exchange}" if entry.exchange else entry.symbol


def watchlist_item_add(
    *, user: User, entry: WatchlistEntry, request: HttpRequest | None = None
) -> WatchlistItem:
    """Add one symbol to the user's watchlist; a symbol already on it is a field error."""
    entry = _normalised(entry)
    with db_transaction.atomic():
        item = _item(user, entry)
        item.save()
        activity_record(
            user=user,
            action=ActivityAction.WATCHLIST_UPDATED,
            description=f"Added {_label(item)} to the watchlist.",
            details={"added": [_label(item)]},
            request=request,
        )
    return item


def watchlist_replace(
    *, user: User, entries: list[WatchlistEntry], request: HttpRequest | None = None
) -> list[WatchlistItem]:
    """Make the user's watchlist exactly `entries`, all or nothing."""
    entries = [_normalised(entry) for entry in entries]
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(entries):
        key = (entry.symbol, entry.exchange)
        if key in seen:
            message = f"{_label(entry)} is listed twice."
            raise ApplicationError(message, {"items": [f"Item {index + 1}: {message}"]})
        seen.add(key)
    with db_transaction.atomic():
        # The user row is the lock: two replacements of one (possibly empty) list serialise.
        list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
        before = set(WatchlistItem.objects.for_user(user).values_list("symbol", "exchange"))
        # The old list goes first so a symbol that stays is not refused as a duplicate; an
        # invalid item raises and the whole replacement rolls back.
        WatchlistItem.objects.for_user(user).delete()
        items = []
        for index, entry in enumerate(entries):
            try:
                item = _item(user, entry)
            except ApplicationError as exc:
                raise ApplicationError(
                    INVALID, {f"items.{index}.{field}": msgs for field, msgs in exc.extra.items()}
                ) from exc
            item.save()
            items.append(item)
        activity_record(
            user=user,
            action=ActivityAction.WATCHLIST_UPDATED,
            description=f"Replaced the watchlist ({len(items)} items).",
            details={
                "added": sorted(f"{s}.{e}" if e else s for s, e in seen - before),
                "removed": sorted(f"{s}.{e}" if e else s for s, e in before - seen),
            },
            request=request,
        )
    return items


def watchlist_item_delete(*, item: WatchlistItem, request: HttpRequest | None = None) -> None:
    """Remove one item from its owner's watchlist."""
    with db_transaction.atomic():
        label = _label(item)
        item.delete()
        activity_record(
            user=item.user,
            action=ActivityAction.WATCHLIST_UPDATED,
            description=f"Removed {label} from the watchlist.",
            details={"removed": [label]},
            request=request,
        )
