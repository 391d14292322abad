"""Editing a follow's remark, description, company and phone numbers through ``externalcontact/remark``.

WeCom first; the local follow and a REMARK_CHANGED event are written only once WeCom accepted.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from scrm.tenancy.actors import Actor
from scrm.tenancy.models import Tenant
from scrm.wecom.api import api_for

from ..facets import contacts_refresh
from ..models import EventType, Follow, FollowStatus
from .events import event_build, events_record

# Follow field → the name WeCom's remark API gives it.
WECOM_FIELDS = {
    "remark": "remark",
    "description": "description",
    "remark_corp_name": "remark_company",
    "remark_mobiles": "remark_mobiles",
}


def follow_remark_update(*, tenant: Tenant, follow: Follow, actor: Actor, **changes: Any) -> Follow:
    """Change some of ``remark``, ``description``, ``remark_corp_name``, ``remark_mobiles``; fields
    not given stay as they are (WeCom's remark API changes only the fields sent)."""
    unknown = set(changes) - set(WECOM_FIELDS)
    if unknown:
        raise TypeError(f"not remark fields: {sorted(unknown)}")
    if follow.status != FollowStatus.ACTIVE:
        raise ValidationError(
            "This staff member no longer follows the customer: WeCom has no remark to edit."
        )
    changed = {name: value for name, value in changes.items() if getattr(follow, name) != value}
    if not changed:
        return follow
    api_for(tenant).remark(
        userid=follow.staff.userid,
        external_userid=follow.contact.external_userid,
        **{WECOM_FIELDS[name]: value for name, value in changed.items()},
    )
    before = {name: getattr(follow, name) for name in changed}
    with transaction.atomic():
        for name, value in changed.items():
            setattr(follow, name, value)
        follow.save(update_fields=[*changed, "updated_at"])
        events_record(
            [
                event_build(
                    contact_id=follow.contact_id,
                    type=EventType.REMARK_CHANGED,
                    staff_id=follow.staff_id,
                    channel=follow.state,
                    actor=actor,
                    payload={
                        "staff": follow.staff.userid,
                        "changes": {
                            name: {"from": before[name], "to": value} for name, value in changed.items()
                        },
                    },
                )
            ]
        )
        # Remarks, company and phone numbers are part of the contact's search text.
        contacts_refresh([follow.contact_id])
    return follow
