"""Group codes (join ways) in the services: WeCom first, validation with field paths, the groups
WeCom opens when all are full (read back and synced), and joins attributed by the members' state."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from groups.models import Group, GroupMember, GroupStatus, JoinWay
from groups.services import join_ways
from groups.services.join_ways import (
    join_way_create,
    join_way_delete,
    join_way_refresh,
    join_way_stats,
    join_way_update,
    join_ways_joins,
)
from groups.tasks.codes import join_ways_refresh_all
from scrm.tenancy.context import tenant_context
from scrm.wecom.api import api_for
from scrm.wecom.errors import WeComError
from tests.contacts.test_handlers import handle
from tests.helpers import sandbox_control
from tests.wecom.test_sandbox_join_ways import fill

ADD = "externalcontact/groupchat/add_join_way"
GET = "externalcontact/groupchat/get_join_way"


def live_groups(tenant, n: int) -> list[Group]:
    with tenant_context(tenant):
        groups = list(
            Group.objects.exclude(status=GroupStatus.DISMISSED).filter(owner__isnull=False).order_by("pk")[:n]
        )
    assert len(groups) == n
    return groups


def create(tenant, groups: list[Group], **extra) -> JoinWay:
    with tenant_context(tenant):
        return join_way_create(
            name=extra.pop("name", "门店拉群"),
            group_ids=[g.pk for g in groups],
            room_base_name=extra.pop("room_base_name", "福利群"),
            **extra,
        )


def deliver_callbacks(tenant, sandbox, since: int, capture) -> None:
    """Hand the app the callbacks the sandbox sent since the ``since``-th, as the inbox would."""
    for record in sandbox.records("callbacks")[since:]:
        with capture(execute=True):
            handle(tenant, **record["body"])


def error_paths(caught) -> list[str]:
    """The dotted paths of a ValidationError's messages, as the API answers them (``group_ids.1``)."""

    def walk(detail, path: str) -> list[str]:
        if isinstance(detail, dict):
            return [p for key, value in detail.items() for p in walk(value, f"{path}.{key}" if path else key)]
        return [path]

    return sorted(walk(caught.value.detail, ""))


def test_create_goes_to_wecom_and_reads_the_qr_back(synced, sandbox):
    groups = live_groups(synced, 2)
    way = create(synced, groups, room_base_id=3)
    assert way.state.startswith("gc_")
    assert len(way.state) <= 30
    wecom = sandbox.state.join_ways[way.config_id]
    assert wecom["chat_id_list"] == [g.chat_id for g in groups] == way.chat_ids
    assert (wecom["state"], wecom["remark"], wecom["scene"]) == (way.state, "门店拉群", 2)
    assert (wecom["auto_create_room"], wecom["room_base_name"], wecom["room_base_id"]) == (1, "福利群", 3)
    assert way.qr_code == f"{sandbox.base_url}/sandbox/qr/join-way/{way.config_id}.png"
    other = create(synced, groups[:1], name="另一个")
    assert other.state != way.state  # generated, unique


@pytest.mark.parametrize(
    ("change", "paths"),
    [
        ({"name": ""}, ["name"]),
        ({"name": "x" * 31}, ["name"]),
        ({"group_ids": []}, ["group_ids"]),
        ({"group_ids": "1"}, ["group_ids"]),
        ({"room_base_name": ""}, ["room_base_name"]),
        ({"room_base_name": "名" * 41}, ["room_base_name"]),
        ({"room_base_id": 0}, ["room_base_id"]),
    ],
)
def test_validation_names_the_field_and_leaves_wecom_alone(synced, sandbox, change, paths):
    groups = live_groups(synced, 1)
    body = {"name": "码", "group_ids": [groups[0].pk], "room_base_name": "福利群", **change}
    with tenant_context(synced), pytest.raises(ValidationError) as caught:
        join_way_create(**body)
    assert error_paths(caught) == paths
    assert sandbox.records(ADD) == []


def test_groups_must_be_five_live_groups_of_the_tenant(synced, sandbox, build_group, tenant_b):
    groups = live_groups(synced, 6)
    foreign = build_group(tenant=tenant_b, owner=None, name="B's")
    with tenant_context(synced):
        Group.objects.filter(pk=groups[1].pk).update(status=GroupStatus.DISMISSED)
        for ids, path in (
            ([g.pk for g in groups], "group_ids"),
            ([groups[0].pk, foreign.pk], "group_ids.1"),
            ([groups[0].pk, groups[1].pk], "group_ids.1"),
        ):
            with pytest.raises(ValidationError) as caught:
                join_way_create(name="码", group_ids=ids, room_base_name="群")
            assert error_paths(caught) == [path]
        # Without auto-creation, no room name is needed.
        way = join_way_create(name="码", group_ids=[groups[0].pk], auto_create_room=False)
    assert sandbox.state.join_ways[way.config_id]["auto_create_room"] == 0
    assert len(sandbox.records(ADD)) == 1
    with tenant_context(synced), pytest.raises(ValidationError) as caught:
        join_way_create(name="码", group_ids=[groups[0].pk], room_base_name="群")
    assert error_paths(caught) == ["name"]


def test_a_wecom_refusal_keeps_nothing_here_or_there(synced, sandbox):
    groups = live_groups(synced, 1)
    sandbox.set_faults({"apis": {ADD: {"errors": {"48002": 1.0}}}})
    with pytest.raises(WeComError):
        create(synced, groups)
    sandbox.set_faults(
        {"reset": True, "apis": {"externalcontact/groupchat/get_join_way": {"errors": {"48002": 1.0}}}}
    )
    with pytest.raises(WeComError):
        create(synced, groups)
    assert len(sandbox.records(ADD)) == 1  # WeCom added it ...
    assert sandbox.state.join_ways == {}  # ... and it was deleted again after the failed read
    with tenant_context(synced):
        assert not JoinWay.objects.exists()


def test_update_and_delete(synced, sandbox):
    groups = live_groups(synced, 3)
    way = create(synced, groups[:1])
    with tenant_context(synced):
        way = join_way_update(way=way, data={"name": "新名字", "group_ids": [groups[2].pk, groups[1].pk]})
    wecom = sandbox.state.join_ways[way.config_id]
    assert (wecom["remark"], wecom["chat_id_list"]) == ("新名字", [groups[2].chat_id, groups[1].chat_id])
    assert wecom["state"] == way.state  # update_join_way overwrites: the state is sent again
    with tenant_context(synced), pytest.raises(ValidationError) as caught:
        join_way_update(way=way, data={"auto_create_room": True, "room_base_name": ""})
    assert error_paths(caught) == ["room_base_name"]

    # A group of the code dismissed in WeCom: an edit says which field to fix.
    sandbox_control(sandbox, "simulate/group-dismiss", {"chat_id": groups[1].chat_id})
    with tenant_context(synced), pytest.raises(ValidationError) as caught:
        join_way_update(way=way, data={"name": "再改"})
    assert error_paths(caught) == ["group_ids"]

    with tenant_context(synced):
        join_way_delete(way=way)
        assert not JoinWay.objects.exists()
    assert way.config_id not in sandbox.state.join_ways
    # A code WeCom has lost already is deleted here all the same.
    other = create(synced, groups[:1], name="另一个")
    del sandbox.state.join_ways[other.config_id]
    with tenant_context(synced):
        join_way_delete(way=other)
        assert not JoinWay.objects.exists()


def test_an_edit_keeps_the_groups_wecom_opened_that_are_not_synced_yet(synced, sandbox):
    groups = live_groups(synced, 5)
    way = create(synced, groups[:1])
    # WeCom opened a group for the code (all were full); its create callback has not arrived here.
    opened = sandbox_control(sandbox, "simulate/group-create", {"owner": groups[0].owner.userid})["chat_id"]
    sandbox.state.join_ways[way.config_id]["chat_id_list"].append(opened)
    with tenant_context(synced):
        assert not Group.objects.filter(chat_id=opened).exists()
        # The dashboard can only send the groups it knows: the unseen one is kept, not dropped.
        way = join_way_update(way=way, data={"group_ids": [groups[1].pk]})
    assert sandbox.state.join_ways[way.config_id]["chat_id_list"] == [groups[1].chat_id, opened]
    assert way.chat_ids == [groups[1].chat_id, opened]
    # Kept, it counts: five chosen groups and the unseen one would be six.
    with tenant_context(synced), pytest.raises(ValidationError) as caught:
        join_way_update(way=way, data={"group_ids": [g.pk for g in groups]})
    assert error_paths(caught) == ["group_ids"]
    assert sandbox.state.join_ways[way.config_id]["chat_id_list"] == [groups[1].chat_id, opened]


def test_joins_are_attributed_by_state(synced, sandbox, django_capture_on_commit_callbacks, refreshes_run):
    groups = live_groups(synced, 2)
    way = create(synced, groups)
    before = len(sandbox.records("callbacks"))
    joined = [sandbox_control(sandbox, "simulate/group-join", {"config_id": way.config_id}) for _ in range(2)]
    plain = sandbox_control(sandbox, "simulate/group-join", {"chat_id": groups[0].chat_id})
    deliver_callbacks(synced, sandbox, before, django_capture_on_commit_callbacks)
    refreshes_run(synced)  # the state comes with WeCom's member list, not with the callback
    with tenant_context(synced):
        states = dict(
            GroupMember.objects.filter(
                userid__in=[j["external_userid"] for j in joined] + [plain["external_userid"]]
            ).values_list("userid", "state")
        )
        assert states == {joined[0]["external_userid"]: way.state, joined[1]["external_userid"]: way.state,
                          plain["external_userid"]: ""}  # fmt: skip
        assert join_ways_joins(states=[way.state]) == {way.state: 2}
        today = timezone.localdate()
        stats = join_way_stats(way=way, start=today - dt.timedelta(days=2), end=today)
    assert stats["total"] == 2
    assert [d["joins"] for d in stats["days"]] == [0, 0, 2]
    assert [(g["id"], g["joins"], g["listed"]) for g in stats["groups"]] == [
        (groups[0].pk, 2, True),
        (groups[1].pk, 0, True),
    ]


def test_a_group_wecom_opens_when_all_are_full_is_listed_and_synced(
    synced, sandbox, django_capture_on_commit_callbacks, refreshes_run
):
    """End to end: the code's only group is full, a scan makes WeCom open a new one; after the
    callbacks the app has it (owner, name, the newcomer with the code's state) and the code lists it."""
    (first,) = live_groups(synced, 1)
    way = create(synced, [first], room_base_id=1)
    fill(sandbox, first.chat_id)
    before = len(sandbox.records("callbacks"))
    joined = sandbox_control(sandbox, "simulate/group-join", {"config_id": way.config_id})
    assert joined["created"] is True
    new_chat = joined["chat_id"]
    assert sandbox.state.groups[new_chat].name == "福利群1"  # WeCom has it

    deliver_callbacks(synced, sandbox, before, django_capture_on_commit_callbacks)
    refreshes_run(synced)  # WeCom shows the new group a few seconds after its callbacks
    with tenant_context(synced):
        group = Group.objects.select_related("owner").get(chat_id=new_chat)
        assert (group.name, group.owner_id, group.member_count) == ("福利群1", first.owner_id, 2)
        newcomer = GroupMember.objects.get(group=group, userid=joined["external_userid"])
        assert newcomer.state == way.state
        assert join_way_refresh(way=way) == []  # known already: nothing to sync
        way.refresh_from_db()
    assert way.chat_ids == [first.chat_id, new_chat]
    assert way.room_base_id == 2


def test_the_beat_reads_codes_back_and_syncs_groups_the_callbacks_missed(
    synced, sandbox, django_capture_on_commit_callbacks, refreshes_run
):
    (first,) = live_groups(synced, 1)
    way = create(synced, [first])
    fill(sandbox, first.chat_id)
    new_chat = sandbox_control(sandbox, "simulate/group-join", {"config_id": way.config_id})["chat_id"]
    # The callbacks were lost: only the refresh can tell.
    with django_capture_on_commit_callbacks(execute=True):
        assert join_ways_refresh_all() == 1
    # Just opened, the group is not in WeCom's details yet (40050): it is read until it is.
    assert refreshes_run(synced) >= 1
    with tenant_context(synced):
        way.refresh_from_db()
        assert way.chat_ids == [first.chat_id, new_chat]
        group = Group.objects.get(chat_id=new_chat)
        assert group.owner_id == first.owner_id
        # An edit that does not touch the groups keeps the one WeCom added.
        join_way_update(way=way, data={"name": "改名"})
    assert sandbox.state.join_ways[way.config_id]["chat_id_list"] == [first.chat_id, new_chat]


def watch_wecom(monkeypatch) -> list[tuple[str, int]]:
    """The join way calls the services make from now on: (API, transactions open around the call)."""
    calls: list[tuple[str, int]] = []

    def api_watching(tenant):
        api = api_for(tenant)
        for name in ("add_join_way", "get_join_way", "update_join_way"):
            call = getattr(api, name)

            def watched(*args, _call=call, _name=name, **kwargs):
                calls.append((_name, len(connection.atomic_blocks)))
                return _call(*args, **kwargs)

            setattr(api, name, watched)
        return api

    monkeypatch.setattr(join_ways, "api_for", api_watching)
    return calls


def test_an_update_checks_its_input_before_asking_wecom(synced, sandbox, monkeypatch):
    groups = live_groups(synced, 1)
    way = create(synced, groups)
    calls = watch_wecom(monkeypatch)
    for bad in ({"name": ""}, {"group_ids": []}, {"auto_create_room": True, "room_base_name": ""}):
        with tenant_context(synced), pytest.raises(ValidationError):
            join_way_update(way=way, data=bad)
    assert calls == []  # no WeCom call (nor row lock) for a wrong input


def test_create_holds_no_transaction_across_the_wecom_calls(synced, sandbox, monkeypatch):
    """add_join_way and get_join_way are HTTP calls: a transaction (and its connection) must not wait
    on them; only the final write is in one."""
    groups = live_groups(synced, 1)
    outside = len(connection.atomic_blocks)  # the test's own transaction
    calls = watch_wecom(monkeypatch)
    create(synced, groups)
    assert calls == [("add_join_way", outside), ("get_join_way", outside)]


def test_a_refresh_does_not_overwrite_an_edit_made_while_it_read_wecom(synced, sandbox, monkeypatch):
    groups = live_groups(synced, 3)
    way = create(synced, groups[:1])
    api = api_for(synced)
    read = api.get_join_way

    def edited_meanwhile(config_id):
        answer = read(config_id)  # WeCom lists the first group only
        # Another request changes the code's groups before the refresh writes.
        join_way_update(way=way, data={"group_ids": [groups[1].pk, groups[2].pk]})
        return answer

    monkeypatch.setattr(api, "get_join_way", edited_meanwhile)
    with tenant_context(synced):
        assert join_way_refresh(way=way, api=api) == []
        way.refresh_from_db()
    assert (
        way.chat_ids
        == [groups[1].chat_id, groups[2].chat_id]
        == sandbox.state.join_ways[way.config_id]["chat_id_list"]
    )
    # Unchanged since: the next refresh writes what WeCom says.
    sandbox.state.join_ways[way.config_id]["room_base_id"] = 9
    with tenant_context(synced):
        join_way_refresh(way=way)
        way.refresh_from_db()
    assert way.room_base_id == 9
