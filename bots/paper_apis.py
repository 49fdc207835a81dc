"""JSON API of paper trading (SPEC §6): accounts, balances, positions, orders.

Every view starts from the caller's rows; writes call `bots.services.paper`. Order answers are
never cached (`Cache-Control: no-store`), and `POST /orders` honours `Idempotency-Key` (SPEC §5).
"""

from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from audit.models import ApiCategory
from bots.idempotency import HEADER, idempotency_key_clean, idempotent_call
from bots.models import PaperAccount
from bots.paper_serializers import (
    AccountFilterSerializer,
    OrderFilterSerializer,
    OrderInputSerializer,
    OrderSerializer,
    PaperAccountInputSerializer,
    PaperAccountSerializer,
    PaperBalanceSerializer,
    PaperPositionSerializer,
    PaperResetSerializer,
)
from bots.selectors import (
    order_list,
    paper_account_list,
    paper_balance_list,
    paper_instrument_find,
    paper_position_list,
)
from bots.services import (
    OrderInput,
    order_cancel,
    order_place,
    paper_account_create,
    paper_account_default,
    paper_account_reset,
)
from trading_lab.api.mixins import NoStoreMixin
from trading_lab.api.params import query_params
from trading_lab.exceptions import ApplicationError

ORDER_SCOPE = "orders.create"

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string (a UUID) up to 255 characters. A retry with the same key and body "
        "answers the first response and places nothing; the same key with another body is 409."
    ),
)


# ---------------------------------------------------------------------------------------------
# Accounts


@extend_schema(tags=["paper trading"])
class PaperAccountListApi(generics.ListAPIView):
    """Your paper accounts (the default one is created on first use); POST creates one."""

    serializer_class = PaperAccountSerializer

    def get_queryset(self):
        if not getattr(self, "swagger_fake_view", False):
            paper_account_default(user=self.request.user)
        return paper_account_list(user=self.request.user)

    @extend_schema(
        operation_id="paper_accounts_create",
        request=PaperAccountInputSerializer,
        responses={201: PaperAccountSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = PaperAccountInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = paper_account_create(
            user=request.user, **serializer.validated_data, request=request._request
        )
        return Response(
            PaperAccountSerializer(account).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-paper-account-detail", kwargs={"id": account.pk})},
        )


@extend_schema(tags=["paper trading"])
class PaperAccountDetailApi(generics.RetrieveAPIView):
    """One of your paper accounts."""

    serializer_class = PaperAccountSerializer
    lookup_url_kwarg = "id"

    def get_queryset(self):
        return paper_account_list(user=self.request.user)


@extend_schema(tags=["paper trading"])
class PaperAccountResetApi(generics.GenericAPIView):
    """Back to the starting balance: open orders cancelled, positions cleared (history keeps
    the old rows). Refused (400) while a running or paused bot trades on the account."""

    serializer_class = PaperResetSerializer
    pagination_class = None

    @extend_schema(operation_id="paper_accounts_reset", request=None)
    def post(self, request: Request, id: int) -> Response:
        account = get_object_or_404(paper_account_list(user=request.user), pk=id)
        cancelled = paper_account_reset(account=account, request=request._request)
        account.refresh_from_db()
        return Response(
            PaperResetSerializer({"account": account, "orders_cancelled": cancelled}).data
        )


# ---------------------------------------------------------------------------------------------
# Balances and positions


@extend_schema(tags=["paper trading"], parameters=[AccountFilterSerializer])
class PaperBalanceListApi(generics.ListAPIView):
    """Your balances per account and currency: free, locked behind open orders, total."""

    serializer_class = PaperBalanceSerializer

    def get_queryset(self):
        account = query_params(AccountFilterSerializer, self.request).get("account")
        return paper_balance_list(user=self.request.user, account=account)


@extend_schema(tags=["paper trading"], parameters=[AccountFilterSerializer])
class PaperPositionListApi(generics.ListAPIView):
    """Your positions at average cost, valued at each instrument's last close."""

    serializer_class = PaperPositionSerializer

    def get_queryset(self):
        account = query_params(AccountFilterSerializer, self.request).get("account")
        return paper_position_list(user=self.request.user, account=account)


# ---------------------------------------------------------------------------------------------
# Orders


def _order_input(request: Request, data: dict[str, Any]) -> tuple[PaperAccount, OrderInput]:
    account = data.get("account") or paper_account_default(user=request.user)
    instrument = paper_instrument_find(
        user=request.user, symbol=data["symbol"], exchange=data.get("exchange", "")
    )
    if instrument is None:
        label = f"{data['symbol']}.{data['exchange']}" if data.get("exchange") else data["symbol"]
        raise ApplicationError("Invalid input.", {"symbol": [f"Unknown symbol {label}."]})
    return account, OrderInput(
        instrument=instrument,
        side=data["side"],
        order_type=data["type"],
        quantity=data["quantity"],
        limit_price=data.get("limit_price"),
        client_order_id=data.get("client_order_id"),
    )


@extend_schema(tags=["paper trading"])
class OrderListApi(NoStoreMixin, generics.ListAPIView):
    """Your orders, newest first; POST places a manual order (honours `Idempotency-Key`).

    A market order fills at the last close moved by slippage; a limit order locks its funds
    until a price crosses it. An order the balance cannot pay is stored `rejected` (201) with
    its reason and changes nothing.
    """

    serializer_class = OrderSerializer
    throttle_category = ApiCategory.ORDERS  # placing orders has its own rate

    @extend_schema(parameters=[OrderFilterSerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = query_params(OrderFilterSerializer, self.request)
        return order_list(user=self.request.user, **filters)

    @extend_schema(
        operation_id="orders_create",
        request=OrderInputSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: OrderSerializer,
            409: OpenApiResponse(description="Idempotency-Key reused with a different body."),
        },
    )
    def post(self, request: Request) -> Response:
        key = idempotency_key_clean(request.headers.get(HEADER))

        def place() -> tuple[int, Any]:
            serializer = OrderInputSerializer(data=request.data, context={"request": request})
            serializer.is_valid(raise_exception=True)
            account, data = _order_input(request, serializer.validated_data)
            order = order_place(
                user=request.user, account=account, data=data, request=request._request
            )
            return status.HTTP_201_CREATED, OrderSerializer(order).data

        answer = idempotent_call(
            user=request.user, scope=ORDER_SCOPE, key=key, body=request.data, run=place
        )
        headers = {}
        if isinstance(answer.body, dict) and answer.body.get("id"):
            headers["Location"] = reverse("api-order-detail", kwargs={"id": answer.body["id"]})
        if answer.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(answer.body, status=answer.status, headers=headers)


@extend_schema(tags=["paper trading"])
class OrderDetailApi(NoStoreMixin, generics.RetrieveAPIView):
    """One of your orders."""

    serializer_class = OrderSerializer
    lookup_url_kwarg = "id"

    def get_queryset(self):
        return order_list(user=self.request.user)


@extend_schema(tags=["paper trading"])
class OrderCancelApi(NoStoreMixin, generics.GenericAPIView):
    """Cancel an open order and release its locked funds; any other status is a 400."""

    serializer_class = OrderSerializer
    pagination_class = None

    @extend_schema(operation_id="orders_cancel", request=None)
    def post(self, request: Request, id: int) -> Response:
        order = get_object_or_404(order_list(user=request.user), pk=id)
        order = order_cancel(order=order, request=request._request)
        return Response(OrderSerializer(order).data)


urlpatterns = [
    path("paper-accounts", PaperAccountListApi.as_view(), name="api-paper-accounts"),
    path(
        "paper-accounts/<int:id>",
        PaperAccountDetailApi.as_view(),
        name="api-paper-account-detail",
    ),
    path(
        "paper-accounts/<int:id>/reset",
        PaperAccountResetApi.as_view(),
        name="api-paper-account-reset",
    ),
    path("balances", PaperBalanceListApi.as_view(), name="api-paper-balances"),
    path("positions", PaperPositionListApi.as_view(), name="api-paper-positions"),
    path("orders", OrderListApi.as_view(), name="api-orders"),
    path("orders/<int:id>", OrderDetailApi.as_view(), name="api-order-detail"),
    path("orders/<int:id>/cancel", OrderCancelApi.as_view(), name="api-order-cancel"),
]
