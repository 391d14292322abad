"""Channel codes: auto-tags of new customers, members by schedule and daily cap, the demo's codes.

(The WeCom copies of welcome attachments are kept fresh by the library: ``library.tasks``.)"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction
from django.db.models import Q

from library.demo import LINK, POSTER, demo_library_seed
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Tenant
from scrm.tenancy.tasks import tenant_task
from scrm.wecom.api import api_for
from scrm.wecom.errors import WeComError, WeComRateLimitedError

from ..models import ContactWay, Follow, Staff, Tag
from ..services import channels, tagging, welcome

logger = logging.getLogger(__name__)

AUTOTAG_ATTEMPTS = 5


@tenant_task(name="contacts.channel_autotag", queue="default", time_limit=60)
def channel_autotag(tenant, follow_id: int, tag_wecom_ids: list[str], attempt: int = 1) -> None:
    """Tag a new customer's follow with its channel's tags; on failure, try again with backoff.

    Each attempt plans against the follow as it is now, so tags WeCom accepted before (or that the
    follow had already) are never sent or recorded twice.
    """
    follow = Follow.objects.select_related("contact", "staff").filter(pk=follow_id).first()
    if follow is None:
        return
    marks, _ = tagging.plan_marks([follow], add=tag_wecom_ids, remove=[])
    tagging.send_marks(api_for(tenant), marks)
    accepted = [m for m in marks if m.error is None]
    with transaction.atomic():
        tagging.apply_marks(accepted)
    failed = [m for m in marks if m.error is not None]
    if not failed:
        return
    error = failed[0].error
    if attempt >= AUTOTAG_ATTEMPTS:
        logger.error("auto-tags of follow %s not applied after %s attempts: %s", follow_id, attempt, error)
        return
    delay = error.retry_after if isinstance(error, WeComRateLimitedError) else 10 * 2 ** (attempt - 1)
    channel_autotag.apply_async((tenant.pk, follow_id, tag_wecom_ids, attempt + 1), countdown=min(delay, 300))


# realtime: during a burst of adds the default queue runs behind, and a cap must bite at once.
@tenant_task(name="contacts.channel_refresh", queue="realtime", time_limit=60)
def channel_refresh(tenant, way_id: int) -> bool:
    """Put the members the schedule and caps want now on one code (after an add reached a cap)."""
    way = ContactWay.objects.filter(pk=way_id).first()
    if way is None:
        return False
    try:
        return channels.channel_apply(way=way)
    except WeComError as exc:
        # The next minute's beat tries again; the code keeps its current members meanwhile.
        logger.warning("channel code %s not updated: %s", way_id, exc)
        return False


@shared_task(name="contacts.channels_refresh_all", queue_name="default", time_limit=120, soft_time_limit=110)
def channels_refresh_all() -> int:
    """Every minute: codes with a schedule or a daily cap get the members they should have now."""
    queued = 0
    for tenant in Tenant.objects.filter(is_active=True).exclude(corp_id=""):
        with tenant_context(tenant):
            ways = ContactWay.objects.filter(~Q(schedule=[]) | Q(daily_cap__isnull=False)).values_list(
                "pk", flat=True
            )
            for way_id in ways:
                channel_refresh.apply_async((tenant.pk, way_id))
                queued += 1
    return queued


DEMO_SEED_ATTEMPTS = 30


@tenant_task(name="contacts.demo_channels_seed", queue="default", time_limit=60)
def demo_channels_seed(tenant, attempt: int = 1) -> int:
    """The demo tenant's first channel codes, once its staff are synced (``seed_demo`` queues this).

    It waits for the first sync (and the sandbox) by trying again a little later; a tenant that has
    codes already is left alone, so a restart never adds more.
    """
    if ContactWay.objects.exists():
        return 0
    staff = list(Staff.objects.filter(has_contact_permission=True, is_active=True).order_by("pk")[:4])
    if len(staff) < 4:
        if attempt < DEMO_SEED_ATTEMPTS:
            demo_channels_seed.apply_async((tenant.pk, attempt + 1), countdown=10)
        return 0
    tags = list(Tag.objects.filter(deleted=False).order_by("pk")[:2])
    materials = demo_library_seed()
    # The poster goes by media/upload, the link by its URL: both are what the demo's sandbox takes.
    attachments = [{"material_id": materials[title].pk} for title in (POSTER, LINK) if title in materials]
    welcome.welcome_default_set(
        tenant=tenant, welcome={"text": "您好 {customer_name}，我是{staff_name}，很高兴为您服务！"}
    )
    channels.channel_create(
        name="门店海报 Store poster",
        user_ids=[s.pk for s in staff[:3]],
        multi=True,
        tag_ids=[t.pk for t in tags[:1]],
        welcome={
            "text": "{customer_name} 您好！我是门店顾问{staff_name}，送您一份新人礼：",
            "attachments": attachments,
        },
    )
    channels.channel_create(
        name="公众号菜单 Official account", user_ids=[staff[3].pk], tag_ids=[t.pk for t in tags[1:]]
    )
    channels.channel_create(
        name="直播间 Live stream",
        user_ids=[s.pk for s in staff[:2]],
        multi=True,
        daily_cap=50,
        backup_user_ids=[staff[2].pk],
        tag_ids=[t.pk for t in tags],
        welcome={"text": "欢迎来到直播间，{customer_name}！有问题随时找我（{staff_name}）。"},
    )
    return 3
