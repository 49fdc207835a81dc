"""Trader pages: the dashboard and the profile tabs. Thin views over the accounts services."""

import zoneinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView, ListView, TemplateView

from accounts.brokers.reauthentication import secrets_change_allowed
from accounts.brokers.selectors import broker_credential_list
from accounts.brokers.services import (
    broker_connect,
    broker_connect_complete,
    broker_credential_create,
    broker_credential_delete,
    broker_credential_update,
    broker_disconnect,
    broker_login_state,
)
from accounts.data_rights import EXPORT_JOB_TYPE
from accounts.forms import (
    ActivityFilterForm,
    BrokerCredentialEditForm,
    BrokerCredentialForm,
    PreferencesForm,
    ProfileForm,
    TokenCreateForm,
    add_service_errors,
)
from accounts.models import CredentialStatus, Preferences, Profile
from accounts.selectors import preferences_get, profile_get, token_list
from accounts.services import (
    preferences_update,
    profile_update,
    token_create,
    token_revoke,
    user_session_end,
)
from audit.models import ActivityAction
from audit.selectors import activity_list, job_list
from audit.services.activity_exports import activity_export
from audit.user_history import object_history
from bots.backtest_selectors import backtest_list
from bots.bot_selectors import bot_summary
from portfolio.market_selectors import alert_event_list
from portfolio.overview import portfolio_overview
from portfolio.selectors import portfolio_list, portfolio_performance_rows
from trading_lab.exceptions import ApplicationError

PROFILE_TABS = (
    ("account", "profile", "Account", "person"),
    ("brokers", "profile_brokers", "Broker connections", "plug"),
    ("stats", "profile_stats", "Trading stats", "graph-up"),
    ("preferences", "profile_preferences", "Preferences", "sliders"),
    ("security", "profile_security", "Security", "shield-lock"),
    ("activity", "profile_activity", "Activity log", "clock-history"),
)


def _user_tz(profile: Profile) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(profile.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _sessions(request: HttpRequest) -> list[UserSession]:
    """The user's live sessions, newest first; allauth drops rows whose session has ended."""
    sessions = UserSession.objects.purge_and_list(request.user)
    return sorted(sessions, key=lambda session: session.created_at, reverse=True)


def _mfa_state(request: HttpRequest) -> dict[str, Any]:
    authenticators = {a.type: a for a in Authenticator.objects.filter(user=request.user)}
    recovery = authenticators.get(Authenticator.Type.RECOVERY_CODES)
    return {
        "totp_active": Authenticator.Type.TOTP in authenticators,
        "recovery_codes_unused": len(recovery.wrap().get_unused_codes()) if recovery else None,
    }


@method_decorator(never_cache, name="dispatch")
class PageMixin(LoginRequiredMixin):
    """Signed-in pages: never cached, times shown in the reader's time zone."""

    nav = ""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        self.profile = getattr(self, "profile", None) or profile_get(user=self.request.user)
        context.update(nav=self.nav, profile=self.profile, user_tz=_user_tz(self.profile).key)
        return context


class DashboardView(PageMixin, TemplateView):
    template_name = "pages/dashboard.html"
    nav = "dashboard"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context.update(
            _mfa_state(self.request),
            sessions_count=len(UserSession.objects.purge_and_list(user)),
            tokens_count=token_list(user=user).usable().count(),
            recent_activity=activity_list(user=user)[:10],
            recent_jobs=job_list(user=user)[:8],
            portfolio_overview=portfolio_overview(user=user, today=timezone.localdate()),
            triggered_alerts=alert_event_list(user=user)[:5],
        )
        return context


class ProfileTabMixin(PageMixin):
    nav = "profile"
    tab = ""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["tabs"] = [
            {"key": key, "url": reverse(url_name), "label": label, "icon": icon}
            for key, url_name, label, icon in PROFILE_TABS
        ]
        context["tab"] = self.tab
        return context


class ProfileAccountView(ProfileTabMixin, FormView):
    template_name = "pages/profile/account.html"
    form_class = ProfileForm
    tab = "account"

    def get_form_kwargs(self) -> dict[str, Any]:
        # A row of its own: a ModelForm writes bad input onto its instance while validating.
        return {**super().get_form_kwargs(), "instance": profile_get(user=self.request.user)}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["social_enabled"] = bool(settings.SOCIALACCOUNT_PROVIDERS)
        return context

    def form_valid(self, form: ProfileForm) -> HttpResponse:
        try:
            profile_update(user=self.request.user, data=form.cleaned_data, request=self.request)
        except (ValidationError, ApplicationError) as error:
            add_service_errors(form, error)
            return self.form_invalid(form)
        messages.success(self.request, "Your profile was saved.")
        return HttpResponseRedirect(reverse("profile"))


class ProfilePreferencesView(ProfileTabMixin, FormView):
    template_name = "pages/profile/preferences.html"
    form_class = PreferencesForm
    tab = "preferences"

    def get_preferences(self) -> Preferences:
        return preferences_get(user=self.request.user)

    def get_initial(self) -> dict[str, Any]:
        return PreferencesForm.initial_from(self.get_preferences())

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["preferences"] = self.get_preferences()
        return context

    def form_valid(self, form: PreferencesForm) -> HttpResponse:
        data = form.service_data(self.get_preferences())
        try:
            preferences_update(user=self.request.user, data=data, request=self.request)
        except (ValidationError, ApplicationError) as error:
            add_service_errors(form, error)
            return self.form_invalid(form)
        messages.success(self.request, "Your preferences were saved.")
        return HttpResponseRedirect(reverse("profile_preferences"))


class ProfileSecurityView(ProfileTabMixin, TemplateView):
    template_name = "pages/profile/security.html"
    tab = "security"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("token_form", TokenCreateForm())
        context.update(
            _mfa_state(self.request),
            sessions=_sessions(self.request),
            tokens=token_list(user=self.request.user),
            export_jobs=job_list(user=self.request.user, job_type=EXPORT_JOB_TYPE)[:5],
        )
        return context


class TokenCreateView(ProfileSecurityView):
    """Create a token and show its raw value in this response only: it is stored nowhere."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = TokenCreateForm(request.POST)
        if form.is_valid():
            try:
                token, raw = token_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    expires_at=form.expires_at(),
                    request=request,
                )
            except (ValidationError, ApplicationError) as error:
                add_service_errors(form, error)
            else:
                context = self.get_context_data(token=token, raw_token=raw)
                return render(request, "pages/profile/token_created.html", context)
        return self.render_to_response(self.get_context_data(token_form=form))


@method_decorator(never_cache, name="dispatch")
class OwnedObjectPostView(LoginRequiredMixin, View):
    """A POST-only action on one of the caller's rows.

    The row is looked up before the method is checked, so someone else's id answers 404 for
    every method, and the caller's own id answers 405 to anything but POST.
    """

    http_method_names = ["post"]

    def get_queryset(self):
        raise NotImplementedError

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.object = get_object_or_404(self.get_queryset(), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)


class TokenRevokeView(OwnedObjectPostView):
    def get_queryset(self):
        return token_list(user=self.request.user)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token_revoke(token=self.object, request=request)
        messages.success(request, f"The token “{self.object.name}” was revoked.")
        return HttpResponseRedirect(reverse("profile_security") + "#tokens")


class SessionEndView(OwnedObjectPostView):
    def get_queryset(self):
        # allauth's model has no for_user(); its owner is `user`, scoped the same way.
        return UserSession.objects.filter(user=self.request.user)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        was_current = self.object.session_key == request.session.session_key
        user_session_end(user=request.user, session=self.object, request=request)
        if was_current:
            return HttpResponseRedirect(reverse("account_login"))
        messages.success(request, "The session was ended; that browser is signed out.")
        return HttpResponseRedirect(reverse("profile_security") + "#sessions")


class ProfileActivityView(ProfileTabMixin, ListView):
    template_name = "pages/profile/activity.html"
    tab = "activity"
    paginate_by = 25
    context_object_name = "rows"

    def get_queryset(self):
        self.profile = profile_get(user=self.request.user)
        self.filter_form = ActivityFilterForm(self.request.GET or None)
        if not self.filter_form.is_bound:
            return activity_list(user=self.request.user)
        if not self.filter_form.is_valid():
            # Bad filters show their errors and no rows, rather than silently showing all.
            return activity_list(user=self.request.user).none()
        filters = self.filter_form.selector_kwargs(_user_tz(self.profile))
        return activity_list(user=self.request.user, **filters)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(filter_form=self.filter_form, action_labels=dict(ActivityAction.choices))
        return context


class ProfileActivityExportView(LoginRequiredMixin, View):
    """The Activity tab's rows, with the same filters, as a CSV download."""

    def get(self, request: HttpRequest) -> HttpResponse:
        profile = profile_get(user=request.user)
        filter_form = ActivityFilterForm(request.GET or None)
        filters: dict[str, Any] = {}
        if filter_form.is_bound:
            if not filter_form.is_valid():
                # The tab shows the same filters with their errors next to them.
                return HttpResponseRedirect(
                    f"{reverse('profile_activity')}?{request.GET.urlencode()}"
                )
            filters = filter_form.selector_kwargs(_user_tz(profile))
        export = activity_export(
            user=request.user, filters=filters, tz=_user_tz(profile), request=request
        )
        response = HttpResponse(export.content, content_type=export.content_type)
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        return response


# ---------------------------------------------------------------------------------------------
# Broker connections tab

_SECRETS_SENSITIVE = sensitive_post_parameters("api_key", "api_secret", "passphrase")


def _reauthenticate_first(request: HttpRequest, next_url: str) -> HttpResponse:
    """Send the trader to confirm their password; the keys they typed are dropped, not kept in
    the session (allauth's own decorator would stash the whole POST there)."""
    messages.warning(
        request,
        "For your security, confirm your password, then enter the keys again. Nothing was saved.",
    )
    return HttpResponseRedirect(
        f"{reverse('account_reauthenticate')}?{urlencode({'next': next_url})}"
    )


@method_decorator(_SECRETS_SENSITIVE, name="dispatch")
class ProfileBrokersView(ProfileTabMixin, FormView):
    """The Broker connections tab: the trader's credentials, masked, and a form to add one."""

    template_name = "pages/profile/brokers.html"
    form_class = BrokerCredentialForm
    tab = "brokers"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            credentials=broker_credential_list(user=self.request.user),
            statuses=CredentialStatus,
            secrets_change_allowed=secrets_change_allowed(self.request),
        )
        return context

    def form_valid(self, form: BrokerCredentialForm) -> HttpResponse:
        if form.carries_secret() and not secrets_change_allowed(self.request):
            return _reauthenticate_first(self.request, reverse("profile_brokers"))
        try:
            credential = broker_credential_create(
                user=self.request.user, **form.cleaned_data, request=self.request
            )
        except (ValidationError, ApplicationError) as error:
            add_service_errors(form, error)
            return self.form_invalid(form)
        messages.success(self.request, f"{credential} was added. Connect it when you are ready.")
        return HttpResponseRedirect(reverse("profile_brokers"))


class _OwnCredentialMixin:
    def get_queryset(self):
        return broker_credential_list(user=self.request.user)


@method_decorator(_SECRETS_SENSITIVE, name="dispatch")
class BrokerCredentialEditView(ProfileTabMixin, FormView):
    """Rename a credential or replace its keys (which needs a recent password confirmation)."""

    template_name = "pages/profile/broker_edit.html"
    form_class = BrokerCredentialEditForm
    tab = "brokers"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.credential = get_object_or_404(
            broker_credential_list(user=request.user), pk=kwargs["pk"]
        )
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self) -> dict[str, Any]:
        return {"label": self.credential.label}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            credential=self.credential,
            secrets_change_allowed=secrets_change_allowed(self.request),
            # Its model history, secrets never included (audit.user_history drops them).
            history=object_history(
                user=self.request.user,
                instance=self.credential,
                page=self.request.GET.get("history_page"),
            ),
        )
        return context

    def form_valid(self, form: BrokerCredentialEditForm) -> HttpResponse:
        here = reverse("profile_broker_edit", kwargs={"pk": self.credential.pk})
        if form.carries_secret() and not secrets_change_allowed(self.request):
            return _reauthenticate_first(self.request, here)
        try:
            credential = broker_credential_update(
                credential=self.credential, data=form.service_data(), request=self.request
            )
        except (ValidationError, ApplicationError) as error:
            add_service_errors(form, error)
            return self.form_invalid(form)
        messages.success(self.request, f"{credential} was saved.")
        return HttpResponseRedirect(reverse("profile_brokers"))


class BrokerConnectView(_OwnCredentialMixin, OwnedObjectPostView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        outcome = broker_connect(credential=self.object, request=request)
        if outcome.login_url:
            # Brokers that send the browser back without our parameters (ICICI Breeze returns
            # only `apisession`) are matched to this connect through the session.
            request.session[PENDING_BROKER_LOGIN] = {
                "credential": self.object.pk,
                "state": broker_login_state(credential=self.object),
            }
            return HttpResponseRedirect(outcome.login_url)
        if outcome.error:
            messages.error(request, f"{outcome.credential} could not connect: {outcome.error}")
        else:
            messages.success(request, f"{outcome.credential} is connected.")
        return HttpResponseRedirect(reverse("profile_brokers"))


class BrokerDisconnectView(_OwnCredentialMixin, OwnedObjectPostView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        credential = broker_disconnect(credential=self.object, request=request)
        messages.success(request, f"{credential} is disconnected.")
        return HttpResponseRedirect(reverse("profile_brokers"))


class BrokerCredentialDeleteView(_OwnCredentialMixin, OwnedObjectPostView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        name = str(self.object)
        broker_credential_delete(credential=self.object, request=request)
        messages.success(request, f"{name} was deleted, with its keys.")
        return HttpResponseRedirect(reverse("profile_brokers"))


PENDING_BROKER_LOGIN = "broker_pending_login"


class BrokerCallbackView(LoginRequiredMixin, View):
    """Where a broker that signs in on its own site sends the browser back.

    Zerodha Kite: `credential` and `state` (which we gave it as `redirect_params`),
    `request_token` and `status`. ICICI Breeze: only `apisession`; the connect this browser
    started names the credential and its signed state (the session). Another user's credential
    is 404, and a state signed for another user or credential is refused.
    """

    @method_decorator(never_cache)
    def get(self, request: HttpRequest) -> HttpResponse:
        tab = reverse("profile_brokers")
        pending = request.session.pop(PENDING_BROKER_LOGIN, None) or {}
        breeze = "apisession" in request.GET
        # Kite names the connection (our redirect params); Breeze does not, so the connect
        # this browser started (kept in its session) says which one it is.
        credential_id = str(pending.get("credential", "")) if breeze else ""
        credential_id = request.GET.get("credential", "") or credential_id
        if not credential_id:
            messages.error(request, "The broker's answer named no connection: connect again.")
            return HttpResponseRedirect(tab)
        if not credential_id.isdigit():
            raise Http404
        credential = get_object_or_404(
            broker_credential_list(user=request.user), pk=int(credential_id)
        )
        if not breeze and request.GET.get("status") != "success":
            messages.error(
                request, f"The sign-in at {credential.get_broker_display()} was cancelled."
            )
            return HttpResponseRedirect(tab)
        try:
            outcome = broker_connect_complete(
                credential=credential,
                state=pending.get("state", "") if breeze else request.GET.get("state", ""),
                request_token=request.GET.get("apisession" if breeze else "request_token", ""),
                request=request,
            )
        except ApplicationError as error:
            messages.error(request, error.message)
            return HttpResponseRedirect(tab)
        if outcome.error:
            messages.error(request, f"{credential} could not connect: {outcome.error}")
        else:
            messages.success(request, f"{credential} is connected.")
        return HttpResponseRedirect(tab)


# ---------------------------------------------------------------------------------------------
# Trading stats tab

# `portfolio_performance` costs a fixed handful of queries per portfolio, so the tab shows at
# most this many portfolios (and backtests, for symmetry) and links to the full lists.
STATS_ROWS = 20
_BACKTEST_FIGURES = ("total_return", "max_drawdown", "sharpe", "deals_closed")


def _stored_metric(value: Any) -> Decimal | None:
    """A backtest metric as its JSON holds it (a string or a count); None when undefined."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


class ProfileStatsView(ProfileTabMixin, TemplateView):
    """The Trading stats tab: recent backtests with their results, each portfolio's performance
    as the portfolio pages show it, and the bots in sum; every row links to its own page."""

    template_name = "pages/profile/stats.html"
    tab = "stats"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        today = timezone.localdate()
        portfolios = list(portfolio_list(user=user)[: STATS_ROWS + 1])
        portfolio_rows = portfolio_performance_rows(portfolios=portfolios[:STATS_ROWS], as_of=today)
        backtests = list(backtest_list(user=user)[: STATS_ROWS + 1])
        backtest_rows = [
            {
                "backtest": backtest,
                "figures": {
                    key: _stored_metric(backtest.metrics.get(key)) for key in _BACKTEST_FIGURES
                },
            }
            for backtest in backtests[:STATS_ROWS]
        ]
        context.update(
            portfolio_rows=portfolio_rows,
            more_portfolios=len(portfolios) > STATS_ROWS,
            backtest_rows=backtest_rows,
            more_backtests=len(backtests) > STATS_ROWS,
            stats_rows=STATS_ROWS,
            bots=bot_summary(user=user),
        )
        return context
