"""Secrets at rest: Fernet tokens in the columns, strict decryption, and key rotation."""

from io import StringIO

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.mfa.utils import decrypt as mfa_decrypt
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.test import override_settings

from accounts.checks import check_field_encryption_keys
from accounts.models import BrokerCredential, BrokerSession, masked
from tests.factories import BrokerCredentialFactory, BrokerSessionFactory, UserFactory
from trading_lab.encryption import DecryptionError

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()

SECRET_COLUMNS = [
    (BrokerCredential, "api_key"),
    (BrokerCredential, "api_secret"),
    (BrokerCredential, "passphrase"),
    (BrokerSession, "access_token"),
    (BrokerSession, "refresh_token"),
]


def raw_value(model, column: str, pk: int) -> str | None:
    """The stored column value, read past the ORM field."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s",  # noqa: S608
            [pk],
        )
        return cursor.fetchone()[0]


def raw_mfa_data(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM mfa_authenticator WHERE id = %s", [pk])
        value = cursor.fetchone()[0]
    # PostgreSQL's psycopg hands jsonb back decoded; SQLite gives the stored text.
    return value if isinstance(value, str) else repr(value)


def make_row(model, column: str, secret: str):
    if model is BrokerCredential:
        return BrokerCredentialFactory(**{column: secret})
    return BrokerSessionFactory(**{column: secret})


def reencrypt(*args: str) -> str:
    out = StringIO()
    call_command("reencrypt", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "column"), SECRET_COLUMNS)
def test_column_holds_a_fernet_token_of_the_current_key_not_the_secret(model, column):
    secret = "sk-live-Very-Secret-Value-7731"
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_A]):
        row = make_row(model, column, secret)
        stored = raw_value(model, column, row.pk)

        assert secret not in stored
        assert Fernet(KEY_A.encode()).decrypt(stored.encode()).decode() == secret
        assert getattr(model.objects.get(pk=row.pk), column) == secret


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "column"), SECRET_COLUMNS)
def test_reading_with_a_wrong_key_raises_instead_of_returning_ciphertext(model, column):
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_A]):
        row = make_row(model, column, "a-secret-only-key-a-opens")
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B]), pytest.raises(DecryptionError):
        model.objects.get(pk=row.pk)


@pytest.mark.django_db
@pytest.mark.parametrize("empty", ["", None])
def test_empty_secrets_are_stored_as_null(empty):
    credential = BrokerCredentialFactory(api_key=empty, api_secret=empty, passphrase=empty)

    for column in ("api_key", "api_secret", "passphrase"):
        assert raw_value(BrokerCredential, column, credential.pk) is None
    assert BrokerCredential.objects.get(pk=credential.pk).api_key is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("abcdefghijklmnop-wxyz", "••••••••wxyz"),
        ("exactly12chr", "••••••••2chr"),
        ("short-secret", "••••••••cret"),
        ("tooshort", "••••••••"),
        ("", ""),
        (None, ""),
    ],
)
def test_masked_shows_at_most_the_last_four_characters(value, shown):
    assert masked(value) == shown


@pytest.mark.django_db
def test_credential_properties_show_only_masked_values():
    credential = BrokerCredentialFactory(
        api_key="key-0123456789-ABCD", api_secret="secret-0123456789-WXYZ", passphrase=None
    )

    assert credential.api_key_masked == "••••••••ABCD"
    assert credential.api_secret_masked == "••••••••WXYZ"
    assert credential.passphrase_masked == ""


@pytest.mark.django_db
def test_second_active_session_for_one_credential_is_refused_by_the_database():
    session = BrokerSessionFactory(active=True)
    BrokerSessionFactory(credential=session.credential, active=False)

    with pytest.raises(IntegrityError), transaction.atomic():
        BrokerSessionFactory(credential=session.credential, active=True)


@pytest.mark.django_db
def test_totp_secret_is_stored_encrypted_and_allauth_still_reads_it():
    user = UserFactory()
    secret = generate_totp_secret()
    totp = TOTP.activate(user, secret)

    stored = raw_mfa_data(totp.instance.pk)
    assert secret not in stored
    assert mfa_decrypt(Authenticator.objects.get(pk=totp.instance.pk).data["secret"]) == secret


def activate_mfa(user) -> tuple[Authenticator, str, Authenticator, list[str]]:
    secret = generate_totp_secret()
    totp = TOTP.activate(user, secret).instance
    recovery = RecoveryCodes.activate(user)
    return totp, secret, recovery.instance, recovery.generate_codes()


@pytest.mark.django_db
def test_rotation_keeps_every_secret_readable_after_the_old_key_is_removed():
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_A]):
        sessions = BrokerSessionFactory.create_batch(3, credential__passphrase="pass-phrase-01")
        expected_credentials = {
            s.credential.pk: (s.credential.api_key, s.credential.api_secret, "pass-phrase-01")
            for s in sessions
        }
        expected_sessions = {s.pk: (s.access_token, s.refresh_token) for s in sessions}
        totp, totp_secret, recovery, codes = activate_mfa(UserFactory())

    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        output = reencrypt("--batch-size", "2")
        assert "accounts.BrokerCredential: 3 of 3 rows re-encrypted" in output
        assert "accounts.BrokerSession: 3 of 3 rows re-encrypted" in output
        assert "mfa.Authenticator (MFA secrets): 2 of 2 rows re-encrypted" in output

    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B]):
        assert {
            c.pk: (c.api_key, c.api_secret, c.passphrase) for c in BrokerCredential.objects.all()
        } == expected_credentials
        assert {
            s.pk: (s.access_token, s.refresh_token) for s in BrokerSession.objects.all()
        } == expected_sessions
        assert mfa_decrypt(Authenticator.objects.get(pk=totp.pk).data["secret"]) == totp_secret
        reloaded_recovery = RecoveryCodes(Authenticator.objects.get(pk=recovery.pk))
        assert reloaded_recovery.generate_codes() == codes
        stored = raw_value(BrokerSession, "access_token", sessions[0].pk)
        assert Fernet(KEY_B.encode()).decrypt(stored.encode()).decode() == sessions[0].access_token


@pytest.mark.django_db
def test_reencrypt_twice_changes_nothing_the_second_time():
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_A]):
        BrokerSessionFactory.create_batch(2)
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        reencrypt()
        before = [
            raw_value(BrokerCredential, "api_key", c.pk) for c in BrokerCredential.objects.all()
        ]
        output = reencrypt()
        after = [
            raw_value(BrokerCredential, "api_key", c.pk) for c in BrokerCredential.objects.all()
        ]

    assert "Done: 0 rows re-encrypted." in output
    assert before == after


@pytest.mark.django_db
def test_dry_run_counts_rows_under_an_old_key_and_writes_nothing():
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_A]):
        old = BrokerCredentialFactory.create_batch(2)
        activate_mfa(UserFactory())
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        BrokerCredentialFactory()
        before = {c.pk: raw_value(BrokerCredential, "api_key", c.pk) for c in old}
        output = reencrypt("--dry-run")
        after = {c.pk: raw_value(BrokerCredential, "api_key", c.pk) for c in old}

    assert "accounts.BrokerCredential: 2 of 3 rows would be re-encrypted" in output
    assert "mfa.Authenticator (MFA secrets): 2 of 2 rows would be re-encrypted" in output
    assert "Done: 4 rows would be re-encrypted." in output
    assert before == after


@pytest.mark.django_db
def test_undecryptable_row_stops_reencrypt_naming_model_and_pk():
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_A]):
        lost = BrokerCredentialFactory()
        stored = raw_value(BrokerCredential, "api_key", lost.pk)
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B]),
        pytest.raises(CommandError, match=rf"accounts\.BrokerCredential pk={lost.pk}: api_key"),
    ):
        reencrypt()

    assert raw_value(BrokerCredential, "api_key", lost.pk) == stored


@pytest.mark.django_db
def test_undecryptable_totp_secret_stops_reencrypt_naming_the_authenticator():
    with override_settings(FIELD_ENCRYPTION_KEYS=[KEY_A]):
        totp = TOTP.activate(UserFactory(), generate_totp_secret()).instance
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[KEY_B]),
        pytest.raises(CommandError, match=rf"mfa\.Authenticator pk={totp.pk}: data\['secret'\]"),
    ):
        reencrypt()


@pytest.mark.django_db
def test_reencrypt_refuses_a_batch_size_below_one():
    with pytest.raises(CommandError, match="--batch-size"):
        reencrypt("--batch-size", "0")


@pytest.mark.parametrize(
    ("keys", "ids"),
    [
        ([KEY_A], []),
        ([KEY_B, KEY_A], []),
        ([], ["accounts.E001"]),
        (["not-a-fernet-key"], ["accounts.E002"]),
        ([KEY_A, "c2hvcnQ="], ["accounts.E002"]),
        ([KEY_A, KEY_A], ["accounts.W001"]),
    ],
)
def test_system_check_refuses_keys_that_are_not_fernet_keys(keys, ids):
    with override_settings(FIELD_ENCRYPTION_KEYS=keys):
        messages = check_field_encryption_keys()

    assert [m.id for m in messages] == ids
    for message in messages:
        for key in keys:
            assert key not in message.msg
