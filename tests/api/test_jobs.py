"""GET /api/v1/jobs and /api/v1/jobs/{id}: the caller's own background jobs."""

from http import HTTPStatus

import pytest

from audit.models import JobStatus

JOB_FIELDS = {
    "id",
    "job_type",
    "status",
    "progress",
    "message",
    "result",
    "error",
    "created_at",
    "started_at",
    "finished_at",
    "updated_at",
}


def test_the_list_holds_only_the_callers_jobs_not_others_or_system_jobs(
    session_client, user, other_user, make_job
):
    first = make_job(user, "import")
    make_job(other_user, "import")
    make_job(None, "heartbeat")
    second = make_job(user, "backtest")

    body = session_client.get("/api/v1/jobs").json()

    assert [row["id"] for row in body["results"]] == [second.pk, first.pk]
    assert set(body["results"][0]) == JOB_FIELDS


def test_a_job_shows_its_progress_and_outcome(session_client, user, make_job):
    job = make_job(
        user,
        status=JobStatus.SUCCEEDED,
        progress=100,
        message="Imported 3 rows.",
        result={"rows": 3},
    )

    body = session_client.get(f"/api/v1/jobs/{job.pk}").json()

    assert {k: body[k] for k in ("status", "progress", "message", "result", "error")} == {
        "status": "succeeded",
        "progress": 100,
        "message": "Imported 3 rows.",
        "result": {"rows": 3},
        "error": "",
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "failed"}, ["failed import"]),
        ({"job_type": "import"}, ["failed import", "queued import"]),
        ({"job_type": "backtest", "status": "queued"}, ["queued backtest"]),
        ({"job_type": "snapshot"}, []),
    ],
)
def test_filters_by_status_and_type(session_client, user, make_job, params, expected):
    jobs = {
        "queued import": make_job(user, "import"),
        "queued backtest": make_job(user, "backtest"),
        "failed import": make_job(user, "import", status=JobStatus.FAILED, error="bad file"),
    }

    body = session_client.get("/api/v1/jobs", params).json()

    assert sorted(row["id"] for row in body["results"]) == sorted(
        jobs[name].pk for name in expected
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [({"status": "exploded"}, "status"), ({"job_type": "x" * 65}, "job_type")],
)
def test_a_bad_filter_answers_400_under_its_name(session_client, params, field):
    response = session_client.get("/api/v1/jobs", params)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()["errors"]) == [field]


@pytest.mark.parametrize("owner", ["other user", "system"])
def test_someone_elses_job_is_not_found(session_client, other_user, make_job, owner):
    job = make_job(other_user if owner == "other user" else None)
    missing = session_client.get("/api/v1/jobs/987654")

    response = session_client.get(f"/api/v1/jobs/{job.pk}")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == missing.json()
