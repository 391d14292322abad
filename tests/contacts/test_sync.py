"""The full sync against the sandbox: an exact mirror, nothing rewritten when nothing changed, follows
closed (never deleted) when WeCom no longer has them, resumable runs, WeCom errors surfaced."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts import sync
from contacts.facets import contacts_refresh
from contacts.models import (
    Contact,
    ContactEvent,
    ContactStatus,
    EventType,
    Follow,
    FollowStatus,
    Staff,
    SyncRun,
    SyncRunSeen,
    Tag,
    TagGroup,
)
from contacts.services.settings import contact_settings_get
from contacts.tasks.sync import sync_nightly
from scrm.durable import STALE_AFTER, RunStatus, durable_requeue_stale
from scrm.tenancy.context import tenant_context
from tests.contacts.builders import run_sync


def wecom_follows(sandbox) -> dict[tuple[str, str], object]:
    return {
        (c.external_userid, userid): follow
        for c in sandbox.state.contacts.values()
        for userid, follow in c.follows.items()
    }


def live_tag_ids(sandbox) -> set[str]:
    return {t.id for t in sandbox.state.tags.values() if not t.deleted}


def test_a_full_sync_mirrors_the_corp_exactly(connected, sandbox):
    run = run_sync(connected)
    follows = wecom_follows(sandbox)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert (run.created, run.updated, run.unchanged, run.closed) == (len(follows), 0, 0, 0)
    assert run.progress_done == len(follows) == run.progress_total
    with tenant_context(connected):
        assert Contact.objects.count() == len(sandbox.state.contacts)
        assert Follow.objects.filter(status=FollowStatus.ACTIVE).count() == len(follows)
        assert set(Tag.objects.filter(deleted=False).values_list("wecom_id", flat=True)) == live_tag_ids(
            sandbox
        )
        assert TagGroup.objects.filter(deleted=False).count() == sum(
            1 for g in sandbox.state.tag_groups.values() if not g.deleted
        )
        assert ContactEvent.objects.filter(type=EventType.ADDED).count() == len(follows)
        staff = {s.userid: s for s in Staff.objects.all()}
        rows = {
            (f.contact.external_userid, f.staff.userid): f
            for f in Follow.objects.select_related("contact", "staff")
        }
        tag_pks = dict(Tag.objects.values_list("wecom_id", "id"))
        # The sync derives facets, status and search text itself; contacts.facets agrees with all of it.
        assert contacts_refresh(Contact.objects.values_list("id", flat=True)) == 0
    for userid, member in sandbox.state.staff.items():
        if member.status == 1:
            assert staff[userid].name == member.name
            assert staff[userid].department_ids == member.department
            assert staff[userid].has_contact_permission == member.has_contact_permission
    # A few customers field by field, including one with several follows and a WeCom (type 2) user.
    multi = next(c for c in sandbox.state.contacts.values() if len(c.follows) > 1)
    corp_user = next(c for c in sandbox.state.contacts.values() if c.type == 2)
    for wecom_contact in (multi, corp_user, next(iter(sandbox.state.contacts.values()))):
        for userid, wecom in wecom_contact.follows.items():
            follow = rows[(wecom_contact.external_userid, userid)]
            contact = follow.contact
            assert (contact.name, contact.type, contact.gender) == (
                wecom_contact.name,
                wecom_contact.type,
                wecom_contact.gender,
            )
            assert contact.unionid == wecom_contact.unionid
            assert contact.corp_name == (wecom_contact.corp_name if wecom_contact.type == 2 else "")
            assert follow.remark == wecom.remark
            assert follow.description == wecom.description
            assert follow.remark_mobiles == wecom.remark_mobiles
            assert (follow.add_way, follow.state, follow.oper_userid) == (
                wecom.add_way,
                wecom.state,
                wecom.oper_userid,
            )
            assert follow.added_at == dt.datetime.fromtimestamp(wecom.createtime, tz=dt.UTC)
            assert follow.tag_ids == sorted(set(wecom.tag_ids) & live_tag_ids(sandbox))
            assert contact.status == ContactStatus.ACTIVE
            assert f"s:{userid}" in contact.facets
            for tag_id in follow.tag_ids:
                assert f"t:{tag_pks[tag_id]}" in contact.facets


def test_a_second_sync_with_nothing_changed_writes_no_contacts_rows(connected, sandbox):
    run_sync(connected)
    with tenant_context(connected):
        events = ContactEvent.objects.count()
    with CaptureQueriesContext(connection) as queries:
        run = run_sync(connected)
    follows = len(wecom_follows(sandbox))
    assert (run.created, run.updated, run.unchanged, run.closed) == (0, 0, follows, 0)
    written = {
        match.group(1)
        for q in queries.captured_queries
        if (match := re.match(r'(?:INSERT INTO|UPDATE|DELETE FROM) "(\w+)"', q["sql"]))
    }
    # The run's own row and its bookkeeping of seen follows are the only writes.
    writes = written - {"contacts_syncrun", "contacts_syncrunseen"}
    assert "contacts_syncrunseen" in written  # the check below would pass vacuously without this
    assert writes == set()
    with tenant_context(connected):
        assert ContactEvent.objects.count() == events
        assert not SyncRunSeen.objects.filter(run=run).exists()


def test_changes_in_wecom_are_written_and_counted(connected, sandbox):
    run_sync(connected)
    contact = next(c for c in sandbox.state.contacts.values() if len(c.follows) == 1)
    [(_userid, follow)] = contact.follows.items()
    new_tag = next(t for t in sorted(live_tag_ids(sandbox)) if t not in follow.tag_ids)
    with sandbox.state.lock:
        follow.remark = "新备注"
        follow.tag_ids = [*follow.tag_ids, new_tag]
        contact.name = "改了名字"
    run = run_sync(connected)
    assert (run.created, run.updated, run.closed) == (0, 1, 0)
    with tenant_context(connected):
        row = Follow.objects.select_related("contact").get(contact__external_userid=contact.external_userid)
        tag_pk = Tag.objects.get(wecom_id=new_tag).pk
    assert row.remark == "新备注"
    assert new_tag in row.tag_ids
    assert row.contact.name == "改了名字"
    assert f"t:{tag_pk}" in row.contact.facets
    assert "新备注" in row.contact.search_text


def test_a_follow_gone_from_wecom_is_closed_with_an_event_not_deleted(connected, sandbox):
    run_sync(connected)
    contact = next(c for c in sandbox.state.contacts.values() if len(c.follows) == 1)
    [userid] = contact.follows
    with sandbox.state.lock:
        del contact.follows[userid]  # no callback: only the sync can notice
    run = run_sync(connected)
    assert (run.created, run.updated, run.closed) == (0, 0, 1)
    with tenant_context(connected):
        follow = Follow.objects.select_related("contact").get(
            contact__external_userid=contact.external_userid
        )
        [event] = ContactEvent.objects.filter(contact=follow.contact, type=EventType.DELETED_BY_STAFF)
    assert follow.status == FollowStatus.DELETED_BY_STAFF
    assert follow.ended_at is not None
    assert follow.contact.status == ContactStatus.LOST
    assert event.payload["reason"] == "missing_in_full_sync"
    assert event.staff.userid == userid
    # Closed once: the next sync has nothing more to close.
    assert run_sync(connected).closed == 0


def test_a_member_who_left_stays_inactive_with_their_history(connected, sandbox):
    run_sync(connected)
    userid = next(u for u, s in sandbox.state.staff.items() if s.has_contact_permission)
    with sandbox.state.lock:
        sandbox.state.staff[userid].status = 5
    run_sync(connected)
    with tenant_context(connected):
        member = Staff.objects.get(userid=userid)
        kept = Follow.objects.filter(staff=member).count()
    assert member.is_active is False
    assert member.has_contact_permission is False
    assert member.resigned_at is not None
    assert kept > 0  # their customers wait for inheritance; nothing is deleted


class WorkerKilled(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in the sync catches it."""


def test_a_killed_run_resumes_from_its_checkpoint_exactly_once(connected, sandbox, monkeypatch):
    follows = len(wecom_follows(sandbox))
    assert follows > 3 * sync.PAGE_LIMIT
    # Two pages a transaction: the checkpoint must point past a whole batch, never into one.
    monkeypatch.setattr(sync, "BATCH_FOLLOWS", 2 * sync.PAGE_LIMIT)
    monkeypatch.setattr(sync, "BATCH_SECONDS", 3600)
    real = sync.follows_upsert
    batches = []

    def dies_on_second_batch(**kwargs):
        batches.append(len(kwargs["items"]))
        result = real(**kwargs)
        if len(batches) == 2:
            raise WorkerKilled  # after writing, before the commit: the batch is rolled back
        return result

    monkeypatch.setattr(sync, "follows_upsert", dies_on_second_batch)
    with tenant_context(connected):
        run = sync.sync_run_start(tenant=connected, trigger="manual", enqueue=False)
        with pytest.raises(WorkerKilled):
            sync.sync_run_execute(sync.sync_run_claim(run.pk))
        run.refresh_from_db()
        assert run.status == RunStatus.RUNNING
        assert run.checkpoint["phase"] == "contacts"
        assert run.checkpoint["cursor"]
        assert batches[0] == 2 * sync.PAGE_LIMIT
        assert run.created == run.progress_done == 2 * sync.PAGE_LIMIT
        assert Follow.objects.count() == 2 * sync.PAGE_LIMIT
        # Still beating: nobody takes it over.
        assert durable_requeue_stale() == 0
        stale = timezone.now() - STALE_AFTER - dt.timedelta(seconds=1)
        SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=stale, created_at=stale)
    monkeypatch.setattr(sync, "follows_upsert", real)

    assert durable_requeue_stale() == 1  # the sweeper re-enqueues it; eager Celery runs it here
    with tenant_context(connected):
        run.refresh_from_db()
        assert run.status == RunStatus.SUCCEEDED, run.errors
        assert (run.created, run.updated, run.unchanged, run.closed) == (follows, 0, 0, 0)
        assert Follow.objects.count() == follows
        assert Contact.objects.count() == len(sandbox.state.contacts)
        assert ContactEvent.objects.filter(type=EventType.ADDED).count() == follows
        assert not SyncRunSeen.objects.filter(run=run).exists()


def test_a_wecom_error_fails_the_run_with_its_hint_and_keeps_the_data(connected, sandbox):
    run_sync(connected)
    with tenant_context(connected):
        before = sorted(Follow.objects.values_list("id", "status", "remark"))
    sandbox.set_faults({"apis": {"externalcontact/batch/get_by_user": {"errors": {"48002": 1.0}}}})
    run = run_sync(connected)
    assert run.status == RunStatus.FAILED
    [error] = run.errors
    assert error["errcode"] == 48002
    assert error["api"] == "externalcontact/batch/get_by_user"
    assert "可调用接口的应用" in error["hint"]
    with tenant_context(connected):
        assert sorted(Follow.objects.values_list("id", "status", "remark")) == before
        run.refresh_from_db()
        assert run.status == RunStatus.FAILED
        assert run.finished_at is not None
        assert not SyncRunSeen.objects.filter(run=run).exists()


def test_wecom_calls_are_one_per_page_plus_a_few(connected, sandbox):
    sandbox.calls.clear()
    run = run_sync(connected)
    follows = len(wecom_follows(sandbox))
    assert run.api_calls == sum(n for api, n in sandbox.calls.items() if api != "gettoken")
    # Tags, departments, contact permission: 3; one user/list per department (each lists its own
    # members; the whole corp is visible, so nobody needs a user/get); one call per page of 100.
    assert run.api_calls == 3 + len(sandbox.state.departments) + math.ceil(follows / 100)
    assert sandbox.calls["user/list"] == len(sandbox.state.departments)
    assert sandbox.calls["user/get"] == 0
    assert sandbox.calls["externalcontact/get"] == 0


def test_one_active_run_per_tenant(connected, sandbox, django_capture_on_commit_callbacks):
    with tenant_context(connected), django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = sync.sync_run_start(tenant=connected, trigger="manual")
        again = sync.sync_run_start(tenant=connected, trigger="manual")
    assert again.pk == first.pk
    assert len(callbacks) == 1
    callbacks[0]()  # the task, run eagerly, claims and completes the run
    with tenant_context(connected):
        first.refresh_from_db()
        assert first.status == RunStatus.SUCCEEDED
        assert sync.sync_run_start(tenant=connected, trigger="manual", enqueue=False).pk != first.pk


def test_nightly_reconciliation_honours_the_tenant_setting(
    connected, tenant_b, sandbox, django_capture_on_commit_callbacks
):
    with tenant_context(tenant_b):
        settings = contact_settings_get(tenant=tenant_b)
        settings.nightly_sync = False
        settings.save()
    # The contacts run; the customer groups' run starts when it has succeeded (it sees the staff
    # the contacts run brought).
    with django_capture_on_commit_callbacks(execute=True):
        assert sync_nightly() == 1
    with tenant_context(connected):
        runs = list(SyncRun.objects.order_by("kind").values_list("kind", "trigger", "status"))
        assert runs == [
            ("contacts", "schedule", RunStatus.SUCCEEDED),
            ("groups", "schedule", RunStatus.SUCCEEDED),
        ]
        contacts_run, groups_run = SyncRun.objects.order_by("kind")
        assert groups_run.created_at >= contacts_run.finished_at
        assert Contact.objects.count() == len(sandbox.state.contacts)
    with tenant_context(tenant_b):
        assert not SyncRun.objects.exists()


def test_nightly_groups_wait_for_a_successful_contacts_run(
    connected, sandbox, django_capture_on_commit_callbacks
):
    sandbox.set_faults({"apis": {"externalcontact/get_corp_tag_list": {"errors": {"48002": 1.0}}}})
    with django_capture_on_commit_callbacks(execute=True):
        assert sync_nightly() == 1
    with tenant_context(connected):
        assert list(SyncRun.objects.values_list("kind", "status")) == [("contacts", RunStatus.FAILED)]
    # A manual contacts run succeeding starts nothing.
    sandbox.set_faults({"reset": True})
    with tenant_context(connected), django_capture_on_commit_callbacks(execute=True):
        sync.sync_run_start(tenant=connected, trigger="manual")
    with tenant_context(connected):
        assert sorted(SyncRun.objects.values_list("kind", "trigger", "status")) == [
            ("contacts", "manual", RunStatus.SUCCEEDED),
            ("contacts", "schedule", RunStatus.FAILED),
        ]


def test_sync_tenant_command_prints_a_json_summary_last(connected, sandbox):
    out = io.StringIO()
    call_command("sync_tenant", connected.slug, stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) > 1  # progress first
    summary = json.loads(lines[-1])
    follows = len(wecom_follows(sandbox))
    assert {
        "contacts",
        "follows",
        "tags",
        "created",
        "updated",
        "unchanged",
        "closed",
        "api_calls",
        "seconds",
    } <= set(summary)
    assert summary["contacts"] == len(sandbox.state.contacts)
    assert summary["follows"] == summary["created"] == follows
    assert summary["tags"] == len(live_tag_ids(sandbox))
    assert summary["status"] == "succeeded"


def test_a_follow_back_in_wecom_is_reopened_in_place_with_an_added_event(connected, sandbox):
    run_sync(connected)
    contact = next(c for c in sandbox.state.contacts.values() if len(c.follows) == 1)
    [(userid, follow)] = contact.follows.items()
    with sandbox.state.lock:
        del contact.follows[userid]
    assert run_sync(connected).closed == 1
    with tenant_context(connected):
        closed = Follow.objects.get(contact__external_userid=contact.external_userid)
    with sandbox.state.lock:
        contact.follows[userid] = follow
    run = run_sync(connected)
    assert (run.created, run.updated, run.closed) == (0, 1, 0)
    with tenant_context(connected):
        reopened = Follow.objects.select_related("contact").get(
            contact__external_userid=contact.external_userid
        )
        [event] = ContactEvent.objects.filter(
            contact=reopened.contact, type=EventType.ADDED, payload__reopened=True
        )
    assert reopened.pk == closed.pk  # the same row, with its history
    assert (reopened.status, reopened.ended_at) == (FollowStatus.ACTIVE, None)
    assert reopened.contact.status == ContactStatus.ACTIVE
    assert f"s:{userid}" in reopened.contact.facets
    assert event.staff.userid == userid
    assert event.occurred_at == dt.datetime.fromtimestamp(follow.createtime, tz=dt.UTC)
    assert event.payload["add_way"] == follow.add_way


def test_a_change_that_leaves_the_derived_fields_alone_rewrites_the_follow_only(connected, sandbox):
    run_sync(connected)
    contact = next(c for c in sandbox.state.contacts.values() if len(c.follows) == 1)
    [follow] = contact.follows.values()
    with tenant_context(connected):
        before = Contact.objects.get(external_userid=contact.external_userid)
    with sandbox.state.lock:
        follow.description = "只改描述"  # not in facets, status or search text
    assert run_sync(connected).updated == 1
    with tenant_context(connected):
        after = Contact.objects.get(external_userid=contact.external_userid)
        row = Follow.objects.get(contact=after)
    assert row.description == "只改描述"
    assert after.updated_at == before.updated_at  # the contact row was not rewritten


def test_json_fields_with_escapes_and_non_ascii_compare_equal_on_the_next_sync(connected, sandbox):
    run_sync(connected)
    contact = next(c for c in sandbox.state.contacts.values() if len(c.follows) == 1)
    [follow] = contact.follows.values()
    with sandbox.state.lock:
        follow.remark_mobiles = ['+86 138 "0000"', "分机\\2\n"]
    assert run_sync(connected).updated == 1
    with tenant_context(connected):
        written = Follow.objects.get(contact__external_userid=contact.external_userid)
    assert written.remark_mobiles == ['+86 138 "0000"', "分机\\2\n"]
    run = run_sync(connected)
    assert (run.created, run.updated, run.unchanged) == (0, 0, len(wecom_follows(sandbox)))
    with tenant_context(connected):
        assert Follow.objects.get(pk=written.pk).updated_at == written.updated_at
