"""List pagination (DESIGN.md §8): page numbers for the dashboard, cursors for integrators.

Page-number mode never runs a COUNT(*): it fetches one row more than the page to know whether
there is a next one. Query counts of list endpoints are constant and pinned here.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scrm.tenancy.models import Role
from tests.helpers import assert_problem
from tests.tenantapp.models import Folder, Widget

WIDGETS = "/api/v1/test/widgets/"

pytestmark = pytest.mark.django_db


def make_widgets(tenant, count: int, *, with_folders: bool = True) -> list[Widget]:
    folders = (
        Folder.unscoped.bulk_create([Folder(tenant=tenant, name=f"f{n}") for n in range(count)])
        if with_folders
        else [None] * count
    )
    return Widget.unscoped.bulk_create(
        [Widget(tenant=tenant, name=f"w{n:04d}", folder=folders[n]) for n in range(count)]
    )


def query_params(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- Page-number mode (dashboard sessions) ----------------------------------------------------


@pytest.fixture
def five_widgets(tenant_a):
    return make_widgets(tenant_a, 5)


def test_first_page_has_a_next_link_and_no_previous(alice_client, five_widgets):
    response = alice_client.get(WIDGETS, {"page": 1, "page_size": 2})
    body = response.json()
    assert ids(response) == [w.pk for w in five_widgets[:2]]
    assert body["page"] == 1
    assert body["page_size"] == 2
    assert body["previous"] is None
    assert query_params(body["next"]) == {"page": ["2"], "page_size": ["2"]}
    assert urlsplit(body["next"]).path == WIDGETS


def test_no_page_parameter_is_the_first_page(alice_client, five_widgets):
    response = alice_client.get(WIDGETS, {"page_size": 2})
    assert ids(response) == [w.pk for w in five_widgets[:2]]
    assert response.json()["page"] == 1
    assert response.json()["previous"] is None
    assert query_params(response.json()["next"])["page"] == ["2"]


def test_following_next_links_walks_every_row_once(alice_client, five_widgets):
    seen, url, pages = [], f"{WIDGETS}?page_size=2", 0
    while url:
        response = alice_client.get(url)
        seen += ids(response)
        url = response.json()["next"]
        pages += 1
    assert seen == [w.pk for w in five_widgets]
    assert pages == 3


def test_middle_page_links_both_ways(alice_client, five_widgets):
    body = alice_client.get(WIDGETS, {"page": 2, "page_size": 2}).json()
    assert [row["id"] for row in body["results"]] == [w.pk for w in five_widgets[2:4]]
    assert query_params(body["next"])["page"] == ["3"]
    # The previous of page 2 is the first page, which needs no page parameter.
    assert query_params(body["previous"]) == {"page_size": ["2"]}


def test_last_page_has_no_next_link(alice_client, five_widgets):
    response = alice_client.get(WIDGETS, {"page": 3, "page_size": 2})
    body = response.json()
    assert ids(response) == [five_widgets[4].pk]
    assert body["next"] is None
    assert query_params(body["previous"])["page"] == ["2"]


def test_exactly_full_last_page_has_no_next_link(alice_client, tenant_a):
    make_widgets(tenant_a, 4)
    body = alice_client.get(WIDGETS, {"page": 2, "page_size": 2}).json()
    assert len(body["results"]) == 2
    assert body["next"] is None


def test_page_past_the_end_is_empty(alice_client, five_widgets):
    response = alice_client.get(WIDGETS, {"page": 9, "page_size": 2})
    assert ids(response) == []
    assert response.json()["next"] is None


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "²", "１"])
def test_invalid_page_is_404_in_the_error_shape(alice_client, five_widgets, page):
    response = alice_client.get(WIDGETS, {"page": page, "page_size": 2})
    assert_problem(response, 404, "not_found")


def test_an_empty_page_is_the_first_page(alice_client, five_widgets):
    # An empty query parameter is an absent one, for pagination as for every filter (docs/api.md).
    body = alice_client.get(WIDGETS, {"page": "", "page_size": 2}).json()
    assert body["page"] == 1


def test_default_page_size_is_settings_page_size(alice_client, tenant_a, settings):
    make_widgets(tenant_a, 52, with_folders=False)
    body = alice_client.get(WIDGETS).json()
    assert body["page_size"] == settings.REST_FRAMEWORK["PAGE_SIZE"] == 50
    assert len(body["results"]) == 50
    assert body["next"] is not None


@pytest.mark.parametrize("asked", ["0", "-5", "abc", "1.5"])
def test_a_page_size_that_is_not_a_whole_number_from_1_is_a_400(alice_client, five_widgets, asked):
    # The schema says so (an integer from 1); silently using another size hid typos from integrators.
    body = assert_problem(alice_client.get(WIDGETS, {"page_size": asked}), 400, "validation_error")
    assert [error["path"] for error in body["errors"]] == ["page_size"]


def test_page_size_above_200_is_clamped_to_200(alice_client, tenant_a):
    make_widgets(tenant_a, 201, with_folders=False)
    response = alice_client.get(WIDGETS, {"page_size": 1000})
    body = response.json()
    assert body["page_size"] == 200
    assert len(ids(response)) == 200
    assert body["next"] is not None
    last = alice_client.get(body["next"])
    assert len(ids(last)) == 1
    assert last.json()["next"] is None


def test_list_runs_no_count_query(alice_client, five_widgets):
    with CaptureQueriesContext(connection) as queries:
        response = alice_client.get(WIDGETS, {"page": 2, "page_size": 2})
    assert response.status_code == 200
    sql = [q["sql"].upper() for q in queries.captured_queries]
    assert not [s for s in sql if "COUNT(" in s], sql


# Session, user, the user's memberships (with tenant and user), one page of widgets with folders.
SESSION_LIST_QUERIES = 4
# The key (with its tenant) and one page of widgets with folders; last_used_at is written at most
# once a minute, so not on these requests.
API_KEY_LIST_QUERIES = 2


def count_list_queries(client) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(WIDGETS, {"page_size": 50})
    assert response.status_code == 200
    return len(queries.captured_queries), [q["sql"] for q in queries.captured_queries]


def test_list_query_count_is_constant_and_pinned(alice_client, tenant_a):
    make_widgets(tenant_a, 3)
    small, small_sql = count_list_queries(alice_client)
    make_widgets(tenant_a, 27)
    large, large_sql = count_list_queries(alice_client)
    assert small == large == SESSION_LIST_QUERIES, (small_sql, large_sql)
    # The folder name in every row comes from the same query (select_related), not one per row.
    assert alice_client.get(WIDGETS).json()["results"][0]["folder_name"] == "f0"


def test_list_query_count_for_api_keys_is_constant(key_client_for, tenant_a):
    client = key_client_for(tenant_a, Role.ADMIN)
    assert client.get(WIDGETS).status_code == 200  # first use: records last_used_at
    make_widgets(tenant_a, 3)
    small, small_sql = count_list_queries(client)
    make_widgets(tenant_a, 27)
    large, large_sql = count_list_queries(client)
    assert small == large == API_KEY_LIST_QUERIES, (small_sql, large_sql)
    assert not [s for s in large_sql if "COUNT(" in s.upper()]


# --- Cursor mode (integrators) ----------------------------------------------------------------


def test_api_key_gets_cursor_pagination_by_default(key_client_for, tenant_a, five_widgets):
    response = key_client_for(tenant_a, Role.ADMIN).get(WIDGETS, {"page_size": 2})
    body = response.json()
    assert "cursor" in query_params(body["next"])
    assert body["previous"] is None
    assert "page" not in body
    # Newest first.
    assert ids(response) == [five_widgets[4].pk, five_widgets[3].pk]


def test_cursor_walk_sees_every_row_once_despite_inserts(key_client_for, tenant_a, five_widgets):
    client = key_client_for(tenant_a, Role.ADMIN)
    more = make_widgets(tenant_a, 6)
    existing = [w.pk for w in [*five_widgets, *more]]
    seen: list[int] = []
    url = f"{WIDGETS}?page_size=3"
    pages = 0
    while url:
        response = client.get(url)
        seen += ids(response)
        url = response.json()["next"]
        pages += 1
        if pages == 2:
            # A row created while the integrator is walking the list does not shift its pages.
            Widget.unscoped.create(tenant=tenant_a, name="inserted midway")
        assert pages < 10
    assert len(seen) == len(set(seen)), seen
    assert seen == sorted(existing, reverse=True)
    assert pages == 4


def test_cursor_previous_link_goes_back(key_client_for, tenant_a, five_widgets):
    client = key_client_for(tenant_a, Role.ADMIN)
    first = client.get(WIDGETS, {"page_size": 2})
    second = client.get(first.json()["next"])
    back = client.get(second.json()["previous"])
    assert ids(back) == ids(first)


def test_session_client_asking_for_a_cursor_gets_cursor_mode(alice_client, five_widgets):
    response = alice_client.get(f"{WIDGETS}?cursor=&page_size=2")
    body = response.json()
    assert "page" not in body
    assert "cursor" in query_params(body["next"])
    second = alice_client.get(body["next"])
    assert ids(second) == [five_widgets[2].pk, five_widgets[1].pk]


def test_api_key_asking_for_a_page_gets_page_mode(key_client_for, tenant_a, five_widgets):
    response = key_client_for(tenant_a, Role.ADMIN).get(WIDGETS, {"page": 2, "page_size": 2})
    body = response.json()
    assert body["page"] == 2
    assert ids(response) == [w.pk for w in five_widgets[2:4]]
    assert query_params(body["next"])["page"] == ["3"]


def test_invalid_cursor_is_404_in_the_error_shape(key_client_for, tenant_a, five_widgets):
    response = key_client_for(tenant_a, Role.ADMIN).get(WIDGETS, {"cursor": "not-a-cursor"})
    assert_problem(response, 404, "not_found")


def test_cursor_page_size_is_clamped_to_200(key_client_for, tenant_a):
    make_widgets(tenant_a, 201, with_folders=False)
    response = key_client_for(tenant_a, Role.ADMIN).get(WIDGETS, {"page_size": 1000})
    assert len(ids(response)) == 200
    assert response.json()["next"] is not None
