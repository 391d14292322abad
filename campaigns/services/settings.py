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


def settings_zone(settings: CampaignSettings) -> zoneinfo.ZoneInfo:
    """The tenant's time zone; a name that stopped existing (an old row, a tzdata update) falls back
    to the project's, so a plan is never refused for it."""
    from django.conf import settings as django_settings

    name = settings.time_zone if time_zone_known(settings.time_zone) else django_settings.TIME_ZONE
    return zoneinfo.ZoneInfo(name)
