"""Staff-only API: model history, every job, detailed health (SPEC §6 "staff only")."""

from http import HTTPStatus

import pytest
from auditlog.context import set_actor
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import Heartbeat, HeartbeatKind, JobStatus
from audit.services.jobs import job_claim, job_create, job_fail
from portfolio.models import Portfolio, ProviderState
from portfolio.services import portfolio_create, portfolio_update

pytestmark = pytest.mark.django_db

STAFF_ROUTES = ["api-staff-audit", "api-staff-jobs", "api-staff-health"]


@pytest.fixture
def staff_client(staff_user) -> APIClient:
    client = APIClient()
    client.force_login(staff_user)
    return client


@pytest.mark.parametrize("name", STAFF_ROUTES)
def test_staff_routes_refuse_anonymous_and_non_staff_callers(name, api_client, session_client):
    url = reverse(name)

    assert api_client.get(url).status_code == HTTPStatus.UNAUTHORIZED
    refused = session_client.get(url)
    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert set(refused.json()) >= {"detail"}


@pytest.mark.parametrize("name", STAFF_ROUTES)
def test_staff_routes_answer_staff_and_are_never_cached(name, staff_client):
    response = staff_client.get(reverse(name))

    assert response.status_code == HTTPStatus.OK
    assert "no-store" in response["Cache-Control"]


def test_history_of_one_row_lists_its_changes_with_the_actor(staff_client, user, other_user):
    portfolio = portfolio_create(user=user, name="Growth")
    portfolio_update(portfolio=portfolio, data={"name": "Growth 2"})
    portfolio_create(user=other_user, name="Someone else's")

    response = staff_client.get(
        reverse("api-staff-audit"), {"entity": "portfolio.portfolio", "id": str(portfolio.pk)}
    )

    assert response.status_code == HTTPStatus.OK
    results = response.json()["results"]
    assert [entry["action"] for entry in results] == ["update", "create"]
    assert results[0]["entity"] == "portfolio.portfolio"
    assert results[0]["object_id"] == str(portfolio.pk)
    assert results[0]["changes"]["name"] == ["Growth", "Growth 2"]


def test_history_filters_by_user_id_or_email(staff_client, user, other_user):
    with set_actor(user):
        portfolio_create(user=user, name="Mine")
    with set_actor(other_user):
        portfolio_create(user=other_user, name="Theirs")

    by_email = staff_client.get(
        reverse("api-staff-audit"), {"entity": "portfolio.portfolio", "user": user.email.upper()}
    ).json()["results"]
    by_id = staff_client.get(
        reverse("api-staff-audit"), {"entity": "portfolio.portfolio", "user": str(other_user.pk)}
    ).json()["results"]

    assert [entry["object_repr"] for entry in by_email] == ["Mine"]
    assert [entry["actor"]["email"] for entry in by_id] == [other_user.email]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"entity": "nope.nothing"}, "entity"),
        ({"id": "3"}, "id"),
        ({"since": "2026-01-02", "until": "2026-01-01"}, "until"),
        ({"since": "yesterday"}, "since"),
    ],
)
def test_bad_history_filters_answer_400_naming_the_field(staff_client, params, field):
    response = staff_client.get(reverse("api-staff-audit"), params)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["errors"]


def test_staff_job_list_shows_every_users_jobs_with_filters(staff_client, user, other_user):
    mine = job_create(user=user, job_type="portfolio.import")
    theirs = job_create(user=other_user, job_type="bots.backtest")
    job_claim(job_id=theirs.pk)
    job_fail(job_id=theirs.pk, error="boom")

    everything = staff_client.get(reverse("api-staff-jobs")).json()["results"]
    failed = staff_client.get(reverse("api-staff-jobs"), {"status": JobStatus.FAILED}).json()
    by_user = staff_client.get(reverse("api-staff-jobs"), {"user": user.email}).json()

    assert {job["id"] for job in everything} >= {mine.pk, theirs.pk}
    assert [job["id"] for job in failed["results"]] == [theirs.pk]
    assert [(job["id"], job["user"]) for job in by_user["results"]] == [(mine.pk, user.email)]


def test_health_details_list_processes_failures_and_provider_breakers(staff_client, user):
    Heartbeat.objects.create(
        kind=HeartbeatKind.WORKER, instance="host-a:11", beat_at=timezone.now()
    )
    failed = job_create(user=user, job_type="portfolio.import")
    job_claim(job_id=failed.pk)
    job_fail(job_id=failed.pk, error="boom")
    ProviderState.objects.create(provider="synthetic", circuit="open", consecutive_failures=5)

    body = staff_client.get(reverse("api-staff-health")).json()

    assert body["status"] in {"ok", "fail"}
    assert {"database", "cache", "worker", "scheduler", "queue"} <= set(body["checks"])
    assert {"kind": "worker", "instance": "host-a:11"}.items() <= body["processes"][0].items()
    assert body["jobs"]["failed_last_hour"] == 1
    assert body["providers"][0]["provider"] == "synthetic"
    assert body["providers"][0]["circuit"] == "open"
    assert Portfolio.objects.count() == 0
