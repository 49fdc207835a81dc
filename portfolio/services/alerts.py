"""Writes of price alerts and in-app notifications (SPEC §3 Price alert).

An active alert fires once, when a newly arrived close meets its condition: that writes an
alert event and a notification, emails the user when they asked for it (after commit), and
deactivates the alert until `price_alert_rearm`.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction as db_transaction
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Preferences, User
from audit.models import ActivityAction
from audit.services import activity_record
from portfolio.models import (
    AlertEvent,
    Instrument,
    Notification,
    NotificationKind,
    PriceAlert,
    PriceBar,
)
from trading_lab.exceptions import ApplicationError

INVALID = "Invalid input."
ALERT_FIELDS = ("instrument", "condition", "target", "notes")
# A notification links into the project's routes whatever URLconf is active (tests swap it).
PROJECT_URLCONF = "trading_lab.urls"


def _clean(obj: Any) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        raise ApplicationError(INVALID, exc.message_dict) from exc


def _check_visible(user: User, instrument: Instrument) -> None:
    if not Instrument.objects.visible_to(user).filter(pk=instrument.pk).exists():
        raise ApplicationError(INVALID, {"instrument": ["This instrument does not exist."]})


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


def price_alert_create(
    *,
    user: User,
    instrument: Instrument,
    condition: str,
    target: Decimal,
    notes: str = "",
    request: HttpRequest | None = None,
) -> PriceAlert:
    """Create an active alert on an instrument the user can see."""
    _check_visible(user, instrument)
    alert = PriceAlert(
        user=user, instrument=instrument, condition=condition, target=target, notes=notes
    )
    _clean(alert)
    with db_transaction.atomic():
        alert.save()
        activity_record(
            user=user,
            action=ActivityAction.ALERT_CREATED,
            description=f"Alert on {instrument} {condition} {_number(target)}.",
            details={"alert": alert.pk},
            request=request,
        )
    return alert


def price_alert_update(
    *, alert: PriceAlert, data: dict[str, Any], request: HttpRequest | None = None
) -> PriceAlert:
    """Change an alert's instrument, condition, target or notes (not its firing state)."""
    with db_transaction.atomic():
        alert = PriceAlert.objects.select_for_update().get(pk=alert.pk)
        changed = [
            name for name in ALERT_FIELDS if name in data and getattr(alert, name) != data[name]
        ]
        for name in changed:
            setattr(alert, name, data[name])
        if "instrument" in changed:
            _check_visible(alert.user, alert.instrument)
        _clean(alert)
        if changed:
            alert.save()
        activity_record(
            user=alert.user,
            action=ActivityAction.ALERT_UPDATED,
            description=f"Alert on {alert.instrument} updated.",
            details={"alert": alert.pk, "changed": changed},
            request=request,
        )
    return alert


def price_alert_delete(*, alert: PriceAlert, request: HttpRequest | None = None) -> None:
    """Delete an alert with its events."""
    with db_transaction.atomic():
        pk, label = alert.pk, str(alert)
        alert.delete()
        activity_record(
            user=alert.user,
            action=ActivityAction.ALERT_DELETED,
            description=f"Alert {label} deleted.",
            details={"alert": pk},
            request=request,
        )


def price_alert_rearm(*, alert: PriceAlert, request: HttpRequest | None = None) -> PriceAlert:
    """Make an alert active again so the next close that meets it fires it."""
    with db_transaction.atomic():
        alert = PriceAlert.objects.select_for_update().get(pk=alert.pk)
        alert.active = True
        alert.save(update_fields=["active", "updated_at"])
        activity_record(
            user=alert.user,
            action=ActivityAction.ALERT_REARMED,
            description=f"Alert {alert} re-armed.",
            details={"alert": alert.pk},
            request=request,
        )
    return alert


def _email_alert(*, user_id: int, subject: str, body: str) -> None:
    user = User.objects.filter(pk=user_id).first()
    if user is None or not user.email:
        return
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])


def price_alerts_check(*, instrument_ids: Iterable[int]) -> int:
    """Fire the active alerts of `instrument_ids` that their latest close meets.

    Called where prices arrive, inside the importing transaction; returns how many fired.
    """
    ids = list(instrument_ids)
    if not ids:
        return 0
    latest = PriceBar.objects.filter(instrument=OuterRef("instrument")).order_by("-date")
    alerts = (
        PriceAlert.objects.select_for_update(of=("self",))
        .filter(instrument_id__in=ids, active=True)
        .select_related("instrument", "user")
        .annotate(
            last_close=Subquery(latest.values("close")[:1]),
            last_date=Subquery(latest.values("date")[:1]),
        )
        .order_by("pk")
    )
    now = timezone.now()
    fired = 0
    with db_transaction.atomic():
        for alert in alerts:
            if alert.last_close is None or not alert.is_met(alert.last_close):
                continue
            _fire(alert, price=alert.last_close, price_date=alert.last_date, now=now)
            fired += 1
    return fired


def _fire(alert: PriceAlert, *, price: Decimal, price_date, now) -> None:
    AlertEvent.objects.create(alert=alert, price=price, price_date=price_date, triggered_at=now)
    alert.active = False
    alert.triggered_at = now
    alert.save(update_fields=["active", "triggered_at", "updated_at"])
    title = f"{alert.instrument} closed at {_number(price)}"
    body = (
        f"{alert.instrument} closed at {_number(price)} on {price_date.isoformat()}, "
        f"{alert.get_condition_display().lower()} your target of {_number(alert.target)}. "
        "The alert is paused until you re-arm it."
    )
    Notification.objects.create(
        user=alert.user,
        kind=NotificationKind.ALERT_TRIGGERED,
        title=title,
        body=body,
        link=reverse("api-alert-events", kwargs={"id": alert.pk}, urlconf=PROJECT_URLCONF),
    )
    wants_email = Preferences.objects.filter(user=alert.user, notify_alert_triggered=True).exists()
    if wants_email:
        user_id = alert.user_id
        # robust: a mail server that is down must not undo or fail the price import.
        db_transaction.on_commit(
            lambda: _email_alert(user_id=user_id, subject=title, body=body), robust=True
        )


def notification_mark_read(
    *, notification: Notification, request: HttpRequest | None = None
) -> Notification:
    """Mark one notification read (reading it again keeps the first time)."""
    with db_transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification.pk)
        if notification.read_at is None:
            notification.read_at = timezone.now()
            notification.save(update_fields=["read_at", "updated_at"])
            activity_record(
                user=notification.user,
                action=ActivityAction.NOTIFICATION_READ,
                description=f"Read “{notification.title}”.",
                details={"notification": notification.pk},
                request=request,
            )
    return notification


def notifications_mark_all_read(*, user: User, request: HttpRequest | None = None) -> int:
    """Mark every unread notification of `user` read; returns how many were unread."""
    with db_transaction.atomic():
        unread = list(
            Notification.objects.for_user(user)
            .select_for_update()
            .filter(read_at__isnull=True)
            .order_by("pk")
        )
        now = timezone.now()
        for notification in unread:
            # Saved one by one so each change lands in the notification's history.
            notification.read_at = now
            notification.save(update_fields=["read_at", "updated_at"])
        if unread:
            activity_record(
                user=user,
                action=ActivityAction.NOTIFICATION_READ,
                description=f"Marked {len(unread)} notification{'s' if len(unread) != 1 else ''} "
                "read.",
                details={"notifications": [n.pk for n in unread]},
                request=request,
            )
    return len(unread)
