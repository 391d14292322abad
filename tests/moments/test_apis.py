"""The Moments routes: tasks (compose, publish, cancel, remind, refresh), every Moment with its members,
interactions and stats, the calendar, the ranking, a customer's engagement, the settings and the members'
posts sync — with their roles (admins and operators run Moments, sales members see their own copies,
admins set the rules), tenant isolation (charlie gets 404 on every object route) and API keys as well
as sessions. The contacts filters on engagement, in the list, segments and campaign audiences.

The clock is pinned (this module depends on it: days in the tenant's time zone, scheduled times).
"""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import CampaignSettings
from contacts.models import Segment
from moments.models import MemberSync, MomentTask, TaskStatus
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import ApiKey, Role
from tests.campaigns.conftest import at
from tests.helpers import assert_problem
from tests.moments.world import NOW, world_fixture  # noqa: F401 -- fixture reused here

pytestmark = pytest.mark.django_db
TASKS = "/api/v1/moments/tasks/"
MOMENTS = "/api/v1/moments/"


@pytest.fixture(autouse=True)
def _pinned(time_machine):
    time_machine.move_to(NOW, tick=False)


def create(client, **body) -> dict:
    response = client.post(TASKS, {"text": "新品上市", **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


# -- tasks: compose and change --------------------------------------------------------------------


def test_compose_read_change_delete_a_draft(alice_client, alice, world):
    created = create(alice_client, staff_ids=[world.bob.pk], department_ids=[world.south.pk])
    assert (created["status"], created["moment"], created["created_by"]) == (
        "draft",
        None,
        {"type": "member", "id": alice.pk, "name": "alice"},
    )
    assert created["staff"] == [{"id": world.bob.pk, "userid": "bob", "name": "Bob", "avatar": ""}]
    assert created["departments"] == [{"id": world.south.pk, "name": "华南"}]
    assert (created["can_edit"], created["can_delete"], created["can_remind"]) == (True, True, False)
    one = f"{TASKS}{created['id']}/"
    changed = alice_client.patch(one, {"text": "  十二月新品  "}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["text"] == "十二月新品"
    assert alice_client.get(one).json()["staff_ids"] == [world.bob.pk]
    assert alice_client.delete(one).status_code == 204
    assert_problem(alice_client.get(one), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({"text": ""}, "text", "empty"),
        ({"text": "好" * 2001}, "text", "max_length"),
        ({"staff_ids": [999999]}, "staff_ids.0", "does_not_exist"),
        ({"tag_ids": [999999]}, "tag_ids.0", "does_not_exist"),
        ({"attachments": [{"material_id": 999999}]}, "attachments.0.material_id", "does_not_exist"),
        ({"scheduled_at": "2026-11-30T09:00:00"}, "scheduled_at", "in_the_past"),
    ],
)
def test_what_wecom_would_refuse_is_refused_with_its_field(alice_client, tenant_a, body, path, code):
    problem = assert_problem(
        alice_client.post(TASKS, {"text": "hi", **body}, format="json"), 400, "validation_error"
    )
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [(path, code)]
    with tenant_context(tenant_a):
        assert not MomentTask.objects.exists()


def test_idempotency_key_answers_the_first_task(alice_client, operator_client, tenant_a):
    headers = {"HTTP_IDEMPOTENCY_KEY": "compose-1"}
    first = alice_client.post(TASKS, {"text": "a"}, format="json", **headers)
    again = alice_client.post(TASKS, {"text": "b"}, format="json", **headers)
    other = operator_client.post(TASKS, {"text": "a"}, format="json", **headers)
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert again.json()["id"] == first.json()["id"]
    with tenant_context(tenant_a):
        assert MomentTask.objects.count() == 2


def test_an_api_key_composes_as_itself(tenant_a, key_client_for, world):
    client = key_client_for(tenant_a, Role.OPERATOR)
    created = create(client)
    key = ApiKey.unscoped.get(tenant=tenant_a, name="operator key")
    assert created["created_by"] == {"type": "api_key", "id": key.pk, "name": "operator key"}
    listed = client.get(TASKS).json()  # cursor pagination for keys
    assert [t["id"] for t in listed["results"]] == [created["id"], world.task.pk]


def test_the_preview_counts_members_and_their_customers(alice_client, world):
    response = alice_client.post(
        f"{TASKS}preview/",
        {"staff_ids": [world.bob.pk, 999999], "department_ids": [world.south.pk]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "members": 2,
        "customers": 5,
        "invalid": {"staff_ids": [999999], "department_ids": [], "tag_ids": []},
    }


# -- tasks: publish, cancel, remind, refresh ------------------------------------------------------


def test_schedule_then_cancel_then_nothing_more(alice_client, world):
    task = create(alice_client)
    one = f"{TASKS}{task['id']}/"
    scheduled = alice_client.post(f"{one}publish/", {"scheduled_at": "2026-12-01T09:00:00"}, format="json")
    assert scheduled.status_code == 200, scheduled.content
    body = scheduled.json()
    assert (body["status"], body["scheduled_at"]) == ("scheduled", "2026-12-01T09:00:00+08:00")
    assert_problem(alice_client.delete(one), 409, "not_deletable")
    cancelled = alice_client.post(f"{one}cancel/")
    assert cancelled.status_code == 200, cancelled.content
    assert (cancelled.json()["status"], cancelled.json()["can_edit"]) == ("cancelled", False)
    assert_problem(alice_client.patch(one, {"text": "again"}, format="json"), 409, "not_editable")
    assert_problem(alice_client.post(f"{one}publish/", {}, format="json"), 409, "not_publishable")


def test_publish_now_hands_the_task_to_a_worker(alice_client, world, django_capture_on_commit_callbacks):
    task = create(alice_client)
    with django_capture_on_commit_callbacks() as queued:
        published = alice_client.post(f"{TASKS}{task['id']}/publish/", {}, format="json")
    assert published.status_code == 200, published.content
    assert published.json()["status"] == "submitting"
    assert len(queued) == 1  # the submit, sent to the broker once committed
    problem = assert_problem(alice_client.post(f"{TASKS}{task['id']}/cancel/"), 409, "being_created")
    assert "cancel it once it is" in problem["detail"]


def test_remind_needs_a_publishing_task_and_the_tenants_app(alice_client, world, tenant_a):
    draft = create(alice_client)
    assert_problem(
        alice_client.post(f"{TASKS}{draft['id']}/remind/", {}, format="json"), 409, "not_publishing"
    )
    problem = assert_problem(
        alice_client.post(f"{TASKS}{world.task.pk}/remind/", {}, format="json"), 400, "validation_error"
    )
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [("agent_id", "no_agent")]


def test_refresh_polls_a_task_in_wecom(alice_client, world, django_capture_on_commit_callbacks):
    draft = create(alice_client)
    assert_problem(alice_client.post(f"{TASKS}{draft['id']}/refresh/"), 409, "not_in_wecom")
    with django_capture_on_commit_callbacks() as queued:
        response = alice_client.post(f"{TASKS}{world.task.pk}/refresh/")
    assert response.status_code == 202, response.content
    assert len(queued) == 1


def test_a_task_in_wecom_shows_its_moment_and_what_wecom_refused(alice_client, world):
    body = alice_client.get(f"{TASKS}{world.task.pk}/").json()
    assert body["moment"]["id"] == world.corp.pk
    assert body["moment"]["figures"] == {
        "members": 2,
        "published": 1,
        "reach": 3,
        "likes": 2,
        "comments": 1,
        "engaged_customers": 2,
    }
    assert body["invalid_senders"] == {
        "users": [{"userid": "zoe", "name": "Zoe"}, {"userid": "ghost", "name": ""}],
        "departments": [{"id": 3, "name": "华南"}],
    }
    assert body["invalid_tags"] == [{"wecom_id": "et-unknown", "name": ""}]
    assert (body["can_cancel"], body["can_refresh"], body["can_delete"]) == (True, True, False)


def test_task_filters(alice_client, world):
    create(alice_client, text="圣诞活动")
    assert [t["text"] for t in alice_client.get(f"{TASKS}?search=圣诞").json()["results"]] == ["圣诞活动"]
    assert [t["id"] for t in alice_client.get(f"{TASKS}?status=publishing").json()["results"]] == [
        world.task.pk
    ]
    assert alice_client.get(f"{TASKS}?created_after=2026-12-01").json()["results"] == []
    assert len(alice_client.get(f"{TASKS}?created_before=2026-11-30").json()["results"]) == 2


# -- roles and tenants ----------------------------------------------------------------------------


def test_sales_see_their_own_copy_and_write_nothing(bob_client, alice_client, world):
    draft = create(alice_client)
    listed = bob_client.get(TASKS).json()["results"]
    assert [t["id"] for t in listed] == [world.task.pk]
    # The figures of bob's own copy, not the corp's totals.
    assert listed[0]["moment"]["figures"] == {
        "members": 1,
        "published": 1,
        "reach": 3,
        "likes": 2,
        "comments": 1,
        "engaged_customers": 2,
    }
    assert bob_client.get(f"{TASKS}{world.task.pk}/").json()["can_cancel"] is False
    assert_problem(bob_client.get(f"{TASKS}{draft['id']}/"), 404, "not_found")
    members = bob_client.get(f"{MOMENTS}{world.corp.pk}/members/").json()["results"]
    assert [m["staff"]["userid"] for m in members] == ["bob"]
    assert [m["id"] for m in bob_client.get(MOMENTS).json()["results"]] == [world.corp.pk]
    assert_problem(bob_client.get(f"{MOMENTS}{world.own.pk}/"), 404, "not_found")
    stats = bob_client.get(f"{MOMENTS}{world.corp.pk}/stats/").json()
    assert (stats["totals"]["members"], stats["totals"]["publish_rate"]) == (1, 1.0)
    for method, url, body in [
        ("post", TASKS, {"text": "x"}),
        ("patch", f"{TASKS}{world.task.pk}/", {"text": "x"}),
        ("delete", f"{TASKS}{world.task.pk}/", None),
        ("post", f"{TASKS}preview/", {}),
        ("post", f"{TASKS}{world.task.pk}/publish/", {}),
        ("post", f"{TASKS}{world.task.pk}/cancel/", None),
        ("post", f"{TASKS}{world.task.pk}/remind/", {}),
        ("post", f"{TASKS}{world.task.pk}/refresh/", None),
        ("patch", "/api/v1/moments/settings/", {"manager_digest": True}),
        ("post", "/api/v1/moments/sync/", None),
    ]:
        response = getattr(bob_client, method)(url, body, format="json")
        assert_problem(response, 403, "permission_denied")


def test_a_sales_api_key_sees_no_copies(tenant_a, key_client_for, world):
    client = key_client_for(tenant_a, Role.SALES)
    assert client.get(TASKS).json()["results"] == []
    assert client.get(MOMENTS).json()["results"] == []
    assert_problem(client.get(f"{MOMENTS}{world.corp.pk}/"), 404, "not_found")


def test_another_tenant_gets_404_on_every_object_route(charlie_client, world):
    contact = world.bobs[0]
    for url in [
        f"{TASKS}{world.task.pk}/",
        f"{MOMENTS}{world.corp.pk}/",
        f"{MOMENTS}{world.corp.pk}/members/",
        f"{MOMENTS}{world.corp.pk}/interactions/",
        f"{MOMENTS}{world.corp.pk}/stats/",
        f"/api/v1/moments/engagement/{contact.pk}/",
    ]:
        assert_problem(charlie_client.get(url), 404, "not_found")
    for method, url in [
        ("patch", f"{TASKS}{world.task.pk}/"),
        ("delete", f"{TASKS}{world.task.pk}/"),
        ("post", f"{TASKS}{world.task.pk}/publish/"),
        ("post", f"{TASKS}{world.task.pk}/cancel/"),
        ("post", f"{TASKS}{world.task.pk}/remind/"),
        ("post", f"{TASKS}{world.task.pk}/refresh/"),
    ]:
        assert_problem(getattr(charlie_client, method)(url, {}, format="json"), 404, "not_found")
    assert charlie_client.get(MOMENTS).json()["results"] == []
    assert charlie_client.get("/api/v1/moments/calendar/?from=2026-11-01&to=2026-11-30").json()["items"] == []


def test_an_operator_runs_moments_but_only_admins_change_the_rules(operator_client, alice_client, world):
    create(operator_client)
    assert operator_client.get("/api/v1/moments/settings/").json()["remind_after_hours"] == 24
    assert_problem(
        operator_client.patch("/api/v1/moments/settings/", {"remind_after_hours": 4}, format="json"),
        403,
        "permission_denied",
    )
    changed = alice_client.patch(
        "/api/v1/moments/settings/", {"remind_after_hours": 4, "manager_digest": True}, format="json"
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["remind_after_hours"], changed.json()["manager_digest"]) == (4, True)
    problem = assert_problem(
        alice_client.patch("/api/v1/moments/settings/", {"remind_after_hours": 169}, format="json"),
        400,
        "validation_error",
    )
    assert problem["errors"][0]["path"] == "remind_after_hours"


# -- Moments and their tracking -------------------------------------------------------------------


def test_every_moment_with_filters_in_the_tenants_days(alice_client, world):
    def ids(query: str = "") -> list[int]:
        response = alice_client.get(f"{MOMENTS}{query}")
        assert response.status_code == 200, response.content
        return [m["id"] for m in response.json()["results"]]

    assert ids() == [world.own.pk, world.corp.pk]
    assert ids("?create_type=1") == [world.own.pk]
    assert ids(f"?creator={world.zoe.pk}") == [world.own.pk]
    assert ids("?has_task=true") == [world.corp.pk]
    assert ids("?has_task=false") == [world.own.pk]
    # zoe posted at 20:00 on the 29th in Shanghai, 12:00 UTC: the 29th in the tenant's days.
    assert ids("?posted_after=2026-11-29&posted_before=2026-11-29") == [world.own.pk]
    with tenant_context(world.tenant):
        CampaignSettings.objects.update_or_create(defaults={"time_zone": "Pacific/Auckland"})
    # In Auckland (UTC+13) it was already the 30th.
    assert ids("?posted_after=2026-11-29&posted_before=2026-11-29") == []
    assert ids("?posted_after=2026-11-30") == [world.own.pk]
    detail = alice_client.get(f"{MOMENTS}{world.corp.pk}/").json()
    assert (detail["task"], detail["publish_rate"], detail["tracking"]) == (world.task.pk, 0.5, True)
    assert detail["creator"] is None


def test_lists_cost_the_same_for_one_row_or_many(alice_client, bob_client, world, build_a):
    def count(client, url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    urls = [TASKS, MOMENTS, f"{MOMENTS}{world.corp.pk}/members/", f"{MOMENTS}{world.corp.pk}/interactions/"]
    count(alice_client, MOMENTS)  # the first read of the tenant's settings makes their row
    before = [count(client, url) for client in (alice_client, bob_client) for url in urls]
    for i in range(5):
        member = build_a.staff(f"m{i}", departments=(2, 3))
        world.publication(world.corp, member, published=True)
        moment = world.moment(moment_id=f"more-{i}")
        world.publication(moment, world.bob)
        with tenant_context(world.tenant):
            MomentTask.objects.create(text=f"t{i}", status=TaskStatus.PUBLISHING, moment=moment)
        world.interaction(world.corp, world.bob, "like", NOW, contact=world.bobs[2], by=f"m{i}")
    assert [count(client, url) for client in (alice_client, bob_client) for url in urls] == before


def test_members_of_a_moment_with_their_departments(alice_client, world):
    url = f"{MOMENTS}{world.corp.pk}/members/"
    rows = alice_client.get(url).json()["results"]
    assert [(r["staff"]["userid"], r["departments"], r["published"], r["likes"]) for r in rows] == [
        ("bob", ["华东"], True, 2),
        ("zoe", ["华南"], False, 0),
    ]
    assert [r["staff"]["userid"] for r in alice_client.get(f"{url}?published=false").json()["results"]] == [
        "zoe"
    ]
    assert [r["staff"]["userid"] for r in alice_client.get(f"{url}?department=2").json()["results"]] == [
        "bob"
    ]
    assert [r["staff"]["userid"] for r in alice_client.get(f"{url}?department=1").json()["results"]] == [
        "bob",
        "zoe",
    ]  # the root department takes its whole tree
    assert_problem(alice_client.get(f"{url}?published=maybe"), 400, "validation_error")
    assert_problem(alice_client.get(f"{url}?department=x"), 400, "validation_error")


def test_interactions_name_the_customer_or_the_colleague(alice_client, world):
    url = f"{MOMENTS}{world.corp.pk}/interactions/"
    rows = alice_client.get(url).json()["results"]
    assert [
        (r["kind"], (r["customer"] or {}).get("name"), (r["colleague"] or {}).get("name")) for r in rows
    ] == [
        ("like", "B1", None),
        ("comment", "B0", None),
        ("like", None, "Zoe"),
        ("like", "B0", None),
    ]
    assert [r["kind"] for r in alice_client.get(f"{url}?kind=comment").json()["results"]] == ["comment"]
    assert_problem(alice_client.get(f"{url}?kind=share"), 400, "validation_error")


def test_stats_by_department_and_by_day_in_the_tenants_zone(alice_client, world):
    stats = alice_client.get(f"{MOMENTS}{world.corp.pk}/stats/").json()
    assert stats["totals"] == {
        "members": 2,
        "published": 1,
        "reach": 3,
        "likes": 2,
        "comments": 1,
        "engaged_customers": 2,
        "publish_rate": 0.5,
        "interaction_rate": 0.6667,
    }
    assert stats["by_department"] == [
        {"department_id": 2, "name": "华东", "members": 1, "published": 1, "publish_rate": 1.0},
        {"department_id": 3, "name": "华南", "members": 1, "published": 0, "publish_rate": 0.0},
    ]
    assert stats["by_day"] == [
        {"date": "2026-11-28", "published": 1, "likes": 2, "comments": 0},
        {"date": "2026-11-29", "published": 0, "likes": 1, "comments": 1},
    ]


# -- the calendar, the ranking, a customer's engagement --------------------------------------------


def test_the_calendar_lists_planned_and_posted_by_day(alice_client, world):
    scheduled = create(alice_client)
    alice_client.post(
        f"{TASKS}{scheduled['id']}/publish/", {"scheduled_at": "2026-12-02T09:00:00"}, format="json"
    )
    body = alice_client.get("/api/v1/moments/calendar/?from=2026-11-01&to=2026-12-31").json()
    assert [(i["date"], i["kind"], i["task_id"], i["moment_id"]) for i in body["items"]] == [
        ("2026-11-28", "corp", world.task.pk, world.corp.pk),
        ("2026-11-29", "member", None, world.own.pk),
        ("2026-12-02", "scheduled", scheduled["id"], None),
    ]
    assert body["items"][1]["creator"] == "Zoe"
    assert body["days"][0] == {"date": "2026-11-28", "scheduled": 0, "submitting": 0, "corp": 1, "member": 0}
    assert body["truncated"] is False
    problem = assert_problem(
        alice_client.get("/api/v1/moments/calendar/?from=2026-10-01&to=2026-12-31"), 400, "validation_error"
    )
    assert problem["errors"][0]["code"] == "range_too_long"


def test_the_ranking_per_member_and_its_export(alice_client, bob_client, world):
    rows = alice_client.get("/api/v1/moments/ranking/?from=2026-11-01&to=2026-11-30").json()["results"]
    assert [
        (r["staff"]["userid"], r["asked"], r["published"], r["publish_rate"], r["own_posts"], r["likes"])
        for r in rows
    ] == [("bob", 1, 1, 1.0, 0, 2), ("zoe", 1, 0, 0.0, 1, 1)]
    assert [r["engaged_customers"] for r in rows] == [2, 1]
    by_posts = alice_client.get("/api/v1/moments/ranking/?from=2026-11-01&to=2026-11-30&ordering=-own_posts")
    assert [r["staff"]["userid"] for r in by_posts.json()["results"]] == ["zoe", "bob"]
    assert (
        alice_client.get("/api/v1/moments/ranking/?from=2026-11-29&to=2026-11-30&department=2").json()[
            "results"
        ]
        == []
    )
    mine = bob_client.get("/api/v1/moments/ranking/?from=2026-11-01&to=2026-11-30").json()["results"]
    assert [r["staff"]["userid"] for r in mine] == ["bob"]
    export = alice_client.get("/api/v1/moments/ranking/export/?from=2026-11-01&to=2026-11-30")
    assert export["Content-Type"] == "text/csv; charset=utf-8"
    table = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert table[0][:3] == ["userid", "name", "asked"]
    assert table[1][:4] == ["bob", "Bob", "1", "1"]
    assert_problem(alice_client.get("/api/v1/moments/ranking/?ordering=name"), 400, "validation_error")


def test_a_customers_engagement(alice_client, bob_client, world):
    customer = world.bobs[0]
    body = alice_client.get(f"/api/v1/moments/engagement/{customer.pk}/").json()
    assert (body["likes"], body["comments"], body["posts_seen"]) == (1, 1, 1)
    assert body["last_interaction_at"] == "2026-11-29T08:00:00+08:00"
    assert [(r["kind"], r["moment"]["id"], r["member"]["userid"]) for r in body["recent"]] == [
        ("comment", world.corp.pk, "bob"),
        ("like", world.corp.pk, "bob"),
    ]
    assert bob_client.get(f"/api/v1/moments/engagement/{customer.pk}/").status_code == 200
    # Zoe's customer is outside bob's data scope.
    assert_problem(bob_client.get(f"/api/v1/moments/engagement/{world.zoes[0].pk}/"), 404, "not_found")
    assert_problem(alice_client.get("/api/v1/moments/engagement/abc/"), 404, "not_found")


def test_the_members_posts_sync_state_and_run_now(
    alice_client, operator_client, world, django_capture_on_commit_callbacks
):
    assert alice_client.get("/api/v1/moments/sync/").json() == {
        "synced_until": None,
        "last_run_at": None,
        "moments_read": 0,
        "api_calls": 0,
        "error": {},
    }
    with tenant_context(world.tenant):
        MemberSync.objects.create(synced_until=NOW, last_run_at=NOW, moments_read=3, api_calls=2)
    with django_capture_on_commit_callbacks() as queued:
        response = operator_client.post("/api/v1/moments/sync/")
    assert response.status_code == 202, response.content
    assert (response.json()["moments_read"], len(queued)) == (3, 1)


# -- the contacts filters -------------------------------------------------------------------------


def test_engagement_filters_in_the_list_segments_and_audiences(alice_client, world):
    def names(query: str) -> list[str]:
        response = alice_client.get(f"/api/v1/contacts/?{query}")
        assert response.status_code == 200, response.content
        return sorted(c["name"] for c in response.json()["results"])

    # NOW is the 30th at 10:00: B0 last engaged 26 hours ago, B1 and Z0 within the last 24 hours.
    assert names("moments_engaged_within=1") == ["B1", "Z0"]
    assert names("moments_engaged_within=2") == ["B0", "B1", "Z0"]
    assert names("moments_not_engaged_within=1") == ["B0", "B2", "Z1"]
    assert_problem(alice_client.get("/api/v1/contacts/?moments_engaged_within=0"), 400, "validation_error")

    segment = alice_client.post(
        "/api/v1/segments/", {"name": "互动客户", "filters": {"moments_engaged_within": "2"}}, format="json"
    )
    assert segment.status_code == 201, segment.content
    with tenant_context(world.tenant):
        assert Segment.objects.get(pk=segment.json()["id"]).filters == {"moments_engaged_within": "2"}
    assert alice_client.get(f"/api/v1/segments/{segment.json()['id']}/").json()["count"] == 3
    plan = alice_client.post(
        "/api/v1/campaigns/preview/",
        {"chat_type": "single", "audience": {"filters": {"moments_not_engaged_within": "2"}}},
        format="json",
    )
    assert plan.status_code == 200, plan.content
    assert plan.json()["audience_total"] == 2  # B2 and Z1


def test_scheduled_times_without_offset_are_the_tenants(alice_client, world):
    task = create(alice_client)
    with tenant_context(world.tenant):
        CampaignSettings.objects.update_or_create(defaults={"time_zone": "America/New_York"})
    body = alice_client.post(
        f"{TASKS}{task['id']}/publish/", {"scheduled_at": "2026-12-01T09:00:00"}, format="json"
    ).json()
    with tenant_context(world.tenant):
        assert MomentTask.objects.get(pk=task["id"]).scheduled_at == at("2026-12-01 22:00")
    assert body["status"] == "scheduled"
