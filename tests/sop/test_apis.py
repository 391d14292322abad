"""The ``/sops/`` routes: create (blank or from a template), read with the draft's errors, change the draft
(saved even when invalid), delete, publish versions, pause, resume, stop, enrol by hand, the versions
and enrolments lists and the report — with their roles (admins and operators and their API keys run
SOPs, sales members get 403), tenant isolation (charlie gets 404 on every object route), validation
errors with definition paths and the lists' pinned query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import AuditEntry, Role
from sop.models import EnrolmentStatus, Sop, SopEnrolment, SopKind, SopStatus, SopStepRun, SopVersion
from tests.helpers import assert_problem

pytestmark = pytest.mark.django_db
SOPS = "/api/v1/sops/"


def manual(text: str = "跟进一下", **extra: Any) -> dict[str, Any]:
    """A definition valid in every tenant: enrolled by hand, one reminder."""
    return {
        "trigger": {"type": "manual"},
        "steps": [{"id": "r1", "type": "action", "action": "remind", "title": "提醒", "text": text}],
        **extra,
    }


def create(client, **body) -> dict:
    response = client.post(SOPS, {"name": "新客 SOP", **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def live(client, **body) -> dict:
    sop = create(client, draft=manual(), **body)
    response = client.post(f"{SOPS}{sop['id']}/publish/")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def people(build_a):
    """Bob (sales, WeCom userid bob) and Sam, each following a customer."""
    bob, sam = build_a.staff("bob", "Bob"), build_a.staff("sam", "Sam")
    return {
        "bob": bob,
        "sam": sam,
        "ann": build_a.contact("Ann", staff=bob),
        "cat": build_a.contact("Cat", staff=sam),
    }


# -- create, read, change, delete -------------------------------------------------------------------


def test_create_read_change_delete_a_draft(alice_client, alice):
    created = create(alice_client, description="  欢迎新客  ")
    assert (created["status"], created["kind"], created["template"], created["draft"]) == (
        "draft",
        "customer",
        "",
        {},
    )
    assert created["description"] == "欢迎新客"
    assert created["created_by"] == {"type": "member", "id": alice.pk, "name": "alice"}
    assert (created["live_version"], created["active_enrolments"], created["version_count"]) == (None, 0, 0)
    assert {e["path"] for e in created["draft_errors"]} >= {"trigger", "steps"}
    one = f"{SOPS}{created['id']}/"

    # An invalid draft is saved as written, with its errors by path.
    draft = manual()
    draft["steps"].append({"id": "w1", "type": "wait", "days": 400})
    changed = alice_client.patch(one, {"draft": draft, "name": "改名"}, format="json")
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert (body["name"], body["draft"]) == ("改名", draft)
    assert [(e["path"], e["code"]) for e in body["draft_errors"]] == [("steps.1.days", "invalid")]
    assert alice_client.get(one).json()["draft"] == draft

    fixed = alice_client.patch(one, {"draft": manual()}, format="json").json()
    assert fixed["draft_errors"] == []

    assert alice_client.delete(one).status_code == 204
    assert_problem(alice_client.get(one), 404, "not_found")


def test_the_list_filters_and_counts(alice_client, people, tenant_a):
    first = live(alice_client)
    create(alice_client, name="群 SOP", kind="group")
    rows = alice_client.get(SOPS).json()["results"]
    assert [r["name"] for r in rows] == ["群 SOP", "新客 SOP"]
    assert rows[1]["live_version"]["number"] == 1
    assert rows[1]["version_count"] == 1
    enrolled = alice_client.post(
        f"{SOPS}{first['id']}/enrol/", {"contact_ids": [people["ann"].pk]}, format="json"
    )
    assert enrolled.json()["enrolled"] == 1
    assert alice_client.get(SOPS, {"status": "live"}).json()["results"][0]["active_enrolments"] == 1
    assert [r["kind"] for r in alice_client.get(SOPS, {"kind": "group"}).json()["results"]] == ["group"]
    assert [r["name"] for r in alice_client.get(SOPS, {"q": "群"}).json()["results"]] == ["群 SOP"]
    assert_problem(alice_client.get(SOPS, {"status": "gone"}), 400, "validation_error")
    assert_problem(alice_client.get(SOPS, {"q": "a\x00"}), 400, "validation_error")


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({"name": ""}, "name", "blank"),
        ({"name": "x" * 101}, "name", "max_length"),
        ({"kind": "team"}, "kind", "invalid_choice"),
        ({"draft": ["steps"]}, "draft", "invalid"),
        ({"template": "nope"}, "template", "invalid_choice"),
        ({"template": "group_daily_morning", "kind": "customer"}, "kind", "kind_mismatch"),
        ({"draft": {"steps": [{"text": "长" * 30_000}]}}, "draft", "too_many_bytes"),
        ({"draft": {"steps": [{"text": "a\x00b"}]}}, "draft", "null_characters_not_allowed"),
    ],
)
def test_create_refusals_name_their_field(alice_client, body, path, code):
    problem = assert_problem(
        alice_client.post(SOPS, {"name": "SOP", **body}, format="json"), 400, "validation_error"
    )
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [(path, code)]


def test_a_template_gives_kind_and_draft(alice_client):
    sop = create(alice_client, template="group_daily_morning")
    assert (sop["kind"], sop["template"]) == ("group", "group_daily_morning")
    assert sop["draft"]["trigger"]["type"] == "schedule"
    own = create(alice_client, template="new_customer_nurture", draft=manual())
    assert (own["kind"], own["draft"]) == ("customer", manual())


# -- publish and run ----------------------------------------------------------------------------------


def test_publishing_refuses_an_invalid_draft_with_its_paths(alice_client, tenant_a):
    draft = manual()
    draft["steps"][0]["text"] = ""
    draft["steps"].append({"id": "r1", "type": "wait", "minutes": 5})
    sop = create(alice_client, draft=draft)
    problem = assert_problem(alice_client.post(f"{SOPS}{sop['id']}/publish/"), 400, "validation_error")
    assert sorted((e["path"], e["code"]) for e in problem["errors"]) == [
        ("draft.steps.0.text", "required"),
        ("draft.steps.1.id", "duplicate_id"),
    ]
    with tenant_context(tenant_a):
        assert not SopVersion.objects.exists()
        assert Sop.objects.get(pk=sop["id"]).status == SopStatus.DRAFT


def test_publish_pause_resume_stop(alice_client, alice, tenant_a, people):
    sop = live(alice_client)
    one = f"{SOPS}{sop['id']}/"
    assert (sop["status"], sop["live_version"]["number"]) == ("live", 1)
    enrolled = alice_client.post(f"{one}enrol/", {"contact_ids": [people["ann"].pk]}, format="json")
    assert enrolled.json()["enrolled"] == 1

    # A second version: the customer inside keeps the first.
    alice_client.patch(one, {"draft": manual("第二版")}, format="json")
    second = alice_client.post(f"{one}publish/").json()
    assert second["live_version"]["number"] == 2
    versions = alice_client.get(f"{one}versions/").json()["results"]
    assert [(v["number"], v["enrolled"], v["active"]) for v in versions] == [(2, 0, 0), (1, 1, 1)]
    assert versions[1]["definition"]["steps"][0]["text"] == "跟进一下"
    assert versions[0]["published_by"] == {"type": "member", "id": alice.pk, "name": "alice"}

    assert alice_client.post(f"{one}pause/").json()["status"] == "paused"
    assert_problem(alice_client.post(f"{one}pause/"), 409, "not_live")
    assert_problem(
        alice_client.post(f"{one}enrol/", {"contact_ids": [people["cat"].pk]}, format="json"), 409, "not_live"
    )
    assert alice_client.post(f"{one}resume/").json()["status"] == "live"
    assert_problem(alice_client.post(f"{one}resume/"), 409, "not_paused")

    problem = assert_problem(alice_client.post(f"{one}stop/", {}, format="json"), 400, "validation_error")
    assert [e["path"] for e in problem["errors"]] == ["confirm"]
    assert_problem(
        alice_client.post(f"{one}stop/", {"confirm": False}, format="json"), 400, "validation_error"
    )
    stopped = alice_client.post(f"{one}stop/", {"confirm": True}, format="json")
    assert stopped.status_code == 200, stopped.content
    assert (stopped.json()["exited"], stopped.json()["sop"]["status"]) == (1, "stopped")
    with tenant_context(tenant_a):
        enrolment = SopEnrolment.objects.get(sop_id=sop["id"])
        assert (enrolment.status, enrolment.exit_reason) == (EnrolmentStatus.EXITED, "sop_stopped")
        assert not SopStepRun.objects.filter(enrolment=enrolment, status="pending").exists()
        actions = list(AuditEntry.objects.filter(data__sop=sop["id"]).values_list("action", flat=True))
    assert sorted(actions) == [
        "sop.enrol",
        "sop.pause",
        "sop.publish",
        "sop.publish",
        "sop.resume",
        "sop.stop",
    ]
    assert_problem(alice_client.post(f"{one}stop/", {"confirm": True}, format="json"), 409, "already_stopped")
    assert_problem(alice_client.delete(one), 409, "has_versions")

    # Publishing again starts it afresh.
    assert alice_client.post(f"{one}publish/").json()["status"] == "live"


def test_a_draft_cannot_be_stopped_nor_paused(alice_client):
    sop = create(alice_client, draft=manual())
    assert_problem(
        alice_client.post(f"{SOPS}{sop['id']}/stop/", {"confirm": True}, format="json"), 409, "not_published"
    )
    assert_problem(alice_client.post(f"{SOPS}{sop['id']}/pause/"), 409, "not_live")


def test_materials_of_a_running_sop_are_in_use(alice_client, tenant_a):
    from library.models import Material, MaterialUse

    with tenant_context(tenant_a):
        poster = Material.objects.create(kind="image", title="海报")
    draft = manual()
    draft["steps"][0]["attachments"] = [{"material_id": poster.pk}]
    sop = create(alice_client, draft=draft)
    one = f"{SOPS}{sop['id']}/"
    with tenant_context(tenant_a):
        uses = MaterialUse.objects.filter(owner_type="sop", owner_id=sop["id"])
        assert not uses.exists()
        alice_client.post(f"{one}publish/")
        assert list(uses.values_list("material_id", flat=True)) == [poster.pk]
        alice_client.patch(one, {"draft": manual()}, format="json")
        alice_client.post(f"{one}publish/")
        assert list(uses.values_list("material_id", flat=True)) == [poster.pk]  # version 1 runs on
        alice_client.post(f"{one}stop/", {"confirm": True}, format="json")
        assert not uses.exists()


# -- enrolling by hand ------------------------------------------------------------------------------


def test_enrol_by_ids_and_by_filters(alice_client, alice, tenant_a, people):
    sop = live(alice_client)
    enrol = f"{SOPS}{sop['id']}/enrol/"
    first = alice_client.post(enrol, {"contact_ids": [people["ann"].pk]}, format="json")
    assert first.status_code == 200, first.content
    assert first.json() == {
        "enrolled": 1,
        "skipped": {"already": 0, "lost": 0, "not_matching": 0, "no_member": 0},
    }
    again = alice_client.post(enrol, {"filters": {}}, format="json").json()
    assert (again["enrolled"], again["skipped"]["already"]) == (1, 1)
    with tenant_context(tenant_a):
        assert set(SopEnrolment.objects.values_list("contact_id", flat=True)) == {
            people["ann"].pk,
            people["cat"].pk,
        }
        audited = AuditEntry.objects.filter(action="sop.enrol").order_by("id")
        assert [(e.actor_user, e.data) for e in audited] == [
            (alice, {"sop": sop["id"], "enrolled": 1, "by": "ids"}),
            (alice, {"sop": sop["id"], "enrolled": 1, "by": "filters"}),
        ]


def test_enrol_honours_idempotency_key(alice_client, operator_client, people):
    sop = live(alice_client)
    enrol = f"{SOPS}{sop['id']}/enrol/"
    body = {"contact_ids": [people["ann"].pk]}
    first = alice_client.post(enrol, body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    replay = alice_client.post(enrol, body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.json()["enrolled"] == 1
    assert (replay.status_code, replay.json(), replay["Idempotent-Replay"]) == (200, first.json(), "true")
    # The same key from someone else is another request.
    other = operator_client.post(enrol, body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert other.json()["skipped"]["already"] == 1
    assert not other.has_header("Idempotent-Replay")


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({}, "contact_ids", "required"),
        ({"contact_ids": [1], "filters": {}}, "contact_ids", "required"),
        ({"contact_ids": []}, "contact_ids", "min_length"),
        ({"contact_ids": [999_999]}, "contact_ids.0", "does_not_exist"),
        ({"contact_ids": ["1"]}, "contact_ids.0", "invalid"),
        ({"filters": {"stage": "999999"}}, "filters.stage", "does_not_exist"),
        ({"filters": {"colour": "red"}}, "filters.colour", "invalid"),
        ({"filters": []}, "filters", "invalid"),
    ],
)
def test_enrol_refusals_name_their_field(alice_client, people, body, path, code):
    sop = live(alice_client)
    problem = assert_problem(
        alice_client.post(f"{SOPS}{sop['id']}/enrol/", body, format="json"), 400, "validation_error"
    )
    assert (problem["errors"][0]["path"], problem["errors"][0]["code"]) == (path, code)


def test_enrol_needs_a_live_customer_sop(alice_client, people):
    draft = create(alice_client, draft=manual())
    body = {"contact_ids": [people["ann"].pk]}
    assert_problem(alice_client.post(f"{SOPS}{draft['id']}/enrol/", body, format="json"), 409, "not_live")
    group = create(alice_client, template="group_daily_morning")
    alice_client.post(f"{SOPS}{group['id']}/publish/")
    assert_problem(
        alice_client.post(f"{SOPS}{group['id']}/enrol/", body, format="json"), 409, "not_customer_sop"
    )


# -- lists ---------------------------------------------------------------------------------------------


def test_the_enrolments_list(alice_client, tenant_a, people):
    sop = live(alice_client)
    one = f"{SOPS}{sop['id']}/"
    alice_client.post(f"{one}enrol/", {"contact_ids": [people["ann"].pk]}, format="json")
    alice_client.patch(one, {"draft": manual("第二版")}, format="json")
    alice_client.post(f"{one}publish/")
    alice_client.post(f"{one}enrol/", {"contact_ids": [people["cat"].pk]}, format="json")
    rows = alice_client.get(f"{one}enrolments/").json()["results"]
    assert [(r["contact"]["name"], r["version"], r["status"]) for r in rows] == [
        ("Cat", 2, "active"),
        ("Ann", 1, "active"),
    ]
    assert rows[0]["staff"] == {"id": people["sam"].pk, "userid": "sam", "name": "Sam"}
    assert rows[0]["group"] is None
    step = rows[0]["current_step"]
    assert (step["id"], step["type"], step["action"], step["title"]) == ("r1", "action", "remind", "提醒")
    assert step["status"] in ("pending", "done")
    assert [
        r["contact"]["name"] for r in alice_client.get(f"{one}enrolments/", {"version": 1}).json()["results"]
    ] == ["Ann"]
    assert alice_client.get(f"{one}enrolments/", {"version": 9}).json()["results"] == []
    assert alice_client.get(f"{one}enrolments/", {"status": "exited"}).json()["results"] == []
    assert_problem(alice_client.get(f"{one}enrolments/", {"version": "x"}), 400, "validation_error")
    assert_problem(alice_client.get(f"{one}enrolments/", {"status": "gone"}), 400, "validation_error")


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries)


def test_the_lists_cost_the_same_whatever_their_length(alice_client, build_a, tenant_a, people):
    sop = live(alice_client)
    one = f"{SOPS}{sop['id']}/"
    alice_client.post(f"{one}enrol/", {"contact_ids": [people["ann"].pk]}, format="json")
    urls = [SOPS, f"{one}versions/", f"{one}enrolments/", f"{one}report/"]
    before = [_queries(alice_client, url) for url in urls]
    # Three to know the session's caller; then the page (the SOP list); the SOP and its versions; the
    # SOP, the enrolments, the step each is at and their versions; the SOP and the report's four reads
    # (definition, enrolments, steps, members: one more with goals reached, one more per split).
    assert before == [4, 5, 7, 8]
    for i in range(4):
        live(alice_client, name=f"SOP {i}")
        alice_client.patch(one, {"draft": manual(f"v{i}")}, format="json")
        alice_client.post(f"{one}publish/")
        contact = build_a.contact(f"C{i}", staff=people["bob"])
        alice_client.post(f"{one}enrol/", {"contact_ids": [contact.pk]}, format="json")
    assert [_queries(alice_client, url) for url in urls] == before
    # The enrolments page: the page, the steps each is at and their versions' titles.
    with tenant_context(tenant_a):
        assert SopEnrolment.objects.count() == 5


# -- roles and tenants ----------------------------------------------------------------------------------


def _routes(sop_id: int) -> list[tuple[str, str, Any]]:
    one = f"{SOPS}{sop_id}/"
    return [
        ("get", one, None),
        ("patch", one, {"description": "改"}),
        ("get", f"{one}versions/", None),
        ("get", f"{one}enrolments/", None),
        ("get", f"{one}report/", None),
        ("post", f"{one}pause/", None),
        ("post", f"{one}resume/", None),
        ("post", f"{one}enrol/", {"filters": {}}),
        ("post", f"{one}publish/", None),
        ("post", f"{one}stop/", {"confirm": True}),
    ]


@pytest.mark.parametrize("who", ["operator", "admin_key", "operator_key"])
def test_operators_and_keys_run_sops_like_admins(who, operator_client, key_client_for, tenant_a, people):
    if who == "operator":
        client = operator_client
    else:
        client = key_client_for(tenant_a, Role.ADMIN if who == "admin_key" else Role.OPERATOR)
    sop = live(client)
    assert client.get(SOPS).json()["results"][0]["id"] == sop["id"]
    for method, url, body in _routes(sop["id"]):
        send = getattr(client, method)
        response = send(url, body, format="json") if body is not None else send(url)
        assert response.status_code == 200, (method, url, response.content)
    with tenant_context(tenant_a):
        made = Sop.objects.get(pk=sop["id"])
        version = made.versions.order_by("number").first()
    if who == "operator":
        assert (made.created_by, version.published_by) != (None, None)
    else:
        assert (made.created_by_api_key, version.published_by_api_key) != (None, None)
    assert client.delete(f"{SOPS}{create(client)['id']}/").status_code == 204


def test_sales_members_and_keys_get_403(alice_client, bob_client, key_client_for, tenant_a, people):
    sop = live(alice_client)
    sales_key = key_client_for(tenant_a, Role.SALES)
    for client in (bob_client, sales_key):
        assert_problem(client.get(SOPS), 403, "permission_denied")
        assert_problem(client.post(SOPS, {"name": "x"}, format="json"), 403, "permission_denied")
        assert_problem(client.delete(f"{SOPS}{sop['id']}/"), 403, "permission_denied")
        for method, url, body in _routes(sop["id"]):
            send = getattr(client, method)
            response = send(url, body, format="json") if body is not None else send(url)
            assert_problem(response, 403, "permission_denied")


def test_another_tenant_gets_404_on_every_object_route(alice_client, charlie_client, people, tenant_a):
    sop = live(alice_client)
    for method, url, body in [*_routes(sop["id"]), ("delete", f"{SOPS}{sop['id']}/", None)]:
        send = getattr(charlie_client, method)
        response = send(url, body, format="json") if body is not None else send(url)
        assert_problem(response, 404, "not_found")
    assert charlie_client.get(SOPS).json()["results"] == []
    with tenant_context(tenant_a):
        assert Sop.objects.get(pk=sop["id"]).status == SopStatus.LIVE
        assert not SopEnrolment.objects.exists()


def test_ids_that_are_not_numbers_are_404(alice_client):
    assert_problem(alice_client.get(f"{SOPS}１２/"), 404, "not_found")
    assert_problem(alice_client.get(f"{SOPS}abc/report/"), 404, "not_found")


def test_the_report_route(alice_client, people):
    sop = live(alice_client)
    one = f"{SOPS}{sop['id']}/"
    alice_client.post(f"{one}enrol/", {"contact_ids": [people["ann"].pk, people["cat"].pk]}, format="json")
    report = alice_client.get(f"{one}report/").json()
    assert report["version"] is None
    assert report["enrolments"]["total"] == 2
    assert [s["id"] for s in report["steps"]] == ["r1"]
    assert report["steps"][0]["waiting"] + report["steps"][0]["done"] == 2
    assert alice_client.get(f"{one}report/", {"version": 1}).json()["version"] == 1
    assert_problem(alice_client.get(f"{one}report/", {"version": 3}), 404, "not_found")
    assert_problem(alice_client.get(f"{one}report/", {"version": "0"}), 400, "validation_error")
    draft = create(alice_client, draft=manual())
    empty = alice_client.get(f"{SOPS}{draft['id']}/report/").json()
    assert (empty["enrolments"]["total"], empty["goal"]["conversion"], empty["steps"][0]["id"]) == (
        0,
        None,
        "r1",
    )


def test_a_group_sop_checks_its_draft_as_a_group_sop(alice_client):
    sop = create(alice_client, kind=SopKind.GROUP, draft=manual())
    assert sop["kind"] == "group"
    assert ("trigger.type", "not_allowed") in {(e["path"], e["code"]) for e in sop["draft_errors"]}


def test_a_segment_trigger_takes_its_baseline_when_it_starts(alice_client, tenant_a, monkeypatch):
    from contacts.models import Segment
    from sop.services import enrol

    calls: list[int] = []
    monkeypatch.setattr(enrol, "sop_segment_baseline", lambda *, sop, now=None: calls.append(sop.pk) or 0)
    with tenant_context(tenant_a):
        vip, new = (
            Segment.objects.create(name="VIP", filters={}),
            Segment.objects.create(name="新", filters={}),
        )
    draft = manual()
    draft["trigger"] = {"type": "segment", "segment_id": vip.pk}
    sop = create(alice_client, draft=draft)
    one = f"{SOPS}{sop['id']}/"
    alice_client.post(f"{one}publish/")
    assert calls == [sop["id"]]
    alice_client.patch(one, {"draft": {**draft, "steps": manual("改")["steps"]}}, format="json")
    alice_client.post(f"{one}pause/")
    alice_client.post(f"{one}publish/")  # the same segment, still running: its members stay known
    assert calls == [sop["id"]]
    alice_client.patch(
        one, {"draft": {**draft, "trigger": {"type": "segment", "segment_id": new.pk}}}, format="json"
    )
    alice_client.post(f"{one}publish/")
    alice_client.post(f"{one}stop/", {"confirm": True}, format="json")
    alice_client.post(f"{one}publish/")  # started afresh
    assert calls == [sop["id"]] * 3


def test_errors_about_the_whole_definition_have_its_path():
    from rest_framework.exceptions import ErrorDetail

    from sop.serializers import error_items

    detail = {
        "non_field_errors": [ErrorDetail("At most 64 KB of JSON.", code="too_many")],
        "steps.0.id": [ErrorDetail("Required: the step's id.", code="required")],
    }
    assert error_items(detail) == [
        {"path": None, "code": "too_many", "message": "At most 64 KB of JSON."},
        {"path": "steps.0.id", "code": "required", "message": "Required: the step's id."},
    ]
    assert [e["path"] for e in error_items({"draft": detail})] == ["draft", "draft.steps.0.id"]
