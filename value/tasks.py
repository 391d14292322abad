"""Value tasks: the minute tick (incremental pass per tenant with new events), the nightly pass (every
customer again: time alone makes a customer silent; points expire; old idempotency records go) and a
recompute of one tenant (after its thresholds changed, or "recompute now").

Thin: they take ids and call services. A pass locks its tenant's cursor row, so a tick that overlaps
the nightly pass waits for it and then finds little left to do.
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from scrm.tenancy.models import Tenant
from scrm.tenancy.tasks import tenant_task

from .models import IngestBatch
from .services.points import points_expire
from .services.scoring import tenants_with_new_events, value_recompute_full, value_recompute_incremental

logger = logging.getLogger(__name__)

# An Idempotency-Key answers the same batch again for this long (value.services.ingest).
INGEST_BATCH_KEEP = dt.timedelta(hours=24)


# Idempotent (the same figures again; events only for tiers that change), so acknowledged late: a
# worker that dies mid-pass leaves it to run again.
@tenant_task(name="value.incremental", queue="bulk", time_limit=10 * 60, acks_late=True)
def incremental(tenant) -> None:
    value_recompute_incremental(tenant=tenant)


@tenant_task(name="value.recompute", queue="bulk", time_limit=60 * 60, acks_late=True)
def recompute(tenant, nightly: bool = False) -> None:
    """Every customer of the tenant; ``nightly`` also expires the points that are due."""
    value_recompute_full(tenant=tenant)
    if nightly:
        points_expire(tenant=tenant, now=timezone.now())


@shared_task(name="value.tick", queue_name="default", time_limit=120, soft_time_limit=110)
def tick() -> int:
    """Every minute: an incremental pass for each tenant with events past its cursor."""
    tenant_ids = tenants_with_new_events()
    for tenant_id in tenant_ids:
        incremental.delay(tenant_id)
    return len(tenant_ids)


@shared_task(name="value.nightly", queue_name="default", time_limit=300, soft_time_limit=280)
def nightly() -> int:
    """At night (03:40 China time): a full pass and the points expiry for every active tenant, and
    idempotency records past their 24 hours deleted."""
    deleted, _ = IngestBatch.unscoped.filter(created_at__lt=timezone.now() - INGEST_BATCH_KEEP).delete()
    if deleted:
        logger.info("Deleted %s expired ingest batches", deleted)
    tenant_ids = list(Tenant.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        recompute.delay(tenant_id, nightly=True)
    return len(tenant_ids)


# The demo's first sync takes a few seconds; past five minutes something else is wrong.
DEMO_ATTEMPTS = 30


@tenant_task(name="value.demo_seed", queue="default", time_limit=300)
def demo_seed(tenant, attempt: int = 1) -> None:
    """The demo tenant's orders and custom events (value.services.demo), once its first contacts sync
    has succeeded (``seed_demo`` queues this); tried again every 10 seconds until then."""
    from .services.demo import demo_value_seed_after_sync

    if not demo_value_seed_after_sync(tenant=tenant) and attempt < DEMO_ATTEMPTS:
        demo_seed.apply_async((tenant.pk, attempt + 1), countdown=10)
