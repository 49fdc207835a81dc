"""Helpers of the broker credential tests: clients that may (or may not) add broker keys."""

from http import HTTPStatus

from django.test import Client
from django.urls import reverse

from tests.pages.support import reauthenticate

# Long enough to be masked as bullets + last 4, and unlike anything else on a page.
API_KEY = "kQ7vXr2LmN9pT4wZ-apikey-8JdF3sA1"
API_SECRET = "Hs5bYc8EoR1uV6xW-secret-2GtK7nM4"
PASSPHRASE = "Pz3fLq9WeD2rTy6U-pass-5VbN1cX8"
NEW_API_KEY = "Nw4yUi8OpA3sDf7G-newkey-6HjK2lZ9"
NEW_API_SECRET = "Mv1cXz5BnQ9wEr3T-newsecret-7YuI4oP0"


def sign_in_fresh(client: Client, email: str, password: str) -> Client:
    """Sign in through allauth's form and confirm the password again: keys may be added."""
    response = client.post(reverse("account_login"), {"login": email, "password": password})
    assert response.status_code == HTTPStatus.FOUND, response.content
    reauthenticate(client, password)
    return client
