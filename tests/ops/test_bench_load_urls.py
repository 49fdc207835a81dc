"""The load benchmark's baselines (bench/load_urls.py): each rung of its ladder answers what
bench/load.py measures, and only under the benchmark's URLconf."""

import pytest
from django.test import override_settings

from audit.models import ApiUsage

RUNGS = ["/bench/bare", "/bench/bare-query", "/bench/drf", "/bench/drf-token", "/bench/drf-api"]
EMPTY_PAGE = {"count": 0, "next": None, "previous": None, "results": []}


@pytest.fixture
def bench_urls():
    with override_settings(ROOT_URLCONF="bench.load_urls"):
        yield


@pytest.mark.parametrize("path", RUNGS)
def test_each_rung_answers_an_empty_page_to_a_token(bench_urls, token_client, path):
    response = token_client.get(path)
    assert response.status_code == 200
    assert response.json() == EMPTY_PAGE


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/bench/bare", 200),
        ("/bench/bare-query", 200),
        ("/bench/drf", 200),
        ("/bench/drf-token", 401),
        ("/bench/drf-api", 401),
    ],
)
def test_the_authenticated_rungs_refuse_a_request_without_a_token(
    bench_urls, api_client, db, path, status
):
    assert api_client.get(path).status_code == status


def test_only_the_api_rung_goes_through_the_throttles_and_counts_usage(
    bench_urls, token_client, user
):
    for path in RUNGS:
        token_client.get(path)
    assert ApiUsage.objects.filter(user=user).values_list("count", flat=True).get() == 1


def test_the_rungs_are_not_routes_of_the_app(token_client):
    for path in RUNGS:
        assert token_client.get(path).status_code == 404
