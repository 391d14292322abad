"""The tenant's contacts settings: one row per tenant, created with defaults on first read."""

from __future__ import annotations

from ..models import ContactSettings


def contact_settings_get(*, tenant) -> ContactSettings:
    settings, _ = ContactSettings.objects.get_or_create(tenant=tenant)
    return settings


def contact_settings_update(*, settings: ContactSettings, data: dict) -> ContactSettings:
    for field, value in data.items():
        setattr(settings, field, value)
    settings.save()
    return settings
