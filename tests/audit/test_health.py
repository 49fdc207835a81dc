"""GET /healthz: public, uncached, 200 only when database, cache and both heartbeats are fine."""

import json
import socket
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from audit.models import Heartbeat, HeartbeatKind
from audit.tasks import worker_heartbeat

pytestmark = pytest.mark.django_db

URL = "/healthz"
STALE = settings.HEARTBEAT_STALE_AFTER + timedelta(seconds=30)


def beat(kind: str, age: timedelta = timedelta(0), instance: str = "host:1") -> None:
    Heartbeat.objects.create(kind=kind, instance=instance, beat_at=timezone.now() - age)


@pytest.fixture
def fresh_heartbeats() -> None:
    beat(HeartbeatKind.WORKER)
    beat(HeartbeatKind.SCHEDULER)


def test_healthz_route_is_the_documented_path():
    assert reverse("healthz") == URL


@pytest.mark.usefixtures("fresh_heartbeats")
def test_healthz_answers_200_without_signing_in_when_everything_is_fine(client):
    response = client.get(URL)

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["status"] == "ok"
    checks = body["checks"]
    assert set(checks) == {"database", "cache", "worker", "scheduler", "queue"}
    assert checks["database"]["ok"] is True
    assert checks["database"]["latency_ms"] >= 0
    assert checks["cache"] == {"ok": True}
    for kind in ("worker", "scheduler"):
        assert checks[kind]["ok"] is True
        assert 0 <= checks[kind]["heartbeat_age_seconds"] < STALE.total_seconds()
    assert checks["queue"] == {"depth": 0}


@pytest.mark.usefixtures("fresh_heartbeats")
def test_healthz_reveals_only_flags_ages_and_counts(client):
    body = client.get(URL).json()

    assert {name: set(check) for name, check in body["checks"].items()} == {
        "database": {"ok", "latency_ms"},
        "cache": {"ok"},
        "worker": {"ok", "heartbeat_age_seconds"},
        "scheduler": {"ok", "heartbeat_age_seconds"},
        "queue": {"depth"},
    }
    text = json.dumps(body)
    for secret in (socket.gethostname(), str(connection.settings_dict["NAME"]), "host:1"):
        assert secret not in text


@pytest.mark.parametrize(
    ("worker_age", "scheduler_age", "failing"),
    [
        (STALE, timedelta(0), "worker"),
        (None, timedelta(0), "worker"),
        (timedelta(0), STALE, "scheduler"),
        (timedelta(0), None, "scheduler"),
    ],
    ids=["worker stale", "worker missing", "scheduler stale", "scheduler missing"],
)
def test_healthz_answers_503_when_a_heartbeat_is_stale_or_missing(
    client, worker_age, scheduler_age, failing
):
    for kind, age in ((HeartbeatKind.WORKER, worker_age), (HeartbeatKind.SCHEDULER, scheduler_age)):
        if age is not None:
            beat(kind, age)

    response = client.get(URL)

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"][failing]["ok"] is False
    missing = (worker_age if failing == "worker" else scheduler_age) is None
    age = body["checks"][failing]["heartbeat_age_seconds"]
    assert (age is None) == missing
    assert missing or age >= STALE.total_seconds()
    healthy = "scheduler" if failing == "worker" else "worker"
    assert body["checks"][healthy]["ok"] is True


def test_healthz_uses_the_newest_heartbeat_of_any_process(client):
    beat(HeartbeatKind.WORKER, STALE, instance="dead-worker:1")
    beat(HeartbeatKind.WORKER, instance="live-worker:2")
    beat(HeartbeatKind.SCHEDULER)

    assert client.get(URL).status_code == HTTPStatus.OK


@pytest.mark.usefixtures("fresh_heartbeats")
def test_healthz_honours_the_staleness_setting(client):
    Heartbeat.objects.filter(kind=HeartbeatKind.WORKER).update(
        beat_at=timezone.now() - timedelta(seconds=90)
    )

    with override_settings(HEARTBEAT_STALE_AFTER=timedelta(seconds=60)):
        response = client.get(URL)

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["checks"]["worker"]["ok"] is False


@pytest.mark.usefixtures("fresh_heartbeats")
def test_healthz_answers_503_when_the_cache_fails(client):
    broken_cache = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "no_such_cache_table",
        }
    }

    with override_settings(CACHES=broken_cache):
        response = client.get(URL)

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    body = response.json()
    assert body["checks"]["cache"] == {"ok": False}
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is True
    assert "no_such_cache_table" not in json.dumps(body)


@pytest.mark.usefixtures("fresh_heartbeats")
def test_healthz_queue_depth_counts_tasks_waiting_to_run(client):
    worker_heartbeat.enqueue()
    worker_heartbeat.enqueue()

    body = client.get(URL).json()

    assert body["checks"]["queue"] == {"depth": 2}


@pytest.mark.usefixtures("fresh_heartbeats")
def test_healthz_queue_depth_is_null_when_the_queue_is_not_in_the_database(client):
    immediate = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

    with override_settings(TASKS=immediate):
        body = client.get(URL).json()

    assert body["checks"]["queue"] == {"depth": None}


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_healthz_only_answers_reads(client, method):
    response = getattr(client, method)(URL)

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
