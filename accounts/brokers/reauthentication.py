"""Who may add or replace a broker key: a browser session that recently confirmed its password.

allauth keeps, in the session, when the user last re-authenticated (password or MFA code);
`ACCOUNT_REAUTHENTICATION_TIMEOUT` says how long that counts as recent. A personal API token
never counts: a stolen or hijacked browser session could otherwise mint a token and use it to
swap the keys without ever giving the password (docs/api.md, "Broker credentials").

allauth's own rule applies to accounts with neither a password nor MFA (social sign-in only):
they have nothing to re-enter, so they count as recently re-authenticated. A sign-in does not
count: only an explicit confirmation does, as for allauth's MFA pages. The helper is allauth's
internal one (pinned version); its public decorator would stash the POST, keys included, in the
session while the password is asked for.
"""

from allauth.account.internal.flows.reauthentication import did_recently_reauthenticate
from django.http import HttpRequest


def secrets_change_allowed(request: HttpRequest, *, by_token: bool = False) -> bool:
    """True when this request may add or replace a broker key."""
    if by_token or not request.user.is_authenticated:
        return False
    return did_recently_reauthenticate(request)
