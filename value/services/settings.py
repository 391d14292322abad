"""The tenant's value thresholds: one row per tenant, made with the defaults on first read.

A change of what a tier or a score is computed from (``new_days``, ``silent_days``, ``high_value_ltv``,
``currency``) queues a full recompute once it commits, so the figures on every page follow the rule
that now applies rather than waiting for the night.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from rest_framework.exceptions import ErrorDetail, ValidationError

from ..models import ValueSettings

DAYS_MIN, DAYS_MAX = 1, 365
EXPIRE_DAYS_MAX = 3650
# value_contactvalue.ltv and the order amounts are DECIMAL(12, 2): a threshold above the largest
# amount could never be reached by one order, but a customer's LTV (14 digits) can, so the column's
# own limit is the bound.
LTV_MAX = Decimal("9999999999.99")
CURRENCY = re.compile(r"[A-Z]{3}")
FIELDS = ("currency", "new_days", "silent_days", "high_value_ltv", "points_expire_days")
# What the scores and tiers are computed from: changing one of these recomputes every customer.
RECOMPUTE_FIELDS = ("currency", "new_days", "silent_days", "high_value_ltv")


def value_settings_get(*, tenant) -> ValueSettings:
    """The tenant's settings, made with the defaults the first time anyone reads them."""
    settings = ValueSettings.objects.filter(tenant=tenant).first()
    if settings is not None:
        return settings
    try:
        with transaction.atomic():
            return ValueSettings.objects.create(tenant=tenant)
    except IntegrityError:
        # Two first reads raced; the other one made it.
        return ValueSettings.objects.get(tenant=tenant)


def _error(message: str, code: str) -> list[ErrorDetail]:
    return [ErrorDetail(message, code=code)]


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def value_settings_validate(data: dict[str, Any]) -> dict[str, Any]:
    """The fields given, checked and normalised (``high_value_ltv`` as a 2-place Decimal); anything
    wrong is refused with its field (a DRF ValidationError, a 400)."""
    errors: dict[str, Any] = {}
    clean: dict[str, Any] = {}
    for field in data:
        if field not in FIELDS:
            errors[field] = _error(f"Not a value setting (one of: {', '.join(FIELDS)}).", "unknown_field")
    if "currency" in data:
        currency = data["currency"]
        if isinstance(currency, str) and CURRENCY.fullmatch(currency):
            clean["currency"] = currency
        else:
            errors["currency"] = _error("An ISO 4217 code of three capital letters (CNY).", "invalid")
    for field in ("new_days", "silent_days"):
        if field in data:
            days = data[field]
            if _whole(days) and DAYS_MIN <= days <= DAYS_MAX:
                clean[field] = days
            else:
                errors[field] = _error(f"Whole days from {DAYS_MIN} to {DAYS_MAX}.", "out_of_range")
    if "points_expire_days" in data:
        days = data["points_expire_days"]
        if _whole(days) and 0 <= days <= EXPIRE_DAYS_MAX:
            clean["points_expire_days"] = days
        else:
            errors["points_expire_days"] = _error(
                f"Whole days from 0 (points never expire) to {EXPIRE_DAYS_MAX}.", "out_of_range"
            )
    if "high_value_ltv" in data:
        amount = _decimal(data["high_value_ltv"])
        if amount is None:
            errors["high_value_ltv"] = _error("An amount with at most 2 decimals.", "invalid")
        elif not Decimal("0") < amount <= LTV_MAX:
            errors["high_value_ltv"] = _error(f"More than 0 and at most {LTV_MAX}.", "out_of_range")
        else:
            clean["high_value_ltv"] = amount
    if errors:
        raise ValidationError(errors)
    return clean


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal | float):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount.as_tuple().exponent < -2:
        return None
    return amount.quantize(Decimal("0.01"))


def value_settings_update(*, tenant, data: dict[str, Any]) -> ValueSettings:
    """Change the fields given: ``currency`` (three capital letters), ``new_days`` and ``silent_days``
    (1 to 365 each, independent of each other), ``high_value_ltv`` (more than 0) and
    ``points_expire_days`` (0 to 3650; 0: never). A change of a threshold queues ``value.recompute``
    once the change commits."""
    clean = value_settings_validate(data)
    with transaction.atomic():
        settings = (
            ValueSettings.objects.select_for_update().filter(pk=value_settings_get(tenant=tenant).pk).get()
        )
        changed = [field for field, value in clean.items() if getattr(settings, field) != value]
        for field in changed:
            setattr(settings, field, clean[field])
        if changed:
            settings.save()
        if any(field in RECOMPUTE_FIELDS for field in changed):
            # Imported here: the tasks module imports the services.
            from ..tasks import recompute

            recompute.delay_on_commit(tenant.pk)
    return settings
