"""Staff tools for accounts: users, profiles, preferences, API tokens, broker credentials.

Secrets are never rendered: token hashes and session keys are not fields of any admin form,
encrypted fields are `editable=False` (so no form has them) and only their masked values show.
"""

from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialApp, SocialToken
from allauth.usersessions.models import UserSession
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import ngettext

from accounts.models import (
    BrokerCredential,
    BrokerSession,
    PersonalApiToken,
    Preferences,
    Profile,
    User,
)
from accounts.services import token_revoke


class UserCreateForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("A user with this email address already exists.")
        return email


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        others = User.objects.exclude(pk=self.instance.pk)
        if others.filter(email__iexact=email).exists():
            raise forms.ValidationError("A user with this email address already exists.")
        return email


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    extra = 0
    readonly_fields = ("created_at", "updated_at")


class PreferencesInline(admin.StackedInline):
    model = Preferences
    can_delete = False
    extra = 0
    readonly_fields = ("created_at", "updated_at")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserEditForm
    add_form = UserCreateForm
    list_display = ("email", "display_name_column", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_active", "is_superuser", "groups")
    search_fields = ("email", "profile__display_name")
    ordering = ("email",)
    list_select_related = ("profile",)
    readonly_fields = ("audit_ref", "last_login", "date_joined", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("email", "password", "audit_ref")}),
        (
            "Permissions",
            {
                "fields": (
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                )
            },
        ),
        ("Dates", {"fields": ("last_login", "date_joined", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "usable_password", "password1", "password2"),
            },
        ),
    )

    @admin.display(description="display name", ordering="profile__display_name")
    def display_name_column(self, obj: User) -> str:
        return obj.profile.display_name if hasattr(obj, "profile") else ""

    def get_inlines(self, request: HttpRequest, obj: User | None) -> list:
        # Profile and preferences are created with the user (accounts.signals): an inline on
        # the add page would create them a second time.
        return [ProfileInline, PreferencesInline] if obj is not None else []


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "display_name",
        "country",
        "base_currency",
        "risk_tolerance",
        "trading_style",
    )
    list_filter = ("risk_tolerance", "investment_horizon", "trading_style", "base_currency")
    search_fields = ("user__email", "display_name")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # one per user, created with the user


@admin.register(Preferences)
class PreferencesAdmin(admin.ModelAdmin):
    list_display = ("user", "theme", "universe", "market_region", "risk_profile", "primary_mode")
    list_filter = ("theme", "universe", "market_region", "risk_profile")
    search_fields = ("user__email",)
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # one per user, created with the user


class TokenStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("active", "Active"), ("revoked", "Revoked"), ("expired", "Expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        if self.value() == "active":
            return queryset.usable()
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        return queryset


@admin.register(PersonalApiToken)
class PersonalApiTokenAdmin(admin.ModelAdmin):
    """Read-only: a token is created by its owner and shown once; staff may only revoke it."""

    list_display = (
        "name",
        "user",
        "token_prefix",
        "is_active",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = (TokenStateFilter, "created_at")
    search_fields = ("name", "token_prefix", "user__email")
    list_select_related = ("user",)
    fields = (
        "user",
        "name",
        "token_prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    readonly_fields = fields
    actions = ("revoke_selected",)

    @admin.display(boolean=True, description="active")
    def is_active(self, obj: PersonalApiToken) -> bool:
        return obj.is_active

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PersonalApiToken | None = None):
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("accounts.change_personalapitoken")

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        revoked = already = 0
        for token in queryset.select_related("user"):
            if token.revoked_at is not None:
                already += 1
                continue
            token_revoke(token=token, request=request)
            revoked += 1
        if revoked:
            self.message_user(
                request,
                ngettext("Revoked %d token.", "Revoked %d tokens.", revoked) % revoked,
                messages.SUCCESS,
            )
        if already:
            self.message_user(
                request,
                ngettext(
                    "%d token was already revoked.", "%d tokens were already revoked.", already
                )
                % already,
                messages.WARNING,
            )


class BrokerSessionInline(admin.TabularInline):
    model = BrokerSession
    fields = ("active", "expires_at", "access_token_masked", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-created_at",)

    def has_add_permission(self, request: HttpRequest, obj: BrokerCredential | None) -> bool:
        return False


@admin.register(BrokerCredential)
class BrokerCredentialAdmin(admin.ModelAdmin):
    """Connection state is editable; the secrets show only masked and have no form field."""

    list_display = ("user", "broker", "label", "status", "api_key_masked", "last_connected_at")
    list_filter = ("broker", "status")
    search_fields = ("user__email", "label")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    fields = (
        "user",
        "broker",
        "label",
        "api_key_masked",
        "api_secret_masked",
        "passphrase_masked",
        "status",
        "last_connected_at",
        "last_error",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "api_key_masked",
        "api_secret_masked",
        "passphrase_masked",
        "created_at",
        "updated_at",
    )
    inlines = (BrokerSessionInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A credential is its secrets, which only the owner enters (never through the admin).
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: BrokerCredential | None = None):
        if obj is not None:
            return ("user", "broker", *self.readonly_fields)
        return self.readonly_fields


@admin.register(BrokerSession)
class BrokerSessionAdmin(admin.ModelAdmin):
    list_display = ("credential", "owner", "active", "expires_at", "created_at")
    list_filter = ("active", "credential__broker")
    search_fields = ("credential__user__email", "credential__label")
    list_select_related = ("credential__user",)
    fields = (
        "credential",
        "active",
        "expires_at",
        "access_token_masked",
        "refresh_token_masked",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    @admin.display(description="user", ordering="credential__user__email")
    def owner(self, obj: BrokerSession) -> User:
        return obj.credential.user

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: BrokerSession | None = None):
        return False


# allauth's own admins for these models render live credentials (session keys, TOTP data,
# OAuth client secrets and tokens) and search a `username` our User does not have.
for _model in (UserSession, Authenticator, SocialApp, SocialToken):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    """Signed-in sessions, for support; the session key is never shown. Delete ends one."""

    list_display = ("user", "ip", "created_at", "last_seen_at", "user_agent")
    search_fields = ("user__email", "ip")
    list_select_related = ("user",)
    fields = ("user", "ip", "user_agent", "created_at", "last_seen_at")
    readonly_fields = fields
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: UserSession | None = None):
        return False

    def delete_model(self, request: HttpRequest, obj: UserSession) -> None:
        obj.end()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for session in queryset:
            session.end()


@admin.register(Authenticator)
class AuthenticatorAdmin(admin.ModelAdmin):
    """Second factors, for support: which a user has; the secrets in `data` are never shown.

    Deleting one turns that factor off (a user locked out of their authenticator app).
    """

    list_display = ("user", "type", "created_at", "last_used_at")
    list_filter = ("type",)
    search_fields = ("user__email",)
    list_select_related = ("user",)
    fields = ("user", "type", "created_at", "last_used_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Authenticator | None = None):
        return False
