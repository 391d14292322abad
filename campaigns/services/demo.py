"""The demo tenant's campaign: sent to its customers through the local sandbox, with results.

``seed_demo`` queues ``campaigns.demo_seed`` a little after the first sync; it waits (tries again) until
the customers are synced, then makes one campaign (once: its Idempotency-Key is fixed) and dispatches
it. ``campaigns.demo_results`` then has two thirds of the members tap "send" through the sandbox's
control route and polls, so the dashboard shows a campaign with results at once; the sandbox (``make
run`` starts it with members who confirm by themselves within minutes, some never) and the poll
schedule bring the rest, and leave a few members to remind.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from urllib.parse import urlsplit

from django.db import transaction

from contacts.models import SyncKind, SyncRun
from scrm.durable import RunStatus
from scrm.tenancy.models import Tenant

from ..models import Campaign, CampaignStatus, CampaignTask, TaskStatus
from .dispatch import dispatch_start
from .results import campaign_poll

logger = logging.getLogger(__name__)

DEMO_KEY = "demo-seed"
DEMO_NAME = "双十二会员日 Member day"
DEMO_TEXT = "亲爱的会员，双十二会员日全场 8 折，到店出示本消息再送精美礼品一份！回复 TD 退订"
CONFIRM_SHARE = 2 / 3


def demo_campaign_seed(*, tenant: Tenant) -> Campaign | None:
    """The demo campaign, made and dispatched once the first contacts sync succeeded; None until then."""
    existing = Campaign.objects.filter(idempotency_key=DEMO_KEY).first()
    if existing is not None:
        return existing
    synced = SyncRun.objects.filter(kind=SyncKind.CONTACTS, status=RunStatus.SUCCEEDED).exists()
    if not synced:
        return None
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=DEMO_NAME, audience={"filters": {}}, text=DEMO_TEXT, idempotency_key=DEMO_KEY
        )
        dispatch_start(campaign=campaign)
    return campaign


def demo_campaign_results(*, tenant: Tenant, campaign: Campaign) -> bool:
    """Two thirds of the members send their tasks (through the sandbox), then the results are read.
    False while the dispatch has not finished yet (the caller tries again)."""
    campaign.refresh_from_db()
    if campaign.status == CampaignStatus.DISPATCHING:
        return False
    if campaign.status != CampaignStatus.SENT:
        return True
    control = _sandbox_control_base(tenant)
    if control:
        tasks = list(
            CampaignTask.objects.filter(
                campaign=campaign, status=TaskStatus.CREATED, confirmed_at__isnull=True
            )
            .select_related("staff")
            .order_by("-recipients", "pk")
        )
        for task in tasks[: round(len(tasks) * CONFIRM_SHARE)]:
            _confirm(control, task)
    campaign_poll(campaign=campaign)
    return True


def _sandbox_control_base(tenant: Tenant) -> str:
    """The local sandbox's control API, or "" when the tenant is on a real WeCom."""
    base = tenant.api_base or ""
    parts = urlsplit(base)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
        return ""
    if not base.rstrip("/").endswith("cgi-bin"):
        return ""
    return base.rstrip("/").removesuffix("cgi-bin") + "sandbox/"


def _confirm(control: str, task: CampaignTask) -> None:
    body = json.dumps({"msgid": task.msgid, "userid": task.staff.userid}).encode()
    # The URL is the tenant's own sandbox, over http on the loopback (_sandbox_control_base).
    url = control + "simulate/staff-confirm-msg"
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass
    except OSError as exc:
        # Already sent (the sandbox's members confirm by themselves too): nothing to do.
        logger.info("demo: task %s not confirmed through the sandbox: %s", task.pk, exc)
