"""change_external_chat callbacks: the sandbox acts a change out and sends its real callback (its
envelope is taken from what the sandbox sent, decoded as the inbox decodes it), and the registered
handler runs as the inbox runs it. History is written exactly once, whatever the deliveries."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time

import pytest
import xmltodict
from django.db import connection, transaction
from django.utils import timezone

from contacts.models import Contact, ContactEvent, EventType
from groups import handlers
from groups.models import Group, GroupMember, GroupStatus
from groups.services import join_ways
from groups.services import members as members_service
from groups.sync import group_read, group_reread
from groups.tasks import sync as group_tasks
from scrm.tenancy.context import tenant_context
from scrm.wecom.api import api_for
from scrm.wecom.errors import WeComError
from scrm.wecom.handlers import handler_for
from scrm.wecom.models import CallbackEvent
from scrm.wecom.sandbox.endpoints_groups import bump_member_version
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


@pytest.fixture(autouse=True)
def delayed_rereads(monkeypatch):
    """The delayed re-read is scheduled on commit; the tests here that want it run it themselves."""
    scheduled = []
    monkeypatch.setattr(group_tasks.reread, "apply_async", lambda *a, **k: scheduled.append((a, k)))
    return scheduled


def test_a_customer_joining_is_recorded_once_even_when_delivered_twice(synced, sandbox):
    chat = a_chat(sandbox)
    ext = a_customer_outside(sandbox, chat)
    joined = sandbox_control(
        sandbox, "simulate/group-join", {"chat_id": chat.chat_id, "external_userid": ext}
    )
    event = sent(sandbox)
    assert (event["ChangeType"], event["UpdateDetail"], event["JoinScene"]) == ("update", "add_member", "3")
    handle(synced, event)
    with tenant_context(synced):
        group = Group.objects.get(chat_id=chat.chat_id)
        stay = GroupMember.objects.get(group=group, userid=ext)
        contact_id = Contact.objects.get(external_userid=ext).pk
    assert (stay.left_at, stay.join_scene, stay.type) == (None, 3, "customer")
    assert group.member_version == joined["member_version"]
    assert group.member_count == len(chat.members)
    [(type_, payload)] = group_events(synced, ext)
    assert type_ == EventType.GROUP_JOINED
    assert payload == {"group_id": group.pk, "chat_id": chat.chat_id, "group_name": chat.name}
    with tenant_context(synced):
        assert ContactEvent.objects.get(type=EventType.GROUP_JOINED).contact_id == contact_id

    before = snapshot(synced)
    handle(synced, event)  # WeCom delivers it again
    assert snapshot(synced) == before


def test_a_customer_leaving_closes_their_stay_with_the_quit_scene_once(synced, sandbox):
    chat = a_chat(sandbox)
    member = next(m for m in chat.members if m.type == 2)
    with tenant_context(synced):
        assert Contact.objects.filter(external_userid=member.userid).exists()
    sandbox_control(
        sandbox, "simulate/group-leave", {"chat_id": chat.chat_id, "external_userid": member.userid}
    )
    event = sent(sandbox)
    handle(synced, event)
    with tenant_context(synced):
        [stay] = GroupMember.objects.filter(group__chat_id=chat.chat_id, userid=member.userid)
        group = Group.objects.get(chat_id=chat.chat_id)
    assert stay.left_at == dt.datetime.fromtimestamp(int(event["CreateTime"]), tz=dt.UTC)
    assert stay.quit_scene == 0
    assert group.member_count == len(chat.members)
    assert [t for t, _ in group_events(synced, member.userid)] == [EventType.GROUP_LEFT]

    before = snapshot(synced)
    handle(synced, event)
    assert snapshot(synced) == before


def test_a_late_leave_event_after_a_re_read_applied_it_only_adds_the_quit_scene(synced, sandbox):
    chat = a_chat(sandbox)
    member = next(m for m in chat.members if m.type == 2)
    sandbox_control(
        sandbox, "simulate/group-leave", {"chat_id": chat.chat_id, "external_userid": member.userid}
    )
    event = sent(sandbox)
    with tenant_context(synced), transaction.atomic():
        group_reread(api=api_for(synced), chat_id=chat.chat_id)  # e.g. the delayed re-read of another event
    with tenant_context(synced):
        assert GroupMember.objects.get(userid=member.userid, group__chat_id=chat.chat_id).quit_scene is None
    handle(synced, event)
    with tenant_context(synced):
        stay = GroupMember.objects.get(userid=member.userid, group__chat_id=chat.chat_id)
    assert (stay.left_at is not None, stay.quit_scene) == (True, 0)
    assert len(group_events(synced, member.userid)) == 1
    before = snapshot(synced)
    handle(synced, event)
    assert snapshot(synced) == before


def test_out_of_order_updates_end_in_the_latest_state_with_each_change_once(synced, sandbox):
    chat = a_chat(sandbox)
    newcomer = a_customer_outside(sandbox, chat)
    leaver = next(m for m in chat.members if m.type == 2).userid
    sandbox_control(sandbox, "simulate/group-join", {"chat_id": chat.chat_id, "external_userid": newcomer})
    join_event = sent(sandbox)
    sandbox_control(sandbox, "simulate/group-leave", {"chat_id": chat.chat_id, "external_userid": leaver})
    leave_event = sent(sandbox)
    assert join_event["CurMemVer"] == leave_event["LastMemVer"]

    handle(synced, leave_event)  # the later event first: its re-read shows both changes
    after_first = snapshot(synced)
    with tenant_context(synced):
        assert Group.objects.get(chat_id=chat.chat_id).member_version == leave_event["CurMemVer"]
    handle(synced, join_event)  # the older one: its re-read is the stored version, nothing to do
    assert snapshot(synced) == after_first
    assert [t for t, _ in group_events(synced, newcomer)] == [EventType.GROUP_JOINED]
    assert [t for t, _ in group_events(synced, leaver)] == [EventType.GROUP_LEFT]
    with tenant_context(synced):
        assert GroupMember.objects.get(group__chat_id=chat.chat_id, userid=leaver).quit_scene == 0


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
def test_two_workers_re_reading_one_join_at_once_record_it_once(tenant_a, sandbox, monkeypatch):
    """The inbox drains events concurrently: two re-reads of the same join must not both insert it."""
    connect_tenant(tenant_a, sandbox)
    from tests.contacts.builders import run_sync
    from tests.groups.conftest import run_groups_sync

    run_sync(tenant_a)
    run_groups_sync(tenant_a)
    chat = a_chat(sandbox)
    ext = a_customer_outside(sandbox, chat)
    sandbox_control(sandbox, "simulate/group-join", {"chat_id": chat.chat_id, "external_userid": ext})
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


def test_a_new_group_is_imported_with_its_customers_joining_and_re_read_later(
    synced, sandbox, django_capture_on_commit_callbacks, delayed_rereads
):
    owner = next(c.owner for c in sandbox.state.groups.values())
    created = sandbox_control(sandbox, "simulate/group-create", {"owner": owner, "name": "新建群"})
    event = sent(sandbox)
    assert event["ChangeType"] == "create"
    with django_capture_on_commit_callbacks(execute=True):
        handle(synced, event)
    assert [args for args, _ in delayed_rereads] == [((synced.pk, created["chat_id"]),)]
    chat = sandbox.state.groups[created["chat_id"]]
    with tenant_context(synced):
        group = Group.objects.select_related("owner").get(chat_id=created["chat_id"])
        members = set(GroupMember.objects.filter(group=group).values_list("userid", flat=True))
    assert (group.name, group.owner.userid, group.status, group.member_count) == (
        "新建群",
        owner,
        "normal",
        3,
    )
    assert members == {m.userid for m in chat.members}
    # A group just created is news: its customers joined it (SOPs and webhooks hear of them).
    customers = [m.userid for m in chat.members if m.type == 2]
    assert len(customers) == 2
    payload = {"group_id": group.pk, "chat_id": group.chat_id, "group_name": "新建群"}
    for ext in customers:
        assert group_events(synced, ext) == [(EventType.GROUP_JOINED, payload)]
    with tenant_context(synced):
        event_row = ContactEvent.objects.filter(type=EventType.GROUP_JOINED).first()
    assert event_row.staff_id == group.owner_id
    assert not group_events(synced, owner)
    before = snapshot(synced)
    handle(synced, event)  # delivered again
    group_tasks.reread.run(synced.pk, created["chat_id"])  # and the delayed re-read
    assert snapshot(synced) == before


def test_a_group_first_seen_through_a_group_code_refresh_records_its_customers_joining(synced, sandbox):
    """join_ways.groups_reread reads the groups WeCom opened for a code (its create callback lost):
    news, as a create callback's. A group the full sync sees for the first time stays history."""
    owner = next(c.owner for c in sandbox.state.groups.values())
    opened = sandbox_control(sandbox, "simulate/group-create", {"owner": owner, "name": "福利群9"})["chat_id"]
    with tenant_context(synced):
        assert join_ways.groups_reread(tenant=synced, chat_ids=[opened]) == 1
    customers = [m.userid for m in sandbox.state.groups[opened].members if m.type == 2]
    assert [[t for t, _ in group_events(synced, ext)] for ext in customers] == [[EventType.GROUP_JOINED]] * 2

    from tests.groups.conftest import run_groups_sync

    other = sandbox_control(sandbox, "simulate/group-create", {"owner": owner, "name": "另一个群"})["chat_id"]
    with tenant_context(synced):
        before = ContactEvent.objects.filter(type__in=GROUP_EVENTS).count()
    assert run_groups_sync(synced).created == 1
    with tenant_context(synced):
        assert Group.objects.filter(chat_id=other).exists()
        assert ContactEvent.objects.filter(type__in=GROUP_EVENTS).count() == before


def test_the_delayed_re_read_catches_names_wecom_fills_in_without_a_new_version(
    synced, sandbox, django_capture_on_commit_callbacks, delayed_rereads
):
    """WeCom fills in members' names and nicknames after the callback, without a new member_version:
    the delayed re-read compares the members anyway."""
    chat = a_chat(sandbox)
    sandbox_control(sandbox, "simulate/group-join", {"chat_id": chat.chat_id})
    with django_capture_on_commit_callbacks(execute=True):
        handle(synced, sent(sandbox))
    member = chat.members[-1]
    with sandbox.state.lock:  # same version
        member.name, member.group_nickname = "后来的名字", "后来的昵称"
    [(args, _)] = delayed_rereads
    group_tasks.reread.run(*args[0])
    with tenant_context(synced):
        stay = GroupMember.objects.get(group__chat_id=chat.chat_id, userid=member.userid)
        assert Group.objects.get(chat_id=chat.chat_id).member_version == chat.member_version
    assert (stay.name, stay.group_nickname) == ("后来的名字", "后来的昵称")


def test_the_delayed_re_read_catches_what_wecom_had_not_applied_yet(
    synced, sandbox, django_capture_on_commit_callbacks, delayed_rereads
):
    """WeCom sends the callback before groupchat/get shows the change; the later read sees it."""
    chat = a_chat(sandbox)
    ext = a_customer_outside(sandbox, chat)
    previous = chat.member_version
    event = {
        "ToUserName": sandbox.corp_id,
        "FromUserName": "sys",
        "CreateTime": str(int(time.time())),
        "MsgType": "event",
        "Event": "change_external_chat",
        "ChangeType": "update",
        "ChatId": chat.chat_id,
        "UpdateDetail": "add_member",
        "JoinScene": "3",
        "MemChangeCnt": "1",
        "MemChangeList": {"Item": ext},
        "LastMemVer": previous,
        "CurMemVer": "not-applied-yet",
    }
    with django_capture_on_commit_callbacks(execute=True):
        handle(synced, event)
        handle(synced, event)  # a second event while the first re-read is pending: one re-read
    with tenant_context(synced):
        assert not GroupMember.objects.filter(userid=ext, group__chat_id=chat.chat_id).exists()
    assert len(delayed_rereads) == 1
    (args, options) = delayed_rereads[0]
    assert args == ((synced.pk, chat.chat_id),)
    assert options["countdown"] == group_tasks.REREAD_DELAY

    # WeCom catches up, then the delayed re-read runs.
    from scrm.wecom.sandbox.state import GroupMember as WeComMember

    with sandbox.state.lock:
        chat.members.append(
            WeComMember(userid=ext, type=2, join_time=int(time.time()), join_scene=3, name="迟到")
        )
        bump_member_version(chat)
    group_tasks.reread.run(synced.pk, chat.chat_id)
    with tenant_context(synced):
        assert GroupMember.objects.get(userid=ext, group__chat_id=chat.chat_id).left_at is None
    assert len(group_events(synced, ext)) == 1
    # The pending flag is gone: a later event schedules another re-read.
    with django_capture_on_commit_callbacks(execute=True):
        handle(synced, {**event, "CurMemVer": "another"})
    assert len(delayed_rereads) == 2


def test_a_leave_re_read_later_keeps_the_quit_scene(
    synced, sandbox, django_capture_on_commit_callbacks, delayed_rereads
):
    chat = a_chat(sandbox)
    member = next(m for m in chat.members if m.type == 2)
    event = {
        "Event": "change_external_chat",
        "ChangeType": "update",
        "ChatId": chat.chat_id,
        "UpdateDetail": "del_member",
        "QuitScene": "1",
        "MemChangeCnt": "1",
        "MemChangeList": {"Item": member.userid},
        "LastMemVer": chat.member_version,
        "CurMemVer": "not-applied-yet",
        "CreateTime": str(int(time.time()) - 3),
    }
    with django_capture_on_commit_callbacks(execute=True):
        handle(synced, event)  # WeCom still lists the member
    [(args, _)] = delayed_rereads
    with sandbox.state.lock:
        chat.members.remove(member)
        bump_member_version(chat)
    group_tasks.reread.run(*args[0])
    with tenant_context(synced):
        stay = GroupMember.objects.get(userid=member.userid, group__chat_id=chat.chat_id)
    assert stay.quit_scene == 1
    assert stay.left_at == dt.datetime.fromtimestamp(int(event["CreateTime"]), tz=dt.UTC)


def test_a_dismissed_group_is_confirmed_and_keeps_its_members(synced, sandbox):
    chat = a_chat(sandbox)
    with tenant_context(synced):
        members = sorted(GroupMember.objects.filter(group__chat_id=chat.chat_id).values_list("id", "left_at"))
    sandbox_control(sandbox, "simulate/group-dismiss", {"chat_id": chat.chat_id})
    event = sent(sandbox)
    handle(synced, event)
    with tenant_context(synced):
        group = Group.objects.get(chat_id=chat.chat_id)
        assert sorted(GroupMember.objects.filter(group=group).values_list("id", "left_at")) == members
    assert group.status == GroupStatus.DISMISSED
    assert group.dismissed_at == dt.datetime.fromtimestamp(int(event["CreateTime"]), tz=dt.UTC)
    before = snapshot(synced)
    handle(synced, event)
    assert snapshot(synced) == before


def test_a_dismiss_event_for_a_group_wecom_still_has_dismisses_it_on_the_delayed_re_read(
    synced, sandbox, django_capture_on_commit_callbacks, delayed_rereads
):
    """groupchat/get may still answer right after the dismiss callback: nothing is dismissed on that
    read, and the delayed re-read asks again (dismissing it at the event's time then)."""
    chat = a_chat(sandbox)
    at = int(time.time()) - 2
    event = {
        "Event": "change_external_chat",
        "ChangeType": "dismiss",
        "ChatId": chat.chat_id,
        "CreateTime": str(at),
    }
    with django_capture_on_commit_callbacks(execute=True):
        handle(synced, event)
    with tenant_context(synced):
        assert Group.objects.get(chat_id=chat.chat_id).status == GroupStatus.NORMAL
    [(args, options)] = delayed_rereads
    dismissed_at = dt.datetime.fromtimestamp(at, tz=dt.UTC)
    assert args == ((synced.pk, chat.chat_id, {}, dismissed_at.isoformat()),)
    assert options["countdown"] == group_tasks.REREAD_DELAY
    with sandbox.state.lock:  # WeCom catches up
        chat.dismissed = True
    group_tasks.reread.run(*args[0])
    with tenant_context(synced):
        group = Group.objects.get(chat_id=chat.chat_id)
    assert (group.status, group.dismissed_at) == (GroupStatus.DISMISSED, dismissed_at)


def test_a_re_read_that_changes_nothing_still_outdates_older_reads(synced, sandbox):
    """A callback's re-read stores its time even when nothing changed, so an older read (issued
    before it, while WeCom still listed a member who had left) cannot open the member's stay again."""
    chat = a_chat(sandbox)
    member = next(m for m in chat.members if m.type == 2)
    with tenant_context(synced):
        lagging = api_for(synced).groupchat_get(chat.chat_id, need_name=True)[
            "group_chat"
        ]  # still lists them
    sandbox_control(
        sandbox, "simulate/group-leave", {"chat_id": chat.chat_id, "external_userid": member.userid}
    )
    handle(synced, sent(sandbox))  # the leave, applied
    issued = timezone.now()  # the lagging read is issued now, but WeCom answers as before the leave
    with tenant_context(synced):
        group = Group.objects.get(chat_id=chat.chat_id)
    with tenant_context(synced), transaction.atomic():
        assert group_reread(api=api_for(synced), chat_id=chat.chat_id).unchanged == 1  # nothing changed…
    with tenant_context(synced):
        touched = Group.objects.get(chat_id=chat.chat_id)
    assert touched.synced_at > issued  # …but its time is stored
    assert touched.updated_at == group.updated_at
    before = snapshot(synced)
    with tenant_context(synced), transaction.atomic():
        result = members_service.groups_apply(reads=[group_read(lagging, read_at=issued)])
    assert (result.updated, result.unchanged) == (0, 1)
    assert snapshot(synced) == before
    with tenant_context(synced):
        assert not GroupMember.objects.filter(
            group__chat_id=chat.chat_id, userid=member.userid, left_at__isnull=True
        ).exists()
    assert [t for t, _ in group_events(synced, member.userid)] == [EventType.GROUP_LEFT]


@pytest.mark.parametrize("errcode", [-1, None])
def test_the_delayed_re_read_is_retried_after_a_transient_failure(
    synced, sandbox, delayed_rereads, monkeypatch, errcode
):
    chat = a_chat(sandbox)
    calls = []

    def busy(**kwargs):
        calls.append(kwargs)
        raise WeComError("externalcontact/groupchat/get", errcode, "busy")

    monkeypatch.setattr(group_tasks.sync, "group_reread", busy)
    group_tasks.reread.run(synced.pk, chat.chat_id)
    [(args, options)] = delayed_rereads
    assert args == ((synced.pk, chat.chat_id, None, None, 2),)
    assert group_tasks.REREAD_RETRY_DELAY <= options["countdown"] <= group_tasks.RETRY_MAX_WAIT
    assert calls[0]["compare_members"] is True
    with pytest.raises(WeComError):  # the attempts are spent: the nightly sync catches up
        group_tasks.reread.run(synced.pk, chat.chat_id, None, None, group_tasks.RETRY_ATTEMPTS)
    assert len(delayed_rereads) == 1


def test_the_code_groups_re_read_is_retried_after_a_transient_failure(synced, sandbox, monkeypatch):
    from groups.tasks import codes

    retried = []
    monkeypatch.setattr(codes.groups_reread, "apply_async", lambda *a, **k: retried.append((a, k)))
    sandbox.set_faults({"apis": {"externalcontact/groupchat/get": {"errors": {"-1": 1.0}}}})
    chat = a_chat(sandbox)
    assert codes.groups_reread.run(synced.pk, [chat.chat_id]) == 0
    assert retried == [(((synced.pk, [chat.chat_id], 2),), {"countdown": group_tasks.RETRY_BACKOFF})]
    sandbox.set_faults({"apis": {"externalcontact/groupchat/get": {"errors": {"48002": 1.0}}}})
    with pytest.raises(WeComError):  # not transient: not tried again
        codes.groups_reread.run(synced.pk, [chat.chat_id])
    assert len(retried) == 1


@pytest.mark.parametrize("detail", ["change_name", "change_notice", "change_owner"])
def test_name_notice_and_owner_changes_are_re_read(synced, sandbox, detail):
    chat = a_chat(sandbox)
    other = next(u for u, s in sandbox.state.staff.items() if u != chat.owner and s.status == 1)
    with sandbox.state.lock:
        if detail == "change_name":
            chat.name = "新群名"
        elif detail == "change_notice":
            chat.notice = "新公告"
        else:
            chat.owner = other
    sandbox_control(
        sandbox,
        "simulate/callback",
        {
            "fields": {
                "Event": "change_external_chat",
                "ChangeType": "update",
                "ChatId": chat.chat_id,
                "UpdateDetail": detail,
            }
        },
    )
    handle(synced, sent(sandbox))
    with tenant_context(synced):
        group = Group.objects.select_related("owner").get(chat_id=chat.chat_id)
        assert not ContactEvent.objects.filter(type__in=GROUP_EVENTS).exists()
    assert (group.name, group.notice, group.owner.userid) == (chat.name, chat.notice, chat.owner)


def test_an_update_for_a_group_not_seen_yet_imports_it(connected, sandbox):
    chat = a_chat(sandbox)
    sandbox_control(sandbox, "simulate/group-join", {"chat_id": chat.chat_id})
    handle(connected, sent(sandbox))
    with tenant_context(connected):
        assert GroupMember.objects.filter(group__chat_id=chat.chat_id, left_at__isnull=True).count() == len(
            chat.members
        )
        assert not ContactEvent.objects.filter(type__in=GROUP_EVENTS).exists()


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
