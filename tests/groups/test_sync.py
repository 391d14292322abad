"""The full groups sync against the sandbox: an exact mirror of WeCom's groups and members, paging,
the 81017 fallback to owner filters, dismissed groups, member changes with their history and events,
a no-change re-sync that writes nothing, resumable runs, and WeCom's errors surfaced on the run."""

from __future__ import annotations

import datetime as dt
import math
import re
import time

import pytest
from django.db import connection, transaction
from django.db.models import Count, Max
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts import sync as contacts_sync
from contacts.models import Contact, ContactEvent, EventType, Staff, SyncKind, SyncRun
from groups import sync
from groups.models import Group, GroupMember, GroupStatDay, GroupStatus, MemberType
from groups.services import members as members_service
from groups.services import stats as stats_service
from scrm.durable import STALE_AFTER, RunStatus, durable_requeue_stale
from scrm.tenancy.context import tenant_context
from scrm.wecom.api import api_for
from scrm.wecom.errors import WeComError, WeComRateLimitedError
from scrm.wecom.sandbox.endpoints_groups import bump_member_version
from scrm.wecom.sandbox.state import GroupMember as WeComMember
from tests.contacts.builders import run_sync
from tests.groups.conftest import run_groups_sync
from tests.helpers import sandbox_control

GROUP_EVENTS = (EventType.GROUP_JOINED, EventType.GROUP_LEFT)


class WorkerKilled(BaseException):
    """Stands for the worker process dying mid-run (not an Exception: nothing handles it)."""


def live_chats(sandbox) -> dict:
    return {c.chat_id: c for c in sandbox.state.groups.values() if not c.dismissed}


def ts(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)


def assert_mirrors(tenant, sandbox) -> None:
    """Every live group of the sandbox is stored with its fields and exactly its current members."""
    chats = live_chats(sandbox)
    with tenant_context(tenant):
        groups = {g.chat_id: g for g in Group.objects.select_related("owner").exclude(status="dismissed")}
        assert set(groups) == set(chats)
        current = {}
        for m in GroupMember.objects.filter(left_at__isnull=True).select_related("group"):
            current[(m.group.chat_id, m.userid)] = m
    statuses = {0: "normal", 1: "owner_resigned", 2: "inheriting", 3: "inherited"}
    for chat_id, chat in chats.items():
        group = groups[chat_id]
        assert (group.name, group.notice, group.member_version) == (
            chat.name,
            chat.notice,
            chat.member_version,
        )
        assert group.owner.userid == chat.owner
        assert group.status == statuses[chat.status]
        assert group.admin_userids == chat.admin_list
        assert group.wecom_created_at == ts(chat.create_time)
        assert group.member_count == len(chat.members)
        assert group.customer_count == sum(1 for m in chat.members if m.type == 2)
        for wm in chat.members:
            stored = current.pop((chat_id, wm.userid))
            assert stored.type == (MemberType.CUSTOMER if wm.type == 2 else MemberType.STAFF)
            assert stored.name == wm.name  # need_name=1
            assert stored.name
            assert (stored.group_nickname, stored.unionid, stored.inviter_userid) == (
                wm.group_nickname,
                wm.unionid,
                wm.invitor,
            )
            assert (stored.joined_at, stored.join_scene) == (ts(wm.join_time), wm.join_scene)
    assert current == {}, "stored members WeCom does not list"


def table_state(tenant) -> dict[str, dict]:
    """Row counts and last writes of the group tables and the group events: COPY through the raw
    cursor (the members' inserts) is not in CaptureQueriesContext, these are."""
    with tenant_context(tenant):
        return {
            "groups": Group.objects.aggregate(n=Count("id"), last=Max("updated_at"), synced=Max("synced_at")),
            "members": GroupMember.objects.aggregate(n=Count("id"), last=Max("updated_at"), top=Max("id")),
            "events": ContactEvent.objects.filter(type__in=GROUP_EVENTS).aggregate(
                n=Count("id"), top=Max("id")
            ),
        }


def fails_for(monkeypatch, errors: dict[str, WeComError]) -> None:
    """groupchat/get of these chats fails with these errors (the others are read as usual)."""
    real = sync.group_fetch

    def fetch(api, chat_id, status):
        if chat_id in errors:
            raise errors[chat_id]
        return real(api, chat_id, status)

    monkeypatch.setattr(sync, "group_fetch", fetch)


def table_writes(queries) -> set[str]:
    return {
        match.group(1)
        for q in queries.captured_queries
        if (match := re.match(r'\s*(?:INSERT INTO|UPDATE|DELETE FROM|COPY) "?(\w+)"?', q["sql"]))
    }


@pytest.fixture
def contacts_synced(connected, sandbox):
    run = run_sync(connected)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    return connected


def test_a_full_sync_mirrors_the_sandbox_exactly(contacts_synced, sandbox):
    chats = live_chats(sandbox)
    assert len(chats) == 10
    with sandbox.state.lock:  # every WeCom status shows up as itself
        first, second, third = list(chats.values())[:3]
        first.status, second.status, third.status = 1, 2, 3
    run = run_groups_sync(contacts_synced)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert (run.created, run.updated, run.unchanged, run.closed) == (len(chats), 0, 0, 0)
    assert run.progress_done == run.progress_total == len(chats)
    assert run.phase == "done"
    assert_mirrors(contacts_synced, sandbox)
    with tenant_context(contacts_synced):
        # A group seen for the first time is history: no join events for its members.
        assert not ContactEvent.objects.filter(type__in=GROUP_EVENTS).exists()
        # The owners are the staff rows the contacts sync made.
        assert Staff.objects.count() == len(sandbox.state.staff)


def test_wecom_calls_one_list_page_and_one_get_per_group_and_one_stats_call_per_owner(
    contacts_synced, sandbox
):
    sandbox.calls.clear()
    run = run_groups_sync(contacts_synced)
    chats = live_chats(sandbox)
    owners = {c.owner for c in chats.values()}
    assert sandbox.calls["externalcontact/groupchat/list"] == 1
    assert sandbox.calls["externalcontact/groupchat/get"] == len(chats)
    assert sandbox.calls["externalcontact/groupchat/statistic_group_by_day"] == len(owners)
    assert run.api_calls == 1 + len(chats) + len(owners)
    assert run.api_calls == sum(n for api, n in sandbox.calls.items() if api != "gettoken")
    # The statistics of the last 30 days, up to yesterday, for every owner.
    with tenant_context(contacts_synced):
        assert GroupStatDay.objects.count() == 30 * len(owners)


def test_the_list_is_walked_page_by_page(contacts_synced, sandbox, monkeypatch):
    monkeypatch.setattr(sync, "LIST_LIMIT", 3)
    sandbox.calls.clear()
    run = run_groups_sync(contacts_synced)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert sandbox.calls["externalcontact/groupchat/list"] == math.ceil(10 / 3)
    assert_mirrors(contacts_synced, sandbox)


def test_81017_falls_back_to_owner_filters_over_every_staff_row(contacts_synced, sandbox, monkeypatch):
    # A resigned owner: WeCom lists their group (status 1) under their userid until it is inherited.
    chat = next(iter(live_chats(sandbox).values()))
    with sandbox.state.lock:
        chat.status = 1
    with tenant_context(contacts_synced):
        Staff.objects.filter(userid=chat.owner).update(is_active=False, resigned_at=timezone.now())
    sandbox_control(sandbox, "settings/groups", {"visible_range_limit": 1})
    monkeypatch.setattr(sync, "OWNERS_PER_CALL", 3)
    sandbox.calls.clear()
    run = run_groups_sync(contacts_synced)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    staff = len(sandbox.state.staff)
    # The refused call, then one page per chunk of 3 staff.
    assert sandbox.calls["externalcontact/groupchat/list"] == 1 + math.ceil(staff / 3)
    assert_mirrors(contacts_synced, sandbox)
    with tenant_context(contacts_synced):
        assert Group.objects.get(chat_id=chat.chat_id).status == GroupStatus.OWNER_RESIGNED


def test_a_dismissed_group_is_detected_on_the_next_sync_and_keeps_its_members(contacts_synced, sandbox):
    run_groups_sync(contacts_synced)
    chat = next(iter(live_chats(sandbox).values()))
    with tenant_context(contacts_synced):
        before = sorted(GroupMember.objects.filter(group__chat_id=chat.chat_id).values_list("id", "left_at"))
    with sandbox.state.lock:
        chat.dismissed = True
    started = timezone.now()
    run = run_groups_sync(contacts_synced)
    assert (run.created, run.updated, run.unchanged, run.closed) == (0, 0, 9, 1)
    with tenant_context(contacts_synced):
        group = Group.objects.get(chat_id=chat.chat_id)
        assert group.status == GroupStatus.DISMISSED
        assert group.dismissed_at >= started
        after = sorted(GroupMember.objects.filter(group=group).values_list("id", "left_at"))
        assert after == before
        assert all(left_at is None for _, left_at in after)
        assert not ContactEvent.objects.filter(type__in=GROUP_EVENTS).exists()
    # And a further sync leaves it as it is, without asking WeCom about it again.
    sandbox.calls.clear()
    run = run_groups_sync(contacts_synced)
    assert (run.closed, sandbox.calls["externalcontact/groupchat/get"]) == (0, 9)


def test_a_second_sync_with_nothing_changed_writes_nothing(contacts_synced, sandbox):
    run_groups_sync(contacts_synced)
    with tenant_context(contacts_synced):
        # As if fetched after 06:00 (China time): yesterday's figures are final. Fetched earlier, the
        # re-sync asks for them again (see test_stats), whatever the hour this test runs at.
        GroupStatDay.objects.update(fetched_at=stats_service._final_from(stats_service.wecom_today()))
    sandbox.calls.clear()
    before = table_state(contacts_synced)
    assert before["members"]["n"] > 0
    with CaptureQueriesContext(connection) as queries:
        run = run_groups_sync(contacts_synced)
    assert (run.created, run.updated, run.unchanged, run.closed) == (0, 0, 10, 0)
    written = table_writes(queries)
    assert "contacts_syncrun" in written  # the check below would pass vacuously without this
    # The run's own row (and the shared finish's clean-up of contacts' seen-follows) only.
    assert written - {"contacts_syncrun", "contacts_syncrunseen"} == set()
    # And what the captured statements cannot show (the members' COPY goes through the raw cursor):
    # not a row more, none written since.
    assert table_state(contacts_synced) == before
    # The statistics are stored already: only the list and the gets.
    assert run.api_calls == 1 + 10
    assert sandbox.calls["externalcontact/groupchat/statistic_group_by_day"] == 0


def test_member_changes_are_written_with_their_history_and_events(contacts_synced, sandbox):
    run_groups_sync(contacts_synced)
    chat = max(live_chats(sandbox).values(), key=lambda c: sum(m.type == 2 for m in c.members))
    customers = [m for m in chat.members if m.type == 2]
    leaver, renamed = customers[0], customers[1]
    with tenant_context(contacts_synced):
        contact_ids = dict(Contact.objects.values_list("external_userid", "id"))
    newcomer = next(
        ext
        for ext, c in sandbox.state.contacts.items()
        if c.follows and ext not in {m.userid for m in chat.members}
    )
    now = int(time.time())
    with sandbox.state.lock:
        chat.members.remove(leaver)
        renamed.group_nickname = "新昵称"
        chat.members.append(
            WeComMember(
                userid=newcomer,
                type=2,
                join_time=now,
                join_scene=3,
                name=sandbox.state.contacts[newcomer].name,
            )
        )
        chat.name = "改名后的群"
        bump_member_version(chat)
    run = run_groups_sync(contacts_synced)
    assert (run.created, run.updated, run.unchanged, run.closed) == (0, 1, 9, 0)
    assert_mirrors(contacts_synced, sandbox)
    with tenant_context(contacts_synced):
        group = Group.objects.get(chat_id=chat.chat_id)
        [gone] = GroupMember.objects.filter(group=group, userid=leaver.userid)
        assert gone.left_at is not None
        assert gone.quit_scene is None
        assert GroupMember.objects.get(group=group, userid=renamed.userid).group_nickname == "新昵称"
        events = list(ContactEvent.objects.filter(type__in=GROUP_EVENTS).order_by("id"))
    assert [(e.type, e.contact_id) for e in events] == [
        (EventType.GROUP_JOINED, contact_ids[newcomer]),
        (EventType.GROUP_LEFT, contact_ids[leaver.userid]),
    ]
    assert events[0].payload == {"group_id": group.pk, "chat_id": chat.chat_id, "group_name": "改名后的群"}
    assert events[0].occurred_at == ts(now)
    assert events[0].staff_id == group.owner_id

    # Synced again: nothing more.
    run = run_groups_sync(contacts_synced)
    assert (run.updated, run.unchanged) == (0, 10)
    with tenant_context(contacts_synced):
        assert ContactEvent.objects.filter(type__in=GROUP_EVENTS).count() == 2


def test_a_customer_who_left_and_came_back_between_syncs_has_two_stays(contacts_synced, sandbox):
    run_groups_sync(contacts_synced)
    chat = next(c for c in live_chats(sandbox).values() if any(m.type == 2 for m in c.members))
    member = next(m for m in chat.members if m.type == 2)
    with sandbox.state.lock:  # WeCom only says: a later join time
        member.join_time = int(time.time())
        bump_member_version(chat)
    run_groups_sync(contacts_synced)
    with tenant_context(contacts_synced):
        stays = list(
            GroupMember.objects.filter(group__chat_id=chat.chat_id, userid=member.userid).order_by("id")
        )
        types = list(
            ContactEvent.objects.filter(contact__external_userid=member.userid, type__in=GROUP_EVENTS)
            .order_by("id")
            .values_list("type", flat=True)
        )
    assert [(s.left_at is None, s.joined_at) for s in stays] == [
        (False, stays[0].joined_at),
        (True, ts(member.join_time)),
    ]
    assert stays[0].left_at <= stays[1].joined_at
    assert types == [EventType.GROUP_LEFT, EventType.GROUP_JOINED]


def test_members_who_are_nobodys_customers_are_members_without_events(
    contacts_synced, sandbox, wecom_settles
):
    run_groups_sync(contacts_synced)
    chat = next(iter(live_chats(sandbox).values()))
    joined = sandbox_control(sandbox, "simulate/group-join", {"chat_id": chat.chat_id})
    wecom_settles()
    run_groups_sync(contacts_synced)
    with tenant_context(contacts_synced):
        member = GroupMember.objects.get(group__chat_id=chat.chat_id, userid=joined["external_userid"])
        assert not Contact.objects.filter(external_userid=member.userid).exists()
        assert (member.type, member.join_scene, member.left_at) == (MemberType.CUSTOMER, 3, None)
        assert not ContactEvent.objects.filter(type__in=GROUP_EVENTS).exists()


def test_an_unknown_owner_gets_a_bare_staff_row(connected, sandbox):
    # Groups synced before the contacts: the owners are not known yet.
    run = run_groups_sync(connected)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    with tenant_context(connected):
        owners = set(Group.objects.values_list("owner__userid", flat=True))
        assert owners == {c.owner for c in live_chats(sandbox).values()}
        assert set(Staff.objects.values_list("name", flat=True)) == {""}
    # The contacts sync fills them in.
    run_sync(connected)
    with tenant_context(connected):
        assert "" not in set(Staff.objects.values_list("name", flat=True))


def test_a_killed_run_resumes_from_its_checkpoint_exactly_once(contacts_synced, sandbox, monkeypatch):
    monkeypatch.setattr(sync, "BATCH_MEMBERS", 1)  # one group per transaction
    monkeypatch.setattr(sync, "BATCH_SECONDS", 3600)
    real = sync.groups_apply
    batches = []

    def dies_on_third_batch(**kwargs):
        batches.append([r.chat_id for r in kwargs["reads"]])
        result = real(**kwargs)
        if len(batches) == 3:
            raise WorkerKilled  # after writing, before the commit: the batch is rolled back
        return result

    monkeypatch.setattr(sync, "groups_apply", dies_on_third_batch)
    with tenant_context(contacts_synced):
        run = contacts_sync.sync_run_start(
            tenant=contacts_synced, trigger="manual", enqueue=False, kind=SyncKind.GROUPS
        )
        with pytest.raises(WorkerKilled):
            sync.groups_sync_execute(contacts_sync.sync_run_claim(run.pk))
        run.refresh_from_db()
        assert run.status == RunStatus.RUNNING
        assert run.checkpoint == {"phase": "groups", "last": batches[1][0], "done": 2}
        assert run.created == run.progress_done == Group.objects.count() == 2
        stale = timezone.now() - STALE_AFTER - dt.timedelta(seconds=1)
        SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=stale, created_at=stale)
    monkeypatch.setattr(sync, "groups_apply", real)
    sandbox.calls.clear()
    assert durable_requeue_stale() == 1  # the sweeper re-enqueues it (groups.sync_full); eager Celery runs it
    with tenant_context(contacts_synced):
        run.refresh_from_db()
        assert run.status == RunStatus.SUCCEEDED, run.errors
        assert (run.created, run.updated, run.unchanged, run.closed) == (10, 0, 0, 0)
        assert run.progress_done == 10
    # The resumed run read the list again but only the 8 groups not written yet.
    assert sandbox.calls["externalcontact/groupchat/get"] == 8
    assert_mirrors(contacts_synced, sandbox)


def test_a_rate_limit_requeues_the_run_with_its_checkpoint(contacts_synced, sandbox, monkeypatch):
    monkeypatch.setattr(sync, "BATCH_MEMBERS", 1)
    real = sync.group_fetch
    fetched = []

    def limited_after_five(api, chat_id, status):
        fetched.append(chat_id)
        if len(fetched) == 6:
            raise WeComRateLimitedError(
                "externalcontact/groupchat/get", 45009, "api freq out of limit", retry_after=60
            )
        return real(api, chat_id, status)

    monkeypatch.setattr(sync, "group_fetch", limited_after_five)
    monkeypatch.setattr(sync, "GET_WORKERS", 1)
    monkeypatch.setattr(sync, "GETS_AHEAD", 1)
    with tenant_context(contacts_synced):
        run = contacts_sync.sync_run_start(
            tenant=contacts_synced, trigger="manual", enqueue=False, kind=SyncKind.GROUPS
        )
        with pytest.raises(WeComRateLimitedError):
            sync.groups_sync_execute(contacts_sync.sync_run_claim(run.pk))
        run.refresh_from_db()
        assert run.status == RunStatus.QUEUED
        assert [e["errcode"] for e in run.errors] == [45009]
        assert run.checkpoint["done"] == 5 == Group.objects.count()
    monkeypatch.setattr(sync, "group_fetch", real)
    with tenant_context(contacts_synced):
        run = sync.groups_sync_execute(contacts_sync.sync_run_claim(run.pk))
    assert run.status == RunStatus.SUCCEEDED
    assert (run.created, run.unchanged) == (10, 0)
    assert_mirrors(contacts_synced, sandbox)


def test_a_wecom_error_fails_the_run_with_its_hint_and_keeps_the_data(contacts_synced, sandbox):
    run_groups_sync(contacts_synced)
    with tenant_context(contacts_synced):
        before = sorted(Group.objects.values_list("id", "status", "name", "member_count"))
    sandbox.set_faults({"apis": {"externalcontact/groupchat/list": {"errors": {"48002": 1.0}}}})
    run = run_groups_sync(contacts_synced)
    assert run.status == RunStatus.FAILED
    [error] = run.errors
    assert (error["errcode"], error["api"]) == (48002, "externalcontact/groupchat/list")
    assert "可调用接口的应用" in error["hint"]
    with tenant_context(contacts_synced):
        assert sorted(Group.objects.values_list("id", "status", "name", "member_count")) == before
        run.refresh_from_db()
        assert (run.status, run.finished_at is not None) == (RunStatus.FAILED, True)


def test_an_unexpected_error_fails_the_run(contacts_synced, sandbox, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("member_list")

    monkeypatch.setattr(sync, "group_read", broken)
    run = run_groups_sync(contacts_synced)
    assert run.status == RunStatus.FAILED
    [error] = run.errors
    assert error["errcode"] is None
    assert "KeyError" in error["errmsg"]
    assert error["hint"] == contacts_sync.UNEXPECTED_HINT


def test_failed_statistics_do_not_fail_the_sync(contacts_synced, sandbox):
    sandbox.set_faults(
        {"apis": {"externalcontact/groupchat/statistic_group_by_day": {"errors": {"48002": 1.0}}}}
    )
    run = run_groups_sync(contacts_synced)
    assert run.status == RunStatus.SUCCEEDED
    [error] = run.errors
    assert error["errcode"] == 48002
    assert error["hint"] == sync.STATS_HINT
    assert_mirrors(contacts_synced, sandbox)


def test_a_read_older_than_the_stored_one_changes_nothing(contacts_synced, sandbox):
    """The full sync's reads can be older than a callback's re-read applied meanwhile."""
    run_groups_sync(contacts_synced)
    chat = next(iter(live_chats(sandbox).values()))
    with tenant_context(contacts_synced):
        Group.objects.filter(chat_id=chat.chat_id).update(synced_at=timezone.now() + dt.timedelta(minutes=1))
    with sandbox.state.lock:
        chat.name = "新名字"
    run = run_groups_sync(contacts_synced)
    assert (run.updated, run.unchanged) == (0, 10)
    with tenant_context(contacts_synced):
        assert Group.objects.get(chat_id=chat.chat_id).name != "新名字"


def test_groups_sync_through_the_api(
    alice_client, contacts_synced, sandbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/api/v1/sync-runs/", {"kind": "groups"}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["kind"] == "groups"
    runs = alice_client.get("/api/v1/sync-runs/?kind=groups").json()["results"]
    assert [(r["kind"], r["status"], r["created"]) for r in runs] == [("groups", "succeeded", 10)]
    assert_mirrors(contacts_synced, sandbox)


def test_the_member_writer_needs_no_member_reads_for_an_unchanged_version(contacts_synced, sandbox):
    """A re-read (not the full sync) whose member_version is the stored one leaves the members alone."""
    run_groups_sync(contacts_synced)
    chat = next(iter(live_chats(sandbox).values()))
    with tenant_context(contacts_synced):
        answer = api_for(contacts_synced).groupchat_get(chat.chat_id)["group_chat"]
        answer["member_list"] = answer["member_list"][:1]  # a version that lies: members untouched
        read = sync.group_read(answer, read_at=timezone.now())
        with CaptureQueriesContext(connection) as queries:
            result = members_service.groups_apply(reads=[read])
        assert (result.updated, result.unchanged) == (0, 1)
        assert table_writes(queries) == set()
        assert not any("groups_groupmember" in q["sql"] for q in queries.captured_queries)


def test_a_group_wecom_refuses_is_skipped_and_reported_and_the_run_completes(
    contacts_synced, sandbox, monkeypatch
):
    chats = list(live_chats(sandbox))
    refused = chats[3]
    fails_for(monkeypatch, {refused: WeComError("externalcontact/groupchat/get", 50001, "no privilege")})
    run = run_groups_sync(contacts_synced)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert (run.created, run.updated, run.unchanged, run.closed) == (9, 0, 0, 0)
    [error] = run.errors
    assert (error["errcode"], error["chat_id"]) == (50001, refused)
    assert refused in error["errmsg"]
    assert sync.SKIPPED_HINT in error["hint"]
    with tenant_context(contacts_synced):
        assert not Group.objects.filter(chat_id=refused).exists()
        run.refresh_from_db()
        assert run.errors == [error]
    # The next sync reads it.
    monkeypatch.undo()
    run = run_groups_sync(contacts_synced)
    assert (run.status, run.created, run.errors) == (RunStatus.SUCCEEDED, 1, [])
    assert_mirrors(contacts_synced, sandbox)


def test_a_missing_group_that_errors_is_not_taken_for_dismissed(contacts_synced, sandbox, monkeypatch):
    """The dismissed-confirmation phase: one group's error is reported and the run goes on; the
    group keeps its status until WeCom says 40050."""
    run_groups_sync(contacts_synced)
    vanished = list(live_chats(sandbox).values())[:2]
    with sandbox.state.lock:
        for chat in vanished:
            chat.dismissed = True
    errored, gone = vanished[0].chat_id, vanished[1].chat_id
    fails_for(monkeypatch, {errored: WeComError("externalcontact/groupchat/get", 50001, "no privilege")})
    run = run_groups_sync(contacts_synced)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert (run.unchanged, run.closed) == (8, 1)
    assert [(e["errcode"], e["chat_id"]) for e in run.errors] == [(50001, errored)]
    with tenant_context(contacts_synced):
        assert Group.objects.get(chat_id=errored).status == GroupStatus.NORMAL
        assert Group.objects.get(chat_id=gone).status == GroupStatus.DISMISSED
    monkeypatch.undo()
    run = run_groups_sync(contacts_synced)
    assert (run.status, run.closed, run.errors) == (RunStatus.SUCCEEDED, 1, [])
    with tenant_context(contacts_synced):
        assert Group.objects.get(chat_id=errored).status == GroupStatus.DISMISSED


def test_group_errors_on_the_run_are_capped(contacts_synced, sandbox, monkeypatch):
    monkeypatch.setattr(sync, "GROUP_ERRORS_MAX", 2)
    refused = list(live_chats(sandbox))[:5]
    fails_for(monkeypatch, {c: WeComError("externalcontact/groupchat/get", 50001, "no") for c in refused})
    run = run_groups_sync(contacts_synced)
    assert (run.status, run.created) == (RunStatus.SUCCEEDED, 5)
    assert [e.get("chat_id") for e in run.errors] == [refused[0], refused[1], None]
    assert run.errors[-1]["more_groups"] == 3
    assert "3 more groups" in run.errors[-1]["errmsg"]


def test_an_error_every_group_gets_fails_the_run_with_one_error(contacts_synced, sandbox):
    """Not one group's problem (the app may not call groupchat/get): the run fails, as before."""
    sandbox.set_faults({"apis": {"externalcontact/groupchat/get": {"errors": {"48002": 1.0}}}})
    run = run_groups_sync(contacts_synced)
    assert run.status == RunStatus.FAILED
    [error] = run.errors
    assert (error["errcode"], error["api"]) == (48002, "externalcontact/groupchat/get")
    assert "chat_id" not in error


def test_failures_in_a_row_fail_the_run(contacts_synced, sandbox, monkeypatch):
    monkeypatch.setattr(sync, "FAILURES_IN_A_ROW", 3)
    chats = list(live_chats(sandbox))
    # One group read, then three failures in a row: the run stops there.
    fails_for(monkeypatch, {c: WeComError("externalcontact/groupchat/get", -1, "busy") for c in chats[1:]})
    run = run_groups_sync(contacts_synced)
    assert run.status == RunStatus.FAILED
    assert [e["errcode"] for e in run.errors] == [-1]
    assert run.created == 1


def test_the_statistics_phase_beats_the_heartbeat(contacts_synced, sandbox, monkeypatch):
    """A long statistics phase (one call per owner) keeps the run's heartbeat, so the stale-run sweep
    does not take it for dead."""
    monkeypatch.setattr(stats_service, "PROGRESS_EVERY", 1)
    beats = []
    with tenant_context(contacts_synced):
        run = contacts_sync.sync_run_start(
            tenant=contacts_synced, trigger="manual", enqueue=False, kind=SyncKind.GROUPS
        )
        run = sync.groups_sync_execute(
            contacts_sync.sync_run_claim(run.pk), progress=lambda r: beats.append((r.phase, r.heartbeat_at))
        )
    assert run.status == RunStatus.SUCCEEDED
    owners = {c.owner for c in live_chats(sandbox).values()}
    stats_beats = [at for phase, at in beats if phase == "stats"]
    assert len(stats_beats) == 1 + len(owners)  # entering the phase, then one per owner asked
    assert stats_beats == sorted(stats_beats)


def test_a_resigned_owner_costs_the_sync_no_statistics_error(contacts_synced, sandbox):
    chat = next(iter(live_chats(sandbox).values()))
    with tenant_context(contacts_synced):
        Staff.objects.filter(userid=chat.owner).update(is_active=False, resigned_at=timezone.now())
    sandbox.calls.clear()
    run = run_groups_sync(contacts_synced)
    assert (run.status, run.errors) == (RunStatus.SUCCEEDED, [])
    owners = {c.owner for c in live_chats(sandbox).values()} - {chat.owner}
    assert sandbox.calls["externalcontact/groupchat/statistic_group_by_day"] == len(owners)


def test_an_empty_member_version_is_unknown_and_the_members_are_compared(contacts_synced, sandbox):
    """Two reads without a member_version say nothing about the members being the same."""
    chat = next(c for c in live_chats(sandbox).values() if len(c.members) >= 3)
    with tenant_context(contacts_synced):
        answer = api_for(contacts_synced).groupchat_get(chat.chat_id, need_name=True)["group_chat"]
        answer["member_version"] = ""
        with transaction.atomic():
            members_service.groups_apply(reads=[sync.group_read(answer, read_at=timezone.now())])
        leaver = answer["member_list"].pop()["userid"]
        with transaction.atomic():
            result = members_service.groups_apply(reads=[sync.group_read(answer, read_at=timezone.now())])
        assert (result.updated, result.left) == (1, 1)
        assert GroupMember.objects.get(group__chat_id=chat.chat_id, userid=leaver).left_at is not None
        assert Group.objects.get(chat_id=chat.chat_id).member_count == len(chat.members) - 1
