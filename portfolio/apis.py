"""JSON API of the portfolio area (SPEC §6): portfolios, their figures, transactions, instruments.

Every view starts from the caller's rows (the selectors scope by user); writes parse the body
and call `portfolio.services`, which hold the ledger's rules.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction as db_transaction
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from portfolio.models import (
    Holding,
    Instrument,
    Portfolio,
    PortfolioSnapshot,
    PriceBar,
    Transaction,
)
from portfolio.selectors import (
    holding_list,
    instrument_search,
    portfolio_list,
    portfolio_performance,
    portfolio_series,
    price_bar_list,
    transaction_list,
)
from portfolio.serializers import (
    DateRangeSerializer,
    HoldingSerializer,
    InstrumentSearchSerializer,
    InstrumentSerializer,
    PerformanceQuerySerializer,
    PerformanceSerializer,
    PortfolioSerializer,
    PriceBarSerializer,
    SeriesQuerySerializer,
    SnapshotSerializer,
    TransactionFilterSerializer,
    TransactionInputSerializer,
    TransactionSerializer,
)
from portfolio.services import (
    TransactionInput,
    instrument_resolve,
    portfolio_create,
    portfolio_delete,
    portfolio_update,
    transaction_create,
    transaction_delete,
    transaction_update,
)
from trading_lab.api.params import DELETED_RESPONSE, query_params
from trading_lab.api.rows import PlannedListMixin
from trading_lab.exceptions import ApplicationError


def _own_portfolio(request: Request, id: int) -> Portfolio:
    return get_object_or_404(portfolio_list(user=request.user), pk=id)


# ---------------------------------------------------------------------------------------------
# Portfolios


@extend_schema(tags=["portfolios"])
class PortfolioListApi(generics.ListAPIView):
    """Your portfolios; POST creates one."""

    serializer_class = PortfolioSerializer

    def get_queryset(self):
        return portfolio_list(user=self.request.user)

    @extend_schema(
        operation_id="portfolios_create",
        request=PortfolioSerializer,
        responses={201: PortfolioSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = PortfolioSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        portfolio = portfolio_create(
            user=request.user, **serializer.validated_data, request=request._request
        )
        return Response(
            PortfolioSerializer(portfolio).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-portfolio-detail", kwargs={"id": portfolio.pk})},
        )


@extend_schema(tags=["portfolios"])
@extend_schema_view(
    put=extend_schema(operation_id="portfolios_update"),
    patch=extend_schema(operation_id="portfolios_partial_update"),
    delete=extend_schema(
        operation_id="portfolios_destroy",
        responses={204: OpenApiResponse(description="Deleted, with its whole ledger.")},
    ),
)
class PortfolioDetailApi(generics.RetrieveUpdateDestroyAPIView):
    """One of your portfolios. Deleting it deletes its transactions, holdings and snapshots."""

    serializer_class = PortfolioSerializer
    lookup_url_kwarg = "id"

    def get_queryset(self):
        return portfolio_list(user=self.request.user)

    def perform_update(self, serializer: PortfolioSerializer) -> None:
        serializer.instance = portfolio_update(
            portfolio=serializer.instance,
            data=serializer.validated_data,
            request=self.request._request,
        )

    def perform_destroy(self, instance: Portfolio) -> None:
        portfolio_delete(portfolio=instance, request=self.request._request)


@extend_schema(tags=["portfolios"])
class PortfolioHoldingsApi(generics.ListAPIView):
    """A portfolio's open positions as folded from its ledger, by symbol."""

    serializer_class = HoldingSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Holding.objects.none()
        portfolio = _own_portfolio(self.request, self.kwargs["id"])
        return holding_list(portfolio=portfolio)


@extend_schema(tags=["portfolios"])
class PortfolioPerformanceApi(generics.GenericAPIView):
    """A portfolio's value, P&L and returns on `as_of` (SPEC §4), in its base currency."""

    serializer_class = PerformanceSerializer
    pagination_class = None

    @extend_schema(operation_id="portfolios_performance", parameters=[PerformanceQuerySerializer])
    def get(self, request: Request, id: int) -> Response:
        portfolio = _own_portfolio(request, id)
        as_of = query_params(PerformanceQuerySerializer, request)["as_of"]
        performance = portfolio_performance(portfolio=portfolio, as_of=as_of)
        return Response(PerformanceSerializer(performance).data)


@extend_schema(tags=["portfolios"], parameters=[SeriesQuerySerializer])
class PortfolioSeriesApi(generics.ListAPIView):
    """A portfolio's daily snapshots from `start` to `end`, oldest first, for charts."""

    serializer_class = SnapshotSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PortfolioSnapshot.objects.none()
        portfolio = _own_portfolio(self.request, self.kwargs["id"])
        span = query_params(SeriesQuerySerializer, self.request)
        return portfolio_series(portfolio=portfolio, start=span["start"], end=span["end"])


# ---------------------------------------------------------------------------------------------
# Transactions


def _transaction_input(*, user: User, data: dict[str, Any]) -> TransactionInput:
    """Resolve the named instrument (creating a private one if need be) into a service input."""
    instrument = None
    if data.get("symbol"):
        instrument = instrument_resolve(
            user=user,
            symbol=data["symbol"],
            exchange=data.get("exchange") or "",
            currency=data.get("currency"),
        )
    return TransactionInput(
        type=data["type"],
        date=data["date"],
        quantity=data["quantity"],
        price=data["price"],
        fee=data["fee"],
        instrument=instrument,
        currency=data.get("currency"),
        fx_rate=data.get("fx_rate"),
        notes=data["notes"],
        external_id=data["external_id"],
    )


def _body_name(field: str) -> str:
    # The body names the instrument by `symbol`; the ledger calls it `instrument`.
    return "symbol" if field == "instrument" else field


@contextmanager
def _ledger_write() -> Iterator[None]:
    """One all-or-nothing write, with the ledger's errors named after the body's fields.

    A private instrument made for the entry must not outlive a refused entry, hence one
    transaction around resolving the instrument and recording the entry.
    """
    try:
        with db_transaction.atomic():
            yield
    except ApplicationError as exc:
        exc.extra = {_body_name(key): value for key, value in exc.extra.items()}
        raise
    except DjangoValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        raise DjangoValidationError(
            {_body_name(key): value for key, value in exc.error_dict.items()}
        ) from exc


# A PATCH that changes any of these without giving `fx_rate` gets the rate looked up again:
# the stored one belonged to the old date or currency.
_FX_INPUTS = frozenset({"date", "currency", "symbol", "exchange"})


def _merged_body(transaction: Transaction, patch: Any) -> Any:
    """The transaction as an input body, with the PATCH's fields laid over it."""
    if not isinstance(patch, dict):
        return patch
    instrument = transaction.instrument
    body = {
        "portfolio": transaction.portfolio_id,
        "type": transaction.type,
        "symbol": instrument.symbol if instrument else "",
        "exchange": instrument.exchange if instrument else "",
        "quantity": str(transaction.quantity),
        "price": str(transaction.price),
        "fee": str(transaction.fee),
        "currency": transaction.currency,
        "fx_rate": str(transaction.fx_rate),
        "date": transaction.date.isoformat(),
        "notes": transaction.notes,
        "external_id": transaction.external_id,
    }
    if {"symbol", "exchange"} & set(patch) and "currency" not in patch:
        body["currency"] = None
    if _FX_INPUTS & set(patch) and "fx_rate" not in patch:
        body["fx_rate"] = None
    return {**body, **patch}


@extend_schema(tags=["transactions"])
@extend_schema_view(get=extend_schema(parameters=[TransactionFilterSerializer]))
class TransactionListApi(PlannedListMixin, generics.ListAPIView):
    """Your transactions across portfolios, newest first; POST records one."""

    serializer_class = TransactionSerializer

    def get_queryset(self):
        filters = query_params(TransactionFilterSerializer, self.request)
        return transaction_list(user=self.request.user, **filters)

    @extend_schema(
        operation_id="transactions_create",
        request=TransactionInputSerializer,
        responses={201: TransactionSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = TransactionInputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with _ledger_write():
            created = transaction_create(
                portfolio=data["portfolio"],
                data=_transaction_input(user=request.user, data=data),
                request=request._request,
            )
        return Response(
            TransactionSerializer(created).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-transaction-detail", kwargs={"id": created.pk})},
        )


@extend_schema(tags=["transactions"])
class TransactionDetailApi(generics.GenericAPIView):
    """One of your transactions. A change recomputes the portfolio's holdings and snapshots."""

    serializer_class = TransactionSerializer

    def get_queryset(self):
        return transaction_list(user=self.request.user)

    def _get(self, id: int) -> Transaction:
        return get_object_or_404(self.get_queryset(), pk=id)

    @extend_schema(operation_id="transactions_retrieve")
    def get(self, request: Request, id: int) -> Response:
        return Response(TransactionSerializer(self._get(id)).data)

    @extend_schema(
        operation_id="transactions_update",
        request=TransactionInputSerializer,
        responses=TransactionSerializer,
    )
    def put(self, request: Request, id: int) -> Response:
        return self._update(request, self._get(id), request.data)

    @extend_schema(
        operation_id="transactions_partial_update",
        request=TransactionInputSerializer(partial=True),
        responses=TransactionSerializer,
    )
    def patch(self, request: Request, id: int) -> Response:
        current = self._get(id)
        return self._update(request, current, _merged_body(current, request.data))

    @extend_schema(operation_id="transactions_destroy", responses={204: DELETED_RESPONSE})
    def delete(self, request: Request, id: int) -> Response:
        transaction_delete(transaction=self._get(id), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request: Request, current: Transaction, body: Any) -> Response:
        serializer = TransactionInputSerializer(data=body, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["portfolio"].pk != current.portfolio_id:
            raise serializers.ValidationError(
                {"portfolio": ["A transaction cannot move: delete it and add it to the other."]}
            )
        with _ledger_write():
            updated = transaction_update(
                transaction=current,
                data=_transaction_input(user=request.user, data=data),
                request=request._request,
            )
        return Response(TransactionSerializer(updated).data)


# ---------------------------------------------------------------------------------------------
# Instruments


@extend_schema(tags=["instruments"], parameters=[InstrumentSearchSerializer])
class InstrumentListApi(generics.ListAPIView):
    """Shared instruments and your private ones, optionally narrowed by `search`."""

    serializer_class = InstrumentSerializer

    def get_queryset(self):
        query = query_params(InstrumentSearchSerializer, self.request).get("search", "")
        return instrument_search(user=self.request.user, query=query)


@extend_schema(tags=["instruments"], parameters=[DateRangeSerializer])
class InstrumentPricesApi(generics.ListAPIView):
    """An instrument's daily prices, oldest first; another user's private one is not found."""

    serializer_class = PriceBarSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PriceBar.objects.none()
        span = query_params(DateRangeSerializer, self.request)
        return price_bar_list(
            instrument=self._instrument(), start=span.get("start"), end=span.get("end")
        )

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if getattr(self, "swagger_fake_view", False):
            return context
        return {**context, "instrument": self._instrument()}

    def _instrument(self) -> Instrument:
        if not hasattr(self, "_visible_instrument"):
            visible = Instrument.objects.visible_to(self.request.user)
            self._visible_instrument = get_object_or_404(visible, pk=self.kwargs["id"])
        return self._visible_instrument
