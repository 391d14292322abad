"""Sync tasks: the full sync of one tenant (bulk queue) and the nightly reconciliation; runs whose worker
died are resumed by the stale-work sweep of scrm.durable."""

from __future__ import annotations

import logging

from celery import shared_task

from scrm.durable import RunStatus, WorkLostError, durable_register
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Tenant
from scrm.tenancy.tasks import tenant_task
from scrm.wecom.errors import WeComRateLimitedError

from .. import sync
from ..models import SyncKind, SyncRun
from ..services.settings import contact_settings_get

logger = logging.getLogger(__name__)


# acks_late: a sync killed with its worker is delivered again and resumes from its checkpoint (each
# batch of pages is written with the checkpoint in one transaction); the claim makes a duplicate delivery of
# a run that is still beating a no-op. The time limit is generous: 100,000 customers take minutes.
@tenant_task(name="contacts.sync_full", queue="bulk", time_limit=4 * 60 * 60, acks_late=True)
def sync_full(tenant, run_id: int) -> None:
    run = sync.sync_run_claim(run_id)
    if run is None:
        return
    try:
        run = sync.sync_run_execute(run)
    except WorkLostError:
        logger.warning("Sync run %s was taken over by another worker; this one stops", run_id)
        return
    except WeComRateLimitedError as exc:
        # The run went back to the queue with its checkpoint: pick it up when WeCom's window ends.
        sync_full.apply_async((tenant.pk, run_id), countdown=exc.retry_after)
        return
    if run.trigger == "schedule" and run.status == RunStatus.SUCCEEDED:
        _nightly_then(tenant)


def _nightly_then(tenant) -> None:
    """The nightly contacts run succeeded: the other kinds (customer groups) start now, so that they
    see the staff it brought (a group's owner hired that day)."""
    for kind in sync.SYNC_TASKS:
        if kind != SyncKind.CONTACTS:
            sync.sync_run_start(tenant=tenant, trigger="schedule", kind=kind)


sync.sync_kind_register(SyncKind.CONTACTS, sync_full)
durable_register(SyncRun, sync.sync_run_enqueue)


@shared_task(name="contacts.sync_nightly", queue_name="bulk", time_limit=300, soft_time_limit=280)
def sync_nightly() -> int:
    """Reconcile every connected tenant that wants it (callbacks can be lost): its contacts, then its
    customer groups (started when the contacts run succeeds, see ``sync_full``). Returns how many
    contacts runs are queued or running for them (a tenant already syncing keeps its run: when that
    is not a scheduled one, which would not start the groups, they start now)."""
    runs = 0
    for tenant in Tenant.objects.filter(is_active=True).exclude(corp_id=""):
        if not tenant.corp_secret:  # encrypted at rest: checked here, not in SQL
            continue
        with tenant_context(tenant):
            if contact_settings_get(tenant=tenant).nightly_sync:
                run = sync.sync_run_start(tenant=tenant, trigger="schedule")
                runs += 1
                if run.trigger != "schedule":
                    _nightly_then(tenant)
    return runs
