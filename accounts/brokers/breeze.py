"""ICICI Breeze through a small client of ours over its REST API.

The official `breeze-connect` package downloads a file from the network when it is imported, so
it cannot be a dependency. Breeze signs the trader in on its own site: `connect` answers the
login URL, Breeze sends the browser to the app's redirect URL with an `apisession`, and
`complete` exchanges it through the CustomerDetails call for the session token. One funds call
signed with the secret (`X-Checksum: token ` + SHA-256 of timestamp, JSON body and secret) then
proves the secret too. ICICI says a session lasts 24 hours or until midnight, whichever comes
first: it lapses at the next 00:00 IST.
"""

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlencode

import requests
from django.utils import timezone

from accounts.brokers.adapters import BrokerAdapter, BrokerError, SessionResult
from accounts.brokers.kite import IST, TIMEOUT_SECONDS, _scrub
from accounts.models import Broker, BrokerCredential

LOGIN_URL = "https://api.icicidirect.com/apiuser/login"
API_URL = "https://api.icicidirect.com/breezeapi/api/v1/"


def breeze_expiry(now: datetime) -> datetime:
    """When a Breeze session opened at `now` lapses: the next midnight in India."""
    local = now.astimezone(IST)
    return datetime.combine(local.date() + timedelta(days=1), time(0, 0), tzinfo=IST)


def breeze_checksum(timestamp: str, body: str, secret: str) -> str:
    """The `X-Checksum` header of a signed Breeze call."""
    return "token " + hashlib.sha256((timestamp + body + secret).encode()).hexdigest()


class BreezeAdapter(BrokerAdapter):
    broker = Broker.ICICI_BREEZE

    def _get(
        self,
        credential: BrokerCredential,
        endpoint: str,
        body: dict,
        headers: Callable[[str], dict[str, str]],
    ) -> dict:
        """One Breeze call (`headers` signs the JSON text); its `Success` part, or BrokerError."""
        text = json.dumps(body, separators=(",", ":"))
        try:
            response = requests.get(
                API_URL + endpoint,
                data=text,
                headers={"Content-Type": "application/json", **headers(text)},
                timeout=TIMEOUT_SECONDS,
            )
        except requests.Timeout as exc:
            raise BrokerError("ICICI Breeze did not answer in time; try again shortly.") from exc
        except requests.RequestException as exc:
            raise BrokerError("ICICI Breeze could not be reached; try again later.") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if response.ok and answer.get("Status") == 200 and isinstance(answer.get("Success"), dict):
            return answer["Success"]
        reason = str(answer.get("Error") or f"HTTP {response.status_code}")
        raise BrokerError(
            f"ICICI Breeze refused the sign-in: {_scrub(reason, credential)} "
            "Check the API key and secret, then connect again."
        )

    def connect(self, credential: BrokerCredential, *, state: str = "") -> SessionResult:
        """The Breeze sign-in page; Breeze returns to the redirect URL set on the ICICI app."""
        return SessionResult(
            connected=False, login_url=f"{LOGIN_URL}?{urlencode({'api_key': credential.api_key})}"
        )

    def complete(self, credential: BrokerCredential, request_token: str) -> SessionResult:
        """Exchange the callback's API session for a session token, valid until midnight IST."""
        details = self._get(
            credential,
            "customerdetails",
            {"SessionToken": request_token, "AppKey": credential.api_key},
            lambda text: {},
        )
        session_token = str(details.get("session_token") or "")
        try:
            user_id, _key = base64.b64decode(session_token, validate=True).decode().split(":", 1)
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise BrokerError("ICICI Breeze answered without a usable session token.") from exc

        def signed(text: str) -> dict:
            # Breeze wants UTC to the second with a literal ".000Z", as its own SDK sends it.
            timestamp = timezone.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            return {
                "X-Checksum": breeze_checksum(timestamp, text, credential.api_secret),
                "X-Timestamp": timestamp,
                "X-AppKey": credential.api_key,
                "X-SessionToken": session_token,
            }

        self._get(credential, "funds", {}, signed)
        return SessionResult(
            connected=True,
            access_token=session_token,
            expires_at=breeze_expiry(timezone.now()),
            details={"broker_user_id": str(details.get("idirect_userid") or user_id)},
        )
