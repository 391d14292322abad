"""Group codes (reading back the groups WeCom creates for them) and group owner transfers."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from scrm.durable import ACTIVE_RUN_STATUSES
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Tenant
from scrm.tenancy.tasks import tenant_task
from scrm.wecom.api import api_for
from scrm.wecom.errors import WeComError

from ..models import Group, GroupTransfer, JoinWay
from ..services import join_ways, transfers
from .sync import refresh_schedule, retry_delay

logger = logging.getLogger(__name__)

TRANSFER_ATTEMPTS = 8
TRANSFER_MAX_WAIT = 300  # seconds; under the broker's visibility timeout (DESIGN.md §7)
# A transfer still unfinished this long after it was asked for has lost its task (a retry chain of
# TRANSFER_ATTEMPTS waits of at most TRANSFER_MAX_WAIT, and its runs, end well before).
TRANSFER_STALE_AFTER = dt.timedelta(hours=2)


@shared_task(name="groups.join_ways_refresh_all", queue_name="default", time_limit=120, soft_time_limit=110)
def join_ways_refresh_all() -> int:
    """Beat: every tenant with group codes that open new groups gets them read back."""
    queued = 0
    for tenant in Tenant.objects.filter(is_active=True).exclude(corp_id=""):
        with tenant_context(tenant):
            if JoinWay.objects.filter(auto_create_room=True).exists():
                join_ways_refresh.apply_async((tenant.pk,))
                queued += 1
    return queued


@tenant_task(name="groups.join_ways_refresh", queue="default", time_limit=600)
def join_ways_refresh(tenant) -> int:
    """Read the tenant's auto-creating group codes back: groups WeCom opened join their lists (and
    get synced). Returns how many new groups were found."""
    api = api_for(tenant)
    found = 0
    for way in JoinWay.objects.filter(auto_create_room=True).order_by("pk"):
        try:
            found += len(join_ways.join_way_refresh(way=way, api=api))
        except WeComError as exc:
            # The next beat tries again; the code keeps the groups it had meanwhile.
            logger.warning("group code %s of tenant %s not read back: %s", way.pk, tenant.pk, exc)
    return found


@tenant_task(name="groups.reread_chats", queue="default", time_limit=600)
def groups_reread(tenant, chat_ids: list[str], attempt: int = 1) -> int:
    """Read these groups WeCom opened for a group code; after a rate limit or a transient failure, all
    of them again later (a read applied twice writes nothing). A group WeCom does not show yet (it
    settles a few seconds after it is opened) is refreshed until it does, as a new group."""
    try:
        read = join_ways.groups_reread(tenant=tenant, chat_ids=chat_ids)
    except WeComError as exc:
        wait = retry_delay(exc, attempt)
        if wait is None:
            raise
        groups_reread.apply_async((tenant.pk, chat_ids, attempt + 1), countdown=wait)
        return 0
    known = set(Group.objects.filter(chat_id__in=chat_ids).values_list("chat_id", flat=True))
    for chat_id in dict.fromkeys(chat_ids):
        if chat_id not in known:
            refresh_schedule(tenant=tenant, chat_id=chat_id, exists=True, first_import_joins=True)
    return read


# acks_late: the run is idempotent (only pending items are sent; see services.transfers), so a
# worker that dies mid-run has its message delivered again rather than lost.
@tenant_task(name="groups.transfer_run", queue="default", time_limit=15 * 60, acks_late=True)
def group_transfer_run(tenant, transfer_id: int, attempt: int = 1) -> None:
    transfer = GroupTransfer.objects.select_related("new_owner").filter(pk=transfer_id).first()
    if transfer is None:
        return
    wait = transfers.group_transfer_run(transfer=transfer)
    if wait is None:
        return
    if attempt >= TRANSFER_ATTEMPTS:
        transfers.group_transfer_finish(
            transfer=transfer, give_up="WeCom did not answer (busy or unreachable): try these groups again."
        )
        return
    group_transfer_run.apply_async(
        (tenant.pk, transfer_id, attempt + 1), countdown=min(TRANSFER_MAX_WAIT, wait * attempt)
    )


@shared_task(name="groups.requeue_stale_transfers", queue_name="default", time_limit=60, soft_time_limit=50)
def requeue_stale_transfers() -> int:
    """Run again the transfers whose task was lost (a message dropped, a worker gone for good).

    As their last attempt: the run sends only pending items and never a group twice (see
    services.transfers), and if WeCom still does not answer the rest fail with the reason rather
    than wait forever.
    """
    stale = list(
        GroupTransfer.unscoped.filter(
            status__in=ACTIVE_RUN_STATUSES,
            finished_at__isnull=True,
            created_at__lt=timezone.now() - TRANSFER_STALE_AFTER,
        ).values_list("tenant_id", "pk")
    )
    for tenant_id, transfer_id in stale:
        group_transfer_run.delay(tenant_id, transfer_id, TRANSFER_ATTEMPTS)
    return len(stale)
