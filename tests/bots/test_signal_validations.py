"""`/api/v1/signal-validations`: create, list with filters, detail; scores 0..1; scoped per user."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse

from audit.models import ActivityAction, ActivityLog
from bots.models import SignalValidation
from bots.services import signal_validation_record

pytestmark = pytest.mark.django_db

LIST = reverse("api-signal-validations")


def detail(pk: int) -> str:
    return reverse("api-signal-validation-detail", kwargs={"id": pk})


def body(**overrides):
    values = {
        "model_type": "xgboost",
        "signal_type": "momentum",
        "accuracy": "0.61",
        "precision": "0.58",
        "recall": "0.66",
        "f1": "0.617",
        "sample_size": 1200,
        "parameters": {"window": 20, "threshold": "0.5"},
    }
    values.update(overrides)
    return values


def record(user, **overrides):
    data = body(**overrides)
    for name in ("accuracy", "precision", "recall", "f1"):
        data[name] = Decimal(data[name])
    return signal_validation_record(user=user, **data)


def test_post_records_it_for_the_caller_and_logs_the_activity(token_client, user, other_user):
    response = token_client.post(LIST, body(user=other_user.pk), format="json")

    assert response.status_code == HTTPStatus.CREATED
    answer = response.json()
    saved = SignalValidation.objects.get(pk=answer["id"])
    assert saved.user == user
    assert answer["accuracy"] == "0.610000000000"
    assert answer["parameters"] == {"window": 20, "threshold": "0.5"}
    assert response["Location"] == detail(saved.pk)
    assert ActivityLog.objects.filter(
        user=user,
        action=ActivityAction.SIGNAL_VALIDATION_RECORDED,
        details__signal_validation_id=saved.pk,
    ).exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"accuracy": "1.2"}, "accuracy"),
        ({"precision": "-0.1"}, "precision"),
        ({"recall": "abc"}, "recall"),
        ({"f1": None}, "f1"),
        ({"sample_size": 0}, "sample_size"),
        ({"model_type": ""}, "model_type"),
        ({"parameters": [1, 2]}, "parameters"),
    ],
)
def test_bad_values_answer_400_by_field(token_client, overrides, field):
    response = token_client.post(LIST, body(**overrides), format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["errors"]
    assert not SignalValidation.objects.exists()


def test_the_list_is_yours_newest_first_and_filters_by_type(token_client, user, other_user):
    first = record(user)
    second = record(user, signal_type="mean_reversion")
    third = record(user, model_type="lstm")
    record(other_user)

    everything = token_client.get(LIST).json()
    momentum = token_client.get(LIST, {"signal_type": "momentum"}).json()
    lstm = token_client.get(LIST, {"model_type": "lstm"}).json()

    assert [row["id"] for row in everything["results"]] == [third.pk, second.pk, first.pk]
    assert [row["id"] for row in momentum["results"]] == [third.pk, first.pk]
    assert [row["id"] for row in lstm["results"]] == [third.pk]


def test_detail_is_yours_and_another_users_answers_404(token_client, user, other_user):
    mine, theirs = record(user), record(other_user)

    assert token_client.get(detail(mine.pk)).json()["model_type"] == "xgboost"
    assert token_client.get(detail(theirs.pk)).status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_records_are_not_editable(token_client, user, method):
    mine = record(user)

    response = getattr(token_client, method)(detail(mine.pk), body(), format="json")

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
