"""Deleting a tag group in WeCom (wecom-api.md §11): one ``change_external_tag`` event for the group
(TagType tag_group, ChangeType delete), none per tag, and the group goes with every tag in it. By the
event, by a late update event, or found by the full sync: the group and its tags leave lists and
filters, the follows drop them (each active one with an UNTAGGED event), and saved segments naming
them say so instead of matching nobody."""

from __future__ import annotations

import pytest

from contacts.models import (
    Contact,
    ContactEvent,
    EventType,
    Follow,
    FollowStatus,
    Segment,
    Tag,
    TagGroup,
)
from scrm.durable import RunStatus
from scrm.tenancy.context import tenant_context
from scrm.wecom.api import api_for
from tests.contacts.builders import run_sync
from tests.contacts.test_handlers import tag_event
from tests.helpers import assert_problem, sandbox_control

SEGMENTS, TAGS, GROUPS = "/api/v1/segments/", "/api/v1/tags/", "/api/v1/tag-groups/"


@pytest.fixture
def world(connected, sandbox, alice_client):
    """Synced; the most used tag group, its tags' Siyu ids, who carries them, and segments using them."""
    run_sync(connected)
    state = sandbox.state
    carried: dict[str, int] = {}
    for contact in state.contacts.values():
        for follow in contact.follows.values():
            for tag_id in follow.tag_ids:
                carried[tag_id] = carried.get(tag_id, 0) + 1
    group = max(
        (g for g in state.tag_groups.values() if not g.deleted),
        key=lambda g: sum(carried.get(t, 0) for t in g.tag_ids),
    )
    with tenant_context(connected):
        tags = dict(Tag.objects.filter(wecom_id__in=group.tag_ids).values_list("wecom_id", "id"))
        other = Tag.objects.filter(deleted=False).exclude(group__wecom_id=group.group_id).first()
    carrying = {
        (ext, userid)
        for ext, contact in state.contacts.items()
        for userid, follow in contact.follows.items()
        if set(follow.tag_ids) & set(group.tag_ids)
    }
    used = next(iter(tags.values()))
    segments = {}
    for name, filters in {
        "has": {"tags_all": f"{used},{other.pk}"},
        "lacks": {"tags_none": str(used), "status": "active"},
        "fine": {"tags_any": str(other.pk)},
    }.items():
        answer = alice_client.post(SEGMENTS, {"name": name, "filters": filters}, format="json")
        assert answer.status_code == 201, answer.json()
        segments[name] = answer.json()["id"]
    assert carrying
    return {"group": group, "tags": tags, "used": used, "carrying": carrying, "segments": segments}


def assert_gone(tenant, world, alice_client):
    group, tags = world["group"], world["tags"]
    with tenant_context(tenant):
        row = TagGroup.objects.get(wecom_id=group.group_id)
        assert row.deleted is True
        assert not Tag.objects.filter(group=row, deleted=False).exists()
        assert Tag.objects.filter(group=row).count() == len(tags)  # flagged, never deleted
        # No follow holds them any more, no contact's facets name them.
        assert not [f for f in Follow.objects.all() if set(f.tag_ids) & set(tags)]
        assert not Contact.objects.filter(facets__has_any_keys=[f"t:{pk}" for pk in tags.values()]).exists()
        # Each active follow that held some got one UNTAGGED event, saying why.
        untagged = {
            (e.contact.external_userid, e.staff.userid): e.payload
            for e in ContactEvent.objects.filter(type=EventType.UNTAGGED).select_related("contact", "staff")
        }
        active = {
            (f.contact.external_userid, f.staff.userid)
            for f in Follow.objects.filter(status=FollowStatus.ACTIVE).select_related("contact", "staff")
        }
    assert set(untagged) == world["carrying"] & active
    assert all(p["reason"] == "tag_deleted" and p["tags"] for p in untagged.values())
    # Gone from the lists and the filters.
    assert row.pk not in [g["id"] for g in alice_client.get(GROUPS).json()]
    listed = {t["id"] for t in alice_client.get(TAGS, {"page_size": 200}).json()["results"]}
    assert not listed & set(tags.values())
    # A filter by them finds nobody: no customer carries a deleted tag any more.
    answer = alice_client.get("/api/v1/contacts/", {"tags_any": world["used"]})
    assert answer.status_code == 200, answer.json()
    assert answer.json()["results"] == []


def assert_segments_say_so(world, alice_client):
    segments, used = world["segments"], world["used"]
    listed = {s["id"]: s for s in alice_client.get(SEGMENTS).json()["results"]}
    for name, filter_ in (("has", "tags_all"), ("lacks", "tags_none")):
        segment = alice_client.get(f"{SEGMENTS}{segments[name]}/").json()
        assert segment["count"] is None
        [deleted] = segment["deleted_tags"]
        assert (deleted["id"], deleted["filter"], deleted["group"]) == (
            used,
            filter_,
            world["group"].group_name,
        )
        assert listed[segments[name]]["deleted_tags"] == segment["deleted_tags"]
        problem = assert_problem(
            alice_client.get(f"{SEGMENTS}{segments[name]}/contacts/"), 400, "validation_error"
        )
        assert [e["path"] for e in problem["errors"]] == [f"filters.{filter_}"]
        assert deleted["name"] in problem["errors"][0]["message"]
    fine = alice_client.get(f"{SEGMENTS}{segments['fine']}/").json()
    assert fine["deleted_tags"] == []
    assert fine["count"] > 0


def test_deleting_a_group_in_the_admin_console(connected, sandbox, world, alice_client):
    group = world["group"]
    answer = sandbox_control(
        sandbox,
        "simulate/tag-change",
        {"change_type": "delete", "tag_type": "tag_group", "id": group.group_id},
    )
    assert answer["id"] == group.group_id
    tag_event(connected, "delete", "tag_group", group.group_id)  # the one event WeCom sends
    assert_gone(connected, world, alice_client)
    assert_segments_say_so(world, alice_client)
    with tenant_context(connected):
        events = ContactEvent.objects.count()
    tag_event(connected, "delete", "tag_group", group.group_id)  # delivered twice: nothing more
    with tenant_context(connected):
        assert ContactEvent.objects.count() == events


def test_a_late_update_of_a_deleted_group_deletes_it_too(connected, sandbox, world, alice_client):
    """The delete event was lost; an older update event arrives: the re-read answers the group
    flagged deleted, and that is enough."""
    group = world["group"]
    sandbox_control(
        sandbox,
        "simulate/tag-change",
        {"change_type": "delete", "tag_type": "tag_group", "id": group.group_id},
    )
    tag_event(connected, "update", "tag_group", group.group_id)
    assert_gone(connected, world, alice_client)


def test_a_group_deleted_through_the_api_is_found_by_the_full_sync(connected, sandbox, world, alice_client):
    """API-made changes send no callback: the full sync finds the group gone."""
    with tenant_context(connected):
        api_for(connected).del_corp_tag(group_id=[world["group"].group_id])
    run = run_sync(connected)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert_gone(connected, world, alice_client)
    assert_segments_say_so(world, alice_client)
    # A segment edited to drop the deleted tag counts again.
    segment = world["segments"]["has"]
    with tenant_context(connected):
        kept = Segment.objects.get(pk=segment).filters["tags_all"].split(",")[1]
    answer = alice_client.patch(f"{SEGMENTS}{segment}/", {"filters": {"tags_all": kept}}, format="json")
    assert (answer.json()["deleted_tags"], answer.json()["count"] > 0) == ([], True)
