"""No secret, not even masked, reaches a model-history entry, whatever happens to its row."""

import json

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from accounts.models import BrokerCredential, BrokerSession, PersonalApiToken, User
from accounts.services import token_create, token_revoke
from tests.factories import BrokerCredentialFactory, BrokerSessionFactory, UserFactory
from trading_lab.encryption import decrypt_str

SECRET_FIELDS = {
    "password",
    "token_hash",
    "data",
    "api_key",
    "api_secret",
    "passphrase",
    "access_token",
    "refresh_token",
}
FERNET_TOKEN_START = "gAAAAA"


def _entries_text(entries) -> str:
    return json.dumps(
        [
            [e.changes, e.changes_text, e.object_repr, e.serialized_data, e.additional_data]
            for e in entries
        ],
        default=str,
    )


def _entries_for(model) -> list[LogEntry]:
    return list(LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(model)))


@pytest.mark.django_db
def test_no_secret_appears_in_any_log_entry_through_create_update_and_delete():
    user = UserFactory()
    secrets = {user.password}
    token, raw = token_create(user=user, name="ci")
    token_revoke(token=token)
    secrets |= {raw, token.token_hash}
    user.set_password("A-New-Password-42")
    user.save()
    secrets.add(user.password)
    totp_secret = generate_totp_secret()
    totp = TOTP.activate(user, totp_secret).instance
    codes = RecoveryCodes.activate(user)
    seed = codes.instance.data["seed"]
    secrets |= {totp_secret, totp.data["secret"], seed, decrypt_str(seed)}
    secrets |= set(codes.get_unused_codes())
    credential = BrokerCredentialFactory(user=user, passphrase="broker-passphrase-Aq7")
    credential.api_secret = "rotated-api-secret-Lm93"
    credential.save()
    session = BrokerSessionFactory(credential=credential)
    secrets |= {
        credential.api_key,
        credential.api_secret,
        credential.passphrase,
        session.access_token,
        session.refresh_token,
        "api-secret-",
    }

    user.delete()

    # Every model went through create and delete (and some an update): the check has material.
    for model in (User, PersonalApiToken, Authenticator, BrokerCredential, BrokerSession):
        actions = {entry.action for entry in _entries_for(model)}
        assert {LogEntry.Action.CREATE, LogEntry.Action.DELETE} <= actions, model
    entries = list(LogEntry.objects.all())
    text = _entries_text(entries)
    assert [secret for secret in secrets if secret in text] == []
    assert FERNET_TOKEN_START not in text
    assert [
        (entry.object_repr, sorted(SECRET_FIELDS & set(entry.changes or {})))
        for entry in entries
        if SECRET_FIELDS & set(entry.changes or {})
    ] == []


@pytest.mark.django_db
def test_changing_only_a_secret_leaves_no_history_entry():
    user = UserFactory()
    credential = BrokerCredentialFactory(user=user)
    before = len(_entries_for(BrokerCredential))
    users_before = len(_entries_for(User))

    credential.api_secret = "another-secret-value-Zz1"
    credential.save()
    user.set_password("Yet-Another-Password-8")
    user.save()

    assert len(_entries_for(BrokerCredential)) == before
    assert len(_entries_for(User)) == users_before
