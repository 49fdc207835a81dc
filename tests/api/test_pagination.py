"""Lists answer `{count, next, previous, results}` (SPEC §6)."""

from http import HTTPStatus


def test_a_list_is_paginated_with_count_and_links(session_client, user, make_token):
    for name in ("one", "two", "three"):
        make_token(user, name=name)

    first = session_client.get("/api/v1/tokens", {"page_size": 2}).json()
    second = session_client.get(first["next"]).json()

    assert set(first) == {"count", "next", "previous", "results"}
    assert (first["count"], len(first["results"]), first["previous"]) == (3, 2, None)
    assert (second["count"], len(second["results"]), second["next"]) == (3, 1, None)
    assert second["previous"] is not None
    names = [row["name"] for row in first["results"] + second["results"]]
    assert sorted(names) == ["one", "three", "two"]


def test_an_empty_list_is_still_paginated(session_client):
    assert session_client.get("/api/v1/jobs").json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }


def test_a_page_past_the_end_is_404_in_the_error_format(session_client):
    response = session_client.get("/api/v1/tokens", {"page": 9})

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert set(response.json()) == {"detail", "errors"}
