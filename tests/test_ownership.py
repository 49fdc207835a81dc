"""Ownership, proven on every route of the project (SPEC §2).

The walker lists EVERY URL pattern (API and pages, recursively through every include) and
fails on one that is neither in REGISTRY nor public (`public_reason`). For each registered
route, user B asks for what belongs to user A, with every method:

- a route whose URL names one of A's rows (`ObjectRoute`) answers B 404; a 405 is accepted
  only when B's own row gets 405 for that method too, so the status reveals nothing;
- a route that answers from the caller's own rows (`ScopedRoute`: lists, the own profile)
  never shows B any of A's rows;
- a route whose body names a row by id (`BodyIdRoute`) answers 400 ("does not exist") for
  A's id and writes nothing;
- after every request, A's rows of every owned model are exactly as they were. Owned models
  are discovered (every concrete `OwnedModel`), so a later model is covered the day it lands;
- anonymous callers get 401 (API) or the sign-in page (pages), and the admin gives a
  non-staff user a redirect to sign in and never data.

Every negative check has its positive control (A does see the row, B's own row is served),
so a route that answers 404 to everyone, or shows nothing, cannot pass for a scoped one.

Adding a route? Add it to REGISTRY (or, if it serves no user data, to the public lists with
the reason). Adding an owned model? Add its factory to OWNED_FACTORIES.
"""

import itertools
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from allauth.usersessions.models import UserSession
from django import forms
from django.apps import apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, path, resolve, reverse
from django.utils import timezone
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.settings import spectacular_settings
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts.data_rights import EXPORT_JOB_TYPE, export_document
from accounts.insights import insights_dismiss
from accounts.models import Broker, PersonalApiToken, Preferences, Profile, User
from accounts.services import token_create, token_revoke
from audit.models import ActivityAction, ActivityLog, BackgroundJob
from audit.services import activity_record
from audit.services.jobs import job_create
from portfolio.models import (
    AlertEvent,
    Dividend,
    Holding,
    Instrument,
    LedgerTotals,
    Notification,
    NotificationKind,
    Portfolio,
    PortfolioSnapshot,
    PriceAlert,
    PriceBar,
    Transaction,
    TransactionType,
    WatchlistItem,
)
from portfolio.services import (
    TransactionInput,
    WatchlistEntry,
    dividend_create,
    portfolio_create,
    price_alert_create,
    price_alerts_check,
    transaction_create,
    watchlist_item_add,
)
from tests.bots import backtest_owned, owned_bots
from tests.bots import owned as bots_owned
from tests.bots.owned import BOTS_FACTORIES
from tests.factories import (
    PASSWORD,
    BrokerCredentialFactory,
    BrokerSessionFactory,
    UserFactory,
)
from trading_lab.api.fields import OwnedPrimaryKeyRelatedField
from trading_lab.models import OwnedModel, OwnedQuerySet

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


# --------------------------------------------------------------------------------------------
# Each user's world: one row of every owned model, each carrying text unique to its owner.


@dataclass(frozen=True)
class Seed:
    """What makes one user's rows recognisable in any answer."""

    text: str  # every mark of this user starts with it: seeing it means seeing their data
    moment: datetime  # a time stored on their rows that have no free text

    def mark(self, what: str) -> str:
        return f"{self.text}-{what}"


_serial = itertools.count(1)


def _profile(user: User, seed: Seed) -> Profile:
    Profile.objects.filter(user=user).update(display_name=seed.mark("profile"))
    return Profile.objects.get(user=user)


def _preferences(user: User, seed: Seed) -> Preferences:
    Preferences.objects.filter(user=user).update(disclosure_accepted_at=seed.moment)
    return Preferences.objects.get(user=user)


def _token(user: User, seed: Seed) -> PersonalApiToken:
    token, _ = token_create(user=user, name=f"{seed.mark('token')}-{next(_serial)}")
    return token


def _activity(user: User, seed: Seed) -> ActivityLog:
    return activity_record(
        user=user, action=ActivityAction.SIGN_IN, description=seed.mark("activity")
    )


def _job(user: User, seed: Seed) -> BackgroundJob:
    job = job_create(user=user, job_type="ownership-walk")
    BackgroundJob.objects.filter(pk=job.pk).update(message=seed.mark("job"))
    job.refresh_from_db()
    return job


# Every user dismisses this insight too: another user's dismiss and undismiss of the same id
# must leave this user's row alone.
SHARED_INSIGHT = "walk-shared-insight"


def _dismissed_insight(user: User, seed: Seed) -> Model:
    _, row = insights_dismiss(
        user=user, insight_ids=[SHARED_INSIGHT, seed.mark(f"insight-{next(_serial)}")]
    )
    return row


def _export_job(user: User, seed: Seed) -> BackgroundJob:
    """A finished account export: its document holds the user's marks."""
    job = job_create(user=user, job_type=EXPORT_JOB_TYPE)
    BackgroundJob.objects.filter(pk=job.pk).update(
        status="succeeded", result=export_document(user=user)
    )
    job.refresh_from_db()
    return job


def _broker_credential(user: User, seed: Seed) -> Model:
    return BrokerCredentialFactory(user=user, label=f"{seed.mark('broker')}-{next(_serial)}")


def _paper_credential(user: User, seed: Seed) -> Model:
    """A paper credential (no keys): connecting it succeeds, so it can serve a connect."""
    return BrokerCredentialFactory(
        user=user,
        broker=Broker.PAPER,
        label=f"{seed.mark('paper')}-{next(_serial)}",
        api_key=None,
        api_secret=None,
    )


def _broker_session(user: User, seed: Seed) -> Model:
    return BrokerSessionFactory(credential=_broker_credential(user, seed))


def _user_session(user: User, seed: Seed) -> UserSession:
    # A live session in the session store: allauth drops rows whose session is gone.
    browser = Client()
    browser.force_login(user)
    return UserSession.objects.create(
        user=user,
        session_key=browser.session.session_key,
        ip="192.0.2.10",
        user_agent=seed.mark("session"),
        last_seen_at=seed.moment,
    )


def _recent_day() -> date:
    # Recent, so the snapshots each ledger write rebuilds stay few.
    return timezone.localdate() - timedelta(days=6)


def _private_instrument(user: User, seed: Seed) -> Instrument:
    serial = next(_serial)
    return Instrument.objects.create(
        symbol=f"PRIV{serial}", owner=user, currency="USD", name=seed.mark(f"instrument-{serial}")
    )


def _priced_instrument(user: User, seed: Seed) -> Instrument:
    instrument = _private_instrument(user, seed)
    PriceBar.objects.create(instrument=instrument, date=_recent_day(), close=Decimal("12.5"))
    return instrument


def _portfolio(user: User, seed: Seed) -> Portfolio:
    return portfolio_create(
        user=user,
        name=f"{seed.mark('portfolio')}-{next(_serial)}",
        description=seed.mark("portfolio-description"),
    )


def _transaction(user: User, seed: Seed) -> Transaction:
    """A BUY of a private instrument in a new portfolio: it also makes a holding and snapshots."""
    return transaction_create(
        portfolio=_portfolio(user, seed),
        data=TransactionInput(
            type=TransactionType.BUY,
            date=_recent_day(),
            quantity=Decimal(3),
            price=Decimal("10.25"),
            fee=Decimal(1),
            instrument=_private_instrument(user, seed),
            notes=seed.mark("transaction"),
        ),
    )


def _holding(user: User, seed: Seed) -> Holding:
    made = _transaction(user, seed)
    return Holding.objects.get(portfolio=made.portfolio, instrument=made.instrument)


def _snapshot(user: User, seed: Seed) -> PortfolioSnapshot:
    return PortfolioSnapshot.objects.filter(portfolio=_transaction(user, seed).portfolio).latest(
        "date"
    )


def _ledger_totals(user: User, seed: Seed) -> LedgerTotals:
    return LedgerTotals.objects.get(portfolio=_transaction(user, seed).portfolio)


def _ledger_portfolio(user: User, seed: Seed) -> Portfolio:
    """The portfolio of the user's first seeded transaction (`rows["portfolio.Transaction"]`)."""
    return (
        Transaction.objects.for_user(user)
        .filter(notes=seed.mark("transaction"))
        .earliest("pk")
        .portfolio
    )


def _watchlist_item(user: User, seed: Seed) -> WatchlistItem:
    return watchlist_item_add(
        user=user, entry=WatchlistEntry(symbol=f"W{next(_serial)}", notes=seed.mark("watch"))
    )


def _price_alert(user: User, seed: Seed) -> PriceAlert:
    return price_alert_create(
        user=user,
        instrument=_private_instrument(user, seed),
        condition="above",
        target=Decimal(10),
        notes=seed.mark("alert"),
    )


def _alert_event(user: User, seed: Seed) -> AlertEvent:
    """A fired alert's event (firing also notifies the user)."""
    alert = _price_alert(user, seed)
    PriceBar.objects.create(instrument=alert.instrument, date=_recent_day(), close=Decimal(11))
    price_alerts_check(instrument_ids=[alert.instrument_id])
    return AlertEvent.objects.get(alert=alert)


def _notification(user: User, seed: Seed) -> Notification:
    return Notification.objects.create(
        user=user, kind=NotificationKind.ALERT_TRIGGERED, title=seed.mark("notification")
    )


def _dividend(user: User, seed: Seed) -> Dividend:
    """A pending dividend on a BUY of 3 shares, so confirming it really pays."""
    bought = transaction_create(
        portfolio=_portfolio(user, seed),
        data=TransactionInput(
            type=TransactionType.BUY,
            date=_recent_day(),
            quantity=Decimal(3),
            price=Decimal(4),
            instrument=_private_instrument(user, seed),
            notes=seed.mark("dividend-buy"),
        ),
    )
    return dividend_create(
        portfolio=bought.portfolio,
        instrument=bought.instrument,
        ex_date=_recent_day() + timedelta(days=1),
        amount_per_share=Decimal("0.5"),
        notes=seed.mark("dividend"),
    )


# Makes one more of a user's rows of each owned model. Every concrete OwnedModel needs one
# (test_every_owned_model_has_a_factory); one-per-user models return the existing row.
OWNED_FACTORIES: dict[str, Callable[[User, Seed], Model]] = {
    "accounts.Profile": _profile,
    "accounts.Preferences": _preferences,
    "accounts.PersonalApiToken": _token,
    "accounts.BrokerCredential": _broker_credential,
    "accounts.BrokerSession": _broker_session,
    "accounts.DismissedInsight": _dismissed_insight,
    # Before the seeded activity row: their services log activity too, and the dashboard shows
    # only the ten most recent rows, which must include the seeded one.
    "portfolio.WatchlistItem": _watchlist_item,
    "portfolio.PriceAlert": _price_alert,
    "portfolio.AlertEvent": _alert_event,
    "portfolio.Notification": _notification,
    "portfolio.Dividend": _dividend,
    **BOTS_FACTORIES,
    "audit.ActivityLog": _activity,
    "audit.BackgroundJob": _job,
    "portfolio.Instrument": _private_instrument,
    "portfolio.Portfolio": _portfolio,
    "portfolio.Transaction": _transaction,
    "portfolio.Holding": _holding,
    "portfolio.PortfolioSnapshot": _snapshot,
    "portfolio.LedgerTotals": _ledger_totals,
}

# User-owned rows of third-party apps (no for_user()): included in every snapshot, by owner.
THIRD_PARTY_OWNED: dict[type[Model], str] = {
    UserSession: "user",
    EmailAddress: "user",
    Authenticator: "user",
    SocialAccount: "user",
}


def owned_models() -> list[type[Model]]:
    return [
        model
        for model in apps.get_models()
        if issubclass(model, OwnedModel) and not model._meta.proxy
    ]


def _rows(queryset) -> list[dict[str, Any]]:
    return list(queryset.order_by("pk").values())


def snapshot(user: User) -> dict[str, list[dict[str, Any]]]:
    """Every row `user` owns, in every owned model, plus their user row."""
    rows = {
        model._meta.label: _rows(model._default_manager.all().for_user(user))
        for model in owned_models()
    }
    for model, owner in THIRD_PARTY_OWNED.items():
        rows[model._meta.label] = _rows(model._default_manager.filter(**{owner: user}))
    rows["accounts.User"] = _rows(User.objects.filter(pk=user.pk))
    return rows


def snapshot_everyone() -> dict[str, list[dict[str, Any]]]:
    """Every owned row of every user: a refused request must write nothing at all."""
    return {model._meta.label: _rows(model._default_manager.all()) for model in owned_models()}


@dataclass
class World:
    label: str
    user: User
    seed: Seed
    client: APIClient
    rows: dict[str, Model] = field(default_factory=dict)


def _world(label: str, day: int) -> World:
    user = UserFactory()
    seed = Seed(
        text=f"owned-by-{label}-{uuid.uuid4().hex[:10]}",
        moment=datetime(2001, 2, day, 4, 5, 6, 123456, tzinfo=UTC),
    )
    rows = {name: make(user, seed) for name, make in OWNED_FACTORIES.items()}
    rows["usersessions.UserSession"] = _user_session(user, seed)
    client = APIClient()
    client.force_login(user)
    return World(label, user, seed, client, rows)


@pytest.fixture
def a(db) -> World:
    """The owner whose rows everyone else tries to reach."""
    return _world("a", day=3)


@pytest.fixture
def b(db) -> World:
    """The other signed-in user."""
    return _world("b", day=4)


# --------------------------------------------------------------------------------------------
# Every route of the project.


@dataclass(frozen=True)
class Route:
    key: str  # the route's name (with namespace), or its pattern when it has none
    path: str  # the pattern, every include joined
    kwargs: tuple[str, ...]
    includes: tuple[str, ...]  # URLconf modules and namespaces it was included through
    callback: Callable

    @property
    def is_api(self) -> bool:
        return self.path.startswith("api/")


def _kwarg_names(pattern) -> list[str]:
    if hasattr(pattern, "converters"):
        return list(pattern.converters)
    regex = getattr(pattern, "regex", None)
    return list(regex.groupindex) if regex is not None else []


def _walk(patterns, prefix="", namespace=None, kwargs=(), includes=()) -> Iterator[Route]:
    for entry in patterns:
        text = prefix + str(entry.pattern)
        names = kwargs + tuple(_kwarg_names(entry.pattern))
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            module = entry.urlconf_name
            label = module if isinstance(module, str) else getattr(module, "__name__", "")
            yield from _walk(
                entry.url_patterns, text, inner, names, (*includes, label, inner or "")
            )
        elif isinstance(entry, URLPattern):
            name = entry.name and (f"{namespace}:{entry.name}" if namespace else entry.name)
            yield Route(name or text, text, names, includes, entry.callback)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns))


# Routes that serve no user's rows, each with the reason. Nothing else may be left out.
PUBLIC_INCLUDES = {
    # allauth's sign-in, sign-up, password, email, MFA and session pages act only on the
    # signed-in user's own account; allauth's own test suite covers them.
    "allauth.urls": "allauth's account pages",
}
PUBLIC_NAMESPACES = {
    # Staff only, and staff see everything by design (SPEC §2); what a non-staff user gets
    # is checked by test_the_admin_gives_non_staff_users_no_data.
    "admin": "the Django admin",
}
PUBLIC_NAMES = {
    "api-schema": "the OpenAPI document: describes routes, holds no user data",
    "api-docs": "Swagger UI over that document",
    "api-not-found": "the JSON 404 for API paths no route claims",
    "healthz": "database, cache, worker and scheduler health: nothing about any user",
}
# Static files (when a pattern serves them) are the same bytes for everyone.
PUBLIC_PREFIXES = {settings.STATIC_URL.lstrip("/"): "static files"}
# Staff-only API routes: staff see every user's rows by design (SPEC §2); everyone else is
# refused, which test_staff_api_routes_refuse_everyone_else checks on each of them.
STAFF_API_NAMES = {
    "api-staff-audit": "staff-only API: model history",
    "api-staff-jobs": "staff-only API: every job",
    "api-staff-health": "staff-only API: detailed health",
    "api-staff-config": "staff-only API: system configuration",
}


def public_reason(route: Route) -> str | None:
    for include, reason in PUBLIC_INCLUDES.items():
        if include in route.includes:
            return reason
    for namespace, reason in PUBLIC_NAMESPACES.items():
        if route.key.startswith(f"{namespace}:") or namespace in route.includes:
            return reason
    for prefix, reason in PUBLIC_PREFIXES.items():
        if route.path.startswith(prefix):
            return reason
    return PUBLIC_NAMES.get(route.key) or STAFF_API_NAMES.get(route.key)


# --------------------------------------------------------------------------------------------
# The registry: what each route that serves user data does with whose rows.


def _no_body(_: Any) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class ObjectRoute:
    """A route whose URL names one owned row by id."""

    make: Callable[[User, Seed], Model]  # a new row of the given user's, for the URL
    methods: frozenset[str]  # what the route serves the row's owner
    url_kwargs: Callable[[Model], dict[str, Any]] = lambda row: {"pk": row.pk}
    # A body the route would accept if the row were the caller's: only scoping stops it.
    body: Callable[[Model], dict[str, Any]] = _no_body


@dataclass(frozen=True)
class ScopedRoute:
    """A route that answers from the caller's own rows without naming one by id."""

    methods: frozenset[str]  # what the route serves (anything else must be 405)
    # Texts in the answer that give away the caller's rows: the owner must see them, nobody
    # else may. Empty when the route shows no rows (it still may not change anyone else's).
    shows: Callable[[World], list[str]] = lambda world: []
    # A body the route accepts for the caller's own data, so writes really happen.
    body: Callable[[World], dict[str, Any]] = _no_body
    # The URL's kwargs, when it has some that name no row (an insight id).
    url_kwargs: Callable[[World], dict[str, Any]] = _no_body


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _paper_body(world: World) -> dict[str, Any]:
    return {"broker": "paper", "label": f"{world.seed.mark('new-broker')}-{next(_serial)}"}


def _profile_body(world: World) -> dict[str, Any]:
    return {
        "display_name": world.seed.mark("renamed"),
        "country": "CH",
        "base_currency": "CHF",
        "timezone": "Europe/Zurich",
        "risk_tolerance": "aggressive",
        "investment_horizon": "long",
        "trading_style": "swing",
        "initial_capital": "1000",
    }


def _preferences_body(world: World) -> dict[str, Any]:
    return {
        "theme": "dark",
        "notify_alert_triggered": True,
        "notify_bot_order_filled": False,
        "notify_weekly_summary": True,
        "disclosure_accepted_at": _iso(world.seed.moment),
        "universe": "NIFTY50",
        "market_region": "india",
        "risk_profile": "moderate",
        "trading_modes": {"intraday": True, "swing": False, "options": False, "futures": False},
        "primary_mode": "intraday",
        "auxiliary_modes": [],
    }


def _profile_form(world: World) -> dict[str, Any]:
    return {**_profile_body(world), "initial_capital": "1000.00"}


def _preferences_form(world: World) -> dict[str, Any]:
    return {
        "theme": "light",
        "universe": "SP500",
        "market_region": "us",
        "risk_profile": "moderate",
        "notify_alert_triggered": "on",
        "trading_modes": ["swing"],
        "primary_mode": "swing",
    }


def _shown_date(world: World) -> str:
    # The preferences page shows when the disclosure was accepted, as an ISO date.
    return world.seed.moment.date().isoformat()


def _by_id(row: Model) -> dict[str, Any]:
    return {"id": row.pk}


def _deposit_body(portfolio: Model) -> dict[str, Any]:
    """A transaction body the API accepts for `portfolio` (if it is the caller's)."""
    return {
        "portfolio": portfolio.pk,
        "type": "DEPOSIT",
        # Explicit, so a PATCH turning a seeded BUY into a deposit drops its instrument too.
        "symbol": "",
        "price": "250.00",
        "date": _recent_day().isoformat(),
        "notes": "posted by the ownership walk",
    }


def _import_body(portfolio: Model) -> dict[str, Any]:
    """A JSON import into `portfolio` that really writes (a new external id every time)."""
    row = {**_deposit_body(portfolio), "external_id": f"walk-{next(_serial)}"}
    del row["portfolio"]
    return {"portfolio": portfolio.pk, "dry_run": False, "transactions": [row]}


def _deposit_form() -> dict[str, Any]:
    """The transaction page form of a deposit (the page names fields like the API body)."""
    return {**_deposit_body(Portfolio()), "portfolio": "", "quantity": "1", "fee": "0"}


def _import_file() -> dict[str, Any]:
    """A CSV the import page previews (a new file object per request: uploads are read once)."""
    row = f"{_recent_day().isoformat()},DEPOSIT,100,walk-page-{next(_serial)}"
    content = f"date,type,price,external_id\n{row}\n".encode()
    return {"file": SimpleUploadedFile("walk.csv", content, content_type="text/csv")}


def _traded_portfolio(user: User, seed: Seed) -> Portfolio:
    return _transaction(user, seed).portfolio


def _watchlist_body(world: World) -> dict[str, Any]:
    """Good for both methods: POST adds `symbol`, PUT replaces the list with `items`."""
    return {"symbol": f"WB{next(_serial)}", "items": [{"symbol": f"WB{next(_serial)}"}]}


def _alert_body(world: World) -> dict[str, Any]:
    instrument = world.rows["portfolio.Instrument"]
    return {"symbol": instrument.symbol, "condition": "below", "target": "3"}


def _dividend_body(portfolio: Model) -> dict[str, Any]:
    """A dividend for `portfolio` (if it is the caller's) of its owner's private instrument."""
    instrument = Instrument.objects.for_user(portfolio.user).earliest("pk")
    return {
        "portfolio": portfolio.pk,
        "symbol": instrument.symbol,
        "ex_date": (_recent_day() - timedelta(days=next(_serial))).isoformat(),
        "amount_per_share": "0.25",
    }


REGISTRY: dict[str, ObjectRoute | ScopedRoute] = {
    # ---- API (SPEC §6)
    "api-profile": ScopedRoute(
        methods=frozenset({"GET", "PUT", "PATCH"}),
        shows=lambda w: [w.seed.mark("profile")],
        body=_profile_body,
    ),
    "api-preferences": ScopedRoute(
        methods=frozenset({"GET", "PUT", "PATCH"}),
        shows=lambda w: [_iso(w.seed.moment)],
        body=_preferences_body,
    ),
    "api-tokens": ScopedRoute(
        methods=frozenset({"GET", "POST"}),
        shows=lambda w: [w.rows["accounts.PersonalApiToken"].name],
        body=lambda w: {"name": w.seed.mark("new-token")},
    ),
    "api-token-detail": ObjectRoute(
        make=_token, methods=frozenset({"GET", "DELETE"}), url_kwargs=lambda t: {"id": t.pk}
    ),
    "api-token-revoke": ObjectRoute(
        make=_token, methods=frozenset({"POST"}), url_kwargs=lambda t: {"id": t.pk}
    ),
    # ---- Insights, the localStorage import and data rights (accounts.insights_apis,
    # accounts.data_rights_apis)
    "api-insights-dismissed": ScopedRoute(
        methods=frozenset({"GET"}),
        shows=lambda w: [w.rows["accounts.DismissedInsight"].insight_id],
    ),
    "api-insight-dismiss": ScopedRoute(
        methods=frozenset({"POST", "DELETE"}),
        url_kwargs=lambda w: {"insight_id": SHARED_INSIGHT},
    ),
    "api-preferences-import-local": ScopedRoute(
        methods=frozenset({"POST"}),
        body=lambda w: {
            "arise_risk": '"aggressive"',
            "arise_watchlist": f'["IMP{next(_serial)}"]',
            "arise_dismissed_insights_v1": f'["walk-import-{next(_serial)}"]',
        },
    ),
    "api-me-export": ScopedRoute(
        methods=frozenset({"GET"}),
        shows=lambda w: [
            w.seed.mark("profile"),
            w.seed.mark("transaction"),
            w.seed.mark("activity"),
            w.rows["accounts.BrokerCredential"].label,
        ],
    ),
    # The caller deletes their own account (the last method sent): the other's stays.
    "api-me": ScopedRoute(methods=frozenset({"DELETE"}), body=lambda w: {"password": PASSWORD}),
    "api-broker-credentials": ScopedRoute(
        methods=frozenset({"GET", "POST"}),
        shows=lambda w: [w.rows["accounts.BrokerCredential"].label],
        body=_paper_body,
    ),
    "api-broker-credential-detail": ObjectRoute(
        make=_broker_credential,
        methods=frozenset({"GET", "PUT", "PATCH", "DELETE"}),
        url_kwargs=_by_id,
        body=lambda c: {"label": f"{c.label}-renamed"},
    ),
    "api-broker-credential-connect": ObjectRoute(
        make=_paper_credential, methods=frozenset({"POST"}), url_kwargs=_by_id
    ),
    "api-broker-credential-disconnect": ObjectRoute(
        make=_broker_credential, methods=frozenset({"POST"}), url_kwargs=_by_id
    ),
    "api-activity": ScopedRoute(
        methods=frozenset({"GET"}), shows=lambda w: [w.seed.mark("activity")]
    ),
    "api-jobs": ScopedRoute(methods=frozenset({"GET"}), shows=lambda w: [w.seed.mark("job")]),
    "api-job-detail": ObjectRoute(
        make=_job, methods=frozenset({"GET"}), url_kwargs=lambda j: {"id": j.pk}
    ),
    "api-portfolios": ScopedRoute(
        methods=frozenset({"GET", "POST"}),
        shows=lambda w: [w.rows["portfolio.Portfolio"].name],
        body=lambda w: {"name": f"{w.seed.mark('api-portfolio')}-{next(_serial)}"},
    ),
    "api-portfolio-detail": ObjectRoute(
        make=_portfolio,
        methods=frozenset({"GET", "PUT", "PATCH", "DELETE"}),
        url_kwargs=_by_id,
        body=lambda p: {"name": f"{p.name}-renamed", "description": "renamed"},
    ),
    "api-portfolio-holdings": ObjectRoute(
        make=_traded_portfolio, methods=frozenset({"GET"}), url_kwargs=_by_id
    ),
    "api-portfolio-performance": ObjectRoute(
        make=_traded_portfolio, methods=frozenset({"GET"}), url_kwargs=_by_id
    ),
    "api-portfolio-series": ObjectRoute(
        make=_traded_portfolio, methods=frozenset({"GET"}), url_kwargs=_by_id
    ),
    "api-portfolio-history": ObjectRoute(
        make=_traded_portfolio, methods=frozenset({"GET"}), url_kwargs=_by_id
    ),
    "api-transaction-history": ObjectRoute(
        make=_transaction, methods=frozenset({"GET"}), url_kwargs=_by_id
    ),
    "api-transactions": ScopedRoute(
        methods=frozenset({"GET", "POST"}),
        shows=lambda w: [w.seed.mark("transaction")],
        body=lambda w: _deposit_body(w.rows["portfolio.Portfolio"]),
    ),
    "api-transaction-detail": ObjectRoute(
        make=_transaction,
        methods=frozenset({"GET", "PUT", "PATCH", "DELETE"}),
        url_kwargs=_by_id,
        body=lambda t: _deposit_body(t.portfolio),
    ),
    "api-transactions-import": ScopedRoute(
        methods=frozenset({"POST"}), body=lambda w: _import_body(w.rows["portfolio.Portfolio"])
    ),
    "api-transactions-export": ScopedRoute(
        methods=frozenset({"GET"}), shows=lambda w: [w.seed.mark("transaction")]
    ),
    "api-instruments": ScopedRoute(
        methods=frozenset({"GET"}), shows=lambda w: [w.rows["portfolio.Instrument"].name]
    ),
    "api-instrument-prices": ObjectRoute(
        make=_priced_instrument, methods=frozenset({"GET"}), url_kwargs=_by_id
    ),
    "api-watchlist": ScopedRoute(
        methods=frozenset({"GET", "POST", "PUT"}),
        shows=lambda w: [w.rows["portfolio.WatchlistItem"].notes],
        body=_watchlist_body,
    ),
    "api-watchlist-item": ObjectRoute(
        make=_watchlist_item,
        methods=frozenset({"DELETE"}),
        url_kwargs=lambda item: {"symbol": item.symbol},
    ),
    "api-alerts": ScopedRoute(
        methods=frozenset({"GET", "POST"}),
        shows=lambda w: [w.rows["portfolio.PriceAlert"].notes],
        body=_alert_body,
    ),
    "api-alert-detail": ObjectRoute(
        make=_price_alert,
        methods=frozenset({"GET", "PUT", "PATCH", "DELETE"}),
        url_kwargs=_by_id,
        body=lambda alert: {"symbol": alert.instrument.symbol, "condition": "below", "target": "3"},
    ),
    "api-alert-events": ObjectRoute(
        make=lambda user, seed: _alert_event(user, seed).alert,
        methods=frozenset({"GET"}),
        url_kwargs=_by_id,
    ),
    "api-alert-rearm": ObjectRoute(
        make=_price_alert, methods=frozenset({"POST"}), url_kwargs=_by_id
    ),
    "api-notifications": ScopedRoute(
        methods=frozenset({"GET"}), shows=lambda w: [w.rows["portfolio.Notification"].title]
    ),
    "api-notification-read": ObjectRoute(
        make=_notification, methods=frozenset({"POST"}), url_kwargs=_by_id
    ),
    "api-dividends": ScopedRoute(
        methods=frozenset({"GET", "POST"}),
        shows=lambda w: [w.rows["portfolio.Dividend"].notes],
        body=lambda w: _dividend_body(w.rows["portfolio.Portfolio"]),
    ),
    "api-dividend-detail": ObjectRoute(
        make=_dividend,
        methods=frozenset({"GET", "PUT", "PATCH", "DELETE"}),
        url_kwargs=_by_id,
        body=lambda d: {"ex_date": d.ex_date.isoformat(), "amount_per_share": "0.75"},
    ),
    "api-dividend-confirm": ObjectRoute(
        make=_dividend, methods=frozenset({"POST"}), url_kwargs=_by_id
    ),
    "api-dividend-reject": ObjectRoute(
        make=_dividend, methods=frozenset({"POST"}), url_kwargs=_by_id
    ),
    # ---- Pages (SPEC §7). FormView pages take PUT as a POST, so they list it.
    "dashboard": ScopedRoute(
        methods=frozenset({"GET"}),
        shows=lambda w: [w.seed.mark("profile"), w.seed.mark("activity"), w.seed.mark("job")],
    ),
    "profile": ScopedRoute(
        methods=frozenset({"GET", "POST", "PUT"}),
        shows=lambda w: [w.seed.mark("profile")],
        body=_profile_form,
    ),
    "profile_brokers": ScopedRoute(
        methods=frozenset({"GET", "POST", "PUT"}),
        shows=lambda w: [w.rows["accounts.BrokerCredential"].label],
        body=_paper_body,
    ),
    "profile_broker_edit": ObjectRoute(
        make=_broker_credential,
        methods=frozenset({"GET", "POST"}),
        body=lambda c: {"label": f"{c.label}-renamed"},
    ),
    # Without a `credential` parameter it names no row (a redirect with a message); another
    # user's id there is 404 (tests/accounts/test_broker_kite.py).
    "profile_broker_callback": ScopedRoute(methods=frozenset({"GET"})),
    "profile_broker_connect": ObjectRoute(make=_paper_credential, methods=frozenset({"POST"})),
    "profile_broker_disconnect": ObjectRoute(make=_broker_credential, methods=frozenset({"POST"})),
    "profile_broker_delete": ObjectRoute(make=_broker_credential, methods=frozenset({"POST"})),
    "profile_stats": ScopedRoute(
        methods=frozenset({"GET"}),
        shows=lambda w: [w.rows["portfolio.Portfolio"].name, w.rows["bots.Backtest"].name],
    ),
    "profile_preferences": ScopedRoute(
        methods=frozenset({"GET", "POST", "PUT"}),
        shows=lambda w: [_shown_date(w)],
        body=_preferences_form,
    ),
    "profile_security": ScopedRoute(
        methods=frozenset({"GET"}),
        shows=lambda w: [
            w.rows["accounts.PersonalApiToken"].name,
            w.rows["usersessions.UserSession"].user_agent,
        ],
    ),
    "profile_activity": ScopedRoute(
        methods=frozenset({"GET"}), shows=lambda w: [w.seed.mark("activity")]
    ),
    "profile_activity_export": ScopedRoute(
        methods=frozenset({"GET"}), shows=lambda w: [w.seed.mark("activity")]
    ),
    "profile_token_create": ScopedRoute(
        methods=frozenset({"POST"}), body=lambda w: {"name": w.seed.mark("page-token")}
    ),
    "profile_token_revoke": ObjectRoute(make=_token, methods=frozenset({"POST"})),
    "profile_session_end": ObjectRoute(make=_user_session, methods=frozenset({"POST"})),
    "profile_export": ScopedRoute(
        methods=frozenset({"GET"}),
        shows=lambda w: [w.seed.mark("profile"), w.seed.mark("transaction")],
    ),
    "profile_export_download": ObjectRoute(make=_export_job, methods=frozenset({"GET"})),
    # A POST without a recent re-authentication is sent to confirm the password first.
    "profile_delete": ScopedRoute(
        methods=frozenset({"GET", "POST"}), body=lambda w: {"confirm": w.user.email}
    ),
    # ---- Portfolio pages
    "portfolio_list": ScopedRoute(
        methods=frozenset({"GET", "POST"}),
        shows=lambda w: [w.rows["portfolio.Portfolio"].name],
        body=lambda w: {
            "name": f"{w.seed.mark('page-portfolio')}-{next(_serial)}",
            "base_currency": "USD",
        },
    ),
    "portfolio_detail": ObjectRoute(make=_traded_portfolio, methods=frozenset({"GET"})),
    "portfolio_edit": ObjectRoute(
        make=_portfolio,
        methods=frozenset({"GET", "POST"}),
        body=lambda p: {"name": f"{p.name}-renamed", "base_currency": "USD"},
    ),
    "portfolio_delete": ObjectRoute(make=_portfolio, methods=frozenset({"GET", "POST"})),
    "portfolio_transactions": ObjectRoute(make=_traded_portfolio, methods=frozenset({"GET"})),
    "transaction_add": ObjectRoute(
        make=_portfolio, methods=frozenset({"GET", "POST"}), body=lambda p: _deposit_form()
    ),
    "portfolio_import": ObjectRoute(
        make=_portfolio, methods=frozenset({"GET", "POST"}), body=lambda p: _import_file()
    ),
    "transaction_edit": ObjectRoute(
        make=_transaction, methods=frozenset({"GET", "POST"}), body=lambda t: _deposit_form()
    ),
    "transaction_delete": ObjectRoute(make=_transaction, methods=frozenset({"GET", "POST"})),
    # ---- Watchlist, alert, notification and dividend pages
    "watchlist": ScopedRoute(
        methods=frozenset({"GET", "POST"}),
        shows=lambda w: [w.rows["portfolio.WatchlistItem"].notes],
        # The page adds known instruments only: a new one of the caller's each time.
        body=lambda w: {"symbol": _private_instrument(w.user, w.seed).symbol},
    ),
    "watchlist_delete": ObjectRoute(make=_watchlist_item, methods=frozenset({"GET", "POST"})),
    "alert_list": ScopedRoute(
        methods=frozenset({"GET", "POST"}),
        shows=lambda w: [w.rows["portfolio.PriceAlert"].notes],
        body=_alert_body,
    ),
    "alert_detail": ObjectRoute(make=_price_alert, methods=frozenset({"GET"})),
    "alert_edit": ObjectRoute(
        make=_price_alert,
        methods=frozenset({"GET", "POST"}),
        body=lambda alert: {"symbol": alert.instrument.symbol, "condition": "below", "target": "3"},
    ),
    "alert_delete": ObjectRoute(make=_price_alert, methods=frozenset({"GET", "POST"})),
    "alert_rearm": ObjectRoute(make=_price_alert, methods=frozenset({"POST"})),
    "notification_list": ScopedRoute(
        methods=frozenset({"GET"}), shows=lambda w: [w.rows["portfolio.Notification"].title]
    ),
    "notification_read": ObjectRoute(make=_notification, methods=frozenset({"POST"})),
    "notifications_read_all": ScopedRoute(methods=frozenset({"POST"})),
    "dividend_list": ScopedRoute(
        methods=frozenset({"GET"}), shows=lambda w: [w.rows["portfolio.Dividend"].notes]
    ),
    "dividend_add": ObjectRoute(
        make=_portfolio,
        methods=frozenset({"GET", "POST"}),
        body=lambda p: {**_dividend_body(p), "portfolio": "", "kind": "cash"},
    ),
    "dividends_propose": ObjectRoute(make=_traded_portfolio, methods=frozenset({"POST"})),
    "dividend_edit": ObjectRoute(
        make=_dividend,
        methods=frozenset({"GET", "POST"}),
        body=lambda d: {
            "ex_date": d.ex_date.isoformat(),
            "amount_per_share": "0.75",
            "kind": "cash",
        },
    ),
    "dividend_delete": ObjectRoute(make=_dividend, methods=frozenset({"GET", "POST"})),
    "dividend_confirm": ObjectRoute(make=_dividend, methods=frozenset({"POST"})),
    "dividend_reject": ObjectRoute(make=_dividend, methods=frozenset({"POST"})),
    # ---- Paper trading API and pages (bots.paper_apis, bots.paper_views)
    "api-paper-accounts": ScopedRoute(
        methods=frozenset({"GET", "POST"}),
        shows=lambda w: [w.rows["bots.PaperAccount"].name],
        body=lambda w: {"name": w.seed.mark(f"api-paper-{next(_serial)}"), "quote_currency": "USD"},
    ),
    "api-paper-account-detail": ObjectRoute(
        make=bots_owned.paper_account, methods=frozenset({"GET"}), url_kwargs=_by_id
    ),
    "api-paper-account-reset": ObjectRoute(
        make=bots_owned.paper_account, methods=frozenset({"POST"}), url_kwargs=_by_id
    ),
    "api-paper-balances": ScopedRoute(methods=frozenset({"GET"})),
    "api-paper-positions": ScopedRoute(methods=frozenset({"GET"})),
    "api-orders": ScopedRoute(
        methods=frozenset({"GET", "POST"}),
        shows=lambda w: [w.rows["bots.Order"].client_order_id],
        body=lambda w: bots_owned.order_body(w.rows["bots.PaperAccount"]),
    ),
    "api-order-detail": ObjectRoute(
        make=bots_owned.order, methods=frozenset({"GET"}), url_kwargs=_by_id
    ),
    "api-order-cancel": ObjectRoute(
        make=bots_owned.open_order, methods=frozenset({"POST"}), url_kwargs=_by_id
    ),
    "paper": ScopedRoute(
        methods=frozenset({"GET"}), shows=lambda w: [w.rows["bots.PaperAccount"].name]
    ),
    "paper_account": ObjectRoute(make=bots_owned.paper_account, methods=frozenset({"GET"})),
    "paper_account_create": ScopedRoute(
        methods=frozenset({"GET", "POST"}),
        body=lambda w: {
            "name": w.seed.mark(f"page-paper-{next(_serial)}"),
            "quote_currency": "USD",
            "starting_balance": "100",
        },
    ),
    "paper_order_place": ObjectRoute(
        make=bots_owned.paper_account,
        methods=frozenset({"POST"}),
        body=bots_owned.ticket_body,
    ),
    "paper_account_reset": ObjectRoute(
        make=bots_owned.paper_account, methods=frozenset({"GET", "POST"})
    ),
    "paper_order_cancel": ObjectRoute(make=bots_owned.open_order, methods=frozenset({"POST"})),
    # ---- Backtests and signal validations (bots.backtest_apis, bots.backtest_views)
    "api-backtests": ScopedRoute(
        methods=frozenset({"GET", "POST"}),
        shows=lambda w: [w.rows["bots.Backtest"].name],
        body=backtest_owned.backtest_body,
    ),
    "api-backtest-detail": ObjectRoute(
        make=backtest_owned.backtest, methods=frozenset({"GET", "DELETE"}), url_kwargs=_by_id
    ),
    "api-backtest-cancel": ObjectRoute(
        make=backtest_owned.queued_backtest, methods=frozenset({"POST"}), url_kwargs=_by_id
    ),
    "api-backtest-export": ObjectRoute(
        make=backtest_owned.backtest, methods=frozenset({"GET"}), url_kwargs=_by_id
    ),
    "api-signal-validations": ScopedRoute(
        methods=frozenset({"GET", "POST"}),
        shows=lambda w: [w.seed.mark("model")],
        body=backtest_owned.signal_validation_body,
    ),
    "api-signal-validation-detail": ObjectRoute(
        make=backtest_owned.signal_validation, methods=frozenset({"GET"}), url_kwargs=_by_id
    ),
    "backtest_list": ScopedRoute(
        methods=frozenset({"GET", "POST"}),
        shows=lambda w: [w.rows["bots.Backtest"].name],
        body=backtest_owned.backtest_form,
    ),
    "backtest_compare": ScopedRoute(methods=frozenset({"GET"})),
    "backtest_detail": ObjectRoute(make=backtest_owned.backtest, methods=frozenset({"GET"})),
    "backtest_cancel": ObjectRoute(
        make=backtest_owned.queued_backtest, methods=frozenset({"POST"})
    ),
    "backtest_delete": ObjectRoute(
        make=backtest_owned.backtest, methods=frozenset({"GET", "POST"})
    ),
    "signal_validation_list": ScopedRoute(
        methods=frozenset({"GET"}), shows=lambda w: [w.seed.mark("model")]
    ),
    # ---- Bots API (bots.bot_apis)
    "api-bots": ScopedRoute(
        methods=frozenset({"GET", "POST"}),
        shows=lambda w: [w.rows["bots.Bot"].name],
        body=owned_bots.bot_body,
    ),
    "api-bot-preview": ScopedRoute(
        methods=frozenset({"POST"}),
        body=lambda w: owned_bots.preview_body(w.rows["bots.PaperAccount"]),
    ),
    "api-bot-detail": ObjectRoute(
        make=owned_bots.bot,
        methods=frozenset({"GET", "PUT", "PATCH", "DELETE"}),
        url_kwargs=_by_id,
        body=owned_bots.bot_update_body,
    ),
    "api-bot-start": ObjectRoute(
        make=owned_bots.bot, methods=frozenset({"POST"}), url_kwargs=_by_id
    ),
    "api-bot-pause": ObjectRoute(
        make=owned_bots.running_bot, methods=frozenset({"POST"}), url_kwargs=_by_id
    ),
    "api-bot-resume": ObjectRoute(
        make=owned_bots.paused_bot, methods=frozenset({"POST"}), url_kwargs=_by_id
    ),
    "api-bot-stop": ObjectRoute(
        make=owned_bots.running_bot, methods=frozenset({"POST"}), url_kwargs=_by_id
    ),
    "api-bot-history": ObjectRoute(
        make=owned_bots.running_bot, methods=frozenset({"GET"}), url_kwargs=_by_id
    ),
    **{
        f"api-bot-{rows}": ObjectRoute(
            make=owned_bots.bot, methods=frozenset({"GET"}), url_kwargs=_by_id
        )
        for rows in ("runs", "deals", "orders", "ticks")
    },
    # ---- Bot pages (bots.bot_views)
    "bot_list": ScopedRoute(methods=frozenset({"GET"}), shows=lambda w: [w.rows["bots.Bot"].name]),
    "bot_create": ScopedRoute(methods=frozenset({"GET", "POST"}), body=owned_bots.bot_form),
    "bot_detail": ObjectRoute(make=owned_bots.bot, methods=frozenset({"GET"})),
    "bot_edit": ObjectRoute(
        make=owned_bots.bot, methods=frozenset({"GET", "POST"}), body=owned_bots.bot_edit_form
    ),
    "bot_delete": ObjectRoute(make=owned_bots.bot, methods=frozenset({"GET", "POST"})),
    "bot_start": ObjectRoute(make=owned_bots.bot, methods=frozenset({"POST"})),
    "bot_pause": ObjectRoute(make=owned_bots.running_bot, methods=frozenset({"POST"})),
    "bot_resume": ObjectRoute(make=owned_bots.paused_bot, methods=frozenset({"POST"})),
    "bot_stop": ObjectRoute(make=owned_bots.running_bot, methods=frozenset({"POST"})),
}


# --------------------------------------------------------------------------------------------
# Requests.


def send(client: APIClient, route: Route, method: str, kwargs: dict, body: dict):
    url = reverse(route.key, kwargs=kwargs or None)
    call = getattr(client, method.lower())
    if method == "GET":
        return call(url)
    if route.is_api:
        return call(url, body, format="json")
    if method == "POST":
        return call(url, body)
    return call(url, urlencode(body, doseq=True), content_type="application/x-www-form-urlencoded")


def text_of(response) -> str:
    content = getattr(response, "content", b"")
    return content.decode(errors="replace") if isinstance(content, bytes) else ""


def describe(route: Route, method: str, response) -> str:
    return f"{method} /{route.path} ({route.key}) answered {response.status_code}"


ROUTES = {route.key: route for route in all_routes()}


def _registered(kind: type) -> list[str]:
    return sorted(key for key, entry in REGISTRY.items() if isinstance(entry, kind))


# --------------------------------------------------------------------------------------------
# Coverage: every route is registered or public; the registry is not stale.


def test_every_route_is_registered_or_public():
    unlisted = [
        f"/{route.path} ({route.key})"
        for route in all_routes()
        if route.key not in REGISTRY and public_reason(route) is None
    ]

    assert unlisted == [], (
        "Routes the ownership walker does not cover: add each to REGISTRY in "
        f"tests/test_ownership.py (or to a public list, with the reason): {unlisted}"
    )


def test_the_registry_and_public_names_are_all_real_routes():
    assert sorted(set(REGISTRY) - set(ROUTES)) == []
    assert sorted(set(PUBLIC_NAMES) - set(ROUTES)) == []


def test_registered_routes_are_not_also_public():
    assert [key for key in REGISTRY if public_reason(ROUTES[key])] == []


def test_every_owned_model_has_a_factory():
    missing = sorted({m._meta.label for m in owned_models()} - set(OWNED_FACTORIES))

    assert missing == [], f"Add a factory to OWNED_FACTORIES for: {missing}"


def test_for_user_returns_exactly_each_users_own_rows(a, b):
    for model in owned_models():
        queryset = model._default_manager.all()
        assert isinstance(queryset, OwnedQuerySet), model
        mine = set(queryset.for_user(a.user).values_list("pk", flat=True))
        assert a.rows[model._meta.label].pk in mine, model
        assert b.rows[model._meta.label].pk not in mine, model


# --------------------------------------------------------------------------------------------
# Anonymous callers.


def _sign_in_path() -> str:
    return reverse(settings.LOGIN_URL)


@pytest.mark.parametrize("key", sorted(REGISTRY))
def test_anonymous_callers_get_401_or_the_sign_in_page_on_every_method(key, a):
    route, entry = ROUTES[key], REGISTRY[key]
    target = entry.make(a.user, a.seed) if isinstance(entry, ObjectRoute) else None
    kwargs = entry.url_kwargs(target) if target is not None else entry.url_kwargs(a)
    before = snapshot(a.user)

    for method in METHODS:
        response = send(APIClient(), route, method, kwargs, {})

        if route.is_api:
            assert response.status_code == HTTPStatus.UNAUTHORIZED, describe(
                route, method, response
            )
        else:
            assert response.status_code == HTTPStatus.FOUND, describe(route, method, response)
            assert urlsplit(response["Location"]).path == _sign_in_path()
        assert a.seed.text not in text_of(response)
        assert snapshot(a.user) == before, describe(route, method, response)


# --------------------------------------------------------------------------------------------
# Another user's row named in the URL: 404 on every method.


@pytest.mark.parametrize("key", _registered(ObjectRoute))
def test_another_users_object_is_not_found_on_every_method_and_stays_unchanged(key, a, b):
    route, entry = ROUTES[key], REGISTRY[key]
    target = entry.make(a.user, a.seed)
    assert set(entry.url_kwargs(target)) == set(route.kwargs), "url_kwargs must fill the route"
    before = snapshot(a.user)

    for method in METHODS:
        response = send(b.client, route, method, entry.url_kwargs(target), entry.body(target))

        if response.status_code == HTTPStatus.METHOD_NOT_ALLOWED and method not in entry.methods:
            # Allowed only if B's own row gets 405 too: then the answer says nothing about A.
            own = entry.make(b.user, b.seed)
            mine = send(b.client, route, method, entry.url_kwargs(own), entry.body(own))
            assert mine.status_code == HTTPStatus.METHOD_NOT_ALLOWED, describe(route, method, mine)
        else:
            assert response.status_code == HTTPStatus.NOT_FOUND, describe(route, method, response)
        assert a.seed.text not in text_of(response), describe(route, method, response)
        assert snapshot(a.user) == before, f"{describe(route, method, response)} changed A's rows"

    # Positive control: the owner is served every method the route lists.
    for method in sorted(entry.methods):
        own = entry.make(a.user, a.seed)
        response = send(a.client, route, method, entry.url_kwargs(own), entry.body(own))
        assert response.status_code < HTTPStatus.BAD_REQUEST, describe(route, method, response)


# --------------------------------------------------------------------------------------------
# Routes that answer from the caller's own rows: B never sees or changes A's.


@pytest.mark.parametrize("key", _registered(ScopedRoute))
def test_a_scoped_route_never_shows_or_changes_another_users_rows(key, a, b):
    route, entry = ROUTES[key], REGISTRY[key]
    hidden = [a.seed.text, *entry.shows(a)]
    # Positive control, before anything is written: each user does see their own rows here.
    if "GET" in entry.methods:
        for world in (a, b):
            page = text_of(send(world.client, route, "GET", entry.url_kwargs(world), {}))
            assert [text for text in entry.shows(world) if text not in page] == [], world.label
    before = snapshot(a.user)

    for method in METHODS:
        response = send(b.client, route, method, entry.url_kwargs(b), entry.body(b))

        if method in entry.methods:
            assert response.status_code < HTTPStatus.BAD_REQUEST, describe(route, method, response)
        else:
            assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED, describe(
                route, method, response
            )
        leaked = [text for text in hidden if text in text_of(response)]
        assert leaked == [], f"{describe(route, method, response)} showed A's {leaked}"
        assert snapshot(a.user) == before, f"{describe(route, method, response)} changed A's rows"


# --------------------------------------------------------------------------------------------
# Ids in request bodies: another user's id answers 400 "does not exist" and writes nothing.


@dataclass(frozen=True)
class BodyIdRoute:
    """A route whose request body names an owned row by id."""

    route: str
    method: str
    field: str  # the body field holding the id (dotted when nested), as errors name it
    make: Callable[[User, Seed], Model]  # a row of the given user's for the body to name
    body: Callable[[Model], dict[str, Any]]  # the body naming that row
    url_kwargs: Callable[[World], dict[str, Any]] = _no_body


def _seeded_transaction(world: World) -> dict[str, Any]:
    return {"id": world.rows["portfolio.Transaction"].pk}


# test_every_api_route_taking_ids_in_its_body_is_registered makes sure each route whose body
# takes an id is listed here. An update names the transaction's own portfolio: moving a
# transaction to another portfolio is refused for everyone.
BODY_ID_ROUTES: list[BodyIdRoute] = [
    BodyIdRoute("api-transactions", "POST", "portfolio", _portfolio, _deposit_body),
    BodyIdRoute("api-transactions-import", "POST", "portfolio", _portfolio, _import_body),
    BodyIdRoute("api-dividends", "POST", "portfolio", _portfolio, _dividend_body),
    *(
        BodyIdRoute(
            "api-transaction-detail",
            method,
            "portfolio",
            _ledger_portfolio,
            _deposit_body,
            url_kwargs=_seeded_transaction,
        )
        for method in ("PUT", "PATCH")
    ),
    BodyIdRoute("api-orders", "POST", "account", bots_owned.paper_account, bots_owned.order_body),
    BodyIdRoute(
        "api-bots", "POST", "account", bots_owned.paper_account, owned_bots.bot_body_naming
    ),
    BodyIdRoute(
        "api-bot-preview", "POST", "account", bots_owned.paper_account, owned_bots.preview_body
    ),
    # A private instrument is the owner's own; shared ones are everyone's to name.
    BodyIdRoute(
        "api-bot-preview",
        "POST",
        "instrument",
        _private_instrument,
        lambda instrument: {"config": owned_bots.DCA_CONFIG, "instrument": instrument.pk},
    ),
    *(
        BodyIdRoute(
            "api-bot-detail",
            method,
            "account",
            bots_owned.paper_account,
            owned_bots.bot_body_naming,
            url_kwargs=lambda w: {"id": w.rows["bots.Bot"].pk},
        )
        for method in ("PUT", "PATCH")
    ),
]


def check_body_id_route(entry: BodyIdRoute, a: World, b: World, routes: dict[str, Route]):
    route = routes[entry.route]
    foreign = entry.make(a.user, a.seed)
    before = snapshot_everyone()

    response = send(b.client, route, entry.method, entry.url_kwargs(b), entry.body(foreign))

    assert response.status_code == HTTPStatus.BAD_REQUEST, describe(route, entry.method, response)
    if route.is_api:
        messages = " ".join(response.json()["errors"].get(entry.field, []))
        assert "does not exist" in messages, response.json()
    assert snapshot_everyone() == before, f"{describe(route, entry.method, response)} wrote"
    # Positive control: the same body naming B's own row is accepted.
    own = entry.make(b.user, b.seed)
    accepted = send(b.client, route, entry.method, entry.url_kwargs(b), entry.body(own))
    assert accepted.status_code < HTTPStatus.BAD_REQUEST, describe(route, entry.method, accepted)


# The mechanism's own probe: two tiny API views that revoke the token a body names. One
# resolves the id among the caller's tokens, the other among everyone's (the bug to catch).


class _ScopedRevokeSerializer(serializers.Serializer):
    token = OwnedPrimaryKeyRelatedField(queryset=PersonalApiToken.objects.all())


class _LeakyRevokeSerializer(serializers.Serializer):
    token = serializers.PrimaryKeyRelatedField(queryset=PersonalApiToken.objects.all())


class _ScopedRevokeProbe(APIView):
    serializer_class: type[serializers.Serializer] = _ScopedRevokeSerializer

    def post(self, request: Request) -> Response:
        serializer = self.serializer_class(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token_revoke(token=serializer.validated_data["token"], request=request._request)
        return Response(status=HTTPStatus.NO_CONTENT)


class _LeakyRevokeProbe(_ScopedRevokeProbe):
    serializer_class = _LeakyRevokeSerializer


# The URLconf of the probe tests (`pytest.mark.urls(__name__)`), not of the project.
urlpatterns = [
    path("api/v1/probe/revoke", _ScopedRevokeProbe.as_view(), name="probe-revoke"),
    path("api/v1/probe/leaky-revoke", _LeakyRevokeProbe.as_view(), name="probe-leaky-revoke"),
]
PROBE_ROUTES = {route.key: route for route in _walk(urlpatterns)}


def _token_body(token: Model) -> dict[str, Any]:
    return {"token": token.pk}


PROBE_SCOPED = BodyIdRoute("probe-revoke", "POST", "token", _token, _token_body)
PROBE_LEAKY = BodyIdRoute("probe-leaky-revoke", "POST", "token", _token, _token_body)


@pytest.mark.parametrize(
    ("entry", "routes"),
    [
        *[pytest.param(e, ROUTES, id=f"{e.method} {e.route} {e.field}") for e in BODY_ID_ROUTES],
        # Always run: the check itself, on a route that resolves body ids the right way.
        pytest.param(
            PROBE_SCOPED,
            PROBE_ROUTES,
            id="probe: scoped id field",
            marks=pytest.mark.urls(__name__),
        ),
    ],
)
def test_another_users_id_in_a_body_answers_400_and_writes_nothing(entry, routes, a, b):
    check_body_id_route(entry, a, b, routes)


@pytest.mark.urls(__name__)
def test_the_body_id_check_catches_a_route_that_resolves_ids_among_everyones_rows(a, b):
    with pytest.raises(AssertionError, match="answered 204"):
        check_body_id_route(PROBE_LEAKY, a, b, PROBE_ROUTES)


def _relation_fields(serializer, prefix: str = "") -> Iterator[str]:
    if isinstance(serializer, type):
        serializer = serializer()
    if isinstance(serializer, serializers.ListSerializer):
        serializer = serializer.child
    for name, field_ in serializer.fields.items():
        dotted = f"{prefix}{name}"
        if field_.read_only:
            continue
        if isinstance(field_, serializers.ListField):
            field_ = field_.child
        if isinstance(field_, serializers.RelatedField | serializers.ManyRelatedField):
            yield dotted
        elif isinstance(field_, serializers.BaseSerializer):
            yield from _relation_fields(field_, f"{dotted}.")


def body_id_fields(urlconf: str | None, routes: dict[str, Route]) -> set[tuple[str, str, str]]:
    """(route, method, field) for every API operation whose request body takes a row's id."""
    by_callback = {route.callback: key for key, route in routes.items()}
    generator = SchemaGenerator(urlconf=urlconf)
    found = set()
    for path_, _, method, callback in EndpointEnumerator(urlconf=urlconf).get_api_endpoints():
        if method not in WRITE_METHODS or not path_.startswith("/api/v1/"):
            continue
        view = generator.create_view(callback, method)
        view.request = spectacular_settings.GET_MOCK_REQUEST(method, path_, view, None)
        view.schema.method, view.schema.path = method, path_
        serializer = view.schema.get_request_serializer()
        is_class = isinstance(serializer, type) and issubclass(
            serializer, serializers.BaseSerializer
        )
        if is_class or isinstance(serializer, serializers.BaseSerializer):
            for name in _relation_fields(serializer):
                found.add((by_callback[callback], method, name))
    return found


def test_the_body_id_detector_finds_id_fields():
    assert body_id_fields(__name__, PROBE_ROUTES) == {
        ("probe-revoke", "POST", "token"),
        ("probe-leaky-revoke", "POST", "token"),
    }


def test_every_api_route_taking_ids_in_its_body_is_registered():
    registered = {(e.route, e.method, e.field) for e in BODY_ID_ROUTES}

    assert sorted(body_id_fields(None, ROUTES) - registered) == []


def test_every_page_form_choosing_a_row_is_registered():
    registered = {(e.route, e.field) for e in BODY_ID_ROUTES}
    choosing = set()
    for key, route in ROUTES.items():
        if public_reason(route):
            continue
        form_class = getattr(getattr(route.callback, "view_class", None), "form_class", None)
        for name, form_field in getattr(form_class, "base_fields", {}).items():
            if isinstance(form_field, forms.ModelChoiceField):
                choosing.add((key, name))

    assert sorted(choosing - registered) == []


# --------------------------------------------------------------------------------------------
# The admin: staff only; a non-staff user is sent to sign in and never sees data.

_CONVERTER = re.compile(r"<(?:[^>:]+:)?(?P<name>[^>]+)>")
_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>[^)]*)\)")


def _sample_path(route: Route, object_id: str) -> str:
    def regex_sample(match: re.Match) -> str:
        body = match["body"]
        if "|" in body:
            return body.split("|")[0]
        return "no-such-page/" if body == ".*" else "1"

    text = _GROUP.sub(regex_sample, route.path)
    text = _CONVERTER.sub(lambda m: object_id if m["name"] == "object_id" else "1", text)
    return "/" + text.replace("^", "").replace("$", "")


def test_the_admin_gives_non_staff_users_no_data(a, b):
    # One test over every admin route (there are a hundred or so): each problem is listed.
    admin_routes = [
        route for route in ROUTES.values() if public_reason(route) == "the Django admin"
    ]
    # The admin's index is on the list because admin:logout sends non-staff there, and the
    # index sends them on to sign in.
    sign_in = {reverse("admin:login"), _sign_in_path(), reverse("admin:index")}
    before = snapshot(a.user)
    problems = []

    for route in admin_routes:
        url = _sample_path(route, str(a.rows["accounts.PersonalApiToken"].pk))
        if resolve(url).func != route.callback:
            problems.append(f"{url} does not reach {route.key}: teach _sample_path its kwargs")
            continue
        for who, client in (("anonymous", APIClient()), ("non-staff", b.client)):
            for method in ("GET", "POST"):
                response = getattr(client, method.lower())(url)
                redirect = urlsplit(response.get("Location", "")).path
                # A redirect to sign in; only the admin's own sign-in page refuses a signed-in
                # non-staff user outright instead (allauth's secure_admin_login).
                refused = (
                    response.status_code == HTTPStatus.FORBIDDEN
                    and who == "non-staff"
                    and route.key == "admin:login"
                )
                if not refused and not (
                    response.status_code == HTTPStatus.FOUND and redirect in sign_in
                ):
                    problems.append(f"{who} {method} {url}: {response.status_code} {redirect}")
                if a.seed.text in text_of(response):
                    problems.append(f"{who} {method} {url} showed A's data")

    assert len(admin_routes) > 10, "the admin's routes were not found"
    assert problems == []
    assert snapshot(a.user) == before


def test_staff_api_routes_refuse_everyone_else(a, b):
    staff_routes = [route for route in ROUTES.values() if route.key in STAFF_API_NAMES]
    before = snapshot(a.user)
    problems = []

    for route in staff_routes:
        url = _sample_path(route, "1")
        for who, client, expected in (
            ("anonymous", APIClient(), HTTPStatus.UNAUTHORIZED),
            ("non-staff", b.client, HTTPStatus.FORBIDDEN),
        ):
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                response = getattr(client, method.lower())(url)
                if response.status_code != expected:
                    problems.append(f"{who} {method} {url}: {response.status_code}")
                if a.seed.text in text_of(response):
                    problems.append(f"{who} {method} {url} showed A's data")

    assert sorted(route.key for route in staff_routes) == sorted(STAFF_API_NAMES)
    assert problems == []
    assert snapshot(a.user) == before
