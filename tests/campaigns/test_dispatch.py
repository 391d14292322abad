"""Campaign dispatch against the sandbox: one WeCom task per (member, chunk), never two, never lost.

The kill tests stand in for a worker SIGKILLed at the worst moments: an exception that no ``except
Exception`` catches is raised where the worker would die (after WeCom answered, before the msgid is
written; or after the claim, before the call), the dispatch is left running with its last heartbeat,
the clock moves past ``STALE_AFTER`` and the stale sweep resumes it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
import time_machine
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from campaigns import tasks as campaign_tasks
from campaigns.models import (
    Campaign,
    CampaignStatus,
    Dispatch,
    RecipientStatus,
    TaskStatus,
)
from campaigns.services import dispatch as dispatching
from campaigns.services import plan
from scrm.durable import STALE_AFTER, RunStatus, durable_requeue_stale
from scrm.tenancy.context import tenant_context
from scrm.wecom.ratelimit import get_limiter
from tests.campaigns.sandboxed import (
    campaign_make,
    connected,  # noqa: F401 -- fixture
    dispatch,
    mass_messages,
    recipients_of,
    sandbox,  # noqa: F401 -- fixture
    sandbox_factory,  # noqa: F401 -- fixture
    synced,  # noqa: F401 -- fixture
    targets_sha256,
    tasks_of,
)
from tests.helpers import sandbox_control

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """The worker dies here: like SIGKILL, nothing in the code under test catches it."""


def _dispatch_row(campaign: Campaign) -> Dispatch:
    with tenant_context(campaign.tenant):
        return Dispatch.objects.get(campaign=campaign)


def _assert_one_wecom_task_per_chunk(sandbox, campaign) -> None:  # noqa: F811 -- the fixture
    """WeCom holds exactly one task per (member, chunk), each the one the task row names, with the
    chunk's recipients (less WeCom's fail_list)."""
    tasks = tasks_of(campaign)
    messages = {m["msgid"]: m for m in mass_messages(sandbox)}
    assert len(messages) == len(tasks)
    per_member = Counter(m["creator"] for m in messages.values())
    assert per_member == Counter(t.staff.userid for t in tasks)
    for task in tasks:
        message = messages[task.msgid]
        assert message["creator"] == task.staff.userid
        sent_to = [r.target for r in recipients_of(campaign, task=task) if r.status != RecipientStatus.FAILED]
        assert message["targets_sha256"] == targets_sha256(sent_to)


def test_one_wecom_task_per_member_and_chunk(
    synced,  # noqa: F811
    sandbox,  # noqa: F811
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    # Chunks of 20 customers, so the bigger books make several tasks per member.
    monkeypatch.setattr(plan, "SINGLE_CHUNK_SIZE", 20)
    campaign = dispatch(campaign_make(synced), django_capture_on_commit_callbacks)

    assert campaign.status == CampaignStatus.SENT
    assert campaign.dispatched_at is not None
    assert campaign.next_poll_at is not None
    assert campaign.next_poll_at > timezone.now()
    tasks = tasks_of(campaign)
    assert len(tasks) > campaign.members  # several chunks for some members
    assert {t.status for t in tasks} == {TaskStatus.CREATED}
    assert all(t.recipients <= 20 and t.attempts == 1 and t.fingerprint for t in tasks)
    assert len({t.msgid for t in tasks}) == len(tasks)
    _assert_one_wecom_task_per_chunk(sandbox, campaign)
    run = _dispatch_row(campaign)
    assert run.status == RunStatus.SUCCEEDED
    assert (run.done, run.total, run.api_calls) == (len(tasks), len(tasks), len(tasks))


def test_sending_twice_starts_one_dispatch(synced, sandbox, django_capture_on_commit_callbacks):  # noqa: F811
    campaign = dispatch(campaign_make(synced), django_capture_on_commit_callbacks)
    first = _dispatch_row(campaign)
    with tenant_context(synced), django_capture_on_commit_callbacks(execute=True) as enqueued:
        again = dispatching.dispatch_start(campaign=campaign)
    assert again.pk == first.pk
    assert enqueued == []
    assert len(mass_messages(sandbox)) == len(tasks_of(campaign))
    # A cancelled campaign is not sent.
    cancelled = campaign_make(synced, status=CampaignStatus.CANCELLED)
    with tenant_context(synced), pytest.raises(ValidationError, match="draft or scheduled"):
        dispatching.dispatch_start(campaign=cancelled)
    with tenant_context(synced):
        assert not Dispatch.objects.filter(campaign=cancelled).exists()


def _resume_after_death(time_machine_, campaign, django_capture_on_commit_callbacks) -> int:
    """The worker is dead: the dispatch is taken for dead once it has not beaten for STALE_AFTER, and
    the beat's stale sweep sends it again (eager Celery runs it at once)."""
    time_machine_.move_to(timezone.now() + STALE_AFTER + dt.timedelta(seconds=30), tick=True)
    with django_capture_on_commit_callbacks(execute=True):
        return durable_requeue_stale()


def test_worker_killed_after_wecom_answered_adopts_the_task(
    synced,  # noqa: F811
    sandbox,  # noqa: F811
    django_capture_on_commit_callbacks,
    monkeypatch,
    time_machine,
):
    store = dispatching.task_store_created
    deaths = []

    def dies_once(run, task, **kwargs):
        if not deaths:
            deaths.append(task.pk)
            raise WorkerKilled
        return store(run, task, **kwargs)

    monkeypatch.setattr(dispatching, "task_store_created", dies_once)
    campaign = campaign_make(synced)
    with pytest.raises(WorkerKilled):
        dispatch(campaign, django_capture_on_commit_callbacks)

    victim = next(t for t in tasks_of(campaign) if t.pk == deaths[0])
    assert (victim.status, victim.msgid) == (TaskStatus.CLAIMED, "")
    # WeCom did create it: the answer was lost with the worker.
    (created,) = mass_messages(sandbox, creator=victim.staff.userid)
    assert _dispatch_row(campaign).status == RunStatus.RUNNING

    assert _resume_after_death(time_machine, campaign, django_capture_on_commit_callbacks) == 1

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    victim = next(t for t in tasks_of(campaign) if t.pk == victim.pk)
    assert (victim.status, victim.msgid, victim.attempts) == (TaskStatus.CREATED, created["msgid"], 1)
    assert len(mass_messages(sandbox, creator=victim.staff.userid)) == 1
    _assert_one_wecom_task_per_chunk(sandbox, campaign)


def test_worker_killed_before_the_call_creates_the_task_once(
    synced,  # noqa: F811
    sandbox,  # noqa: F811
    django_capture_on_commit_callbacks,
    monkeypatch,
    time_machine,
):
    build = dispatching._template_body
    deaths = []

    def dies_once(run, task, recipients):
        if not deaths:
            deaths.append(task.pk)
            raise WorkerKilled
        return build(run, task, recipients)

    monkeypatch.setattr(dispatching, "_template_body", dies_once)
    campaign = campaign_make(synced)
    with pytest.raises(WorkerKilled):
        dispatch(campaign, django_capture_on_commit_callbacks)
    victim = next(t for t in tasks_of(campaign) if t.pk == deaths[0])
    assert victim.status == TaskStatus.CLAIMED
    assert mass_messages(sandbox) == []  # it died before asking WeCom

    _resume_after_death(time_machine, campaign, django_capture_on_commit_callbacks)

    victim = next(t for t in tasks_of(campaign) if t.pk == victim.pk)
    # Looked for in WeCom, not found, created: once.
    assert (victim.status, victim.attempts) == (TaskStatus.CREATED, 2)
    _assert_one_wecom_task_per_chunk(sandbox, campaign)


def test_reconcile_tells_a_members_chunks_apart(
    synced,  # noqa: F811
    sandbox,  # noqa: F811
    django_capture_on_commit_callbacks,
    monkeypatch,
    time_machine,
):
    """Two chunks of one member have the same content: the lost one is recognised by its recipients,
    never adopted from its sibling."""
    monkeypatch.setattr(plan, "SINGLE_CHUNK_SIZE", 10)
    store = dispatching.task_store_created
    deaths = []

    def dies_on_a_second_chunk(run, task, **kwargs):
        if not deaths and task.chunk == 1:
            deaths.append(task.pk)
            raise WorkerKilled
        return store(run, task, **kwargs)

    monkeypatch.setattr(dispatching, "task_store_created", dies_on_a_second_chunk)
    campaign = campaign_make(synced)
    with pytest.raises(WorkerKilled):
        dispatch(campaign, django_capture_on_commit_callbacks)
    _resume_after_death(time_machine, campaign, django_capture_on_commit_callbacks)

    victim = next(t for t in tasks_of(campaign) if t.pk == deaths[0])
    siblings = [t for t in tasks_of(campaign) if t.staff_id == victim.staff_id]
    assert len(siblings) >= 2
    assert victim.status == TaskStatus.CREATED
    assert len({t.msgid for t in siblings}) == len(siblings)
    _assert_one_wecom_task_per_chunk(sandbox, campaign)


def test_fail_list_recipients_are_recorded_as_failed(synced, sandbox, django_capture_on_commit_callbacks):  # noqa: F811
    campaign = campaign_make(synced)
    with tenant_context(synced):
        planned = plan.plan_build(tenant=synced, chat_type="single", audience=campaign.audience)
    gone = next(r for r in planned.recipients if r.reason is None)
    with tenant_context(synced):
        from contacts.models import Staff

        sender = Staff.objects.get(pk=gone.staff_id).userid
    # The customer deleted the member in WeCom; no sync since, so the plan still has them.
    sandbox_control(sandbox, "simulate/customer-delete", {"userid": sender, "external_userid": gone.target})

    campaign = dispatch(campaign, django_capture_on_commit_callbacks)

    (failed,) = recipients_of(campaign, status=RecipientStatus.FAILED)
    assert failed.target == gone.target
    task = next(t for t in tasks_of(campaign) if t.pk == failed.task_id)
    assert (task.status, task.failed) == (TaskStatus.CREATED, 1)
    assert campaign.failed == 1
    (message,) = mass_messages(sandbox, creator=sender)
    assert message["fail_list"] == 1


def test_a_refused_task_fails_with_wecoms_answer_and_the_rest_go_on(
    synced,  # noqa: F811
    sandbox,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    campaign = campaign_make(synced)
    with tenant_context(synced):
        planned = plan.plan_build(tenant=synced, chat_type="single", audience=campaign.audience)
        from contacts.models import Staff

        smallest = min(planned.tasks, key=lambda t: t.recipients)
        userid = Staff.objects.get(pk=smallest.staff_id).userid
    # Every customer of that member left them in WeCom: add_msg_template answers 41048.
    for r in planned.recipients:
        if r.staff_id == smallest.staff_id:
            sandbox_control(
                sandbox, "simulate/customer-delete", {"userid": userid, "external_userid": r.target}
            )

    campaign = dispatch(campaign, django_capture_on_commit_callbacks)

    refused = next(t for t in tasks_of(campaign) if t.staff_id == smallest.staff_id)
    assert refused.status == TaskStatus.FAILED
    assert refused.error["errcode"] == 41048
    assert refused.msgid == ""
    assert {r.status for r in recipients_of(campaign, task=refused)} == {RecipientStatus.FAILED}
    assert campaign.status == CampaignStatus.SENT
    assert campaign.failed == smallest.recipients
    assert _dispatch_row(campaign).status == RunStatus.PARTIAL
    others = [t for t in tasks_of(campaign) if t.pk != refused.pk]
    assert {t.status for t in others} == {TaskStatus.CREATED}


def test_every_task_refused_fails_the_campaign(synced, sandbox, django_capture_on_commit_callbacks):  # noqa: F811
    sandbox_control(
        sandbox, "faults", {"apis": {"externalcontact/add_msg_template": {"errors": {"41048": 1.0}}}}
    )
    campaign = dispatch(campaign_make(synced), django_capture_on_commit_callbacks)
    assert campaign.status == CampaignStatus.FAILED
    assert campaign.next_poll_at is None
    assert {t.status for t in tasks_of(campaign)} == {TaskStatus.FAILED}
    assert campaign.failed == campaign.recipients
    assert _dispatch_row(campaign).status == RunStatus.FAILED


def test_rate_limit_requeues_instead_of_failing(
    synced,  # noqa: F811
    sandbox,  # noqa: F811
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    requeued = []
    monkeypatch.setattr(
        campaign_tasks, "dispatch_enqueue", lambda t, pk, countdown=0: requeued.append(countdown)
    )
    sandbox_control(
        sandbox, "faults", {"apis": {"externalcontact/add_msg_template": {"errors": {"45009": 1.0}}}}
    )
    campaign = dispatch(campaign_make(synced), django_capture_on_commit_callbacks)

    assert campaign.status == CampaignStatus.DISPATCHING
    assert requeued == [60]  # after WeCom's window
    tasks = tasks_of(campaign)
    assert {t.status for t in tasks} == {TaskStatus.PENDING}
    assert any(t.error.get("errcode") == 45009 for t in tasks)
    assert recipients_of(campaign, status=RecipientStatus.FAILED) == []
    assert _dispatch_row(campaign).status == RunStatus.QUEUED

    # The window passes: the requeued run creates every task.
    sandbox_control(sandbox, "faults", {"reset": True})
    get_limiter().backend.delete(f"wecom:block:{synced.corp_id}:externalcontact/add_msg_template")
    with django_capture_on_commit_callbacks(execute=True):
        campaign_tasks.dispatch_run.run(synced.pk, _dispatch_row(campaign).pk)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    _assert_one_wecom_task_per_chunk(sandbox, campaign)


def test_no_answer_leaves_the_task_claimed_and_the_next_run_reconciles_it(
    synced,  # noqa: F811
    sandbox,  # noqa: F811
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    """A timeout: WeCom may have created the task. It is not created again blindly."""
    from scrm.wecom.api import WeComAPI
    from scrm.wecom.errors import WeComError

    requeued = []
    monkeypatch.setattr(
        campaign_tasks, "dispatch_enqueue", lambda t, pk, countdown=0: requeued.append(countdown)
    )
    real = WeComAPI.add_msg_template
    calls = []

    def answer_lost(self, body):
        calls.append(body["sender"])
        answer = real(self, body)
        if len(calls) == 1:
            raise WeComError("externalcontact/add_msg_template", None, "WeCom did not answer within 10s")
        return answer

    monkeypatch.setattr(WeComAPI, "add_msg_template", answer_lost)
    campaign = dispatch(campaign_make(synced), django_capture_on_commit_callbacks)
    assert requeued
    assert campaign.status == CampaignStatus.DISPATCHING
    lost = next(t for t in tasks_of(campaign) if t.status == TaskStatus.CLAIMED)

    with django_capture_on_commit_callbacks(execute=True):
        campaign_tasks.dispatch_run.run(synced.pk, _dispatch_row(campaign).pk)

    lost = next(t for t in tasks_of(campaign) if t.pk == lost.pk)
    assert lost.status == TaskStatus.CREATED
    assert calls.count(lost.staff.userid) == 1
    _assert_one_wecom_task_per_chunk(sandbox, campaign)


def test_a_campaign_cancelled_while_dispatching_creates_nothing_more(
    synced,  # noqa: F811
    sandbox,  # noqa: F811
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    from campaigns.services.results import campaign_cancel
    from scrm.tenancy.actors import SYSTEM

    store = dispatching.task_store_created
    seen = []

    def cancel_after_the_second(run, task, **kwargs):
        store(run, task, **kwargs)
        seen.append(task.pk)
        if len(seen) == 2:
            campaign_cancel(campaign=run.campaign, actor=SYSTEM)

    monkeypatch.setattr(dispatching, "task_store_created", cancel_after_the_second)
    campaign = dispatch(campaign_make(synced), django_capture_on_commit_callbacks)

    assert campaign.status == CampaignStatus.CANCELLED
    statuses = Counter(t.status for t in tasks_of(campaign))
    assert statuses == {TaskStatus.CANCELLED: len(tasks_of(campaign))}
    messages = mass_messages(sandbox)
    assert len(messages) == 2
    assert all(m["cancelled"] for m in messages)
    assert {r.status for r in recipients_of(campaign)} == {RecipientStatus.CANCELLED}


def test_scheduled_campaigns_start_when_due(synced, sandbox, django_capture_on_commit_callbacks):  # noqa: F811
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        due_at = start + dt.timedelta(hours=2)
        campaign = campaign_make(synced, status=CampaignStatus.SCHEDULED, scheduled_at=due_at)
        other = campaign_make(synced, status=CampaignStatus.DRAFT, name="Draft")
        assert dispatching.campaigns_dispatch_due() == 0
    with time_machine.travel(due_at + dt.timedelta(seconds=1), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert campaign_tasks.dispatch_due.run() == 1
        assert dispatching.campaigns_dispatch_due() == 0  # claimed once
    campaign.refresh_from_db()
    other.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert other.status == CampaignStatus.DRAFT
    _assert_one_wecom_task_per_chunk(sandbox, campaign)


def test_the_scheduled_tick_skips_inactive_tenants(synced, sandbox):  # noqa: F811
    campaign = campaign_make(
        synced, status=CampaignStatus.SCHEDULED, scheduled_at=timezone.now() - dt.timedelta(minutes=1)
    )
    synced.is_active = False
    synced.save(update_fields=["is_active"])
    assert dispatching.campaigns_dispatch_due() == 0
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED


def test_a_task_wecom_keeps_refusing_transiently_is_given_up(
    synced,  # noqa: F811
    sandbox,  # noqa: F811
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    requeued = []
    monkeypatch.setattr(
        campaign_tasks, "dispatch_enqueue", lambda t, pk, countdown=0: requeued.append(countdown)
    )
    monkeypatch.setattr(dispatching, "MAX_ATTEMPTS", 1)
    sandbox_control(
        sandbox, "faults", {"apis": {"externalcontact/add_msg_template": {"errors": {"-1": 1.0}}}}
    )
    campaign = dispatch(campaign_make(synced), django_capture_on_commit_callbacks)
    first = tasks_of(campaign)[0]
    assert (first.status, first.error["errcode"]) == (TaskStatus.PENDING, -1)  # busy: later, not failed
    assert requeued == [10]

    with django_capture_on_commit_callbacks(execute=True):
        campaign_tasks.dispatch_run.run(synced.pk, _dispatch_row(campaign).pk)

    first = next(t for t in tasks_of(campaign) if t.pk == first.pk)
    assert first.status == TaskStatus.FAILED
    assert first.error["errcode"] == -1
    assert first.error["gave_up_after_attempts"] == 1
    assert {r.status for r in recipients_of(campaign, task=first)} == {RecipientStatus.FAILED}
