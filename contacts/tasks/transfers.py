"""Polling WeCom for the outcome of waiting customer transfers (they complete after 24 hours)."""

from __future__ import annotations

from celery import shared_task

from scrm.tenancy.tasks import tenant_task

from ..models import TransferItem, TransferStatus
from ..services import transfers


@shared_task(name="contacts.poll_transfers", queue_name="default", time_limit=60, soft_time_limit=50)
def poll_transfers() -> int:
    """Beat: one polling task per tenant with waiting transfers."""
    tenant_ids = list(
        TransferItem.unscoped.filter(status=TransferStatus.WAITING)
        .values_list("tenant_id", flat=True)
        .distinct()
    )
    for tenant_id in tenant_ids:
        poll_tenant_transfers.delay(tenant_id)
    return len(tenant_ids)


@tenant_task(name="contacts.poll_tenant_transfers", queue="bulk", time_limit=15 * 60)
def poll_tenant_transfers(tenant) -> int:
    return transfers.transfers_poll_tenant(tenant=tenant)
