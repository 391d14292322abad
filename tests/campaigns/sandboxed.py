"""Campaigns against the in-process WeCom sandbox: tenant A connected and synced, campaigns, the
sandbox's view of the mass messages it received.

Import the fixtures into a test module (``from tests.campaigns.sandboxed import synced  # noqa``);
``sandbox`` and ``connected`` come from the WeCom and contacts tests' conftests.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from campaigns.models import Campaign, CampaignRecipient, CampaignTask
from campaigns.services.dispatch import dispatch_start
from scrm.tenancy.context import tenant_context
from tests.contacts.builders import run_sync
from tests.contacts.conftest import connected  # noqa: F401 -- fixture reused here
from tests.helpers import sandbox_control
from tests.wecom.conftest import sandbox, sandbox_factory  # noqa: F401 -- fixtures reused here


@pytest.fixture
def synced(connected):  # noqa: F811 -- the imported fixture
    """Tenant A connected to the small sandbox corp (8 staff, 300 customers) after a contacts sync."""
    run = run_sync(connected)
    assert run.status == "succeeded", run.errors
    return connected


def campaign_make(tenant, **fields: Any) -> Campaign:
    """A draft campaign to every customer (the contacts list with no filter), text only."""
    fields.setdefault("name", "Spring sale")
    fields.setdefault("audience", {"filters": {}})
    fields.setdefault("text", "春季新品上市，欢迎到店体验！")
    with tenant_context(tenant):
        return Campaign.objects.create(**fields)


def dispatch(campaign: Campaign, capture) -> Campaign:
    """``dispatch_start`` as "send now" calls it; the run happens when the transaction commits
    (``capture`` is pytest-django's ``django_capture_on_commit_callbacks``; Celery is eager)."""
    with tenant_context(campaign.tenant), capture(execute=True):
        dispatch_start(campaign=campaign)
    campaign.refresh_from_db()
    return campaign


def mass_messages(sandbox, **query: str) -> list[dict[str, Any]]:  # noqa: F811 -- a parameter
    """What the sandbox holds (``records/mass-messages``), oldest first."""
    suffix = "&".join(f"{k}={v}" for k, v in query.items())
    return sandbox_control(sandbox, f"records/mass-messages{'?' + suffix if suffix else ''}")["mass_messages"]


def targets_sha256(targets: list[str]) -> str:
    """The sandbox's fingerprint of a task's targets (sorted, joined by newlines)."""
    return hashlib.sha256("\n".join(sorted(targets)).encode()).hexdigest()


def tasks_of(campaign: Campaign) -> list[CampaignTask]:
    with tenant_context(campaign.tenant):
        return list(CampaignTask.objects.filter(campaign=campaign).select_related("staff").order_by("pk"))


def recipients_of(campaign: Campaign, **filters: Any) -> list[CampaignRecipient]:
    with tenant_context(campaign.tenant):
        return list(CampaignRecipient.objects.filter(campaign=campaign, **filters).order_by("pk"))


def confirm(sandbox, task: CampaignTask) -> dict[str, Any]:  # noqa: F811 -- a parameter
    """The task's member taps "send" in WeCom."""
    return sandbox_control(
        sandbox, "simulate/staff-confirm-msg", {"msgid": task.msgid, "userid": task.staff.userid}
    )
