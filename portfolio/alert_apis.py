"""JSON API of the watchlist, price alerts, notifications and dividends (SPEC §6).

Every view starts from the caller's own rows (`for_user`); writes parse the body and call
`portfolio.services`.
"""

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from portfolio.alert_serializers import (
    AlertEventSerializer,
    DividendFilterSerializer,
    DividendInputSerializer,
    DividendSerializer,
    DividendUpdateSerializer,
    NotificationFilterSerializer,
    NotificationSerializer,
    PriceAlertInputSerializer,
    PriceAlertSerializer,
    WatchlistItemSerializer,
    WatchlistSerializer,
)
from portfolio.models import (
    AlertEvent,
    Dividend,
    Instrument,
    Notification,
    PriceAlert,
    WatchlistItem,
)
from portfolio.services import (
    WatchlistEntry,
    dividend_confirm,
    dividend_create,
    dividend_delete,
    dividend_reject,
    dividend_update,
    instrument_find,
    notification_mark_read,
    price_alert_create,
    price_alert_delete,
    price_alert_rearm,
    price_alert_update,
    watchlist_item_add,
    watchlist_item_delete,
    watchlist_replace,
)
from trading_lab.api.params import DELETED_RESPONSE, query_params


def _visible_instrument(user: User, symbol: str, exchange: str) -> Instrument:
    """A shared instrument first, then one of the user's own; never someone else's."""
    found = instrument_find(user=user, symbol=symbol, exchange=exchange)
    if found is None:
        label = f"{symbol}.{exchange}" if exchange else symbol
        raise serializers.ValidationError({"symbol": [f"Unknown instrument {label}."]})
    return found


# ---------------------------------------------------------------------------------------------
# Watchlist


def _entry(data: dict[str, Any]) -> WatchlistEntry:
    return WatchlistEntry(
        symbol=data["symbol"],
        exchange=data["exchange"],
        notes=data["notes"],
        target_price=data["target_price"],
    )


@extend_schema(tags=["watchlist"])
class WatchlistApi(generics.GenericAPIView):
    """Your watchlist. POST adds one symbol; PUT replaces the whole list at once."""

    serializer_class = WatchlistSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[WatchlistItem]:
        return WatchlistItem.objects.for_user(self.request.user)

    def _answer(self, code: int = status.HTTP_200_OK) -> Response:
        return Response(WatchlistSerializer({"items": self.get_queryset()}).data, status=code)

    @extend_schema(operation_id="watchlist_retrieve")
    def get(self, request: Request) -> Response:
        return self._answer()

    @extend_schema(
        operation_id="watchlist_add",
        request=WatchlistItemSerializer,
        responses={201: WatchlistItemSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = WatchlistItemSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = watchlist_item_add(
            user=request.user, entry=_entry(serializer.validated_data), request=request._request
        )
        return Response(WatchlistItemSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="watchlist_replace", request=WatchlistSerializer)
    def put(self, request: Request) -> Response:
        serializer = WatchlistSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        watchlist_replace(
            user=request.user,
            entries=[_entry(item) for item in serializer.validated_data["items"]],
            request=request._request,
        )
        return self._answer()


@extend_schema(
    tags=["watchlist"],
    parameters=[
        OpenApiParameter(
            "exchange",
            OpenApiTypes.STR,
            description="Needed when the symbol is on your list for more than one exchange.",
        )
    ],
)
class WatchlistItemApi(generics.GenericAPIView):
    """One symbol of your watchlist, by symbol."""

    serializer_class = WatchlistItemSerializer

    @extend_schema(operation_id="watchlist_remove", responses={204: DELETED_RESPONSE})
    def delete(self, request: Request, symbol: str) -> Response:
        items = WatchlistItem.objects.for_user(request.user).filter(symbol__iexact=symbol)
        if "exchange" in request.query_params:
            items = items.filter(exchange__iexact=request.query_params["exchange"])
        found = list(items[:2])
        if not found:
            get_object_or_404(items)
        if len(found) > 1:
            raise serializers.ValidationError(
                {"exchange": [f"{symbol} is on your list more than once: give the exchange."]}
            )
        watchlist_item_delete(item=found[0], request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------------------------
# Price alerts


def _alert_data(user: User, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "instrument": _visible_instrument(user, data["symbol"], data["exchange"]),
        "condition": data["condition"],
        "target": data["target"],
        "notes": data["notes"],
    }


@extend_schema(tags=["alerts"])
class PriceAlertListApi(generics.ListAPIView):
    """Your price alerts, newest first; POST creates an active one."""

    serializer_class = PriceAlertSerializer

    def get_queryset(self) -> QuerySet[PriceAlert]:
        return PriceAlert.objects.for_user(self.request.user).select_related("instrument")

    @extend_schema(
        operation_id="alerts_create",
        request=PriceAlertInputSerializer,
        responses={201: PriceAlertSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = PriceAlertInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alert = price_alert_create(
            user=request.user,
            **_alert_data(request.user, serializer.validated_data),
            request=request._request,
        )
        return Response(
            PriceAlertSerializer(alert).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-alert-detail", kwargs={"id": alert.pk})},
        )


class _OwnAlert(generics.GenericAPIView):
    serializer_class = PriceAlertSerializer

    def get_queryset(self) -> QuerySet[PriceAlert]:
        return PriceAlert.objects.for_user(self.request.user).select_related("instrument")

    def _get(self, id: int) -> PriceAlert:
        return get_object_or_404(self.get_queryset(), pk=id)


@extend_schema(tags=["alerts"])
class PriceAlertDetailApi(_OwnAlert):
    """One of your price alerts. Editing it does not re-arm it; `rearm` does."""

    @extend_schema(operation_id="alerts_retrieve")
    def get(self, request: Request, id: int) -> Response:
        return Response(PriceAlertSerializer(self._get(id)).data)

    @extend_schema(
        operation_id="alerts_update",
        request=PriceAlertInputSerializer,
        responses=PriceAlertSerializer,
    )
    def put(self, request: Request, id: int) -> Response:
        return self._update(request, id, partial=False)

    @extend_schema(
        operation_id="alerts_partial_update",
        request=PriceAlertInputSerializer(partial=True),
        responses=PriceAlertSerializer,
    )
    def patch(self, request: Request, id: int) -> Response:
        return self._update(request, id, partial=True)

    @extend_schema(operation_id="alerts_destroy", responses={204: DELETED_RESPONSE})
    def delete(self, request: Request, id: int) -> Response:
        price_alert_delete(alert=self._get(id), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request: Request, id: int, *, partial: bool) -> Response:
        alert = self._get(id)
        serializer = PriceAlertInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "symbol" in data:
            exchange = data.pop("exchange", "")
            data["instrument"] = _visible_instrument(request.user, data.pop("symbol"), exchange)
        updated = price_alert_update(alert=alert, data=data, request=request._request)
        return Response(PriceAlertSerializer(updated).data)


@extend_schema(tags=["alerts"])
class PriceAlertEventsApi(generics.ListAPIView):
    """When one of your alerts fired, newest first."""

    serializer_class = AlertEventSerializer

    def get_queryset(self) -> QuerySet[AlertEvent]:
        if getattr(self, "swagger_fake_view", False):
            return AlertEvent.objects.none()
        alert = get_object_or_404(
            PriceAlert.objects.for_user(self.request.user), pk=self.kwargs["id"]
        )
        return AlertEvent.objects.for_user(self.request.user).filter(alert=alert)


@extend_schema(tags=["alerts"])
class PriceAlertRearmApi(_OwnAlert):
    """Make a fired alert active again."""

    @extend_schema(operation_id="alerts_rearm", request=None, responses=PriceAlertSerializer)
    def post(self, request: Request, id: int) -> Response:
        alert = price_alert_rearm(alert=self._get(id), request=request._request)
        return Response(PriceAlertSerializer(alert).data)


# ---------------------------------------------------------------------------------------------
# Notifications


@extend_schema(tags=["notifications"], parameters=[NotificationFilterSerializer])
class NotificationListApi(generics.ListAPIView):
    """Your in-app notifications, newest first; `unread=true` keeps the unread ones."""

    serializer_class = NotificationSerializer

    def get_queryset(self) -> QuerySet[Notification]:
        rows = Notification.objects.for_user(self.request.user)
        if query_params(NotificationFilterSerializer, self.request)["unread"]:
            rows = rows.filter(read_at__isnull=True)
        return rows


@extend_schema(tags=["notifications"])
class NotificationReadApi(generics.GenericAPIView):
    """Mark one of your notifications read."""

    serializer_class = NotificationSerializer

    def get_queryset(self) -> QuerySet[Notification]:
        return Notification.objects.for_user(self.request.user)

    @extend_schema(operation_id="notifications_read", request=None)
    def post(self, request: Request, id: int) -> Response:
        notification = get_object_or_404(self.get_queryset(), pk=id)
        notification = notification_mark_read(notification=notification, request=request._request)
        return Response(NotificationSerializer(notification).data)


# ---------------------------------------------------------------------------------------------
# Dividends


def _dividends(user: User) -> QuerySet[Dividend]:
    return Dividend.objects.for_user(user).select_related("instrument", "portfolio")


@extend_schema(tags=["dividends"], parameters=[DividendFilterSerializer])
class DividendListApi(generics.ListAPIView):
    """Your dividends across portfolios, newest ex date first; POST records one (pending)."""

    serializer_class = DividendSerializer

    def get_queryset(self) -> QuerySet[Dividend]:
        rows = _dividends(self.request.user)
        filters = query_params(DividendFilterSerializer, self.request)
        if "portfolio" in filters:
            rows = rows.filter(portfolio=filters["portfolio"])
        if "status" in filters:
            rows = rows.filter(status=filters["status"])
        return rows

    @extend_schema(
        operation_id="dividends_create",
        request=DividendInputSerializer,
        responses={201: DividendSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = DividendInputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        instrument = _visible_instrument(request.user, data.pop("symbol"), data.pop("exchange"))
        dividend = dividend_create(instrument=instrument, **data, request=request._request)
        return Response(
            DividendSerializer(dividend).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-dividend-detail", kwargs={"id": dividend.pk})},
        )


class _OwnDividend(generics.GenericAPIView):
    serializer_class = DividendSerializer

    def get_queryset(self) -> QuerySet[Dividend]:
        return _dividends(self.request.user)

    def _get(self, id: int) -> Dividend:
        return get_object_or_404(self.get_queryset(), pk=id)


@extend_schema(tags=["dividends"])
class DividendDetailApi(_OwnDividend):
    """One of your dividends. Only an open (pending or edited) one can be edited."""

    @extend_schema(operation_id="dividends_retrieve")
    def get(self, request: Request, id: int) -> Response:
        return Response(DividendSerializer(self._get(id)).data)

    @extend_schema(
        operation_id="dividends_update",
        request=DividendUpdateSerializer,
        responses=DividendSerializer,
    )
    def put(self, request: Request, id: int) -> Response:
        return self._update(request, id, partial=False)

    @extend_schema(
        operation_id="dividends_partial_update",
        request=DividendUpdateSerializer(partial=True),
        responses=DividendSerializer,
    )
    def patch(self, request: Request, id: int) -> Response:
        return self._update(request, id, partial=True)

    @extend_schema(operation_id="dividends_destroy", responses={204: DELETED_RESPONSE})
    def delete(self, request: Request, id: int) -> Response:
        dividend_delete(dividend=self._get(id), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request: Request, id: int, *, partial: bool) -> Response:
        dividend = self._get(id)
        serializer = DividendUpdateSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        updated = dividend_update(
            dividend=dividend, data=serializer.validated_data, request=request._request
        )
        return Response(DividendSerializer(updated).data)


@extend_schema(tags=["dividends"])
class DividendConfirmApi(_OwnDividend):
    """Record the dividend in the ledger (a DIVIDEND transaction), once."""

    @extend_schema(operation_id="dividends_confirm", request=None, responses=DividendSerializer)
    def post(self, request: Request, id: int) -> Response:
        dividend = dividend_confirm(dividend=self._get(id), request=request._request)
        return Response(DividendSerializer(dividend).data)


@extend_schema(tags=["dividends"])
class DividendRejectApi(_OwnDividend):
    """Mark an open dividend rejected."""

    @extend_schema(operation_id="dividends_reject", request=None, responses=DividendSerializer)
    def post(self, request: Request, id: int) -> Response:
        dividend = dividend_reject(dividend=self._get(id), request=request._request)
        return Response(DividendSerializer(dividend).data)
