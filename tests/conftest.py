"""Fixtures shared by every test: users, API clients, and the database in use."""

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.services import token_create
from tests.factories import PASSWORD, UserFactory


@pytest.fixture(autouse=True)
def fast_password_hasher(settings) -> None:
    """PBKDF2's deliberate slowness (about a second a user here) only slows the suite."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def files_in_tmp(settings, tmp_path_factory) -> None:
    """Backups and activity archives that tests write (scheduled jobs too) stay out of var/."""
    folder = tmp_path_factory.mktemp("var")
    settings.BACKUP_DIR = folder / "backups"
    settings.ACTIVITY_ARCHIVE_DIR = folder / "archive"


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def staff_user(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def session_client(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def token_client(user) -> APIClient:
    """An API client that authenticates as `user` with a Bearer personal token."""
    _, raw = token_create(user=user, name="test client")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests (real locks, real processes) skip, with the reason, on SQLite."""
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL; .ci/run runs the suite there too")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)
