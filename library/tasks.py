"""The library's background work: WeCom copies of materials, made before a message needs them."""

from __future__ import annotations

import logging

from celery import shared_task

from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Tenant
from scrm.tenancy.tasks import tenant_task
from scrm.wecom.api import api_for
from scrm.wecom.errors import WeComError

from . import services
from .owners import fast_path_owner_types

logger = logging.getLogger(__name__)


@tenant_task(name="library.media_upload", queue="default", time_limit=600)
def media_upload(tenant, material_ids: list[int]) -> int:
    """The media of attachments just saved, uploaded before their first message needs them."""
    try:
        return services.media_ensure_for(api=api_for(tenant), material_ids=material_ids)
    except WeComError as exc:
        # The send uploads what is missing itself; this was only to spare it the wait.
        logger.warning("materials %s of tenant %s not uploaded ahead: %s", material_ids, tenant.pk, exc)
        return 0


@shared_task(name="library.media_refresh", queue_name="default", time_limit=600, soft_time_limit=590)
def media_refresh() -> int:
    """Upload again the media WeCom is about to forget (its media ids live 3 days) of the materials that
    fast-path owners use (welcome messages: 20 seconds to greet), so that they never wait for an upload."""
    owner_types = fast_path_owner_types()
    refreshed = 0
    for tenant in Tenant.objects.filter(is_active=True).exclude(corp_id=""):
        with tenant_context(tenant):
            try:
                refreshed += services.media_refresh(api=api_for(tenant), owner_types=owner_types)
            except WeComError as exc:
                logger.warning("materials of tenant %s not refreshed: %s", tenant.pk, exc)
    return refreshed
