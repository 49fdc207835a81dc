"""One adapter interface for every broker (SPEC §3 accounts: broker credential and session).

An adapter turns a credential's keys into a session: `connect` either opens one at once
(`SessionResult.connected`) or, for brokers that sign in on their own site (OAuth-like), answers
the `login_url` to send the trader to. It raises `BrokerError` with a message fit to show the
trader (never a secret). Adapters know nothing of the database: services store what they return.
"""

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import ClassVar

from accounts.models import Broker, BrokerCredential, BrokerSession


class BrokerError(Exception):
    """The broker refused or could not be reached; `str()` is safe to show and to store."""


@dataclass(frozen=True)
class SessionResult:
    """What a connect produced: a session's tokens, or where the trader must sign in."""

    connected: bool
    access_token: str = ""
    refresh_token: str = ""
    expires_at: datetime | None = None
    login_url: str = ""
    # Non-secret facts about the account (e.g. the broker's user id), kept in the activity log.
    details: dict[str, str] = field(default_factory=dict)


class BrokerAdapter:
    """The interface; each broker's adapter fills it in."""

    broker: ClassVar[str]
    # The secrets a credential of this broker must have, and those it may have.
    required_secrets: ClassVar[tuple[str, ...]] = ("api_key", "api_secret")
    optional_secrets: ClassVar[tuple[str, ...]] = ()

    def connect(self, credential: BrokerCredential, *, state: str = "") -> SessionResult:
        """Open a session, or answer the broker's login URL (carrying `state` to the callback)."""
        raise NotImplementedError

    def complete(self, credential: BrokerCredential, request_token: str) -> SessionResult:
        """Finish a connect on the broker's callback (brokers that answered a login URL)."""
        raise BrokerError(f"{credential.get_broker_display()} has no sign-in callback.")

    def disconnect(self, credential: BrokerCredential, session: BrokerSession | None) -> None:
        """Tell the broker the session is over, where it has a way to; default: nothing to do."""

    def accepted_secrets(self) -> tuple[str, ...]:
        return (*self.required_secrets, *self.optional_secrets)


class PaperAdapter(BrokerAdapter):
    """Trading Lab's own simulated broker: no keys, always connects, sessions never expire."""

    broker = Broker.PAPER
    required_secrets = ()

    def connect(self, credential: BrokerCredential, *, state: str = "") -> SessionResult:
        return SessionResult(connected=True)


@cache
def _adapters() -> dict[str, BrokerAdapter]:
    from accounts.brokers.breeze import BreezeAdapter
    from accounts.brokers.ccxt_adapter import CcxtAdapter
    from accounts.brokers.kite import KiteAdapter

    return {
        Broker.PAPER: PaperAdapter(),
        Broker.ZERODHA_KITE: KiteAdapter(),
        Broker.ICICI_BREEZE: BreezeAdapter(),
        Broker.BINANCE: CcxtAdapter(Broker.BINANCE),
        # Coinbase Exchange keys come with a passphrase; Advanced Trade keys do not.
        Broker.COINBASE: CcxtAdapter(Broker.COINBASE, optional=("passphrase",)),
        Broker.KRAKEN: CcxtAdapter(Broker.KRAKEN),
    }


def adapter_for(broker: str) -> BrokerAdapter:
    """The adapter of `broker` (one of `Broker`'s values)."""
    return _adapters()[broker]
