"""Zerodha Kite Connect through the official `kiteconnect` client.

Kite signs the trader in on its own site: `connect` answers the login URL, Kite sends the
browser back to our callback with a `request_token`, and `complete` exchanges it (with the
API secret, as a SHA-256 checksum the client computes) for an access token. Kite tokens lapse
every day at 06:00 IST; the session's `expires_at` says so and the expiry job acts on it.
"""

from datetime import datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import requests
from django.utils import timezone

from accounts.brokers.adapters import BrokerAdapter, BrokerError, SessionResult
from accounts.models import Broker, BrokerCredential, BrokerSession, masked

IST = ZoneInfo("Asia/Kolkata")
DAILY_EXPIRY = time(6, 0)
TIMEOUT_SECONDS = 10


def kite_expiry(now: datetime) -> datetime:
    """When a Kite token issued at `now` lapses: the next 06:00 in India."""
    local = now.astimezone(IST)
    expiry = datetime.combine(local.date(), DAILY_EXPIRY, tzinfo=IST)
    if expiry <= local:
        expiry += timedelta(days=1)
    return expiry


def _scrub(message: str, credential: BrokerCredential) -> str:
    """A broker's message with any of the credential's secrets masked, to show and store."""
    for secret in (credential.api_key, credential.api_secret, credential.passphrase):
        if secret:
            message = message.replace(secret, masked(secret))
    return message[:500]


class KiteAdapter(BrokerAdapter):
    broker = Broker.ZERODHA_KITE

    def _client(self, credential: BrokerCredential, access_token: str | None = None):
        # Imported here: the client pulls in Twisted for its websocket ticker.
        from kiteconnect import KiteConnect

        return KiteConnect(
            api_key=credential.api_key, access_token=access_token, timeout=TIMEOUT_SECONDS
        )

    def _call(self, credential: BrokerCredential, call):
        from kiteconnect import exceptions as kite_errors

        try:
            return call()
        except kite_errors.TokenException as exc:
            raise BrokerError(
                f"Zerodha refused the sign-in: {_scrub(str(exc), credential)} "
                "Check the API key and secret, then connect again."
            ) from exc
        except kite_errors.KiteException as exc:
            raise BrokerError(
                f"Zerodha answered with an error: {_scrub(str(exc), credential)}"
            ) from exc
        except requests.Timeout as exc:
            raise BrokerError("Zerodha did not answer in time; try again in a minute.") from exc
        except requests.RequestException as exc:
            raise BrokerError("Zerodha could not be reached; try again later.") from exc

    def connect(self, credential: BrokerCredential, *, state: str = "") -> SessionResult:
        """The Kite sign-in page; Kite hands `redirect_params` back to our callback."""
        url = self._client(credential).login_url()
        params = {"credential": str(credential.pk), "state": state}
        return SessionResult(
            connected=False, login_url=f"{url}&{urlencode({'redirect_params': urlencode(params)})}"
        )

    def complete(self, credential: BrokerCredential, request_token: str) -> SessionResult:
        """Exchange the callback's request token for an access token, valid until 06:00 IST."""
        client = self._client(credential)
        data = self._call(
            credential, lambda: client.generate_session(request_token, credential.api_secret)
        )
        access_token = data.get("access_token") or ""
        if not access_token:
            raise BrokerError("Zerodha answered without an access token.")
        return SessionResult(
            connected=True,
            access_token=access_token,
            refresh_token=data.get("refresh_token") or "",
            expires_at=kite_expiry(timezone.now()),
            details={"broker_user_id": str(data.get("user_id") or "")},
        )

    def disconnect(self, credential: BrokerCredential, session: BrokerSession | None) -> None:
        if session is None or not session.access_token:
            return
        client = self._client(credential, session.access_token)
        self._call(credential, lambda: client.invalidate_access_token(session.access_token))
