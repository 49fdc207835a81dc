"""Clients for the page tests: signed in directly, or through allauth's sign-in form."""

from http import HTTPStatus

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client
from django.urls import reverse

from tests.pages.support import reauthenticate
from tests.totp import current_code


@pytest.fixture
def page_client(client: Client, user) -> Client:
    """A browser-like client signed in as `user` (no allauth sign-in record)."""
    client.force_login(user)
    return client


@pytest.fixture
def fresh_client(client: Client, user, password) -> Client:
    """Signed in through allauth's form and just re-authenticated: MFA pages open directly."""
    response = client.post(reverse("account_login"), {"login": user.email, "password": password})
    assert response.status_code == HTTPStatus.FOUND, response.content
    reauthenticate(client, password)
    return client


@pytest.fixture
def totp_secret(user) -> str:
    """Turn on TOTP and recovery codes for `user`; return the TOTP secret."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return secret


@pytest.fixture
def totp_code(totp_secret):
    return lambda: current_code(totp_secret)
