"""Moving an older browser front end's `localStorage` in (SPEC §6 preferences/import-local).

The browser kept every value as a string: some plain (`moderate`), some JSON (`["swing"]`),
some JSON of a JSON string (`"\\"moderate\\""`). Each value is unwrapped, read and checked
before anything is written; one bad value refuses the whole import, naming its key. The
import is idempotent: values equal to what is stored write nothing, watchlist items and
dismissed insights already there are kept as they are, and an import that changes nothing
records nothing.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.insights import insight_id_check, insights_dismiss
from accounts.models import (
    InvestmentHorizon,
    MarketRegion,
    RiskTolerance,
    TradingMode,
    TradingStyle,
    Universe,
    User,
)
from accounts.selectors import preferences_get, profile_get
from accounts.services import preferences_update, profile_update
from audit.models import ActivityAction
from audit.services import activity_record
from portfolio.models import WatchlistItem
from portfolio.services import WatchlistEntry, watchlist_item_add
from trading_lab.exceptions import ApplicationError

KEY_RISK = "arise_risk"
KEY_UNIVERSE = "arise_universe"
KEY_REGION = "arise_market_region"
KEY_MODES = "arise_modes"
KEY_PRIMARY = "arise_primary_mode"
KEY_AUXILIARY = "arise_auxiliary_modes"
KEY_DISCLOSURE = "arise_disclosure_accepted_v1"
KEY_PROFILE = "arise_account_profile_v1"
KEY_WATCHLIST = "arise_watchlist"
KEY_INSIGHTS = "arise_dismissed_insights_v1"

KNOWN_KEYS = (
    KEY_RISK,
    KEY_UNIVERSE,
    KEY_REGION,
    KEY_MODES,
    KEY_PRIMARY,
    KEY_AUXILIARY,
    KEY_DISCLOSURE,
    KEY_PROFILE,
    KEY_WATCHLIST,
    KEY_INSIGHTS,
)
# Copies of server data the old front end cached; the server has the real thing. A key is
# cache-only when it is one of these or one of these followed by "_" (and not a known key).
CACHE_KEYS = (
    "arise_market",
    "arise_news",
    "arise_picks",
    "arise_quotes",
    "arise_prices",
    "arise_signals",
    "arise_screener",
    "arise_cache",
)

# How deep a value may be JSON inside JSON; deeper than this is not something a browser wrote.
MAX_NESTING = 5
MAX_WATCHLIST_ITEMS = 500
MAX_INSIGHTS = 1000

_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")
_LITERALS = ("true", "false", "null")


class BadValue(Exception):  # noqa: N818 (a refusal carried to the key that holds the value)
    """A value that cannot be imported; the message is shown under its key."""


def unwrap(value: Any) -> Any:
    """A stored value with every layer of JSON-in-a-string removed; plain text stays text."""
    for _ in range(MAX_NESTING):
        if not isinstance(value, str):
            return value
        text = value.strip()
        looks_like_json = (
            text[:1] in ("{", "[", '"') or text in _LITERALS or bool(_NUMBER.match(text))
        )
        if not looks_like_json:
            return value
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            if text[:1] in ("{", "["):
                raise BadValue(f"Not valid JSON: {error.msg}.") from error
            return value
    if isinstance(value, str) and value.strip()[:1] in ("{", "[", '"'):
        raise BadValue("JSON nested too deeply.")
    return value


def _token(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadValue("Expected a non-empty text value.")
    return value.strip()


def _choice(value: Any, choices: list[str], aliases: dict[str, str] | None = None) -> str:
    """A choice given in any case, with spaces, hyphens or camel case for underscores."""
    text = _token(value)
    key = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", text).lower().replace("-", "_").replace(" ", "_")
    key = (aliases or {}).get(key, key)
    if key not in choices:
        raise BadValue(f"“{text}” is not one of {', '.join(choices)}.")
    return key


RISK_ALIASES = {"low": "conservative", "medium": "moderate", "balanced": "moderate"}
RISK_ALIASES |= {"high": "aggressive"}
REGION_ALIASES = {"usa": "us", "united_states": "us", "in": "india", "world": "global"}
STYLE_ALIASES = {"longterm": "long_term", "long": "long_term", "position": "positional"}
HORIZON_ALIASES = {"short_term": "short", "medium_term": "medium", "long_term": "long"}


def _risk(value: Any) -> str:
    return _choice(value, RiskTolerance.values, RISK_ALIASES)


def _universe(value: Any) -> str:
    text = _token(value)
    key = re.sub(r"[^A-Z0-9]", "", text.upper().replace("S&P", "SP"))
    if key not in Universe.values:
        raise BadValue(f"“{text}” is not one of {', '.join(Universe.values)}.")
    return key


def _region(value: Any) -> str:
    return _choice(value, MarketRegion.values, REGION_ALIASES)


def _mode(value: Any) -> str:
    return _choice(value, TradingMode.values)


def _mode_list(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [part for part in re.split(r"[,\s]+", value) if part]
    if not isinstance(value, list):
        raise BadValue("Expected a list of trading modes.")
    return list(dict.fromkeys(_mode(item) for item in value))


def _modes(value: Any) -> dict[str, bool]:
    """Trading modes as the old front end kept them: a list of those on, or mode: on/off."""
    if isinstance(value, dict):
        modes = {}
        for name, flag in value.items():
            if not isinstance(flag, bool):
                raise BadValue(f"Mode “{name}” must be true or false.")
            modes[_mode(name)] = flag
        return {**dict.fromkeys(TradingMode.values, False), **modes}
    enabled = _mode_list(value)
    return {mode: mode in enabled for mode in TradingMode.values}


def _moment(value: Any) -> datetime | None:
    """When the disclosure was accepted: a time, epoch milliseconds, or just true (now)."""
    if value is None or value is False:
        return None
    if value is True:
        return timezone.now()
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError) as error:
            raise BadValue("Not a valid time.") from error
    if isinstance(value, str):
        parsed = parse_datetime(value.strip())
        if parsed is None:
            raise BadValue("Expected true, a time (ISO 8601) or epoch milliseconds.")
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise BadValue("Expected true, a time (ISO 8601) or epoch milliseconds.")


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadValue("Expected a number.")
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation as error:
        raise BadValue(f"“{value}” is not a number.") from error
    if not number.is_finite():
        raise BadValue(f"“{value}” is not a number.")
    return number


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadValue("Expected text.")
    return value.strip()


# Profile fields of `arise_account_profile_v1`, under the names the old front end used.
PROFILE_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "displayname": ("display_name", _text),
    "name": ("display_name", _text),
    "fullname": ("display_name", _text),
    "country": ("country", lambda v: _text(v).upper()),
    "countrycode": ("country", lambda v: _text(v).upper()),
    "basecurrency": ("base_currency", lambda v: _text(v).upper()),
    "currency": ("base_currency", lambda v: _text(v).upper()),
    "timezone": ("timezone", _text),
    "tz": ("timezone", _text),
    "risktolerance": ("risk_tolerance", _risk),
    "risk": ("risk_tolerance", _risk),
    "investmenthorizon": (
        "investment_horizon",
        lambda v: _choice(v, InvestmentHorizon.values, HORIZON_ALIASES),
    ),
    "horizon": (
        "investment_horizon",
        lambda v: _choice(v, InvestmentHorizon.values, HORIZON_ALIASES),
    ),
    "tradingstyle": ("trading_style", lambda v: _choice(v, TradingStyle.values, STYLE_ALIASES)),
    "style": ("trading_style", lambda v: _choice(v, TradingStyle.values, STYLE_ALIASES)),
    "initialcapital": ("initial_capital", _decimal),
    "capital": ("initial_capital", _decimal),
}


def _field_key(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


@dataclass
class LocalImportPlan:
    """What an import would do, all checked, before anything is written."""

    preferences: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)
    watchlist: list[WatchlistEntry] | None = None
    insights: list[str] | None = None
    imported: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    cache_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LocalImportResult:
    """The answer: keys read, keys left out, and what changed (empty lists on a re-import)."""

    imported: list[str]
    ignored: list[str]
    cache_keys: list[str]
    preferences_changed: list[str]
    profile_changed: list[str]
    watchlist_added: list[str]
    insights_dismissed: list[str]

    @property
    def changed(self) -> bool:
        return bool(
            self.preferences_changed
            or self.profile_changed
            or self.watchlist_added
            or self.insights_dismissed
        )


def _is_cache_key(key: str) -> bool:
    return any(key == name or key.startswith(f"{name}_") for name in CACHE_KEYS)


def _profile_plan(value: Any, plan: LocalImportPlan) -> None:
    if not isinstance(value, dict):
        raise BadValue("Expected an object of profile fields.")
    for name, raw in value.items():
        known = PROFILE_FIELDS.get(_field_key(str(name)))
        if known is None:
            plan.ignored.append(f"{KEY_PROFILE}.{name}")
            continue
        target, read = known
        try:
            plan.profile[target] = read(raw)
        except BadValue as error:
            raise BadValue(f"{name}: {error}") from error


def _watchlist_entry(item: Any, index: int) -> WatchlistEntry:
    where = f"Item {index + 1}"
    if isinstance(item, str):
        return WatchlistEntry(symbol=_token(item))
    if not isinstance(item, dict):
        raise BadValue(f"{where}: expected a symbol or an object with a symbol.")
    fields = {_field_key(str(name)): raw for name, raw in item.items()}
    try:
        symbol = _token(fields.get("symbol") or fields.get("ticker"))
        target = fields.get("targetprice", fields.get("target"))
        return WatchlistEntry(
            symbol=symbol,
            exchange=_text(fields.get("exchange")),
            notes=_text(fields.get("notes", fields.get("note"))),
            target_price=None if target in (None, "") else _decimal(target),
        )
    except BadValue as error:
        raise BadValue(f"{where}: {error}") from error


def _watchlist(value: Any) -> list[WatchlistEntry]:
    if not isinstance(value, list):
        raise BadValue("Expected a list of symbols.")
    if len(value) > MAX_WATCHLIST_ITEMS:
        raise BadValue(f"At most {MAX_WATCHLIST_ITEMS} symbols.")
    return [_watchlist_entry(item, index) for index, item in enumerate(value)]


def _insights(value: Any) -> list[str]:
    """Dismissed insight ids: a list of ids (or of objects with an `id`), or id: anything."""
    if isinstance(value, dict):
        value = list(value)
    if not isinstance(value, list):
        raise BadValue("Expected a list of insight ids.")
    if len(value) > MAX_INSIGHTS:
        raise BadValue(f"At most {MAX_INSIGHTS} insight ids.")
    ids = []
    for item in value:
        insight_id = item.get("id") if isinstance(item, dict) else item
        if not isinstance(insight_id, str):
            raise BadValue("Each insight id must be text.")
        try:
            ids.append(insight_id_check(insight_id.strip()))
        except ApplicationError as error:
            raise BadValue(f"“{insight_id}”: {' '.join(error.extra['insight_id'])}") from error
    return list(dict.fromkeys(ids))


def _read(plan: LocalImportPlan, key: str, value: Any) -> None:
    if key == KEY_RISK:
        plan.preferences["risk_profile"] = _risk(value)
    elif key == KEY_UNIVERSE:
        plan.preferences["universe"] = _universe(value)
    elif key == KEY_REGION:
        plan.preferences["market_region"] = _region(value)
    elif key == KEY_MODES:
        plan.preferences["trading_modes"] = _modes(value)
    elif key == KEY_PRIMARY:
        plan.preferences["primary_mode"] = "" if value in (None, "") else _mode(value)
    elif key == KEY_AUXILIARY:
        plan.preferences["auxiliary_modes"] = [] if value is None else _mode_list(value)
    elif key == KEY_DISCLOSURE:
        moment = _moment(value)
        if moment is not None:
            plan.preferences["disclosure_accepted_at"] = moment
    elif key == KEY_PROFILE:
        _profile_plan(value, plan)
    elif key == KEY_WATCHLIST:
        plan.watchlist = _watchlist(value)
    elif key == KEY_INSIGHTS:
        plan.insights = _insights(value)


def local_import_plan(data: Any) -> LocalImportPlan:
    """Read and check every key of a `localStorage` object; every bad key is a field error."""
    if not isinstance(data, dict):
        raise ApplicationError(
            "Invalid input.",
            {"non_field_errors": ["Send the localStorage contents as one JSON object."]},
        )
    plan = LocalImportPlan()
    errors: dict[str, list[str]] = {}
    for key, raw in data.items():
        if key in KNOWN_KEYS:
            try:
                _read(plan, key, unwrap(raw))
            except BadValue as error:
                errors[key] = [str(error)]
            else:
                plan.imported.append(key)
        elif _is_cache_key(key):
            plan.cache_keys.append(key)
        else:
            plan.ignored.append(key)
    if errors:
        raise ApplicationError("Invalid input.", errors)
    plan.imported.sort()
    plan.ignored.sort()
    plan.cache_keys.sort()
    return plan


# Which key a preference or profile field came from, so a rule the model enforces (the
# primary mode must be enabled...) comes back under the key the caller sent.
_PREFERENCE_KEYS = {
    "risk_profile": KEY_RISK,
    "universe": KEY_UNIVERSE,
    "market_region": KEY_REGION,
    "trading_modes": KEY_MODES,
    "primary_mode": KEY_PRIMARY,
    "auxiliary_modes": KEY_AUXILIARY,
    "disclosure_accepted_at": KEY_DISCLOSURE,
}


def _keyed_errors(error: ValidationError | ApplicationError, keys: Callable[[str], str]):
    fields = error.message_dict if isinstance(error, ValidationError) else error.extra
    errors: dict[str, list[str]] = {}
    for name, messages in fields.items():
        label = name.replace("_", " ")
        errors.setdefault(keys(name), []).extend(f"{label}: {message}" for message in messages)
    return ApplicationError("Invalid input.", errors)


def _preferences_data(user: User, plan: LocalImportPlan) -> dict[str, Any]:
    data = dict(plan.preferences)
    current = preferences_get(user=user)
    # Accepted once is accepted: a later "true" keeps the first time.
    if "disclosure_accepted_at" in data and current.disclosure_accepted_at is not None:
        del data["disclosure_accepted_at"]
    primary = data.get("primary_mode", current.primary_mode)
    if "auxiliary_modes" in data:
        # The old front end listed the primary mode among the auxiliary ones too.
        data["auxiliary_modes"] = [mode for mode in data["auxiliary_modes"] if mode != primary]
    return data


def local_storage_import(
    *, user: User, data: Any, request: HttpRequest | None = None
) -> LocalImportResult:
    """Move an old front end's `localStorage` in, all or nothing; recorded when it changed."""
    plan = local_import_plan(data)
    with transaction.atomic():
        preferences_data = _preferences_data(user, plan)
        before = preferences_get(user=user)
        preferences_changed = sorted(
            name for name, value in preferences_data.items() if getattr(before, name) != value
        )
        try:
            preferences_update(user=user, data=preferences_data, request=request)
        except (ValidationError, ApplicationError) as error:
            raise _keyed_errors(
                error, lambda name: _PREFERENCE_KEYS.get(name, KEY_MODES)
            ) from error

        profile = profile_get(user=user)
        profile_changed = sorted(
            name for name, value in plan.profile.items() if getattr(profile, name) != value
        )
        try:
            profile_update(user=user, data=plan.profile, request=request)
        except (ValidationError, ApplicationError) as error:
            raise _keyed_errors(error, lambda name: KEY_PROFILE) from error

        watchlist_added = _watchlist_merge(user, plan.watchlist or [], request)

        insights_dismissed: list[str] = []
        if plan.insights:
            already = set(
                user.dismissed_insights.filter(insight_id__in=plan.insights).values_list(
                    "insight_id", flat=True
                )
            )
            insights_dismissed = [i for i in plan.insights if i not in already]
            insights_dismiss(user=user, insight_ids=plan.insights, request=request)

        result = LocalImportResult(
            imported=plan.imported,
            ignored=plan.ignored,
            cache_keys=plan.cache_keys,
            preferences_changed=preferences_changed,
            profile_changed=profile_changed,
            watchlist_added=watchlist_added,
            insights_dismissed=insights_dismissed,
        )
        if result.changed:
            activity_record(
                user=user,
                action=ActivityAction.LOCAL_DATA_IMPORTED,
                description="Imported settings saved by the old browser app.",
                details={
                    "imported": result.imported,
                    "ignored": result.ignored[:50],
                    "preferences": result.preferences_changed,
                    "profile": result.profile_changed,
                    "watchlist_added": len(result.watchlist_added),
                    "insights_dismissed": len(result.insights_dismissed),
                },
                request=request,
            )
    return result


def _watchlist_merge(
    user: User, entries: list[WatchlistEntry], request: HttpRequest | None
) -> list[str]:
    """Add the symbols not on the watchlist yet; the ones already there keep their notes."""
    have = set(WatchlistItem.objects.for_user(user).values_list("symbol", "exchange"))
    added = []
    for index, entry in enumerate(entries):
        key = (entry.symbol.strip().upper(), entry.exchange.strip().upper())
        if key in have:
            continue
        try:
            item = watchlist_item_add(user=user, entry=entry, request=request)
        except ApplicationError as error:
            problems = "; ".join(
                f"{name}: {' '.join(messages)}" for name, messages in error.extra.items()
            )
            raise ApplicationError(
                "Invalid input.", {KEY_WATCHLIST: [f"Item {index + 1}: {problems}"]}
            ) from error
        have.add(key)
        added.append(f"{item.symbol}.{item.exchange}" if item.exchange else item.symbol)
    return added
