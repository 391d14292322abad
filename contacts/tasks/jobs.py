"""The one task every contacts job runs in; the work is the registered runner of the job's kind."""

from __future__ import annotations

import logging

from celery.exceptions import SoftTimeLimitExceeded

from scrm.durable import WorkLostError, durable_register, work_requeue
from scrm.tenancy.tasks import tenant_task

from ..models import Job
from ..services import jobs

logger = logging.getLogger(__name__)


@tenant_task(name="contacts.run_job", queue="bulk", time_limit=60 * 60, acks_late=True)
def run_job(tenant, job_id: int) -> None:
    # acks_late: a job killed with its worker is delivered again and resumes from its checkpoint;
    # the claim makes a duplicate delivery of a job already running a no-op.
    job = jobs.job_claim(job_id)
    if job is None:
        return
    try:
        finished = jobs.runner_for(job.kind)(job)
    except WorkLostError:
        logger.warning("Job %s (%s) was taken over by another worker; this one stops", job.pk, job.kind)
        return
    except SoftTimeLimitExceeded:
        # A big job outlives one task: it goes back to the queue and resumes from its checkpoint.
        work_requeue(job, run_job.delay)
        return
    except Exception as exc:
        logger.exception("Job %s (%s) failed", job.pk, job.kind)
        jobs.job_finish(job, error=str(exc) or type(exc).__name__)
        return
    # A runner returns False when its work goes on outside the job (transfers wait for WeCom's
    # results, up to 24 h); whoever sees the last result finishes the job.
    if finished is not False:
        jobs.job_finish(job)


durable_register(Job, run_job.delay)
