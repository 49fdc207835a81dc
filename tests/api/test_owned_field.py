"""OwnedPrimaryKeyRelatedField: ids in request bodies resolve only among the caller's rows."""

import pytest
from rest_framework import serializers
from rest_framework.test import APIRequestFactory

from accounts.models import PersonalApiToken, User
from trading_lab.api.fields import OwnedPrimaryKeyRelatedField


class TokenChoice(serializers.Serializer):
    token = OwnedPrimaryKeyRelatedField(queryset=PersonalApiToken.objects.all())


def _as(user) -> dict:
    request = APIRequestFactory().post("/")
    request.user = user
    return {"request": request}


def test_the_callers_own_id_resolves_to_the_row(user, make_token):
    token, _ = make_token(user)
    serializer = TokenChoice(data={"token": token.pk}, context=_as(user))

    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["token"] == token


def test_another_users_id_reads_as_an_object_that_does_not_exist(user, other_user, make_token):
    theirs, _ = make_token(other_user)
    missing = TokenChoice(data={"token": 987654}, context=_as(user))
    foreign = TokenChoice(data={"token": theirs.pk}, context=_as(user))

    assert not missing.is_valid()
    assert not foreign.is_valid()
    assert "does not exist" in str(foreign.errors["token"][0])
    assert str(foreign.errors["token"][0]).replace(str(theirs.pk), "987654") == str(
        missing.errors["token"][0]
    )


def test_without_a_signed_in_request_nothing_resolves(user, make_token):
    token, _ = make_token(user)

    assert not TokenChoice(data={"token": token.pk}, context={}).is_valid()


def test_a_model_without_owners_is_refused(user):
    class UserChoice(serializers.Serializer):
        user = OwnedPrimaryKeyRelatedField(queryset=User.objects.all())

    with pytest.raises(TypeError, match="not owned"):
        UserChoice(data={"user": user.pk}, context=_as(user)).is_valid()
