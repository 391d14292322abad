"""The Moments Celery tasks and beat: each tick hands what is due to its own task, the digest goes out
at 18:00 in each tenant's zone, reminders only where there is an app to send from, the demo seed tries
again until the first sync is done, and every beat entry names a registered task."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from campaigns.models import CampaignSettings
from campaigns.services.settings import campaign_settings_get
from moments import tasks
from moments.models import MomentSettings, MomentTask, TaskStatus
from moments.services import demo, reminders, tracking
from moments.services.compose import moment_task_create, moment_task_publish
from scrm.celery import app
from scrm.tenancy.actors import SYSTEM
from scrm.tenancy.context import tenant_context

pytestmark = pytest.mark.django_db


def test_every_moments_beat_entry_names_a_registered_task():
    entries = {
        name: e["task"] for name, e in settings.CELERY_BEAT_SCHEDULE.items() if name.startswith("moments-")
    }
    assert set(entries.values()) == {
        "moments.due",
        "moments.poll_due",
        "moments.member_sync_all",
        "moments.remind_due_all",
        "moments.digest_all",
    }
    assert all(name in app.tasks for name in entries.values())


def test_the_due_tick_runs_each_scheduled_task_step(synced, sandbox, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    with tenant_context(synced):
        at = timezone.now() - dt.timedelta(seconds=1)
        task = moment_task_create(actor=SYSTEM, data={"text": "到点发布"})
        MomentTask.objects.filter(pk=task.pk).update(
            status=TaskStatus.SCHEDULED, scheduled_at=at, next_check_at=at
        )
    assert tasks.due() == 1  # Celery is eager in tests: the step ran, and the job's reads after it
    with tenant_context(synced):
        task.refresh_from_db()
    assert task.status == TaskStatus.PUBLISHING, task.error
    assert len(sandbox.records("externalcontact/add_moment_task")) == 1
    assert tasks.due() == 0


def test_the_poll_tick_polls_the_claimed_moments_of_a_tenant_in_groups(tenant_a, monkeypatch):
    from moments.models import Moment

    with tenant_context(tenant_a):
        moment = Moment.objects.create(moment_id="mom1", create_type=0, created_at_wecom=timezone.now())
    polled = []
    monkeypatch.setattr(
        tracking, "moments_poll_claim", lambda now=None: [(tenant_a.pk, moment.pk), (tenant_a.pk, 0)]
    )

    def moments_poll(*, moments, api=None):
        polled.append([m.moment_id for m in moments])
        return tracking.PollResult()

    monkeypatch.setattr(tracking, "moments_poll", moments_poll)
    assert tasks.poll_due() == 2
    assert polled == [["mom1"]]  # one group for the tenant; a Moment gone meanwhile is skipped


def test_reminders_and_syncs_go_to_connected_tenants_and_reminders_need_an_app(
    tenant_a, tenant_b, monkeypatch
):
    synced, reminded = [], []
    monkeypatch.setattr(tracking, "member_moments_sync", lambda *, tenant, **kw: synced.append(tenant.slug))
    monkeypatch.setattr(reminders, "reminders_send_due", lambda *, tenant, **kw: reminded.append(tenant.slug))
    tenant_a.agent_id = "1000002"
    tenant_a.save()
    assert tasks.member_sync_all() == 2
    assert sorted(synced) == ["tenant-a", "tenant-b"]
    assert tasks.remind_due_all() == 1
    assert reminded == ["tenant-a"]


def test_the_digest_goes_out_at_18_00_in_each_tenants_zone(tenant_a, tenant_b, monkeypatch, time_machine):
    sent = []
    monkeypatch.setattr(reminders, "manager_digest_send", lambda *, tenant, **kw: sent.append(tenant.slug))
    for tenant, zone in ((tenant_a, "Asia/Shanghai"), (tenant_b, "Europe/Berlin")):
        tenant.agent_id = "1000002"
        tenant.save()
        with tenant_context(tenant):
            MomentSettings.objects.create(manager_digest=True)
            campaign_settings_get(tenant=tenant)
            CampaignSettings.objects.update(time_zone=zone)
    time_machine.move_to(dt.datetime(2031, 1, 15, 10, 0, tzinfo=dt.UTC), tick=False)  # 18:00 in Shanghai
    assert tasks.digest_all() == 1
    time_machine.move_to(dt.datetime(2031, 1, 15, 17, 0, tzinfo=dt.UTC), tick=False)  # 18:00 in Berlin
    assert tasks.digest_all() == 1
    time_machine.move_to(dt.datetime(2031, 1, 15, 12, 0, tzinfo=dt.UTC), tick=False)
    assert tasks.digest_all() == 0
    assert sent == ["tenant-a", "tenant-b"]
    with tenant_context(tenant_b):
        MomentSettings.objects.update(manager_digest=False)
    time_machine.move_to(dt.datetime(2031, 1, 16, 17, 0, tzinfo=dt.UTC), tick=False)
    assert tasks.digest_all() == 0


def test_the_demo_seed_tries_again_until_the_first_sync_is_done(tenant_a, monkeypatch):
    answers = iter([False, True])
    monkeypatch.setattr(demo, "demo_moments_seed", lambda *, tenant: next(answers))
    retries = []
    monkeypatch.setattr(
        tasks.demo_seed, "apply_async", lambda args, countdown: retries.append((args, countdown))
    )
    tasks.demo_seed(tenant_a.pk)
    assert retries == [((tenant_a.pk, 2), 10)]
    tasks.demo_seed(tenant_a.pk, 2)
    assert retries == [((tenant_a.pk, 2), 10)]  # done: no more tries
    monkeypatch.setattr(demo, "demo_moments_seed", lambda *, tenant: False)
    tasks.demo_seed(tenant_a.pk, tasks.DEMO_ATTEMPTS)
    assert len(retries) == 1  # the last attempt gives up


def test_a_publish_now_message_lost_is_submitted_by_the_tick(
    synced, sandbox, settings, tmp_path, time_machine
):
    settings.MEDIA_ROOT = tmp_path
    with tenant_context(synced):
        task = moment_task_publish(task=moment_task_create(actor=SYSTEM, data={"text": "消息丢了"}))
    # The commit's message never reached a worker (no on_commit run here): the tick finds the task later.
    assert tasks.due() == 0
    time_machine.move_to(task.next_check_at, tick=True)
    assert tasks.due() == 1
    with tenant_context(synced):
        task.refresh_from_db()
    assert task.jobid
