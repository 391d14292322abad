"""Background jobs started from the API (bulk tag/untag, export, transfers): one lifecycle for all.

A job is created queued (once per ``Idempotency-Key``), enqueued on commit, claimed by exactly one
worker with a conditional UPDATE, advanced in chunks that record progress, a heartbeat and a
checkpoint, and finished as succeeded, partial (some items failed) or failed. A job whose worker
died is found by its stale heartbeat and re-enqueued; its runner resumes from the checkpoint.

Runners are registered per kind with ``@job_runner(kind)`` and receive the claimed job.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from scrm.tenancy.actors import Actor
from scrm.tenancy.principal import Principal

from ..models import STALE_AFTER, Job, RunStatus, claimable_q

MAX_ERRORS_KEPT = 500  # per-item failures listed on the job; ``failed`` counts them all

Runner = Callable[[Job], bool | None]  # False: not finished yet (see tasks.jobs.run_job)
_runners: dict[str, Runner] = {}


def job_runner(kind: str) -> Callable[[Runner], Runner]:
    def decorator(fn: Runner) -> Runner:
        if kind in _runners:
            raise ValueError(f"a runner for {kind!r} jobs is already registered")
        _runners[kind] = fn
        return fn

    return decorator


# The modules whose ``@job_runner`` functions handle each kind, imported when the first job runs.
RUNNER_MODULES = ("contacts.services.exports", "contacts.services.tagging", "contacts.services.transfers")


def runner_for(kind: str) -> Runner:
    for module in RUNNER_MODULES:
        import_module(module)
    return _runners[kind]


def job_create(
    *, principal: Principal, kind: str, params: dict[str, Any], total: int = 0, idempotency_key: str = ""
) -> tuple[Job, bool]:
    """The job for this request, and whether it is new: a repeated ``Idempotency-Key`` returns the first."""
    from ..tasks.jobs import run_job

    # The creator's data scope travels with the job: the worker acts within it, never beyond.
    params = {
        **params,
        "scope": {
            "role": principal.role,
            "data_scope": principal.data_scope,
            "wecom_userid": principal.wecom_userid,
            "department_ids": list(principal.department_ids),
        },
    }
    actor = Actor.of(principal)
    # A key is the caller's own: the same key from another member or API key is another request.
    key = (idempotency_key or "").strip()[:100]
    if key:
        key = f"{actor.idempotency_scope()}:{key}"
    if key:
        existing = Job.objects.filter(kind=kind, idempotency_key=key).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            job = Job.objects.create(
                kind=kind,
                params=params,
                total=total,
                idempotency_key=key,
                **actor.as_fields("created_by"),
            )
    except IntegrityError:
        # Two requests with the same key raced; the other one created it.
        return Job.objects.get(kind=kind, idempotency_key=key), False
    run_job.delay_on_commit(job.tenant_id, job.pk)
    return job, True


def job_principal(job: Job) -> Principal:
    """The job's creator as the principal its runner acts as (see ``job_create``)."""
    scope = job.params["scope"]
    return Principal(
        tenant=job.tenant,
        role=scope["role"],
        data_scope=scope["data_scope"],
        wecom_userid=scope["wecom_userid"],
        department_ids=tuple(scope["department_ids"]),
        user=job.created_by,
        api_key=job.created_by_api_key,
    )


class JobLostError(Exception):
    """Another worker claimed the job (this one stopped beating for too long): stop, write nothing."""


def _mine(job: Job):
    """The job's row, as long as this worker's claim holds: each claim sets a new ``started_at``,
    which fences off a worker that was presumed dead but was only slow."""
    return Job.objects.filter(pk=job.pk, started_at=job.started_at)


def job_claim(job_id: int) -> Job | None:
    """Claim a queued job, or a running one whose worker stopped beating; None if someone else has it."""
    now = timezone.now()
    claimed = Job.objects.filter(claimable_q(now), pk=job_id).update(
        status=RunStatus.RUNNING, started_at=now, heartbeat_at=now
    )
    return Job.objects.get(pk=job_id) if claimed else None


def job_progress(
    job: Job, *, done: int = 0, failed: int = 0, errors: list[dict] = (), checkpoint=None
) -> None:
    """Add to the counters (and record the checkpoint) in one UPDATE; keeps the heartbeat fresh.

    Raises JobLostError when another worker holds the job now; called inside the transaction of the
    chunk's writes, that rolls them back, and the new holder redoes the chunk from the checkpoint.
    """
    updates: dict[str, Any] = {
        "done": F("done") + done,
        "failed": F("failed") + failed,
        "heartbeat_at": timezone.now(),
    }
    if checkpoint is not None:
        updates["checkpoint"] = checkpoint
        job.checkpoint = checkpoint
    if not _mine(job).update(**updates):
        raise JobLostError(job.pk)
    job.done += done
    job.failed += failed
    if errors and len(job.errors) < MAX_ERRORS_KEPT:
        job.errors = [*job.errors, *errors][:MAX_ERRORS_KEPT]
        _mine(job).update(errors=job.errors)


def job_heartbeat(job: Job) -> None:
    """Tell the stale-job sweep this worker is alive during long stretches of WeCom calls."""
    if not _mine(job).update(heartbeat_at=timezone.now()):
        raise JobLostError(job.pk)


def job_requeue(job: Job) -> None:
    """Put the job back in the queue to resume from its checkpoint (e.g. at the task's time limit)."""
    from ..tasks.jobs import run_job

    if _mine(job).filter(status=RunStatus.RUNNING).update(status=RunStatus.QUEUED):
        run_job.delay_on_commit(job.tenant_id, job.pk)


def job_set_total(job: Job, total: int) -> None:
    job.total = total
    if not _mine(job).update(total=total):
        raise JobLostError(job.pk)


def job_finish(job: Job, *, error: str = "") -> Job:
    """Succeeded, partial (some items failed) or failed (``error``: the whole job could not run)."""
    if error:
        job.status = RunStatus.FAILED
        job.errors = [*job.errors, {"item": None, "code": "job_failed", "message": error}][-MAX_ERRORS_KEPT:]
    else:
        job.status = RunStatus.PARTIAL if job.failed else RunStatus.SUCCEEDED
    job.finished_at = timezone.now()
    _mine(job).update(status=job.status, errors=job.errors, finished_at=job.finished_at)
    return job


def jobs_requeue_stale() -> int:
    """Re-enqueue jobs whose worker died (beat calls this); the runner resumes from the checkpoint."""
    from ..tasks.jobs import run_job

    now = timezone.now()
    stale = list(
        Job.unscoped.filter(claimable_q(now), created_at__lt=now - STALE_AFTER).values_list("tenant_id", "pk")
    )
    for tenant_id, job_id in stale:
        run_job.delay(tenant_id, job_id)
    return len(stale)
