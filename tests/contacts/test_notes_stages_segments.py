"""Local writes on customers: the stage pipeline, stage changes, notes and saved segments.

Admins edit the pipeline; any member moves and annotates the customers it can see (bob, sales, only
his own: others are 404); notes are edited by their author or an admin; segments are written by
admins and operators, validated by running their filters, and counted live within the caller's scope.
"""

from __future__ import annotations

import pytest

from contacts.models import Contact, ContactEvent, EventType, Note, Segment, Stage
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Role
from tests.helpers import assert_problem

CONTACTS = "/api/v1/contacts/"
STAGES = "/api/v1/stages/"
NOTES = "/api/v1/notes/"
SEGMENTS = "/api/v1/segments/"


def assert_invalid(response, path: str) -> dict:
    body = assert_problem(response, 400, "validation_error")
    assert path in [e["path"] for e in body["errors"]], body
    return body


@pytest.fixture
def world(build_a, alice, bob):
    b = build_a
    ann, bob_staff = b.staff("ann"), b.staff("bob")
    vip, cold = b.tag("VIP"), b.tag("沉睡")
    lead, won = b.stage("线索", order=1), b.stage("成交", order=2)
    return {
        "tenant": b.tenant, "ann": ann, "vip": vip, "cold": cold, "lead": lead, "won": won,
        "anns": b.contact("王芳", staff=ann, tags=[vip], stage=lead),
        "bobs": b.contact("李雷", staff=bob_staff, tags=[vip]),
        "bobs_cold": b.contact("韩梅梅", staff=bob_staff, tags=[cold]),
    }  # fmt: skip


def events(world, contact, type_):
    with tenant_context(world["tenant"]):
        return list(ContactEvent.objects.filter(contact=contact, type=type_).order_by("id"))


# ==================================================================================================
# stages
# ==================================================================================================


def test_stages_are_listed_in_order_and_reordered_by_admins(alice_client, bob_client, world):
    assert [s["name"] for s in bob_client.get(STAGES).json()] == ["线索", "成交"]
    response = alice_client.patch(f"{STAGES}{world['won'].pk}/", {"order": 0}, format="json")
    assert response.status_code == 200, response.content
    assert [s["name"] for s in alice_client.get(STAGES).json()] == ["成交", "线索"]
    created = alice_client.post(STAGES, {"name": "流失", "order": 9, "color": "#999"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["name"] == "流失"
    assert [s["name"] for s in alice_client.get(STAGES).json()] == ["成交", "线索", "流失"]


def test_stage_names_are_unique(alice_client, world):
    assert_invalid(alice_client.post(STAGES, {"name": "线索"}, format="json"), "name")
    assert_invalid(alice_client.patch(f"{STAGES}{world['won'].pk}/", {"name": "线索"}, format="json"), "name")


def test_sales_cannot_change_the_pipeline(bob_client, world):
    assert_problem(bob_client.post(STAGES, {"name": "新"}, format="json"), 403, "permission_denied")
    assert_problem(
        bob_client.patch(f"{STAGES}{world['won'].pk}/", {"order": 0}, format="json"), 403, "permission_denied"
    )
    assert_problem(bob_client.delete(f"{STAGES}{world['won'].pk}/"), 403, "permission_denied")
    with tenant_context(world["tenant"]):
        assert Stage.objects.count() == 2


def test_deleting_a_stage_in_use_clears_it_from_its_contacts(alice_client, world):
    assert alice_client.delete(f"{STAGES}{world['lead'].pk}/").status_code == 204
    with tenant_context(world["tenant"]):
        assert Contact.objects.get(pk=world["anns"].pk).stage_id is None
    assert alice_client.get(f"{CONTACTS}{world['anns'].pk}/").json()["stage"] is None


def test_other_tenant_cannot_see_or_touch_the_stages(charlie_client, world):
    assert charlie_client.get(STAGES).json() == []
    assert_problem(
        charlie_client.patch(f"{STAGES}{world['won'].pk}/", {"order": 0}, format="json"), 404, "not_found"
    )
    assert_problem(charlie_client.delete(f"{STAGES}{world['won'].pk}/"), 404, "not_found")


# ==================================================================================================
# stage changes
# ==================================================================================================


def test_changing_a_stage_records_a_stage_changed_event(alice_client, world):
    contact = world["anns"]
    response = alice_client.post(f"{CONTACTS}{contact.pk}/stage/", {"stage": world["won"].pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["stage"] == {"id": world["won"].pk, "name": "成交"}
    (event,) = events(world, contact, EventType.STAGE_CHANGED)
    assert event.payload == {
        "from": world["lead"].pk,
        "from_name": "线索",
        "to": world["won"].pk,
        "to_name": "成交",
    }
    assert event.actor.username == "alice"
    # Clearing it is a change too; setting the same stage again is not.
    assert (
        alice_client.post(f"{CONTACTS}{contact.pk}/stage/", {"stage": None}, format="json").json()["stage"]
        is None
    )
    alice_client.post(f"{CONTACTS}{contact.pk}/stage/", {"stage": None}, format="json")
    assert [e.payload["to"] for e in events(world, contact, EventType.STAGE_CHANGED)] == [
        world["won"].pk,
        None,
    ]
    timeline = alice_client.get(f"{CONTACTS}{contact.pk}/timeline/").json()["results"]
    assert [e["type"] for e in timeline] == ["stage_changed", "stage_changed"]


def test_unknown_stage_is_400_naming_stage_and_changes_nothing(alice_client, charlie, world, build_b):
    other = build_b.stage("别家的")
    for stage in (999999, other.pk, "x"):
        assert_invalid(
            alice_client.post(f"{CONTACTS}{world['anns'].pk}/stage/", {"stage": stage}, format="json"),
            "stage",
        )
    with tenant_context(world["tenant"]):
        assert Contact.objects.get(pk=world["anns"].pk).stage_id == world["lead"].pk
    assert events(world, world["anns"], EventType.STAGE_CHANGED) == []


def test_sales_moves_his_own_customers_only(bob_client, charlie_client, world):
    url = f"{CONTACTS}{world['bobs'].pk}/stage/"
    assert bob_client.post(url, {"stage": world["won"].pk}, format="json").status_code == 200
    response = bob_client.post(
        f"{CONTACTS}{world['anns'].pk}/stage/", {"stage": world["won"].pk}, format="json"
    )
    assert_problem(response, 404, "not_found")
    assert_problem(charlie_client.post(url, {"stage": None}, format="json"), 404, "not_found")
    with tenant_context(world["tenant"]):
        assert Contact.objects.get(pk=world["anns"].pk).stage_id == world["lead"].pk
        assert Contact.objects.get(pk=world["bobs"].pk).stage_id == world["won"].pk


# ==================================================================================================
# notes
# ==================================================================================================


def test_writing_a_note_records_a_note_event(bob, bob_client, world):
    contact = world["bobs"]
    response = bob_client.post(
        f"{CONTACTS}{contact.pk}/notes/", {"content": "  电话沟通，意向强  "}, format="json"
    )
    assert response.status_code == 201, response.content
    note = response.json()
    assert note["content"] == "电话沟通，意向强"
    assert note["author"] == {"type": "member", "id": bob.pk, "name": "bob"}
    (event,) = events(world, contact, EventType.NOTE)
    assert event.payload["note_id"] == note["id"]
    assert event.actor.username == "bob"
    listed = bob_client.get(f"{CONTACTS}{contact.pk}/notes/").json()["results"]
    assert [n["id"] for n in listed] == [note["id"]]


def test_empty_note_is_400(alice_client, world):
    assert_invalid(
        alice_client.post(f"{CONTACTS}{world['bobs'].pk}/notes/", {"content": " "}, format="json"), "content"
    )


def test_only_the_author_or_an_admin_edits_and_deletes_a_note(
    alice_client, bob_client, world, client_for, tenant_a
):
    from tests.tenancy.test_admin_apis import add_member

    olga = client_for(add_member(tenant_a, "olga", Role.OPERATOR))
    bobs_note = bob_client.post(
        f"{CONTACTS}{world['bobs'].pk}/notes/", {"content": "bob 写的"}, format="json"
    ).json()
    alices_note = alice_client.post(
        f"{CONTACTS}{world['bobs'].pk}/notes/", {"content": "alice 写的"}, format="json"
    ).json()
    # Not the author (an operator, or bob on alice's note): refused, unchanged.
    assert_problem(
        olga.patch(f"{NOTES}{bobs_note['id']}/", {"content": "改"}, format="json"), 403, "permission_denied"
    )
    assert_problem(
        bob_client.patch(f"{NOTES}{alices_note['id']}/", {"content": "改"}, format="json"),
        403,
        "permission_denied",
    )
    assert_problem(bob_client.delete(f"{NOTES}{alices_note['id']}/"), 403, "permission_denied")
    # The author edits; an admin deletes anyone's.
    edited = bob_client.patch(f"{NOTES}{bobs_note['id']}/", {"content": "bob 改过"}, format="json")
    assert edited.status_code == 200, edited.content
    assert edited.json()["content"] == "bob 改过"
    assert alice_client.delete(f"{NOTES}{bobs_note['id']}/").status_code == 204
    with tenant_context(world["tenant"]):
        assert list(Note.objects.values_list("content", flat=True)) == ["alice 写的"]
        # The event that a note was written stays: the stream is append-only.
        assert ContactEvent.objects.filter(type=EventType.NOTE).count() == 2


def test_notes_of_customers_out_of_scope_are_404(alice_client, bob_client, charlie_client, world):
    note = alice_client.post(
        f"{CONTACTS}{world['anns'].pk}/notes/", {"content": "ann 的客户"}, format="json"
    ).json()
    assert_problem(
        bob_client.post(f"{CONTACTS}{world['anns'].pk}/notes/", {"content": "x"}, format="json"),
        404,
        "not_found",
    )
    assert_problem(bob_client.delete(f"{NOTES}{note['id']}/"), 404, "not_found")
    assert_problem(
        charlie_client.patch(f"{NOTES}{note['id']}/", {"content": "x"}, format="json"), 404, "not_found"
    )
    assert_problem(charlie_client.delete(f"{NOTES}{note['id']}/"), 404, "not_found")
    assert_problem(charlie_client.get(f"{CONTACTS}{world['anns'].pk}/notes/"), 404, "not_found")
    with tenant_context(world["tenant"]):
        assert Note.objects.count() == 1


# ==================================================================================================
# segments
# ==================================================================================================


def test_segment_with_a_live_count_within_the_callers_scope(alice_client, bob_client, world, build_a):
    response = alice_client.post(
        SEGMENTS, {"name": "VIP", "filters": {"tags_all": str(world["vip"].pk)}}, format="json"
    )
    assert response.status_code == 201, response.content
    segment = response.json()
    assert segment["count"] == 2
    assert segment["filters"] == {"tags_all": str(world["vip"].pk)}
    build_a.contact("新VIP", staff=world["ann"], tags=[world["vip"]])
    assert alice_client.get(f"{SEGMENTS}{segment['id']}/").json()["count"] == 3
    # bob counts (and lists) only his own customers in it.
    assert bob_client.get(f"{SEGMENTS}{segment['id']}/").json()["count"] == 1
    rows = bob_client.get(f"{SEGMENTS}{segment['id']}/contacts/").json()["results"]
    assert [r["name"] for r in rows] == ["李雷"]
    rows = alice_client.get(f"{SEGMENTS}{segment['id']}/contacts/", {"ordering": "name"}).json()["results"]
    assert [r["name"] for r in rows] == sorted(["王芳", "李雷", "新VIP"])
    listed = alice_client.get(SEGMENTS).json()["results"]
    assert [(s["name"], s["count"]) for s in listed] == [("VIP", None)]


@pytest.mark.parametrize(
    ("filters", "path"),
    [
        ({"tags_all": "999999"}, "filters.tags_all"),
        ({"staff": "nobody"}, "filters.staff"),
        ({"added_after": "2025-02-30"}, "filters.added_after"),
        ({"stage": "999999"}, "filters.stage"),
        ({"colour": "red"}, "filters.colour"),
    ],
)
def test_invalid_segment_filters_are_400_naming_the_filter(alice_client, world, filters, path):
    assert_invalid(alice_client.post(SEGMENTS, {"name": "坏的", "filters": filters}, format="json"), path)
    with tenant_context(world["tenant"]):
        assert not Segment.objects.exists()


def test_segment_names_are_unique_and_edits_are_validated(alice_client, world):
    first = alice_client.post(SEGMENTS, {"name": "A", "filters": {}}, format="json").json()
    alice_client.post(SEGMENTS, {"name": "B", "filters": {}}, format="json")
    assert_invalid(alice_client.post(SEGMENTS, {"name": "A", "filters": {}}, format="json"), "name")
    assert_invalid(alice_client.patch(f"{SEGMENTS}{first['id']}/", {"name": "B"}, format="json"), "name")
    assert_invalid(
        alice_client.patch(f"{SEGMENTS}{first['id']}/", {"filters": {"staff": "x"}}, format="json"),
        "filters.staff",
    )
    edited = alice_client.patch(f"{SEGMENTS}{first['id']}/", {"filters": {"staff": "ann"}}, format="json")
    assert edited.status_code == 200, edited.content
    assert edited.json()["count"] == 1
    assert alice_client.delete(f"{SEGMENTS}{first['id']}/").status_code == 204


def test_sales_read_segments_but_cannot_write_them(alice_client, bob_client, world):
    segment = alice_client.post(SEGMENTS, {"name": "全部", "filters": {}}, format="json").json()
    assert [s["name"] for s in bob_client.get(SEGMENTS).json()["results"]] == ["全部"]
    assert_problem(
        bob_client.post(SEGMENTS, {"name": "我的", "filters": {}}, format="json"), 403, "permission_denied"
    )
    assert_problem(
        bob_client.patch(f"{SEGMENTS}{segment['id']}/", {"name": "x"}, format="json"),
        403,
        "permission_denied",
    )
    assert_problem(bob_client.delete(f"{SEGMENTS}{segment['id']}/"), 403, "permission_denied")


def test_operators_write_segments(client_for, tenant_a, world):
    from tests.tenancy.test_admin_apis import add_member

    olga = client_for(add_member(tenant_a, "olga", Role.OPERATOR))
    assert olga.post(SEGMENTS, {"name": "运营的", "filters": {}}, format="json").status_code == 201


def test_other_tenant_cannot_see_segments(alice_client, charlie_client, world):
    segment = alice_client.post(SEGMENTS, {"name": "VIP", "filters": {}}, format="json").json()
    assert charlie_client.get(SEGMENTS).json()["results"] == []
    for method, suffix in (("get", ""), ("get", "contacts/"), ("patch", ""), ("delete", "")):
        response = getattr(charlie_client, method)(f"{SEGMENTS}{segment['id']}/{suffix}", {}, format="json")
        assert_problem(response, 404, "not_found")


def test_segment_list_query_count_is_constant(alice_client, world, django_assert_max_num_queries):
    for i in range(15):
        alice_client.post(SEGMENTS, {"name": f"S{i}", "filters": {"staff": "ann"}}, format="json")
    with django_assert_max_num_queries(4):
        assert len(alice_client.get(SEGMENTS).json()["results"]) == 15
