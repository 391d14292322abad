"""Background jobs started from the API (bulk tag/untag, export, transfers): one lifecycle for all.

A job is durable work (scrm.durable): created queued (once per ``Idempotency-Key``), enqueued on
commit, claimed by exactly one worker with a conditional UPDATE, advanced in chunks that record
progress, a heartbeat and a checkpoint, and finished as succeeded, partial (some items failed) or
failed. A job whose worker died is found by its stale heartbeat and re-enqueued by the stale-work
sweep; its runner resumes from the checkpoint.

Runners are registered per kind with ``@job_runner(kind)`` and receive the claimed job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import import_module
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from scrm.durable import RunStatus, WorkLostError, work_claim, work_finish, work_update
from scrm.tenancy.actors import Actor
from scrm.tenancy.principal import Principal

from ..models import Job

logger = logging.getLogger(__name__)

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


def job_claim(job_id: int) -> Job | None:
    """Claim a queued job, or a running one whose worker stopped beating; None if someone else has it."""
    return work_claim(Job, job_id)


def job_progress(
    job: Job, *, done: int = 0, failed: int = 0, errors: list[dict] = (), checkpoint=None
) -> None:
    """Add to the counters, keep the items' errors (up to MAX_ERRORS_KEPT) and record the checkpoint in
    one UPDATE fenced by the job's claim, which keeps the heartbeat fresh (``work_update``).

    Raises WorkLostError when another worker holds the job now; called inside the transaction of the
    chunk's writes, that rolls them back, and the new holder redoes the chunk from the checkpoint.
    """
    updates: dict[str, Any] = {"done": F("done") + done, "failed": F("failed") + failed}
    if checkpoint is not None:
        updates["checkpoint"] = checkpoint
    if errors and len(job.errors) < MAX_ERRORS_KEPT:
        updates["errors"] = [*job.errors, *errors][:MAX_ERRORS_KEPT]
    work_update(job, **updates)


def job_set_total(job: Job, total: int) -> None:
    work_update(job, total=total)


def job_finish(job: Job, *, error: str = "") -> Job:
    """Succeeded, partial (some items failed) or failed (``error``: the whole job could not run).

    A worker that lost the job leaves it to the new holder, which finishes it; so does a transfers poll
    that finds the job claimed again meanwhile."""
    errors = job.errors
    if error:
        status = RunStatus.FAILED
        errors = [*errors, {"item": None, "code": "job_failed", "message": error}][-MAX_ERRORS_KEPT:]
    else:
        status = RunStatus.PARTIAL if job.failed else RunStatus.SUCCEEDED
    try:
        work_finish(job, status, errors=errors)
    except WorkLostError:
        logger.info("Job %s (%s) is held by another worker, which finishes it", job.pk, job.kind)
    return job
