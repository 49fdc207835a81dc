"""Binance, Coinbase and Kraken through ccxt.

The keys are the session: connecting checks them with one signed balance call and stores no
token. The call is the exchange's own balance endpoint through ccxt's signed API rather than
`fetch_balance`, which first downloads the exchange's whole market list (megabytes, several
requests) only to format the answer. Coinbase Exchange keys come with a passphrase and go to
ccxt's `coinbaseexchange`; keys without one are Advanced Trade keys (`coinbase`).
"""

import logging

from accounts.brokers.adapters import BrokerAdapter, BrokerError, SessionResult
from accounts.brokers.kite import _scrub
from accounts.models import Broker, BrokerCredential

TIMEOUT_MILLISECONDS = 10_000

# ccxt logs every request's headers (the API key among them) at DEBUG on its own logger; its
# exchanges get this one instead, which belongs to no hierarchy and lets nothing through.
_WIRE_LOGGER = logging.Logger("accounts.brokers.ccxt.wire", level=logging.CRITICAL + 1)

# The ccxt exchange id and the signed balance method of each broker (and of Coinbase Exchange).
BALANCE_CALLS = {
    "binance": "private_get_account",
    "kraken": "private_post_balance",
    "coinbase": "v3_private_get_brokerage_accounts",
    "coinbaseexchange": "private_get_accounts",
}


class CcxtAdapter(BrokerAdapter):
    def __init__(self, broker: str, *, optional: tuple[str, ...] = ()) -> None:
        self.broker = broker
        self.optional_secrets = optional

    def exchange_id(self, credential: BrokerCredential) -> str:
        if self.broker == Broker.COINBASE and credential.passphrase:
            return "coinbaseexchange"
        return str(self.broker)

    def _exchange(self, credential: BrokerCredential):
        # Imported here: ccxt takes a third of a second to import and only connects need it.
        import ccxt

        config = {
            "apiKey": credential.api_key,
            "secret": credential.api_secret,
            "timeout": TIMEOUT_MILLISECONDS,
            "logger": _WIRE_LOGGER,
        }
        if credential.passphrase:
            config["password"] = credential.passphrase
        return getattr(ccxt, self.exchange_id(credential))(config)

    def connect(self, credential: BrokerCredential, *, state: str = "") -> SessionResult:
        """Check the keys with one balance call; connected means the exchange accepted them."""
        import ccxt

        name = credential.get_broker_display()
        exchange_id = self.exchange_id(credential)
        try:
            getattr(self._exchange(credential), BALANCE_CALLS[exchange_id])()
        except ccxt.AuthenticationError as exc:
            raise BrokerError(
                f"{name} refused the keys ({_scrub(str(exc), credential)}). Check the API key, "
                "secret and passphrase and the key's permissions, then connect again."
            ) from exc
        except ccxt.RequestTimeout as exc:
            raise BrokerError(f"{name} did not answer in time; try again in a minute.") from exc
        except ccxt.NetworkError as exc:
            raise BrokerError(f"{name} could not be reached; try again later.") from exc
        except ccxt.BaseError as exc:
            raise BrokerError(
                f"{name} answered with an error: {_scrub(str(exc), credential)}"
            ) from exc
        except ValueError as exc:
            # Signing failed before anything was sent: a secret of the wrong shape.
            raise BrokerError(
                f"{name} keys could not be used to sign a request; check the API secret."
            ) from exc
        return SessionResult(connected=True, details={"exchange": exchange_id})
