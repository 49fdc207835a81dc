"""System configuration: typed values with defaults in code, a version, history and activity."""

from decimal import Decimal
from http import HTTPStatus

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import ActivityAction, ActivityLog, SystemConfigEntry
from audit.services.config import config_get, config_list, config_update, config_version
from audit.services.retention import activity_prune
from bots.app_settings import app_settings
from trading_lab.exceptions import ApplicationError

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(staff_user) -> APIClient:
    client = APIClient()
    client.force_login(staff_user)
    return client


def test_defaults_come_from_the_django_settings_until_staff_set_a_value(settings):
    settings.BOTS_FEE_RATE = "0.002"
    settings.ACTIVITY_RETENTION_DAYS = 30

    assert config_get("trading.fee_rate") == Decimal("0.002")
    assert app_settings.fee_rate == Decimal("0.002")
    assert config_get("retention.activity_days") == 30
    assert config_version() == 0


def test_a_change_is_typed_versioned_in_history_and_in_the_activity_log(staff_user):
    with set_actor(staff_user):  # what the request middleware does for the admin and the API
        version = config_update(
            changes={"trading.fee_rate": "0.0005", "retention.activity_days": 120},
            user=staff_user,
        )

    assert version == 1
    assert config_get("trading.fee_rate") == Decimal("0.0005")
    assert app_settings.fee_rate == Decimal("0.0005")
    assert config_get("retention.activity_days") == 120
    entry = SystemConfigEntry.objects.get(key="trading.fee_rate")
    assert entry.value == "0.0005"
    assert LogEntry.objects.get_for_object(entry).get().actor == staff_user
    row = ActivityLog.objects.filter(action=ActivityAction.CONFIG_UPDATED).get()
    assert row.user == staff_user
    assert row.details["changes"] == {"retention.activity_days": 120, "trading.fee_rate": "0.0005"}


def test_version_rises_on_every_change_and_not_on_a_repeat(staff_user):
    assert config_update(changes={"trading.slippage_bps": "7"}, user=staff_user) == 1
    assert config_update(changes={"trading.slippage_bps": "7"}, user=staff_user) == 1
    assert config_update(changes={"trading.slippage_bps": "8"}, user=staff_user) == 2
    assert config_update(changes={"trading.slippage_bps": None}, user=staff_user) == 3
    assert not SystemConfigEntry.objects.exists()
    assert config_get("trading.slippage_bps") == Decimal(5)


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("trading.fee_rate", "-0.1", "at least 0"),
        ("trading.fee_rate", "0.5", "at most 0.1"),
        ("trading.fee_rate", "ten", "a number"),
        ("trading.fee_rate", "NaN", "finite"),
        ("retention.activity_days", "1.5", "whole number"),
        ("retention.activity_days", 0, "at least 1"),
        ("retention.activity_days", True, "whole number"),
        ("no.such.key", "1", "No such setting"),
    ],
)
def test_a_bad_value_refuses_the_whole_change_naming_the_setting(staff_user, key, value, says):
    with pytest.raises(ApplicationError) as refused:
        config_update(changes={"trading.slippage_bps": "9", key: value}, user=staff_user)

    assert says in refused.value.extra[key][0]
    assert "trading.slippage_bps" not in refused.value.extra
    assert not SystemConfigEntry.objects.exists()
    assert config_version() == 0


def test_retention_reads_the_configured_period(user, staff_user, tmp_path):
    config_update(changes={"retention.activity_days": 10_000}, user=staff_user)

    report = activity_prune(archive_dir=tmp_path, dry_run=True)

    assert report.rows == 0


def test_api_lists_every_setting_with_value_default_and_bounds(staff_client):
    body = staff_client.get(reverse("api-staff-config")).json()

    by_key = {item["key"]: item for item in body["settings"]}
    assert set(by_key) == {item.definition.key for item in config_list()}
    fee = by_key["trading.fee_rate"]
    assert (fee["value"], fee["default"], fee["overridden"], fee["type"]) == (
        "0.001",
        "0.001",
        False,
        "decimal",
    )
    assert (fee["minimum"], fee["maximum"]) == ("0", "0.1")
    assert body["version"] == 0


def test_api_patch_changes_settings_and_answers_the_new_state(staff_client):
    response = staff_client.patch(
        reverse("api-staff-config"), {"trading.fee_rate": "0.0025"}, format="json"
    )

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["version"] == 1
    fee = {item["key"]: item for item in body["settings"]}["trading.fee_rate"]
    assert (fee["value"], fee["overridden"]) == ("0.0025", True)


@pytest.mark.parametrize(
    "body", [{"trading.fee_rate": "lots"}, {"nope": 1}, {}, ["trading.fee_rate"]]
)
def test_api_refuses_bad_changes_with_400_and_changes_nothing(staff_client, body):
    response = staff_client.patch(reverse("api-staff-config"), body, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["errors"]
    assert config_version() == 0


def test_admin_saves_through_the_service_and_refuses_a_bad_value(staff_client):
    url = reverse("admin:audit_systemconfigentry_add")

    refused = staff_client.post(url, {"key": "trading.fee_rate", "value": "2"}, format="multipart")
    saved = staff_client.post(
        url, {"key": "trading.fee_rate", "value": "0.003"}, format="multipart"
    )

    assert refused.status_code == HTTPStatus.OK
    assert refused.context["adminform"].form.errors == {"value": ["Must be at most 0.1."]}
    assert saved.status_code == HTTPStatus.FOUND
    assert config_get("trading.fee_rate") == Decimal("0.003")
    assert config_version() == 1
