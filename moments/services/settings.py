"""The tenant's Moments rules: one row per tenant, created with the defaults on first read."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ErrorDetail, ValidationError

from campaigns.models import CampaignSettings
from campaigns.services.settings import zone_named

from ..models import MomentSettings

# The manager digest goes out at this hour of the tenant's day (its campaigns time zone).
DIGEST_HOUR = 18
# A week: past it a reminder no longer helps (tracking reads a post daily from its second day on).
REMIND_AFTER_HOURS_MAX = 168
FIELDS = ("remind_after_hours", "manager_digest")


def moment_settings_get(*, tenant) -> MomentSettings:
    """The tenant's settings, made with the defaults the first time anyone reads them."""
    settings = MomentSettings.objects.filter(tenant=tenant).first()
    if settings is not None:
        return settings
    try:
        with transaction.atomic():
            return MomentSettings.objects.create(tenant=tenant)
    except IntegrityError:
        # Two first reads raced; the other one made it.
        return MomentSettings.objects.get(tenant=tenant)


def moment_settings_update(*, tenant, data: dict[str, Any]) -> MomentSettings:
    """Change the fields given: ``remind_after_hours`` (0 to 168; 0: no automatic reminders) and
    ``manager_digest`` (a boolean). Anything else is refused with its field."""
    errors: dict[str, Any] = {}
    for field in data:
        if field not in FIELDS:
            errors[field] = [
                ErrorDetail(f"Not a Moments setting (one of: {', '.join(FIELDS)}).", code="unknown_field")
            ]
    hours = data.get("remind_after_hours", 0)
    if "remind_after_hours" in data and (
        not isinstance(hours, int) or isinstance(hours, bool) or not 0 <= hours <= REMIND_AFTER_HOURS_MAX
    ):
        errors["remind_after_hours"] = [
            ErrorDetail(
                f"Hours from 0 (no automatic reminders) to {REMIND_AFTER_HOURS_MAX}.", code="out_of_range"
            )
        ]
    if "manager_digest" in data and not isinstance(data["manager_digest"], bool):
        errors["manager_digest"] = [ErrorDetail("true or false.", code="invalid")]
    if errors:
        raise ValidationError(errors)
    settings = moment_settings_get(tenant=tenant)
    for field, value in data.items():
        setattr(settings, field, value)
    settings.save()
    return settings


def digest_tenants_due(*, now: dt.datetime | None = None) -> list[int]:
    """The tenants whose manager digest is due: on, with an app to send from, and in the hour
    ``DIGEST_HOUR`` of their own time zone now (the hourly beat asks; the digest keeps a ledger)."""
    now = now or timezone.now()
    wanted = list(
        MomentSettings.unscoped.filter(manager_digest=True, tenant__is_active=True)
        .exclude(tenant__agent_id="")
        .values_list("tenant_id", flat=True)
    )
    zones = dict(CampaignSettings.unscoped.filter(tenant_id__in=wanted).values_list("tenant_id", "time_zone"))
    due = []
    for tenant_id in wanted:
        if now.astimezone(zone_named(zones.get(tenant_id, ""))).hour == DIGEST_HOUR:
            due.append(tenant_id)
    return due
