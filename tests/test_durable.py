"""scrm.durable: claim, fencing, heartbeat, progress, requeue and the stale-work sweep, on contacts'
Job (any DurableWork behaves the same; syncs and jobs are exercised end to end in tests/contacts)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import F
from django.utils import timezone

from contacts.models import Job, JobKind
from scrm import durable
from scrm.durable import (
    STALE_AFTER,
    RunStatus,
    WorkLostError,
    durable_register,
    durable_requeue_stale,
    work_claim,
    work_finish,
    work_heartbeat,
    work_progress,
    work_requeue,
    work_update,
)
from scrm.tenancy.context import tenant_context


def _job(tenant, **fields) -> Job:
    with tenant_context(tenant):
        return Job.objects.create(kind=JobKind.EXPORT, **fields)


def _presumed_dead(job: Job) -> None:
    """The executor stopped beating long enough for the sweep to take it for dead."""
    Job.unscoped.filter(pk=job.pk).update(heartbeat_at=timezone.now() - STALE_AFTER - dt.timedelta(seconds=1))


def test_work_is_claimed_once(tenant_a):
    job = _job(tenant_a)
    with tenant_context(tenant_a):
        first = work_claim(Job, job.pk)
        assert first is not None
        assert (first.status, first.claim_token is not None) == (RunStatus.RUNNING, True)
        assert None not in (first.started_at, first.heartbeat_at)
        # A duplicate delivery while the holder beats: refused, and the holder's claim still holds.
        assert work_claim(Job, job.pk) is None
        work_progress(first, done=1)
        assert Job.objects.get(pk=job.pk).done == 1


def test_work_of_another_tenant_cannot_be_claimed(tenant_a, tenant_b):
    job = _job(tenant_a)
    with tenant_context(tenant_b):
        assert work_claim(Job, job.pk) is None
    assert Job.unscoped.get(pk=job.pk).status == RunStatus.QUEUED


def test_stale_work_is_taken_over_and_the_old_holder_writes_nothing(tenant_a):
    job = _job(tenant_a)
    with tenant_context(tenant_a):
        slow = work_claim(Job, job.pk)
        work_progress(slow, done=2, checkpoint={"last": 2})
        _presumed_dead(slow)
        other = work_claim(Job, job.pk)
        assert other is not None
        assert other.claim_token != slow.claim_token
        assert other.started_at == slow.started_at  # a resumed job started when it first did
        assert (other.done, other.checkpoint) == (2, {"last": 2})

        for write in (
            lambda: work_progress(slow, done=5, checkpoint={"last": 99}),
            lambda: work_update(slow, total=1000),
            lambda: work_heartbeat(slow),
            lambda: work_finish(slow, RunStatus.FAILED, errors=[{"message": "slow"}]),
        ):
            with pytest.raises(WorkLostError):
                write()
        # The old holder's instance is not advanced by writes that did not happen.
        assert (slow.done, slow.total, slow.checkpoint) == (2, 0, {"last": 2})

        work_progress(other, done=1, checkpoint={"last": 3})
        row = Job.objects.get(pk=job.pk)
    assert (row.status, row.done, row.total, row.checkpoint, row.errors) == (
        RunStatus.RUNNING,
        3,
        0,
        {"last": 3},
        [],
    )


def test_running_work_that_beats_is_not_taken_over(tenant_a):
    job = _job(tenant_a)
    with tenant_context(tenant_a):
        holder = work_claim(Job, job.pk)
        Job.objects.filter(pk=job.pk).update(
            heartbeat_at=timezone.now() - STALE_AFTER + dt.timedelta(seconds=30)
        )
        assert work_claim(Job, job.pk) is None
        work_heartbeat(holder)  # still its own


def test_progress_adds_to_counters_and_records_the_checkpoint(tenant_a):
    job = _job(tenant_a)
    with tenant_context(tenant_a):
        work = work_claim(Job, job.pk)
        claimed_beat = work.heartbeat_at
        work_progress(work, done=3, failed=1, checkpoint={"cursor": "a"})
        work_progress(work, done=2, failed=0)  # no checkpoint: the last one stays
        assert (work.done, work.failed, work.checkpoint) == (5, 1, {"cursor": "a"})
        assert work.heartbeat_at > claimed_beat
        row = Job.objects.get(pk=job.pk)
    assert (row.done, row.failed, row.checkpoint, row.heartbeat_at) == (
        5,
        1,
        {"cursor": "a"},
        work.heartbeat_at,
    )


def test_update_keeps_the_instance_in_step_with_the_row(tenant_a):
    job = _job(tenant_a, total=10)
    with tenant_context(tenant_a):
        work = work_claim(Job, job.pk)
        work_update(work, done=F("done") + 4, total=F("total") * 3, params={"filters": {}})
        assert (work.done, work.total, work.params) == (4, 30, {"filters": {}})
        row = Job.objects.get(pk=job.pk)
    assert (row.done, row.total, row.params) == (4, 30, {"filters": {}})


def test_requeue_puts_running_work_back_and_enqueues_it_on_commit(
    tenant_a, django_capture_on_commit_callbacks
):
    job = _job(tenant_a)
    sent = []
    with tenant_context(tenant_a):
        work = work_claim(Job, job.pk)
        with django_capture_on_commit_callbacks() as callbacks:
            work_requeue(work, lambda tenant_id, pk: sent.append((tenant_id, pk)))
            assert sent == []  # not before the commit: the task must find it queued
        assert len(callbacks) == 1
        callbacks[0]()
        assert sent == [(tenant_a.pk, job.pk)]
        assert (work.status, Job.objects.get(pk=job.pk).status) == (RunStatus.QUEUED, RunStatus.QUEUED)
        again = work_claim(Job, job.pk)  # its task claims it at once: queued work needs no stale heartbeat
        assert again is not None


def test_a_lost_holder_cannot_requeue(tenant_a, django_capture_on_commit_callbacks):
    job = _job(tenant_a)
    with tenant_context(tenant_a):
        slow = work_claim(Job, job.pk)
        _presumed_dead(slow)
        assert work_claim(Job, job.pk) is not None
        with django_capture_on_commit_callbacks() as callbacks:
            work_requeue(slow, lambda tenant_id, pk: None)
        assert callbacks == []
        assert Job.objects.get(pk=job.pk).status == RunStatus.RUNNING


def test_finish_ends_the_work(tenant_a):
    job = _job(tenant_a)
    with tenant_context(tenant_a):
        work = work_claim(Job, job.pk)
        work_finish(work, RunStatus.PARTIAL, errors=[{"item": 1}])
        row = Job.objects.get(pk=job.pk)
        assert work_claim(Job, job.pk) is None  # finished work is never claimed again
    assert (row.status, row.errors, row.finished_at is not None) == (RunStatus.PARTIAL, [{"item": 1}], True)
    assert (work.status, work.finished_at) == (row.status, row.finished_at)


def test_the_sweep_reenqueues_only_stale_work_of_every_tenant(tenant_a, tenant_b, monkeypatch):
    monkeypatch.setattr(durable, "_registry", {})  # this kind alone, sent to a recorder
    sent: list[tuple[int, int]] = []
    durable_register(Job, lambda tenant_id, pk: sent.append((tenant_id, pk)))
    long_ago = timezone.now() - STALE_AFTER - dt.timedelta(minutes=1)

    lost_message = _job(tenant_a)  # queued, its task never came
    dead_worker = _job(tenant_b)  # running, its worker stopped beating
    beating = _job(tenant_a)
    just_queued = _job(tenant_a)  # its task is on the way
    finished = _job(tenant_b)
    for job in (dead_worker, beating, finished):
        with tenant_context(job.tenant):
            work_claim(Job, job.pk)
    with tenant_context(tenant_b):
        work_finish(Job.objects.get(pk=finished.pk), RunStatus.SUCCEEDED)
    Job.unscoped.exclude(pk=just_queued.pk).update(created_at=long_ago)
    _presumed_dead(dead_worker)
    _presumed_dead(finished)

    assert durable_requeue_stale() == 2
    assert sorted(sent) == sorted([(tenant_a.pk, lost_message.pk), (tenant_b.pk, dead_worker.pk)])


def test_contacts_syncs_and_jobs_are_swept():
    from contacts.models import SyncRun

    assert {SyncRun, Job} <= set(durable._registry)
