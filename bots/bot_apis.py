"""JSON API of bots (SPEC §6): CRUD, start/pause/resume/stop, runs, deals, orders, ticks, and the
config preview the bot form calls as the user types.

Every view starts from the caller's own bots (`for_user`); writes parse the body and call
`bots.services`. An action that does not fit the bot's status answers 409.
"""

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from bots.bot_serializers import (
    BotInputSerializer,
    BotPreviewInputSerializer,
    BotPreviewSerializer,
    BotRunSerializer,
    BotSerializer,
    BotTickSerializer,
    DealSerializer,
)
from bots.models import Bot, BotRun, BotTick, Deal, Order
from bots.paper_serializers import OrderSerializer
from bots.services import (
    BotStateError,
    bot_create,
    bot_delete,
    bot_pause,
    bot_preview,
    bot_resume,
    bot_start,
    bot_stop,
    bot_update,
    paper_account_default,
)
from portfolio.models import Instrument
from portfolio.services import instrument_find
from trading_lab.api.mixins import NoStoreMixin
from trading_lab.api.params import DELETED_RESPONSE

CONFLICT = OpenApiResponse(description="The bot's status does not allow this action.")


class Conflict(exceptions.APIException):
    """409: the action does not apply to the resource in its current state."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


def _visible_instrument(user: User, symbol: str, exchange: str) -> Instrument:
    found = instrument_find(user=user, symbol=symbol, exchange=exchange)
    if found is None:
        label = f"{symbol}.{exchange}" if exchange else symbol
        raise serializers.ValidationError({"symbol": [f"Unknown instrument {label}."]})
    return found


def _bots(user: User) -> QuerySet[Bot]:
    return Bot.objects.for_user(user).select_related("instrument", "account")


def _bot_data(user: User, data: dict[str, Any]) -> dict[str, Any]:
    """Validated input as the service's fields: symbol/exchange become the instrument."""
    data = dict(data)
    if "symbol" in data:
        data["instrument"] = _visible_instrument(user, data.pop("symbol"), data.pop("exchange", ""))
    data.pop("exchange", None)
    if "account" in data and data["account"] is None:
        data["account"] = paper_account_default(user=user)
    return data


@extend_schema(tags=["bots"])
class BotListApi(generics.ListAPIView):
    """Your bots by name; POST creates a stopped one."""

    serializer_class = BotSerializer

    def get_queryset(self) -> QuerySet[Bot]:
        return _bots(self.request.user)

    @extend_schema(
        operation_id="bots_create", request=BotInputSerializer, responses={201: BotSerializer}
    )
    def post(self, request: Request) -> Response:
        serializer = BotInputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = _bot_data(request.user, serializer.validated_data)
        bot = bot_create(user=request.user, **data, request=request._request)
        return Response(
            BotSerializer(bot).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-bot-detail", kwargs={"id": bot.pk})},
        )


@extend_schema(tags=["bots"])
class BotPreviewApi(generics.GenericAPIView):
    """The safety-order ladder and required capital of a config, and whether it fits the account."""

    serializer_class = BotPreviewSerializer

    @extend_schema(
        operation_id="bots_preview",
        request=BotPreviewInputSerializer,
        responses=BotPreviewSerializer,
    )
    def post(self, request: Request) -> Response:
        serializer = BotPreviewInputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        instrument = data["instrument"]
        if data["symbol"]:
            instrument = _visible_instrument(request.user, data["symbol"], data["exchange"])
        preview = bot_preview(
            user=request.user,
            config_data=data["config"],
            account=data["account"] or paper_account_default(user=request.user),
            instrument=instrument,
            base_price=data["base_price"],
        )
        return Response(BotPreviewSerializer(preview).data)


class _OwnBot(generics.GenericAPIView):
    serializer_class = BotSerializer

    def get_queryset(self) -> QuerySet[Bot]:
        return _bots(self.request.user)

    def _get(self, id: int) -> Bot:
        return get_object_or_404(self.get_queryset(), pk=id)


@extend_schema(tags=["bots"])
class BotDetailApi(_OwnBot):
    """One of your bots. Only a stopped bot's settings change (its name any time); only a stopped
    bot can be deleted (409 otherwise)."""

    @extend_schema(operation_id="bots_retrieve")
    def get(self, request: Request, id: int) -> Response:
        return Response(BotSerializer(self._get(id)).data)

    @extend_schema(
        operation_id="bots_update",
        request=BotInputSerializer,
        responses={200: BotSerializer, 409: CONFLICT},
    )
    def put(self, request: Request, id: int) -> Response:
        return self._update(request, id, partial=False)

    @extend_schema(
        operation_id="bots_partial_update",
        request=BotInputSerializer(partial=True),
        responses={200: BotSerializer, 409: CONFLICT},
    )
    def patch(self, request: Request, id: int) -> Response:
        return self._update(request, id, partial=True)

    @extend_schema(operation_id="bots_destroy", responses={204: DELETED_RESPONSE, 409: CONFLICT})
    def delete(self, request: Request, id: int) -> Response:
        bot = self._get(id)
        try:
            bot_delete(bot=bot, request=request._request)
        except BotStateError as exc:
            raise Conflict(exc.message) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request: Request, id: int, *, partial: bool) -> Response:
        bot = self._get(id)
        serializer = BotInputSerializer(
            data=request.data, partial=partial, context={"request": request}
        )
        serializer.is_valid(raise_exception=True)
        data = _bot_data(request.user, serializer.validated_data)
        if partial:
            # DRF fills defaults even for a partial body: keep only what the client sent.
            sent = set(request.data) | ({"instrument"} if "symbol" in request.data else set())
            data = {key: value for key, value in data.items() if key in sent}
        try:
            updated = bot_update(bot=bot, data=data, request=request._request)
        except BotStateError as exc:
            raise Conflict(exc.message) from exc
        return Response(BotSerializer(updated).data)


def _action(name: str, service, summary: str) -> type[_OwnBot]:
    class BotActionApi(_OwnBot):
        __doc__ = summary

        @extend_schema(
            operation_id=f"bots_{name}",
            request=None,
            responses={200: BotSerializer, 409: CONFLICT},
        )
        def post(self, request: Request, id: int) -> Response:
            bot = self._get(id)
            try:
                service(bot=bot, request=request._request)
            except BotStateError as exc:
                raise Conflict(exc.message) from exc
            return Response(BotSerializer(self._get(id)).data)

    BotActionApi.__name__ = BotActionApi.__qualname__ = f"Bot{name.title()}Api"
    return extend_schema(tags=["bots"])(BotActionApi)


BotStartApi = _action(
    "start", bot_start, "Start a stopped bot: open a run with the required capital allocated."
)
BotPauseApi = _action("pause", bot_pause, "Pause a running bot; its open deal stays open.")
BotResumeApi = _action("resume", bot_resume, "Resume a paused bot; the next tick is due at once.")
BotStopApi = _action(
    "stop", bot_stop, "Stop a bot: close its open deal at market and its run with its metrics."
)


class _BotRows(generics.ListAPIView):
    model: type = Bot

    def _bot(self) -> Bot:
        return get_object_or_404(Bot.objects.for_user(self.request.user), pk=self.kwargs["id"])

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return self.model.objects.for_user(self.request.user).filter(bot=self._bot())


@extend_schema(tags=["bots"])
class BotRunsApi(_BotRows):
    """The bot's runs, newest first."""

    model = BotRun
    serializer_class = BotRunSerializer


@extend_schema(tags=["bots"])
class BotDealsApi(_BotRows):
    """The bot's deals, newest first."""

    model = Deal
    serializer_class = DealSerializer


@extend_schema(tags=["bots"])
class BotOrdersApi(NoStoreMixin, _BotRows):
    """The bot's orders, newest first (rejected ones with their reason)."""

    model = Order
    serializer_class = OrderSerializer

    def get_queryset(self) -> QuerySet[Order]:
        return super().get_queryset().select_related("instrument")


@extend_schema(tags=["bots"])
class BotTicksApi(_BotRows):
    """The bot's tick log, newest first; `missed` counts the slots skipped before a tick."""

    model = BotTick
    serializer_class = BotTickSerializer


urlpatterns = [
    path("bots", BotListApi.as_view(), name="api-bots"),
    path("bots/preview", BotPreviewApi.as_view(), name="api-bot-preview"),
    path("bots/<int:id>", BotDetailApi.as_view(), name="api-bot-detail"),
    path("bots/<int:id>/start", BotStartApi.as_view(), name="api-bot-start"),
    path("bots/<int:id>/pause", BotPauseApi.as_view(), name="api-bot-pause"),
    path("bots/<int:id>/resume", BotResumeApi.as_view(), name="api-bot-resume"),
    path("bots/<int:id>/stop", BotStopApi.as_view(), name="api-bot-stop"),
    path("bots/<int:id>/runs", BotRunsApi.as_view(), name="api-bot-runs"),
    path("bots/<int:id>/deals", BotDealsApi.as_view(), name="api-bot-deals"),
    path("bots/<int:id>/orders", BotOrdersApi.as_view(), name="api-bot-orders"),
    path("bots/<int:id>/ticks", BotTicksApi.as_view(), name="api-bot-ticks"),
]
