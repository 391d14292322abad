"""The tenant's campaign rules: one row per tenant, created with defaults on first read."""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any

from django.db import IntegrityError, transaction

from ..models import CampaignSettings


@functools.cache
def _known_zones() -> frozenset[str]:
    # The IANA names only: ``ZoneInfo`` alone would also open paths ("../x") and odd files under the
    # zone directory ("posixrules", "localtime"), which are no names anyone should store.
    return frozenset(zoneinfo.available_timezones())


def time_zone_known(name: str) -> bool:
    return name in _known_zones()


def campaign_settings_get(*, tenant) -> CampaignSettings:
    """The tenant's settings, made with the defaults the first time anyone reads them."""
    settings = CampaignSettings.objects.filter(tenant=tenant).first()
    if settings is not None:
        return settings
    try:
        with transaction.atomic():
            return CampaignSettings.objects.create(tenant=tenant)
    except IntegrityError:
        # Two first reads raced; the other one made it.
        return CampaignSettings.objects.get(tenant=tenant)


def campaign_settings_update(*, settings: CampaignSettings, data: dict[str, Any]) -> CampaignSettings:
    """Change the fields given (validated by the caller's serializer: choices, the zone's name)."""
    for field, value in data.items():
        setattr(settings, field, value)
    settings.save()
    return settings


def zone_named(name: str) -> zoneinfo.ZoneInfo:
    """A time zone by its IANA name; one that stopped existing (an old row, a tzdata update) is the
    project's, so nothing is refused for it."""
    from django.conf import settings as django_settings

    return zoneinfo.ZoneInfo(name if time_zone_known(name) else django_settings.TIME_ZONE)


def settings_zone(settings: CampaignSettings) -> zoneinfo.ZoneInfo:
    """The tenant's time zone, from its settings row (``zone_named``)."""
    return zone_named(settings.time_zone)


def tenant_zone(*, tenant) -> zoneinfo.ZoneInfo:
    """The tenant's time zone: its days, weeks and scheduled times (campaigns, Moments)."""
    return settings_zone(campaign_settings_get(tenant=tenant))
