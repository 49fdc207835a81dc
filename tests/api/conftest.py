"""Helpers of the API tests: tokens, jobs, activity rows and throttle rates."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from accounts.models import PersonalApiToken
from accounts.services import token_create
from audit.models import ActivityLog, ActivityStatus, BackgroundJob
from audit.services import activity_record
from audit.services.jobs import job_create
from trading_lab.api import throttling


@pytest.fixture
def bearer_client() -> Callable[[str], APIClient]:
    """A client that sends the given raw token as `Authorization: Bearer ...`."""

    def make(raw: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return make


@pytest.fixture
def make_token() -> Callable[..., tuple[PersonalApiToken, str]]:
    def make(user, name: str = "client", **kwargs) -> tuple[PersonalApiToken, str]:
        return token_create(user=user, name=name, **kwargs)

    return make


@pytest.fixture
def make_job() -> Callable[..., BackgroundJob]:
    def make(user, job_type: str = "import", **fields) -> BackgroundJob:
        job = job_create(user=user, job_type=job_type)
        if fields:
            BackgroundJob.objects.filter(pk=job.pk).update(**fields)
            job.refresh_from_db()
        return job

    return make


@pytest.fixture
def make_activity() -> Callable[..., ActivityLog]:
    def make(user, action: str, status: str = ActivityStatus.SUCCESS, **kwargs) -> ActivityLog:
        return activity_record(user=user, action=action, status=status, **kwargs)

    return make


@pytest.fixture
def throttle_rates(monkeypatch) -> Callable[..., None]:
    """Lower the API throttle rates for one test (DRF reads them once, at import)."""

    def set_rates(*, user: str = "1000/min", anon: str = "1000/min") -> None:
        rates = {"user": user, "anon": anon}
        monkeypatch.setattr(throttling.ApiRateThrottle, "THROTTLE_RATES", rates)

    return set_rates
