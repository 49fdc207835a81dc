"""Create the demo trader, a staff account and demo market data for trying Trading Lab (idempotent).

The passwords are published (README), so the command refuses to run in production mode.
Each run brings the two accounts to the state below, and the synthetic market data and the demo
trader's portfolio (`portfolio.demo`) up to date, and reports what it changed; a run that finds
everything in place changes nothing and says so.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.models import InvestmentHorizon, RiskTolerance, TradingStyle, User
from accounts.services import profile_update
from bots.demo import demo_bot_seed
from bots.demo_backtests import demo_backtest_seed
from portfolio.demo import demo_seed
from trading_lab.exceptions import ApplicationError

DEMO_PROFILE = {
    "display_name": "Demo Trader",
    "country": "US",
    "base_currency": "USD",
    "timezone": "America/New_York",
    "risk_tolerance": RiskTolerance.MODERATE,
    "investment_horizon": InvestmentHorizon.LONG,
    "trading_style": TradingStyle.SWING,
    "initial_capital": Decimal("100000.00"),
}


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    password: str
    staff: bool
    profile: dict[str, Any]


ACCOUNTS = (
    DemoAccount("Demo trader", "demo@tradinglab.local", "TradingLab-demo-1", False, DEMO_PROFILE),
    DemoAccount(
        "Staff (admin)",
        "admin@tradinglab.local",
        "TradingLab-admin-1",
        True,
        {"display_name": "Trading Lab Admin"},
    ),
)


class Command(BaseCommand):
    help = (
        "Create (or repair) the demo trader and staff account, add synthetic prices and a demo "
        "portfolio, and print how to sign in."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000/",
            help="Where the app is served, for the sign-in instructions.",
        )

    def handle(self, *args: Any, url: str, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo creates accounts whose passwords are published in the README; "
                "it runs only in development (DEBUG=true)."
            )
        changes: list[str] = []
        try:
            with transaction.atomic():
                for account in ACCOUNTS:
                    changes += self._ensure(account)
                trader = User.objects.get(email__iexact=ACCOUNTS[0].email)
                changes += demo_seed(user=trader, today=timezone.localdate())
                changes += demo_backtest_seed(user=trader, today=timezone.localdate())
                changes += demo_bot_seed(user=trader, today=timezone.localdate())
        except ApplicationError as exc:
            # Say what clashes (e.g. a real DEMO-exchange instrument); nothing was written.
            problems = [f"{field}: {m}" for field, ms in (exc.extra or {}).items() for m in ms]
            raise CommandError(
                "\n".join([f"Demo data not written: {exc.message}", *problems])
            ) from exc

        if changes:
            for change in changes:
                self.stdout.write(f"  {change}")
            self.stdout.write(self.style.SUCCESS(f"Demo data: {len(changes)} change(s) made."))
        else:
            self.stdout.write("Demo data already in place: nothing changed.")
        base = url.rstrip("/")
        self.stdout.write(f"\nTrading Lab: {base}/")
        for account in ACCOUNTS:
            self.stdout.write(f"  {account.role}: {account.email} / {account.password}")
        self.stdout.write(f"  The admin is at {base}/admin/ (sign in as the staff account).")

    def _ensure(self, account: DemoAccount) -> list[str]:
        """Bring one account to its demo state; return what had to change."""
        changes = []
        user = User.objects.filter(email__iexact=account.email).first()
        if user is None:
            create = User.objects.create_superuser if account.staff else User.objects.create_user
            user = create(account.email, account.password)
            changes.append(f"created {account.email}")
        else:
            fixed = []
            if not user.check_password(account.password):
                user.set_password(account.password)
                fixed.append("password")
            for flag in ("is_active", "is_staff", "is_superuser"):
                wanted = flag == "is_active" or account.staff
                if getattr(user, flag) != wanted:
                    setattr(user, flag, wanted)
                    fixed.append(flag)
            if fixed:
                user.save()
                changes.append(f"reset {', '.join(fixed)} of {account.email}")

        address, created = EmailAddress.objects.get_or_create(
            user=user, email=account.email, defaults={"verified": True, "primary": True}
        )
        if created:
            changes.append(f"added verified address {account.email}")
        elif not (address.verified and address.primary):
            address.verified = address.primary = True
            address.save(update_fields=["verified", "primary"])
            changes.append(f"verified {account.email}")

        profile = user.profile
        stale = {k: v for k, v in account.profile.items() if getattr(profile, k) != v}
        if stale:
            profile_update(user=user, data=stale)
            changes.append(f"filled in the profile of {account.email} ({', '.join(sorted(stale))})")
        return changes
