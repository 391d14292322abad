"""Group owner transfers: validation up front, per-group results from WeCom's failed_chat_list (a group
dismissed meanwhile, the daily limit, a resigned owner), a refusal of one call failing only its groups,
chunks, a resend after a dead worker, two runs at once sending nothing twice, Idempotency-Key — and the
routes' roles (admins only, as customer transfers) and tenant isolation."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from contacts.models import Staff
from groups.models import (
    Group,
    GroupStatus,
    GroupTransfer,
    GroupTransferItem,
    GroupTransferItemStatus,
    GroupTransferKind,
)
from groups.services import transfers
from groups.tasks.codes import TRANSFER_STALE_AFTER, requeue_stale_transfers
from scrm.durable import RunStatus
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Role
from scrm.tenancy.principal import Principal
from scrm.wecom.api import api_for
from scrm.wecom.ratelimit import get_limiter
from tests.helpers import assert_problem, sandbox_control

URL = "/api/v1/group-transfers/"


@pytest.fixture
def cast(synced):
    """(new owner, groups of other owners that are not dismissed) of the synced sandbox corp."""
    with tenant_context(synced):
        groups = list(
            Group.objects.exclude(status=GroupStatus.DISMISSED).filter(owner__isnull=False).order_by("pk")
        )
        counts: dict[int, int] = {}
        for g in groups:
            counts[g.owner_id] = counts.get(g.owner_id, 0) + 1
        new_owner = (
            Staff.objects.filter(is_active=True, has_contact_permission=True)
            .exclude(pk__in=[pk for pk, n in counts.items() if n > 1])
            .order_by("pk")
            .first()
        )
        return new_owner, [g for g in groups if g.owner_id != new_owner.pk]


def transfer(client, groups, new_owner, capture, **headers) -> dict:
    with capture(execute=True):
        response = client.post(
            URL, {"group_ids": [g.pk for g in groups], "new_owner_id": new_owner.pk}, format="json", **headers
        )
    assert response.status_code == 202, response.content
    created = response.json()
    done = client.get(f"{URL}{created['id']}/")
    assert done.status_code == 200
    return done.json()


def test_groups_are_handed_over(
    synced, sandbox, alice_client, cast, django_capture_on_commit_callbacks, refreshes_run
):
    new_owner, groups = cast
    result = transfer(alice_client, groups[:2], new_owner, django_capture_on_commit_callbacks)
    assert (result["kind"], result["status"], result["total"], result["succeeded"], result["failed"]) == (
        GroupTransferKind.ONJOB, RunStatus.SUCCEEDED, 2, 2, 0,
    )  # fmt: skip
    assert result["new_owner"]["id"] == new_owner.pk
    assert result["finished_at"]
    assert [(i["group"]["id"], i["status"], i["previous_owner"]["id"]) for i in result["items"]] == [
        (g.pk, GroupTransferItemStatus.SUCCEEDED, g.owner_id) for g in groups[:2]
    ]
    for g in groups[:2]:
        chat = sandbox.state.groups[g.chat_id]
        assert chat.owner == new_owner.userid
        assert new_owner.userid in [m.userid for m in chat.members]  # WeCom made them a member
    with tenant_context(synced):
        moved = Group.objects.filter(pk__in=[g.pk for g in groups[:2]])
        assert {(g.owner_id, g.status) for g in moved} == {(new_owner.pk, GroupStatus.NORMAL)}
    # WeCom shows the change a few seconds later; reads before that (the old owner) are not applied.
    assert refreshes_run(synced) == 4  # each group twice: at 2 s WeCom still shows the old owner
    with tenant_context(synced):
        assert {(g.owner_id, g.status) for g in moved} == {(new_owner.pk, GroupStatus.NORMAL)}
        # The groups were read again: the new owner's stay is there.
        assert all(g.members.filter(userid=new_owner.userid, left_at__isnull=True).exists() for g in moved)
    listed = alice_client.get(URL).json()["results"]
    assert [t["id"] for t in listed] == [result["id"]]
    assert "items" not in listed[0]


def test_mixed_results_per_group(synced, sandbox, alice_client, cast, django_capture_on_commit_callbacks):
    """One request: a group dismissed in WeCom meanwhile (40050), one the new owner owns already
    (succeeded up front, with a note: nothing to send), two on-job groups, one whose owner resigned
    unbeknown to us (WeCom says 90502: it goes through groupchat/transfer) and one whose owner is known
    to have resigned, sent last (groupchat/transfer) and past the new owner's daily limit (45009)."""
    new_owner, groups = cast
    with tenant_context(synced):
        owned = Group.objects.exclude(status=GroupStatus.DISMISSED).filter(owner=new_owner).first()
        if owned is None:
            owned = groups.pop()
            Group.objects.filter(pk=owned.pk).update(owner=new_owner)
    # Two groups whose owner leaves the corp in WeCom; only the first is known to have resigned here.
    resigning = next(g.owner for g in groups if sum(1 for h in groups if h.owner_id == g.owner_id) >= 2)
    left = [g for g in groups if g.owner_id == resigning.pk][:2]
    others = [g for g in groups if g.owner_id != resigning.pk]
    dismissed, normal, also = others[0], others[1], others[2]
    sandbox_control(sandbox, "simulate/staff-resign", {"userid": resigning.userid})
    with tenant_context(synced):
        Group.objects.filter(pk=left[0].pk).update(status=GroupStatus.OWNER_RESIGNED)
    sandbox_control(sandbox, "simulate/group-dismiss", {"chat_id": dismissed.chat_id})  # callback lost
    sandbox_control(sandbox, "settings/groups", {"group_transfer_daily_limit": 3})

    chosen = [dismissed, owned, left[0], left[1], normal, also]
    result = transfer(alice_client, chosen, new_owner, django_capture_on_commit_callbacks)
    assert result["kind"] == GroupTransferKind.MIXED
    outcome = {i["group"]["id"]: (i["status"], i["errcode"]) for i in result["items"]}
    assert outcome == {
        dismissed.pk: (GroupTransferItemStatus.FAILED, 40050),
        owned.pk: (GroupTransferItemStatus.SUCCEEDED, None),
        normal.pk: (GroupTransferItemStatus.SUCCEEDED, None),
        also.pk: (GroupTransferItemStatus.SUCCEEDED, None),
        left[1].pk: (GroupTransferItemStatus.SUCCEEDED, None),
        left[0].pk: (GroupTransferItemStatus.FAILED, 45009),
    }
    errors = {i["group"]["id"]: i["error"] for i in result["items"]}
    assert "dismissed" in errors[dismissed.pk]
    assert "daily limit" in errors[left[0].pk]
    assert errors[owned.pk] == transfers.ALREADY_OWNER_NOTE
    assert errors[normal.pk] == ""
    assert (result["status"], result["succeeded"], result["failed"]) == (RunStatus.PARTIAL, 4, 2)
    assert owned.chat_id not in [  # nothing was sent for it
        c
        for r in sandbox.records("externalcontact/groupchat/onjob_transfer")
        for c in r["body"]["chat_id_list"]
    ]
    with tenant_context(synced):
        statuses = dict(Group.objects.filter(pk__in=[left[1].pk, normal.pk]).values_list("pk", "status"))
        assert Group.objects.get(pk=left[0].pk).owner_id == resigning.pk  # unchanged: it failed
    assert statuses == {left[1].pk: GroupStatus.INHERITED, normal.pk: GroupStatus.NORMAL}
    assert sandbox.state.groups[left[1].chat_id].status == 3  # inherited in WeCom

    # Tomorrow's quota (raised here): the resigned owner's group goes through groupchat/transfer.
    sandbox_control(sandbox, "settings/groups", {"group_transfer_daily_limit": 300})
    again = transfer(alice_client, [left[0]], new_owner, django_capture_on_commit_callbacks)
    assert (again["kind"], again["status"]) == (GroupTransferKind.RESIGNED, RunStatus.SUCCEEDED)
    assert sandbox.records("externalcontact/groupchat/transfer")[-1]["body"]["chat_id_list"] == [
        left[0].chat_id
    ]
    with tenant_context(synced):
        assert Group.objects.get(pk=left[0].pk).status == GroupStatus.INHERITED


def test_chunks_and_a_resend_after_a_dead_worker(synced, sandbox, cast, monkeypatch):
    """A chunk whose worker died after WeCom did the transfer is sent again: WeCom's 90504 ("already
    the owner") is the success it is, with the note, and a transfer whose groups all answer it succeeds."""
    new_owner, groups = cast
    monkeypatch.setattr(transfers, "CHUNK", 2)
    principal = Principal(tenant=synced, role=Role.ADMIN)
    with tenant_context(synced):
        created, is_new = transfers.group_transfer_create(
            principal=principal, group_ids=[g.pk for g in groups[:5]], new_owner_id=new_owner.pk
        )
        assert is_new
        # A worker sent the first chunk and died before recording it: WeCom has done it already.
        api_for(synced).groupchat_onjob_transfer(
            chat_id_list=[g.chat_id for g in groups[:2]], new_owner=new_owner.userid
        )
        before = len(sandbox.records("externalcontact/groupchat/onjob_transfer"))
        assert transfers.group_transfer_run(transfer=created) is None
        sent = sandbox.records("externalcontact/groupchat/onjob_transfer")[before:]
        assert [len(r["body"]["chat_id_list"]) for r in sent] == [2, 2, 1]
        created.refresh_from_db()
        assert (created.status, created.succeeded, created.failed) == (RunStatus.SUCCEEDED, 5, 0)
        items = list(GroupTransferItem.objects.filter(transfer=created).order_by("id"))
        assert [(i.status, i.errcode, i.error) for i in items[:2]] == [
            (GroupTransferItemStatus.SUCCEEDED, None, transfers.ALREADY_OWNER_NOTE)
        ] * 2
        assert {i.error for i in items[2:]} == {""}
        # Run again (a duplicate delivery): nothing is pending, nothing is sent.
        assert transfers.group_transfer_run(transfer=created) is None
    assert len(sandbox.records("externalcontact/groupchat/onjob_transfer")) == before + 3


def test_a_transfer_whose_task_was_lost_is_run_again_by_the_sweep(synced, sandbox, cast):
    new_owner, groups = cast
    principal = Principal(tenant=synced, role=Role.ADMIN)
    with tenant_context(synced):
        lost, _ = transfers.group_transfer_create(
            principal=principal, group_ids=[groups[0].pk], new_owner_id=new_owner.pk
        )
        recent, _ = transfers.group_transfer_create(
            principal=principal, group_ids=[groups[1].pk], new_owner_id=new_owner.pk
        )
    # Nobody ran them (their messages were lost); only the old one is taken for lost.
    GroupTransfer.unscoped.filter(pk=lost.pk).update(
        created_at=timezone.now() - TRANSFER_STALE_AFTER - dt.timedelta(minutes=1)
    )
    assert requeue_stale_transfers() == 1
    with tenant_context(synced):
        lost.refresh_from_db()
        recent.refresh_from_db()
        assert (lost.status, lost.succeeded) == (RunStatus.SUCCEEDED, 1)
        assert recent.status == RunStatus.QUEUED
        assert Group.objects.get(pk=groups[0].pk).owner_id == new_owner.pk
    assert requeue_stale_transfers() == 0  # finished: not again


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_each_group_once(synced, sandbox, cast, monkeypatch):
    """A second worker that runs while the first holds its chunk skips the locked rows: it sends the
    next chunk, and leaves the transfer open for the first to finish."""
    new_owner, groups = cast
    monkeypatch.setattr(transfers, "CHUNK", 2)
    monkeypatch.setattr(transfers, "_enqueue", lambda tenant_id, transfer_id: None)  # run by hand below
    with tenant_context(synced):
        created, _ = transfers.group_transfer_create(
            principal=Principal(tenant=synced, role=Role.ADMIN),
            group_ids=[g.pk for g in groups[:4]],
            new_owner_id=new_owner.pk,
        )
    second: dict = {}

    def run_second() -> None:
        try:
            with tenant_context(synced):
                transfer = GroupTransfer.objects.select_related("new_owner").get(pk=created.pk)
                second["wait"] = transfers.group_transfer_run(transfer=transfer)
                second["status"] = GroupTransfer.objects.get(pk=created.pk).status
        finally:
            connection.close()

    api = api_for(synced)
    send = api.groupchat_onjob_transfer

    def first_call_lets_another_run_in(**kwargs):
        answer = send(**kwargs)
        if "started" not in second:  # the first run holds its chunk's rows now
            second["started"] = True
            worker = threading.Thread(target=run_second)
            worker.start()
            worker.join(timeout=60)
        return answer

    monkeypatch.setattr(api, "groupchat_onjob_transfer", first_call_lets_another_run_in)
    with tenant_context(synced):
        assert transfers.group_transfer_run(transfer=created, api=api) is None
        created.refresh_from_db()
        assert (created.status, created.succeeded, created.failed) == (RunStatus.SUCCEEDED, 4, 0)
    # The second run sent the other chunk and found the transfer not finished (a chunk was locked).
    assert second == {"started": True, "wait": None, "status": RunStatus.RUNNING}
    sent = [
        c
        for r in sandbox.records("externalcontact/groupchat/onjob_transfer")
        for c in r["body"]["chat_id_list"]
    ]
    assert sorted(sent) == sorted(g.chat_id for g in groups[:4])  # each once


@pytest.mark.parametrize(("fault", "status"), [("48002", "failed"), ("45009", "pending")])
def test_a_refusal_of_one_call_touches_only_its_groups(synced, sandbox, cast, fault, status):
    """A chunk with on-job and resigned owners' groups takes two calls. The on-job call is done when
    groupchat/transfer fails: its groups stay transferred. A refusal (48002) fails the other call's
    groups; a rate limit (45009) leaves them pending for the next run."""
    new_owner, groups = cast
    resigning = next(g.owner for g in groups if sum(1 for h in groups if h.owner_id == g.owner_id) >= 2)
    left = [g for g in groups if g.owner_id == resigning.pk][:2]
    onjob = [g for g in groups if g.owner_id != resigning.pk][:2]
    sandbox_control(sandbox, "simulate/staff-resign", {"userid": resigning.userid})
    sandbox.set_faults({"apis": {"externalcontact/groupchat/transfer": {"errors": {fault: 1.0}}}})
    with tenant_context(synced):
        Group.objects.filter(pk__in=[g.pk for g in left]).update(status=GroupStatus.OWNER_RESIGNED)
        created, _ = transfers.group_transfer_create(
            principal=Principal(tenant=synced, role=Role.ADMIN),
            group_ids=[g.pk for g in [*left, *onjob]],
            new_owner_id=new_owner.pk,
        )
        assert created.kind == GroupTransferKind.MIXED
        wait = transfers.group_transfer_run(transfer=created)
        items = {i.group_id: i for i in GroupTransferItem.objects.filter(transfer=created)}
        owners = dict(Group.objects.filter(pk__in=items).values_list("pk", "owner_id"))
        created.refresh_from_db()
    assert {items[g.pk].status for g in onjob} == {GroupTransferItemStatus.SUCCEEDED}
    assert {owners[g.pk] for g in onjob} == {new_owner.pk}
    assert {sandbox.state.groups[g.chat_id].owner for g in onjob} == {new_owner.userid}
    assert {owners[g.pk] for g in left} == {resigning.pk}
    if status == "failed":
        assert wait is None
        assert {(items[g.pk].status, items[g.pk].errcode) for g in left} == {
            (GroupTransferItemStatus.FAILED, 48002)
        }
        assert (created.status, created.succeeded, created.failed) == (RunStatus.PARTIAL, 2, 2)
    else:
        assert wait >= 1
        assert {items[g.pk].status for g in left} == {GroupTransferItemStatus.PENDING}
        assert (created.status, created.succeeded, created.failed) == (RunStatus.RUNNING, 2, 0)
        # The minute passes: WeCom answers again.
        sandbox.set_faults({"reset": True})
        get_limiter().backend.delete(f"wecom:block:{synced.corp_id}:externalcontact/groupchat/transfer")
        with tenant_context(synced):
            assert transfers.group_transfer_run(transfer=created) is None
            created.refresh_from_db()
        assert (created.status, created.succeeded, created.failed) == (RunStatus.SUCCEEDED, 4, 0)
        # The on-job groups were not sent again.
        sent = [
            c
            for r in sandbox.records("externalcontact/groupchat/onjob_transfer")
            for c in r["body"]["chat_id_list"]
        ]
        assert sorted(sent) == sorted(g.chat_id for g in onjob)


def test_transferred_groups_are_updated_in_one_statement_per_status(synced, sandbox, cast, monkeypatch):
    new_owner, groups = cast
    monkeypatch.setattr(transfers, "_resync_soon", lambda tenant, chat_ids, new_owner: None)
    with tenant_context(synced):
        created, _ = transfers.group_transfer_create(
            principal=Principal(tenant=synced, role=Role.ADMIN),
            group_ids=[g.pk for g in groups[:5]],
            new_owner_id=new_owner.pk,
        )
        with CaptureQueriesContext(connection) as queries:
            assert transfers.group_transfer_run(transfer=created) is None
        assert set(
            Group.objects.filter(pk__in=[g.pk for g in groups[:5]]).values_list("owner_id", flat=True)
        ) == {new_owner.pk}
    owner_updates = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('UPDATE "groups_group" SET "owner_id"')
    ]
    assert len(owner_updates) == 1


def test_wecom_refusing_the_whole_request_fails_every_group(
    synced, sandbox, alice_client, cast, django_capture_on_commit_callbacks
):
    new_owner, groups = cast
    with sandbox.state.lock:
        sandbox.state.staff[new_owner.userid].has_contact_permission = False  # WeCom knows better
    result = transfer(alice_client, groups[:2], new_owner, django_capture_on_commit_callbacks)
    assert (result["status"], result["failed"]) == (RunStatus.FAILED, 2)
    assert {(i["errcode"], i["error"]) for i in result["items"]} == {
        (84074, "The new owner has no customer-contact permission in WeCom.")
    }


@pytest.mark.parametrize("fault", ["45009", "-1"])
def test_busy_or_rate_limited_wecom_leaves_items_pending_for_the_retry(synced, sandbox, cast, fault):
    new_owner, groups = cast
    principal = Principal(tenant=synced, role=Role.ADMIN)
    sandbox.set_faults({"apis": {"externalcontact/groupchat/onjob_transfer": {"errors": {fault: 1.0}}}})
    with tenant_context(synced):
        created, _ = transfers.group_transfer_create(
            principal=principal, group_ids=[groups[0].pk], new_owner_id=new_owner.pk
        )
        assert transfers.group_transfer_run(transfer=created) >= 1  # seconds to wait
        assert GroupTransferItem.objects.get(transfer=created).status == GroupTransferItemStatus.PENDING
        created.refresh_from_db()
        assert (created.status, created.finished_at) == (RunStatus.RUNNING, None)
        if fault == "-1":
            sandbox.set_faults({"reset": True})
            assert transfers.group_transfer_run(transfer=created) is None
            created.refresh_from_db()
            assert created.status == RunStatus.SUCCEEDED
        else:
            # The task gives up after its attempts: what is still pending fails with the reason.
            transfers.group_transfer_finish(transfer=created, give_up="WeCom did not answer.")
            created.refresh_from_db()
            assert (created.status, created.failed) == (RunStatus.FAILED, 1)


def test_validation(synced, alice_client, cast, build_group, tenant_b):
    new_owner, groups = cast
    foreign = build_group(tenant=tenant_b, owner=None)
    with tenant_context(synced):
        resigned = Staff.objects.create(
            userid="gone", name="Gone", is_active=False, has_contact_permission=True
        )
        Group.objects.filter(pk=groups[1].pk).update(status=GroupStatus.DISMISSED)
    for body, path in (
        ({"group_ids": [groups[0].pk], "new_owner_id": 999999}, "new_owner_id"),
        ({"group_ids": [groups[0].pk], "new_owner_id": resigned.pk}, "new_owner_id"),
        ({"group_ids": [], "new_owner_id": new_owner.pk}, "group_ids"),
        ({"group_ids": list(range(1, 1002)), "new_owner_id": new_owner.pk}, "group_ids"),
        ({"group_ids": [groups[0].pk, foreign.pk], "new_owner_id": new_owner.pk}, "group_ids.1"),
        ({"group_ids": [groups[0].pk, groups[1].pk], "new_owner_id": new_owner.pk}, "group_ids.1"),
        ({"group_ids": [groups[0].pk], "new_owner_id": groups[0].owner_id}, "new_owner_id"),  # owns them all
    ):
        problem = assert_problem(alice_client.post(URL, body, format="json"), 400, "validation_error")
        assert [e["path"] for e in problem["errors"]] == [path], body
    with tenant_context(synced):
        assert not GroupTransfer.objects.exists()
        with pytest.raises(ValidationError):
            transfers.group_transfer_create(
                principal=Principal(tenant=synced, role=Role.ADMIN), group_ids="1", new_owner_id=new_owner.pk
            )
    # The same rules, the same messages as the other lists of group ids.
    problem = assert_problem(
        alice_client.post(URL, {"group_ids": [], "new_owner_id": new_owner.pk}, format="json"),
        400,
        "validation_error",
    )
    assert problem["errors"][0]["message"] == "Choose at least one group."


def test_a_repeated_idempotency_key_answers_the_first_transfer(
    synced, sandbox, alice, alice_client, key_client_for, cast, django_capture_on_commit_callbacks
):
    new_owner, groups = cast
    key = {"HTTP_IDEMPOTENCY_KEY": "hand-over-42"}
    first = transfer(alice_client, groups[:2], new_owner, django_capture_on_commit_callbacks, **key)
    assert first["status"] == RunStatus.SUCCEEDED
    sent = len(sandbox.records("externalcontact/groupchat/onjob_transfer"))
    # The same request again (a retry after a lost answer): the same transfer, 200, nothing sent.
    body = {"group_ids": [g.pk for g in groups[:2]], "new_owner_id": new_owner.pk}
    with django_capture_on_commit_callbacks(execute=True):
        again = alice_client.post(URL, body, format="json", **key)
    assert again.status_code == 200, again.content
    assert again.json() == first
    assert len(sandbox.records("externalcontact/groupchat/onjob_transfer")) == sent
    # A key is its caller's: another caller's same key is another request.
    other = key_client_for(synced, Role.ADMIN).post(
        URL, {"group_ids": [groups[2].pk], "new_owner_id": new_owner.pk}, format="json", **key
    )
    assert other.status_code == 202, other.content
    assert other.json()["id"] != first["id"]
    with tenant_context(synced):
        assert GroupTransfer.objects.count() == 2
        assert GroupTransfer.objects.get(pk=first["id"]).idempotency_key == f"user{alice.pk}:hand-over-42"


def test_admins_only_and_tenants_apart(
    synced,
    alice_client,
    bob_client,
    operator_client,
    charlie_client,
    cast,
    django_capture_on_commit_callbacks,
):
    new_owner, groups = cast
    result = transfer(alice_client, groups[:1], new_owner, django_capture_on_commit_callbacks)
    one = f"{URL}{result['id']}/"
    body = {"group_ids": [groups[1].pk], "new_owner_id": new_owner.pk}
    for client in (bob_client, operator_client):
        for method, url in (("get", URL), ("post", URL), ("get", one)):
            assert_problem(getattr(client, method)(url, body, format="json"), 403, "permission_denied")
    assert charlie_client.get(URL).json()["results"] == []
    assert_problem(charlie_client.get(one), 404, "not_found")
    problem = assert_problem(charlie_client.post(URL, body, format="json"), 400, "validation_error")
    assert [e["path"] for e in problem["errors"]] == ["new_owner_id"]  # A's staff is unknown to B
