"""`POST /api/v1/transactions/import`: multipart and JSON, dry run, errors, ownership, jobs."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audit.models import ActivityAction, ActivityLog, BackgroundJob, JobStatus
from portfolio.models import Transaction
from portfolio.services.ledger import portfolio_create

URL = "/api/v1/transactions/import"
D = (timezone.localdate() - timedelta(days=5)).isoformat()
CSV = f"date,type,symbol,quantity,price,currency\n{D},BUY,ACME,2,10,USD\n{D},DEPOSIT,,1,50,USD\n"


@pytest.fixture
def portfolio(user):
    return portfolio_create(user=user, name="Main")


def upload(text: str, name: str = "trades.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def test_dry_run_upload_answers_the_preview_and_writes_nothing(session_client, portfolio):
    response = session_client.post(
        URL, {"portfolio": portfolio.pk, "dry_run": "true", "file": upload(CSV)}, format="multipart"
    )

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert (body["dry_run"], body["to_add_count"], body["created"]) == (True, 2, 0)
    assert [row["symbol"] for row in body["to_add"]] == ["ACME", ""]
    assert Transaction.objects.count() == 0


def test_upload_imports_and_a_second_upload_adds_nothing(session_client, portfolio):
    first = session_client.post(
        URL, {"portfolio": portfolio.pk, "file": upload(CSV)}, format="multipart"
    )
    second = session_client.post(
        URL, {"portfolio": portfolio.pk, "file": upload(CSV)}, format="multipart"
    )

    assert (first.status_code, first.json()["created"]) == (HTTPStatus.CREATED, 2)
    assert (second.status_code, second.json()["duplicate_count"]) == (HTTPStatus.OK, 2)
    assert Transaction.objects.count() == 2
    assert ActivityLog.objects.filter(action=ActivityAction.TRANSACTIONS_IMPORTED).count() == 2


def test_a_bad_row_answers_400_with_its_row_and_field(session_client, portfolio):
    text = CSV + f"{D},BUY,ACME,two,10,USD\n"

    response = session_client.post(
        URL, {"portfolio": portfolio.pk, "file": upload(text)}, format="multipart"
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    body = response.json()
    assert body["detail"] == "The import has 1 error; nothing was imported."
    assert body["errors"] == {
        "rows.4.quantity": ['Line 4, column "quantity": “two” is not a number.']
    }
    assert Transaction.objects.count() == 0


def test_json_body_with_transactions_imports(session_client, portfolio):
    body = {
        "portfolio": portfolio.pk,
        "transactions": [
            {
                "date": D,
                "type": "BUY",
                "symbol": "ACME",
                "quantity": "1",
                "price": "9",
                "currency": "USD",
                "external_id": "a1",
            },
        ],
    }

    response = session_client.post(URL, body, format="json")

    assert response.status_code == HTTPStatus.CREATED
    assert Transaction.objects.get().external_id == "a1"


def test_json_body_with_ghostfolio_activities_imports(session_client, portfolio):
    body = {
        "portfolio": portfolio.pk,
        "dry_run": False,
        "activities": [
            {
                "date": f"{D}T00:00:00.000Z",
                "type": "BUY",
                "symbol": "MSFT",
                "quantity": 5,
                "unitPrice": 298.58,
                "fee": 19,
                "currency": "USD",
                "dataSource": "YAHOO",
            },
        ],
    }

    response = session_client.post(URL, body, format="json")

    assert response.status_code == HTTPStatus.CREATED, response.json()
    assert str(Transaction.objects.get().price) == "298.5800000000"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"file": "x"}, "portfolio"),
        ({"portfolio": 0}, "portfolio"),
        ({}, "file"),
    ],
)
def test_missing_or_unknown_parts_answer_400_by_field(session_client, portfolio, data, field):
    if "portfolio" not in data and field != "portfolio":
        data = {**data, "portfolio": portfolio.pk}

    response = session_client.post(URL, data, format="multipart")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["errors"]


def test_another_users_portfolio_answers_400_and_writes_nothing(session_client, other_user):
    theirs = portfolio_create(user=other_user, name="Theirs")

    response = session_client.post(
        URL, {"portfolio": theirs.pk, "file": upload(CSV)}, format="multipart"
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "does not exist" in response.json()["errors"]["portfolio"][0]
    assert Transaction.objects.count() == 0


def test_a_big_file_answers_202_with_its_job(session_client, portfolio, settings):
    settings.PORTFOLIO_IMPORT_BACKGROUND_ROWS = 1

    response = session_client.post(
        URL, {"portfolio": portfolio.pk, "file": upload(CSV)}, format="multipart"
    )

    assert response.status_code == HTTPStatus.ACCEPTED
    job = BackgroundJob.objects.get(pk=response.json()["id"])
    assert (job.job_type, job.status) == ("transactions_import", JobStatus.QUEUED)
    assert Transaction.objects.count() == 0


def test_import_needs_a_signed_in_user(api_client, portfolio):
    response = api_client.post(URL, {"portfolio": portfolio.pk}, format="multipart")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
