"""change_external_chat callbacks: the sandbox acts a change out and sends its real callback (its
envelope is taken from what the sandbox sent, decoded as the inbox decodes it), and the registered
handler runs as the inbox runs it. The sandbox's groupchat/get lags a few seconds behind each change,
as WeCom's does: what the event says is mirrored at once, the rest once the group's refresh reads it
(its tasks run by ``refreshes_run``, the clock moved rather than slept). History is written exactly
once, whatever the deliveries."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading

import pytest
import xmltodict
from django.db import connection, transaction
from django.utils import timezone

from contacts.models import ContactEvent, EventType
from groups import handlers
from groups.models import Group, GroupMember, GroupRefresh, GroupStatus
from groups.services import join_ways
from groups.services import members as members_service
from groups.services.refresh import REFRESH_DELAYS
from groups.sync import group_read, group_reread
from groups.tasks import sync as group_tasks
from scrm.tenancy.context import tenant_context
from scrm.wecom.api import api_for
from scrm.wecom.errors import WeComError
from scrm.wecom.handlers import handler_for
from scrm.wecom.models import CallbackEvent
from scrm.wecom.sandbox.server import to_xml
from tests.helpers import connect_tenant, sandbox_control

GROUP_EVENTS = (EventType.GROUP_JOINED, EventType.GROUP_LEFT)


def handle(tenant, fields: dict) -> None:
    """Run the registered handler on an event, inside a transaction, as the callback inbox does."""
    handler = handler_for(fields["Event"], fields.get("ChangeType", ""))
    assert handler is not None, fields
    event = CallbackEvent(
        tenant=tenant, event=fields["Event"], change_type=fields.get("ChangeType", ""), payload=fields
    )
    with tenant_context(tenant), transaction.atomic():
        handler(tenant=tenant, event=event)


def sent(sandbox, index: int = -1) -> dict:
    """A callback the sandbox sent, as the app's receiver decodes it (XML: every value a string)."""
    envelope = sandbox.records("callbacks")[index]["body"]
    return xmltodict.parse(to_xml(envelope))["xml"]


def snapshot(tenant) -> tuple:
    with tenant_context(tenant):
        return (
            sorted(
                GroupMember.objects.values_list(
                    "id", "group_id", "userid", "left_at", "quit_scene", "group_nickname", "updated_at"
                )
            ),
            sorted(
                Group.objects.values_list(
                    "id", "member_version", "status", "name", "member_count", "updated_at"
                )
            ),
            ContactEvent.objects.filter(type__in=GROUP_EVENTS).count(),
        )


def a_chat(sandbox):
    return next(c for c in sandbox.state.groups.values() if not c.dismissed and len(c.members) < 200)


def a_customer_outside(sandbox, chat) -> str:
    inside = {m.userid for m in chat.members}
    return next(ext for ext, c in sandbox.state.contacts.items() if c.follows and ext not in inside)


def group_events(tenant, external_userid: str) -> list[tuple[str, dict]]:
    with tenant_context(tenant):
        return list(
            ContactEvent.objects.filter(contact__external_userid=external_userid, type__in=GROUP_EVENTS)
            .order_by("id")
            .values_list("type", "payload")
        )


def test_a_re_read_issued_before_the_stored_one_changes_nothing(synced, sandbox, monkeypatch):
    """Two workers re-read the group; the one whose call was issued first commits last."""
    chat = a_chat(sandbox)
    with tenant_context(synced):
        stale = api_for(synced).groupchat_get(chat.chat_id)["group_chat"]
    issued = timezone.now()
    sandbox_control(sandbox, "simulate/group-join", {"chat_id": chat.chat_id})
    handle(synced, sent(sandbox))  # the newer read, applied first
    before = snapshot(synced)
    with tenant_context(synced), transaction.atomic():
        result = members_service.groups_apply(reads=[group_read(stale, read_at=issued)])
    assert (result.updated, result.unchanged) == (0, 1)
    assert snapshot(synced) == before


@pytest.mark.django_db(transaction=True)
def test_two_workers_re_reading_one_join_at_once_record_it_once(
    tenant_a, sandbox, monkeypatch, wecom_settles
):
    """The inbox drains events concurrently: two re-reads of the same join must not both insert it."""
    connect_tenant(tenant_a, sandbox)
    from tests.contacts.builders import run_sync
    from tests.groups.conftest import run_groups_sync

    run_sync(tenant_a)
    run_groups_sync(tenant_a)
    chat = a_chat(sandbox)
    ext = a_customer_outside(sandbox, chat)
    sandbox_control(sandbox, "simulate/group-join", {"chat_id": chat.chat_id, "external_userid": ext})
    wecom_settles()
    barrier = threading.Barrier(2, timeout=3)
    real = members_service._stored

    def both_at_once(chat_ids, *, lock):
        # Line the two writers up just before they lock (the unlocked reads are done by then).
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return real(chat_ids, lock=lock)

    monkeypatch.setattr(members_service, "_stored", both_at_once)
    errors = []

    def worker():
        try:
            with tenant_context(tenant_a), transaction.atomic():
                group_reread(api=api_for(tenant_a), chat_id=chat.chat_id)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with tenant_context(tenant_a):
        assert GroupMember.objects.filter(group__chat_id=chat.chat_id, userid=ext).count() == 1
    assert len(group_events(tenant_a, ext)) == 1


def test_a_group_first_seen_through_a_group_code_refresh_records_its_customers_joining(
    synced, sandbox, wecom_settles
):
    """join_ways.groups_reread reads the groups WeCom opened for a code (its create callback lost):
    news, as a create callback's. A group the full sync sees for the first time stays history."""
    owner = next(c.owner for c in sandbox.state.groups.values())
    opened = sandbox_control(sandbox, "simulate/group-create", {"owner": owner, "name": "福利群9"})["chat_id"]
    wecom_settles()
    with tenant_context(synced):
        assert join_ways.groups_reread(tenant=synced, chat_ids=[opened]) == 1
    customers = [m.userid for m in sandbox.state.groups[opened].members if m.type == 2]
    assert [[t for t, _ in group_events(synced, ext)] for ext in customers] == [[EventType.GROUP_JOINED]] * 2

    from tests.groups.conftest import run_groups_sync

    other = sandbox_control(sandbox, "simulate/group-create", {"owner": owner, "name": "另一个群"})["chat_id"]
    wecom_settles()
    with tenant_context(synced):
        before = ContactEvent.objects.filter(type__in=GROUP_EVENTS).count()
    assert run_groups_sync(synced).created == 1
    with tenant_context(synced):
        assert Group.objects.filter(chat_id=other).exists()
        assert ContactEvent.objects.filter(type__in=GROUP_EVENTS).count() == before


def test_member_change_lists_of_several_members(synced):
    assert handlers._changed_userids({"MemChangeList": {"Item": ["a", "b"]}}) == ["a", "b"]
    assert handlers._changed_userids({"MemChangeList": {"Item": "a"}}) == ["a"]
    assert handlers._changed_userids({"MemChangeList": ["a"]}) == ["a"]
    assert handlers._changed_userids({}) == []


@pytest.mark.django_db(transaction=True)
def test_callbacks_from_the_sandbox_reach_the_groups_through_the_inbox(live_server, sandbox):
    from scrm.tenancy import services as tenancy_services
    from tests.contacts.builders import run_sync
    from tests.groups.conftest import run_groups_sync

    tenant = tenancy_services.tenant_create(slug="live", name="Live")
    connect_tenant(tenant, sandbox)
    run_sync(tenant)
    run_groups_sync(tenant)
    sandbox.callback_url = f"{live_server.url}/wecom/callback/live/"
    chat = a_chat(sandbox)
    ext = a_customer_outside(sandbox, chat)
    joined = sandbox_control(
        sandbox, "simulate/group-join", {"chat_id": chat.chat_id, "external_userid": ext}
    )
    assert joined["callbacks"][0]["delivered"] is True
    with tenant_context(tenant):
        [event] = CallbackEvent.objects.all()
        assert event.status == "done", event.last_error
        assert GroupMember.objects.get(group__chat_id=chat.chat_id, userid=ext).left_at is None
    assert [t for t, _ in group_events(tenant, ext)] == [EventType.GROUP_JOINED]


def current_stay(tenant, chat_id: str, userid: str) -> GroupMember | None:
    with tenant_context(tenant):
        return GroupMember.objects.filter(group__chat_id=chat_id, userid=userid, left_at__isnull=True).first()


def a_group(tenant, chat_id: str) -> Group:
    with tenant_context(tenant):
        return Group.objects.select_related("owner").get(chat_id=chat_id)


def pending(tenant) -> dict[str, dict]:
    with tenant_context(tenant):
        return dict(GroupRefresh.objects.values_list("chat_id", "awaited"))


def test_a_join_is_mirrored_at_once_and_completed_when_wecom_settles(
    synced, sandbox, refreshes_run, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(group_tasks.refresh, "apply_async", lambda *a, **k: queued.append((a, k)))
    chat = a_chat(sandbox)
    ext = a_customer_outside(sandbox, chat)
    joined = sandbox_control(
        sandbox, "simulate/group-join", {"chat_id": chat.chat_id, "external_userid": ext}
    )
    event = sent(sandbox)
    with tenant_context(synced):
        assert (
            api_for(synced).groupchat_get(chat.chat_id)["group_chat"]["member_version"] == event["LastMemVer"]
        )
    with django_capture_on_commit_callbacks(execute=True):
        handle(synced, event)
    # At once, from the event alone (WeCom's group does not show the newcomer yet).
    stay = current_stay(synced, chat.chat_id, ext)
    at = dt.datetime.fromtimestamp(int(event["CreateTime"]), tz=dt.UTC)
    assert (stay.type, stay.joined_at, stay.join_scene) == ("customer", at, 3)
    group = a_group(synced, chat.chat_id)
    assert group.member_count == len(chat.members)
    assert group.member_version == event["LastMemVer"]  # WeCom's version comes with WeCom's read
    assert [t for t, _ in group_events(synced, ext)] == [EventType.GROUP_JOINED]
    assert queued == [(((synced.pk, chat.chat_id),), {"countdown": REFRESH_DELAYS[0]})]

    # The first read (2 s) is still behind (the lag is 3 s) and is not applied; the next settles it.
    assert refreshes_run(synced) == 2
    assert pending(synced) == {}
    group = a_group(synced, chat.chat_id)
    stay = current_stay(synced, chat.chat_id, ext)
    assert group.member_version == joined["member_version"] == event["CurMemVer"]
    assert stay.name == sandbox.state.contacts[ext].name
    assert stay.joined_at == dt.datetime.fromtimestamp(chat.members[-1].join_time, tz=dt.UTC)
    assert [t for t, _ in group_events(synced, ext)] == [EventType.GROUP_JOINED]

    before = snapshot(synced)
    handle(synced, event)  # WeCom delivers it again, late: the stored version is its own
    assert pending(synced) == {}
    assert snapshot(synced) == before


def test_a_leave_is_mirrored_at_once_with_its_time_and_scene_and_not_undone_by_a_lagging_read(
    synced, sandbox, refreshes_run
):
    chat = a_chat(sandbox)
    member = next(m for m in chat.members if m.type == 2)
    sandbox_control(
        sandbox, "simulate/group-leave", {"chat_id": chat.chat_id, "external_userid": member.userid}
    )
    event = sent(sandbox)
    handle(synced, event)
    left_at = dt.datetime.fromtimestamp(int(event["CreateTime"]), tz=dt.UTC)
    with tenant_context(synced):
        [stay] = GroupMember.objects.filter(group__chat_id=chat.chat_id, userid=member.userid)
    assert (stay.left_at, stay.quit_scene) == (left_at, 0)
    assert a_group(synced, chat.chat_id).member_count == len(chat.members)
    # A read issued now still lists them (WeCom settles later): applied, it would bring them back.
    with tenant_context(synced), transaction.atomic():
        assert group_reread(api=api_for(synced), chat_id=chat.chat_id) is None
    assert current_stay(synced, chat.chat_id, member.userid) is None
    refreshes_run(synced)
    with tenant_context(synced):
        [stay] = GroupMember.objects.filter(group__chat_id=chat.chat_id, userid=member.userid)
    assert (stay.left_at, stay.quit_scene) == (left_at, 0)
    assert a_group(synced, chat.chat_id).member_version == event["CurMemVer"]
    assert [t for t, _ in group_events(synced, member.userid)] == [EventType.GROUP_LEFT]


def test_several_members_removed_in_one_event(synced, sandbox, refreshes_run):
    chat = a_chat(sandbox)
    removed = [m.userid for m in chat.members if m.type == 2][:2]
    sandbox_control(sandbox, "simulate/group-remove", {"chat_id": chat.chat_id, "userids": removed})
    event = sent(sandbox)
    assert (event["MemChangeCnt"], event["MemChangeList"]) == ("2", {"Item": removed})
    handle(synced, event)
    with tenant_context(synced):
        stays = GroupMember.objects.filter(group__chat_id=chat.chat_id, userid__in=removed)
        assert {(s.userid, s.quit_scene, s.left_at is not None) for s in stays} == {
            (u, 1, True) for u in removed
        }
    refreshes_run(synced)
    assert a_group(synced, chat.chat_id).member_count == len(chat.members)
    assert [len(group_events(synced, u)) for u in removed] == [1, 1]


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"name": "新群名"}, "change_name"),
        ({"notice": "新公告"}, "change_notice"),
        ({"owner": None}, "change_owner"),
    ],
)
def test_name_notice_and_owner_changes_show_once_wecom_settles(
    synced, sandbox, refreshes_run, change, detail
):
    chat = a_chat(sandbox)
    if "owner" in change:
        staff = next(m.userid for m in chat.members if m.type == 1 and m.userid != chat.owner)
        change = {"owner": staff}
    before = a_group(synced, chat.chat_id)
    edited = sandbox_control(sandbox, "simulate/group-edit", {"chat_id": chat.chat_id, **change})
    assert edited["changed"] == [detail]
    event = sent(sandbox)
    assert (event["ChangeType"], event["UpdateDetail"]) == ("update", detail)
    handle(synced, event)
    # The event carries no value: nothing to apply yet, and the first read (2 s) shows the old one.
    assert pending(synced)[chat.chat_id]["fields"]
    assert refreshes_run(synced) == 2
    group = a_group(synced, chat.chat_id)
    assert (group.name, group.notice, group.owner.userid) == (chat.name, chat.notice, chat.owner)
    assert (group.name, group.notice, group.owner.userid) != (before.name, before.notice, before.owner.userid)
    with tenant_context(synced):
        assert not ContactEvent.objects.filter(type__in=GROUP_EVENTS).exists()


def test_a_change_that_never_shows_is_read_a_bounded_number_of_times(synced, sandbox, refreshes_run, caplog):
    """WeCom lagging far longer than it says: the refresh gives up after its reads (the nightly sync
    catches up), and the event's own change is kept meanwhile, not undone by the stale reads."""
    sandbox_control(sandbox, "settings/groups", {"get_lag_seconds": 3600})
    chat = a_chat(sandbox)
    ext = a_customer_outside(sandbox, chat)
    sandbox_control(sandbox, "simulate/group-join", {"chat_id": chat.chat_id, "external_userid": ext})
    handle(synced, sent(sandbox))
    calls = sandbox.calls["externalcontact/groupchat/get"]
    assert refreshes_run(synced) == len(REFRESH_DELAYS)
    assert sandbox.calls["externalcontact/groupchat/get"] - calls == len(REFRESH_DELAYS)
    assert pending(synced) == {}
    assert "did not settle" in caplog.text
    assert current_stay(synced, chat.chat_id, ext) is not None
    assert len(group_events(synced, ext)) == 1


def test_events_out_of_order_and_twice_end_in_wecoms_state_with_each_change_once(
    synced, sandbox, refreshes_run
):
    chat = a_chat(sandbox)
    newcomer = a_customer_outside(sandbox, chat)
    leaver = next(m for m in chat.members if m.type == 2).userid
    sandbox_control(sandbox, "simulate/group-join", {"chat_id": chat.chat_id, "external_userid": newcomer})
    join_event = sent(sandbox)
    sandbox_control(sandbox, "simulate/group-leave", {"chat_id": chat.chat_id, "external_userid": leaver})
    leave_event = sent(sandbox)
    assert join_event["CurMemVer"] == leave_event["LastMemVer"]

    handle(synced, leave_event)  # the later event first
    handle(synced, join_event)
    handle(synced, leave_event)  # and again
    assert set(pending(synced)[chat.chat_id]["versions"]) == {
        join_event["CurMemVer"],
        leave_event["CurMemVer"],
    }
    assert current_stay(synced, chat.chat_id, newcomer) is not None
    assert current_stay(synced, chat.chat_id, leaver) is None
    refreshes_run(synced)
    assert a_group(synced, chat.chat_id).member_version == leave_event["CurMemVer"]
    assert [t for t, _ in group_events(synced, newcomer)] == [EventType.GROUP_JOINED]
    assert [t for t, _ in group_events(synced, leaver)] == [EventType.GROUP_LEFT]
    with tenant_context(synced):
        assert GroupMember.objects.get(group__chat_id=chat.chat_id, userid=leaver).quit_scene == 0
    before = snapshot(synced)
    handle(synced, join_event)  # very late: read already
    assert snapshot(synced) == before


def test_a_leave_and_rejoin_delivered_in_reverse_keep_the_member_in(synced, sandbox, refreshes_run):
    chat = a_chat(sandbox)
    member = next(m for m in chat.members if m.type == 2).userid
    sandbox_control(sandbox, "simulate/group-leave", {"chat_id": chat.chat_id, "external_userid": member})
    leave = sent(sandbox)
    sandbox_control(sandbox, "simulate/group-join", {"chat_id": chat.chat_id, "external_userid": member})
    rejoin = {**sent(sandbox), "CreateTime": str(int(leave["CreateTime"]) + 1)}
    handle(synced, rejoin)  # nothing: they are in already (their stay is current)
    handle(synced, leave)  # closes the current stay, opened before it
    refreshes_run(synced)
    assert current_stay(synced, chat.chat_id, member) is not None  # WeCom lists them: they are back
    assert a_group(synced, chat.chat_id).member_version == rejoin["CurMemVer"]


def test_a_late_leave_event_after_a_read_applied_it_only_adds_the_quit_scene(synced, sandbox, wecom_settles):
    chat = a_chat(sandbox)
    member = next(m for m in chat.members if m.type == 2)
    sandbox_control(
        sandbox, "simulate/group-leave", {"chat_id": chat.chat_id, "external_userid": member.userid}
    )
    event = sent(sandbox)
    wecom_settles()
    with tenant_context(synced), transaction.atomic():
        group_reread(api=api_for(synced), chat_id=chat.chat_id)  # e.g. a refresh for another event
    with tenant_context(synced):
        assert GroupMember.objects.get(userid=member.userid, group__chat_id=chat.chat_id).quit_scene is None
    handle(synced, event)
    assert pending(synced) == {}  # WeCom's version is stored already: nothing to wait for
    with tenant_context(synced):
        stay = GroupMember.objects.get(userid=member.userid, group__chat_id=chat.chat_id)
    assert (stay.left_at is not None, stay.quit_scene) == (True, 0)
    assert len(group_events(synced, member.userid)) == 1
    before = snapshot(synced)
    handle(synced, event)
    assert snapshot(synced) == before


def test_a_full_sync_meanwhile_does_not_undo_what_an_event_applied(synced, sandbox, refreshes_run):
    from tests.groups.conftest import run_groups_sync

    chat = a_chat(sandbox)
    ext = a_customer_outside(sandbox, chat)
    sandbox_control(sandbox, "simulate/group-join", {"chat_id": chat.chat_id, "external_userid": ext})
    handle(synced, sent(sandbox))
    assert run_groups_sync(synced).status == "succeeded"  # its read of the group is still behind
    assert current_stay(synced, chat.chat_id, ext) is not None
    refreshes_run(synced)
    assert len(group_events(synced, ext)) == 1


def test_a_new_group_is_imported_once_wecom_shows_it_with_its_customers_joining(
    synced, sandbox, refreshes_run
):
    owner = next(c.owner for c in sandbox.state.groups.values())
    created = sandbox_control(sandbox, "simulate/group-create", {"owner": owner, "name": "新建群"})
    event = sent(sandbox)
    assert event["ChangeType"] == "create"
    handle(synced, event)
    handle(synced, event)  # delivered again: still one refresh
    assert pending(synced) == {created["chat_id"]: {"exists": True}}
    assert refreshes_run(synced) == 2  # at 2 s WeCom answers 40050 still
    chat = sandbox.state.groups[created["chat_id"]]
    group = a_group(synced, created["chat_id"])
    with tenant_context(synced):
        members = set(GroupMember.objects.filter(group=group).values_list("userid", flat=True))
    assert (group.name, group.owner.userid, group.status, group.member_count) == (
        "新建群",
        owner,
        "normal",
        3,
    )
    assert members == {m.userid for m in chat.members}
    customers = [m.userid for m in chat.members if m.type == 2]
    payload = {"group_id": group.pk, "chat_id": group.chat_id, "group_name": "新建群"}
    for ext in customers:
        assert group_events(synced, ext) == [(EventType.GROUP_JOINED, payload)]
    before = snapshot(synced)
    handle(synced, event)  # very late
    refreshes_run(synced)
    assert snapshot(synced) == before


def test_a_dismissed_group_is_confirmed_once_wecom_settles_and_keeps_its_members(
    synced, sandbox, refreshes_run
):
    chat = a_chat(sandbox)
    with tenant_context(synced):
        members = sorted(GroupMember.objects.filter(group__chat_id=chat.chat_id).values_list("id", "left_at"))
    sandbox_control(sandbox, "simulate/group-dismiss", {"chat_id": chat.chat_id})
    event = sent(sandbox)
    handle(synced, event)
    assert a_group(synced, chat.chat_id).status == GroupStatus.NORMAL  # WeCom still answers for it
    assert refreshes_run(synced) == 2
    group = a_group(synced, chat.chat_id)
    assert (group.status, group.dismissed_at) == (
        GroupStatus.DISMISSED,
        dt.datetime.fromtimestamp(int(event["CreateTime"]), tz=dt.UTC),
    )
    with tenant_context(synced):
        assert sorted(GroupMember.objects.filter(group=group).values_list("id", "left_at")) == members


def test_a_transient_failure_counts_as_a_read_and_another_error_ends_the_refresh(
    synced, sandbox, refreshes_run
):
    chat = a_chat(sandbox)
    sandbox_control(sandbox, "simulate/group-edit", {"chat_id": chat.chat_id, "name": "忙"})
    handle(synced, sent(sandbox))
    get = "externalcontact/groupchat/get"
    sandbox.set_faults({"apis": {get: {"errors": {"-1": 1.0}}}})
    # Every read busy (after the client's own retries): the reads are spent, nothing raised.
    assert refreshes_run(synced) == len(REFRESH_DELAYS)
    assert pending(synced) == {}
    sandbox.set_faults({"apis": {get: {"errors": {"48002": 1.0}}}})
    sandbox_control(sandbox, "simulate/group-edit", {"chat_id": chat.chat_id, "name": "拒"})
    handle(synced, sent(sandbox))
    with pytest.raises(WeComError):
        refreshes_run(synced)
    assert pending(synced) == {}


def test_events_for_one_group_share_one_refresh_and_one_queued_task(
    synced, sandbox, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(group_tasks.refresh, "apply_async", lambda *a, **k: queued.append((a, k)))
    chat = a_chat(sandbox)
    for _ in range(3):
        sandbox_control(sandbox, "simulate/group-join", {"chat_id": chat.chat_id})
        with django_capture_on_commit_callbacks(execute=True):
            handle(synced, sent(sandbox))
    assert len(pending(synced)[chat.chat_id]["versions"]) == 3
    assert len(queued) == 1


def test_a_refresh_whose_message_was_lost_is_run_by_the_beat(synced, sandbox, monkeypatch, time_machine):
    queued = []
    monkeypatch.setattr(group_tasks.refresh, "delay", lambda *a: queued.append(a))
    chat = a_chat(sandbox)
    sandbox_control(sandbox, "simulate/group-join", {"chat_id": chat.chat_id})
    handle(synced, sent(sandbox))
    assert group_tasks.refresh_overdue() == 0  # due in 2 s: its message is on its way
    time_machine.move_to(timezone.now() + dt.timedelta(minutes=1), tick=True)
    assert group_tasks.refresh_overdue() == 1
    assert queued == [(synced.pk, chat.chat_id)]


def test_after_a_lost_event_a_read_older_than_both_changes_is_not_applied(synced, sandbox, refreshes_run):
    """The first join's callback is lost: the second's LastMemVer is not the stored version, and a
    read still showing the stored one (before both) is behind too."""
    chat = a_chat(sandbox)
    first = sandbox_control(sandbox, "simulate/group-join", {"chat_id": chat.chat_id})["external_userid"]
    second = sandbox_control(sandbox, "simulate/group-join", {"chat_id": chat.chat_id})["external_userid"]
    event = sent(sandbox)
    assert event["LastMemVer"] != a_group(synced, chat.chat_id).member_version
    handle(synced, event)
    with tenant_context(synced), transaction.atomic():
        assert group_reread(api=api_for(synced), chat_id=chat.chat_id) is None  # behind: not applied
    assert current_stay(synced, chat.chat_id, second) is not None
    assert current_stay(synced, chat.chat_id, first) is None
    refreshes_run(synced)
    assert current_stay(synced, chat.chat_id, first) is not None  # the read brings the lost one
    assert current_stay(synced, chat.chat_id, second) is not None
    assert a_group(synced, chat.chat_id).member_version == event["CurMemVer"]
