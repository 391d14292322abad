"""Incremental sync: WeCom's customer and tag callbacks (wecom-api.md §11), each re-reading WeCom.

Events arrive late, twice or out of order, so no handler trusts the event's story on its own: adds
and edits re-read the customer with ``externalcontact/get`` and upsert what WeCom has (the same
mapping and writer as the full sync); deletions re-read it too and close the follow only if WeCom no
longer has it, and only once (an ended follow is not ended again, so a duplicate writes nothing).
The callback inbox runs each handler inside a transaction.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Tenant
from scrm.wecom.api import api_for
from scrm.wecom.handlers import wecom_handler

from .facets import contacts_refresh
from .models import Contact, ContactEvent, EventType, Follow, FollowStatus
from .services.channels import customer_arrived
from .services.churn import churn_notify
from .services.events import event_build, events_record
from .sync import MISSING_IN_FULL_SYNC, contact_sync_one, staff_ids_ensure, tag_change_apply

CONTACT = "change_external_contact"
DELETE_BY_TRANSFER = "DELETE_BY_TRANSFER"


def _occurred_at(payload: dict) -> dt.datetime:
    created = payload.get("CreateTime")
    return dt.datetime.fromtimestamp(int(created), tz=dt.UTC) if created else timezone.now()


@wecom_handler(CONTACT, "add_external_contact")
@wecom_handler(CONTACT, "add_half_external_contact")
@wecom_handler(CONTACT, "edit_external_contact")
def on_contact_changed(*, tenant: Tenant, event) -> None:
    """A customer added a staff member, or a staff member edited them: mirror what WeCom has now.

    A new customer is then greeted and tagged by its channel (``channels.customer_arrived``) as soon
    as the re-read is committed, on the same worker: the welcome_code in the event lives 20 seconds,
    and the re-read gives the name the welcome addresses them by.
    """
    api = api_for(tenant)
    contact_sync_one(api=api, external_userid=event.payload["ExternalUserID"])
    if event.change_type == "add_external_contact":
        # After the commit: the greeting's claim must be committed before WeCom is called, never
        # rolled back with a handler that fails later (its retry would greet a second time).
        payload, received_at = event.payload, event.received_at

        def greet() -> None:
            with tenant_context(tenant):  # callbacks may run where the handler's context has ended
                customer_arrived(tenant=tenant, api=api, payload=payload, received_at=received_at)

        transaction.on_commit(greet)


def _follow_end(
    *, tenant: Tenant, payload: dict, status: str, event_type: str, extra: dict | None = None
) -> Follow | None:
    """End the follow the event names, with its event; None when there is nothing to end.

    Nothing to end: the follow is unknown here or already ended (a duplicate), or WeCom still has it
    (the event is older than a re-add: the re-read just upserted it).
    """
    external_userid, userid = payload["ExternalUserID"], payload["UserID"]
    follow = (
        Follow.objects.select_related("contact", "staff")
        .filter(contact__external_userid=external_userid, staff__userid=userid)
        .first()
    )
    if follow is None:
        return None
    if follow.status != FollowStatus.ACTIVE and not (
        event_type == EventType.LOST and _closed_by_reconciliation(follow)
    ):
        return None
    followers = contact_sync_one(api=api_for(tenant), external_userid=external_userid)
    if followers and userid in followers:
        return None
    follow.status, follow.ended_at = status, _occurred_at(payload)
    follow.save(update_fields=["status", "ended_at", "updated_at"])
    payload_out = dict(extra or {})
    if follow.added_at:
        payload_out["days"] = (follow.ended_at - follow.added_at).days
    events_record(
        [
            event_build(
                contact_id=follow.contact_id,
                type=event_type,
                occurred_at=follow.ended_at,
                staff_id=follow.staff_id,
                channel=follow.state,
                payload=payload_out,
            )
        ]
    )
    contacts_refresh([follow.contact_id])
    return follow


def _closed_by_reconciliation(follow: Follow) -> bool:
    """Whether a full sync closed this follow without knowing who ended it (its callback was late or
    lost): a late del_follow_user then still tells us the customer left, which is churn."""
    last_end = (
        ContactEvent.objects.filter(contact_id=follow.contact_id, staff_id=follow.staff_id)
        .exclude(type__in=[EventType.TAGGED, EventType.UNTAGGED, EventType.NOTE, EventType.STAGE_CHANGED])
        .order_by("-id")
        .values_list("type", "payload")
        .first()
    )
    return (
        follow.status == FollowStatus.DELETED_BY_STAFF
        and last_end is not None
        and last_end[0] == EventType.DELETED_BY_STAFF
        and last_end[1].get("reason") == MISSING_IN_FULL_SYNC
    )


@wecom_handler(CONTACT, "del_external_contact")
def on_staff_deleted_customer(*, tenant: Tenant, event) -> None:
    """The staff member deleted the customer — or WeCom did, completing a transfer to another member."""
    source = event.payload.get("Source") or ""
    if source == DELETE_BY_TRANSFER:
        status, event_type = FollowStatus.TRANSFERRED, EventType.TRANSFERRED
    else:
        status, event_type = FollowStatus.DELETED_BY_STAFF, EventType.DELETED_BY_STAFF
    _follow_end(
        tenant=tenant, payload=event.payload, status=status, event_type=event_type, extra={"source": source}
    )


@wecom_handler(CONTACT, "del_follow_user")
def on_customer_deleted_staff(*, tenant: Tenant, event) -> None:
    """The customer deleted the staff member: churn (流失). The follow is lost, and people are told."""
    follow = _follow_end(
        tenant=tenant,
        payload=event.payload,
        status=FollowStatus.DELETED_BY_CUSTOMER,
        event_type=EventType.LOST,
    )
    if follow is not None:
        churn_notify(follow=follow)


@wecom_handler(CONTACT, "transfer_fail")
def on_transfer_failed(*, tenant: Tenant, event) -> None:
    """A transfer to ``UserID`` (the takeover member) failed: the customer refused, or the member is full.

    Only the event is recorded here; the transfer jobs own their items' status (they poll WeCom).
    """
    payload = event.payload
    contact = Contact.objects.filter(external_userid=payload["ExternalUserID"]).only("id").first()
    if contact is None:
        return
    occurred_at = _occurred_at(payload)
    staff_id = staff_ids_ensure([payload["UserID"]])[payload["UserID"]]
    duplicate = ContactEvent.objects.filter(
        contact=contact, staff_id=staff_id, occurred_at=occurred_at, type=EventType.TRANSFER_FAILED
    ).exists()
    if not duplicate:
        events_record(
            [
                event_build(
                    contact_id=contact.pk,
                    type=EventType.TRANSFER_FAILED,
                    occurred_at=occurred_at,
                    staff_id=staff_id,
                    payload={"reason": payload.get("FailReason") or ""},
                )
            ]
        )


@wecom_handler("change_external_tag")
def on_tag_changed(*, tenant: Tenant, event) -> None:
    """A tag or group was created, renamed, reordered, deleted or shuffled in the admin console.

    Deleting a group is one event for the group and every tag in it (``tag_change_apply``)."""
    payload = event.payload
    tag_type = "tag" if payload.get("TagType") == "tag" else "tag_group"
    tag_change_apply(
        api=api_for(tenant),
        change_type=event.change_type,
        tag_type=tag_type,
        wecom_id=payload.get("Id") or "",
    )
