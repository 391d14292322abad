"""Bad input is the client's error: a 4xx in the API's error shape, never a 500 (issue 14).

Each case here was a 500 found by fuzzing or review: a value formatted into an error text, digits
that are not ASCII, numbers past 64 bits, tampered cursors, dates at the edge of the calendar and
JSON nested a thousand deep.
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.contacts.builders import Builder
from tests.helpers import assert_problem, connect_tenant
from tests.wecom.conftest import sandbox_factory  # noqa: F401 -- fixture reused here

pytestmark = pytest.mark.django_db

TOO_BIG = 2**64  # past PostgreSQL's bigint


@pytest.fixture
def customers(tenant_a, alice):
    build = Builder(tenant_a)
    staff = build.staff("sam")
    return [build.contact(f"Customer {i}", staff=staff) for i in range(3)]


@pytest.fixture
def api(tenant_a, key_client_for):
    return key_client_for(tenant_a)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("tags_all", "%"),  # was formatted into the error text with %
        ("tags_any", "%s,%d"),
        ("tags_none", "²"),  # str.isdigit() says yes, int() says no
        ("tags_none", "１２"),  # full-width digits: int() would read 12
        ("stage", "²"),
        ("department", "1e400"),
    ],
)
def test_malformed_ids_in_filters_are_a_400_naming_the_parameter(api, customers, param, value):
    body = assert_problem(api.get("/api/v1/contacts/", {param: value}), 400, "validation_error")
    assert [error["path"] for error in body["errors"]] == [param]


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31"])
@pytest.mark.parametrize("param", ["added_after", "added_before"])
def test_dates_at_the_ends_of_the_calendar_filter_without_error(api, customers, param, value):
    response = api.get("/api/v1/contacts/", {param: value})
    if response.status_code == 400:  # a bound with no day after it may be refused, naming itself
        assert assert_problem(response, 400, "validation_error")["errors"][0]["path"] == param
    else:
        assert response.status_code == 200, response.content
        expected = 3 if (param == "added_after") == (value == "0001-01-01") else 0
        assert len(response.json()["results"]) == expected


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_date_times_outside_the_calendar_once_in_utc_are_a_400(api, value):
    body = assert_problem(
        api.get("/api/v1/wecom/events/", {"received_after": value}), 400, "validation_error"
    )
    assert body["errors"][0]["path"] == "received_after"


@pytest.mark.parametrize("value", ["2024-01-01T00:00:00+23:07", "0001-01-01T00:00:00Z"])
def test_date_times_with_offsets_postgresql_refuses_filter_in_utc(api, value):
    # PostgreSQL takes offsets up to ±15:59; the instant is the same in UTC.
    assert api.get("/api/v1/wecom/events/", {"received_after": value}).status_code == 200


@pytest.mark.parametrize("page", ["99999999999999999999", "9" * 5000])
def test_a_page_past_any_possible_offset_is_a_404(alice_client, customers, page):
    assert_problem(alice_client.get("/api/v1/contacts/", {"page": page}), 404, "not_found")


@pytest.mark.parametrize("page_size", ["abc", "0", "-1", "²", ""])
def test_a_page_size_that_is_not_a_whole_number_from_1_is_a_400(alice_client, customers, page_size):
    response = alice_client.get("/api/v1/contacts/", {"page_size": page_size})
    if page_size == "":  # an empty parameter is no parameter, as for every filter
        assert response.status_code == 200
    else:
        assert assert_problem(response, 400, "validation_error")["errors"][0]["path"] == "page_size"


def test_a_page_size_over_the_limit_gives_the_limit(alice_client, customers):
    response = alice_client.get("/api/v1/contacts/", {"page_size": "9" * 5000})
    assert response.status_code == 200
    assert response.json()["page_size"] == 200


def _cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize(
    ("ordering", "query"),
    [
        (None, "p=abc"),  # not an id
        (None, "p=1%002"),  # a NUL byte
        ("-first_added_at", "p=yesterday"),  # not a time
        ("name", "p=a%00b"),  # text PostgreSQL cannot hold
        (None, "r=x"),
    ],
)
def test_a_tampered_cursor_is_a_404(api, customers, ordering, query):
    params = {"cursor": _cursor(query), **({"ordering": ordering} if ordering else {})}
    assert_problem(api.get("/api/v1/contacts/", params), 404, "not_found")


def test_a_cursor_that_is_not_base64_is_a_404(api, customers):
    assert_problem(api.get("/api/v1/contacts/", {"cursor": "¿no?"}), 404, "not_found")


def test_a_genuine_cursor_still_pages(api, customers):
    first = api.get("/api/v1/contacts/", {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    ids = [row["id"] for row in first["results"] + second["results"]]
    assert sorted(ids, reverse=True) == ids
    assert len(set(ids)) == 3


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/contacts/{id}/",  # a viewset route
        "/api/v1/follows/{id}/",  # a plain path
        "/api/v1/contacts/{id}/tags/",
    ],
)
def test_full_width_digits_do_not_resolve_as_ids(api, customers, path):
    contact = customers[0]
    full_width = str(contact.pk).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert api.get(f"/api/v1/contacts/{contact.pk}/").status_code == 200
    assert_problem(api.get(path.format(id=full_width)), 404, "not_found")


@pytest.mark.parametrize("value", [TOO_BIG, 2**63, 10**30])
def test_ids_past_64_bits_in_urls_are_a_404(api, value):
    assert_problem(api.get(f"/api/v1/contacts/{value}/"), 404, "not_found")
    assert_problem(api.get(f"/api/v1/follows/{value}/"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "/api/v1/stages/", {"name": "Big", "order": TOO_BIG}, "order"),
        ("post", "/api/v1/contacts/{contact}/stage/", {"stage": TOO_BIG}, "stage"),
        ("post", "/api/v1/group-tags/", {"name": "Big", "order": TOO_BIG}, "order"),
        ("post", "/api/v1/segments/", {"name": "Big", "filters": {"stage": str(TOO_BIG)}}, "filters.stage"),
    ],
)
def test_integers_past_64_bits_in_bodies_are_a_400_naming_the_field(
    alice_client, customers, method, path, body, field
):
    url = path.format(contact=customers[0].pk)
    response = getattr(alice_client, method)(url, body, format="json")
    body = assert_problem(response, 400, "validation_error")
    assert field in [error["path"] for error in body["errors"]], body


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_json_nested_a_thousand_deep_is_a_400(alice_client, depth):
    response = alice_client.post(
        "/api/v1/segments/",
        f'{{"name": "Deep", "filters": {{"x": {_nested(depth)}}}}}',
        content_type="application/json",
    )
    assert_problem(response, 400, "parse_error")


def test_json_of_ordinary_depth_is_parsed(alice_client, customers):
    response = alice_client.post(
        "/api/v1/segments/", json.dumps({"name": "Shallow", "filters": {}}), content_type="application/json"
    )
    assert response.status_code == 201, response.content


def test_options_on_a_settings_route_answers(alice_client):
    response = alice_client.options("/api/v1/welcome-default/")
    assert response.status_code == 200, response.content


# --- strict JSON types: a string field takes a string, an integer an integer, a boolean a boolean --


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "/api/v1/stages/", {"name": 0}, "name"),  # DRF would store "0"
        ("post", "/api/v1/stages/", {"name": "Big", "order": "1"}, "order"),
        ("post", "/api/v1/stages/", {"name": "Big", "order": 1.0}, "order"),
        ("post", "/api/v1/stages/", {"name": "Big", "order": True}, "order"),
        ("post", "/api/v1/group-tags/", {"name": ["Big"]}, "name"),
        ("patch", "/api/v1/contact-settings/", {"nightly_sync": 0}, "nightly_sync"),  # DRF: False
        ("patch", "/api/v1/contact-settings/", {"churn_app_message": "true"}, "churn_app_message"),
        ("patch", "/api/v1/tenant/", {"name": 0}, "name"),
        ("post", "/api/v1/contacts/{contact}/stage/", {"stage": "1"}, "stage"),  # DRF finds stage 1
        ("post", "/api/v1/segments/", {"name": "S", "filters": {"stage": 3}}, "filters.stage"),
        ("post", "/api/v1/sync-runs/", {"kind": 0}, "kind"),  # a choice of another type
        ("put", "/api/v1/welcome-default/", {"welcome": {"text": 0}}, "welcome.text"),
        (
            "put",
            "/api/v1/welcome-default/",
            {"welcome": {"text": "Hi", "attachments": 0}},
            "welcome.attachments",
        ),
    ],
)
def test_json_values_of_another_type_are_a_400_naming_the_field(
    alice_client, customers, method, path, body, field
):
    url = path.format(contact=customers[0].pk)
    response = getattr(alice_client, method)(url, body, format="json")
    problem = assert_problem(response, 400, "validation_error")
    assert field in [error["path"] for error in problem["errors"]], problem


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/stages/", {"name": "Typed", "order": 3}),
        ("patch", "/api/v1/contact-settings/", {"nightly_sync": False, "churn_app_message": True}),
        ("patch", "/api/v1/tenant/", {"name": "Renamed"}),
        ("post", "/api/v1/segments/", {"name": "S", "filters": {"search": "3"}}),
        ("put", "/api/v1/welcome-default/", {"welcome": {"text": "Hi", "attachments": []}}),
    ],
)
def test_json_values_of_the_right_type_are_taken(alice_client, customers, method, path, body):
    response = getattr(alice_client, method)(path, body, format="json")
    assert response.status_code in (200, 201), response.content


# --- query-string booleans -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/staff/", "is_active"),  # a FilterSet's boolean
        ("/api/v1/api-keys/", "revoked"),
        ("/api/v1/tags/", "include_deleted"),  # read by the view itself
        ("/api/v1/tag-groups/", "include_deleted"),
        ("/api/v1/notifications/", "unread"),
    ],
)
@pytest.mark.parametrize("value", ["yes", "-58800", "ture"])
def test_a_boolean_parameter_that_is_not_true_or_false_is_a_400(alice_client, path, param, value):
    # Django's boolean filter reads junk as "not given": a typo would silently widen the list.
    problem = assert_problem(alice_client.get(path, {param: value}), 400, "validation_error")
    assert [error["path"] for error in problem["errors"]] == [param]


@pytest.mark.parametrize("value", ["true", "false", "1", "0", ""])
def test_a_boolean_parameter_takes_true_false_1_0_or_nothing(alice_client, customers, value):
    response = alice_client.get("/api/v1/staff/", {"is_active": value})
    assert response.status_code == 200, response.content
    # The one staff member is active: false (or 0) filters it out.
    assert len(response.json()["results"]) == (0 if value in ("false", "0") else 1)


# --- ids that name nothing: a filter matches nothing, a body is a 400 does_not_exist ------------


def test_a_segment_whose_filters_name_an_unknown_id_answers_does_not_exist(alice_client, customers):
    # Unlike the list's filter, a kept selection must mean what its author thinks.
    response = alice_client.post(
        "/api/v1/segments/", {"name": "Gone", "filters": {"stage": "999999"}}, format="json"
    )
    problem = assert_problem(response, 400, "validation_error")
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [("filters.stage", "does_not_exist")]


def test_an_unknown_id_in_a_body_answers_does_not_exist(alice_client, customers):
    response = alice_client.post(
        f"/api/v1/contacts/{customers[0].pk}/stage/", {"stage": 999999}, format="json"
    )
    problem = assert_problem(response, 400, "validation_error")
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [("stage", "does_not_exist")]
    image = {"material_id": 999999}
    response = alice_client.put(
        "/api/v1/welcome-default/", {"welcome": {"attachments": [image]}}, format="json"
    )
    problem = assert_problem(response, 400, "validation_error")
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [
        ("welcome.attachments.0.material_id", "does_not_exist")
    ]


@pytest.mark.parametrize(("value", "status"), [("999999", 200), ("", 200), ("0", 400), ("²", 400)])
def test_group_stats_owner_ids_that_name_nobody_have_no_figures(alice_client, value, status):
    response = alice_client.get("/api/v1/group-stats/", {"owner": value})
    assert response.status_code == status, response.content
    if status == 200:
        assert not any(day["has_figures"] for day in response.json()["days"])


# --- date ranges: the rules across two parameters have their own codes ------------------------


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"from": "2000-01-01", "to": "2024-01-01"}, "range_too_long"),
        ({"from": "2024-01-02", "to": "2024-01-01"}, "range_reversed"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/channels/", "/api/v1/group-stats/"])
def test_a_date_range_too_long_or_reversed_has_its_own_code(alice_client, path, params, code):
    if path == "/api/v1/group-stats/":
        params = {"date_from": params["from"], "date_to": params["to"]}
    problem = assert_problem(alice_client.get(path, params), 400, "validation_error")
    assert [e["code"] for e in problem["errors"]] == [code]


def test_a_range_ending_at_the_calendars_start_is_not_a_500(alice_client):
    # The default start (29 days before) would be before year 1.
    response = alice_client.get("/api/v1/channels/", {"to": "0001-01-05"})
    assert response.status_code == 200, response.content


# --- customers waiting for a new owner: WeCom's page size and cursor --------------------------


@pytest.mark.parametrize("page_size", ["0", "1001", "²", "1.5"])
def test_unassigned_page_size_outside_1_to_1000_is_a_400(api, page_size):
    problem = assert_problem(
        api.get("/api/v1/transfers/unassigned/", {"page_size": page_size}), 400, "validation_error"
    )
    assert problem["errors"][0]["path"] == "page_size"


def test_an_unassigned_cursor_wecom_refuses_is_a_404(tenant_a, key_client_for, sandbox_factory):  # noqa: F811
    connect_tenant(tenant_a, sandbox_factory())
    api = key_client_for(tenant_a)
    assert api.get("/api/v1/transfers/unassigned/", {"page_size": ""}).status_code == 200
    assert_problem(api.get("/api/v1/transfers/unassigned/", {"cursor": "¿no?"}), 404, "not_found")
