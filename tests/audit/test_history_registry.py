"""Which models have history: every project model, unless excluded on purpose."""

import sys
from pathlib import Path

import pytest
from auditlog.registry import auditlog
from django.apps import apps
from django.conf import settings
from encrypted_fields.fields import EncryptedFieldMixin

from audit.history import EXCLUDED_MODELS, PROJECT_EXCLUDED_FIELDS, SECRET_FIELD_NAMES


def _project_models() -> list:
    """Models of apps whose code lives in this repository, found independently of history.py."""
    base_dir = Path(settings.BASE_DIR).resolve()
    environment = Path(sys.prefix).resolve()
    return [
        model
        for config in apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(base_dir)
        and not Path(config.path).resolve().is_relative_to(environment)
        for model in config.get_models()
    ]


def test_every_project_model_has_history_or_a_listed_reason_not_to():
    missing = [
        model._meta.label
        for model in _project_models()
        if not auditlog.contains(model) and model._meta.label not in EXCLUDED_MODELS
    ]

    assert missing == [], "register these with auditlog, or add them to EXCLUDED_MODELS"


@pytest.mark.parametrize(
    "label",
    [
        "accounts.User",
        "accounts.Profile",
        "accounts.Preferences",
        "accounts.PersonalApiToken",
        "accounts.BrokerCredential",
        "accounts.BrokerSession",
        "audit.ScheduledJob",
        "mfa.Authenticator",
        "account.EmailAddress",
    ],
)
def test_domain_model_has_history(label):
    assert auditlog.contains(apps.get_model(label))


@pytest.mark.parametrize("label", sorted(EXCLUDED_MODELS))
def test_excluded_model_exists_and_has_no_history(label):
    # A stale exclusion (model renamed or gone) fails here instead of hiding a new model.
    assert not auditlog.contains(apps.get_model(label))


@pytest.mark.parametrize(
    ("label", "field"),
    [
        ("accounts.User", "password"),
        ("accounts.PersonalApiToken", "token_hash"),
        ("accounts.BrokerCredential", "api_key"),
        ("accounts.BrokerCredential", "api_secret"),
        ("accounts.BrokerCredential", "passphrase"),
        ("accounts.BrokerSession", "access_token"),
        ("accounts.BrokerSession", "refresh_token"),
        ("mfa.Authenticator", "data"),
    ],
)
def test_known_secret_field_is_left_out_of_history(label, field):
    model = apps.get_model(label)
    options = auditlog.get_model_fields(model)

    assert field in options["exclude_fields"]
    assert field not in options["mask_fields"]


def test_every_encrypted_or_secret_named_field_of_any_history_model_is_left_out():
    leaks = [
        f"{model._meta.label}.{field.name}"
        for model in auditlog.get_models()
        for field in model._meta.concrete_fields
        if (isinstance(field, EncryptedFieldMixin) or field.name in SECRET_FIELD_NAMES)
        and field.name not in auditlog.get_model_fields(model)["exclude_fields"]
    ]

    assert leaks == []


def test_no_history_model_serializes_whole_rows():
    # A serialized snapshot would carry every field, the excluded secrets included.
    assert [
        model._meta.label
        for model in auditlog.get_models()
        if auditlog.get_serialize_options(model)["serialize_data"]
    ] == []


@pytest.mark.parametrize(
    ("label", "field"),
    [(label, field) for label, fields in PROJECT_EXCLUDED_FIELDS.items() for field in fields],
)
def test_listed_derived_field_is_left_out_and_names_a_real_field(label, field):
    model = apps.get_model(label)

    assert field in {f.name for f in model._meta.concrete_fields}
    assert field in auditlog.get_model_fields(model)["exclude_fields"]


def test_a_row_with_excluded_fields_keeps_the_history_of_its_other_fields():
    model = apps.get_model("bots.Backtest")
    options = auditlog.get_model_fields(model)

    assert auditlog.contains(model)
    assert {"status", "config", "initial_balance"}.isdisjoint(options["exclude_fields"])
