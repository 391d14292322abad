"""Corp tag groups and tags, written through WeCom first (wecom-api.md §3).

WeCom is the source of truth: every change is sent with ``add/edit/del_corp_tag`` and only what
WeCom accepted (and, for new tags, the ids WeCom gave them) is written locally. A refusal raises
``WeComError`` before anything local changed. What the request itself gets wrong (empty or long
names, a name already taken) is refused here first, so WeCom is not asked for what it would refuse.

WeCom lets an app edit and delete only the tags and groups it created (wecom-api.md §3): those made
here are ``created_by_app``; those found in WeCom (an admin's, another app's) are refused here with
``TagNotEditableError`` before any call. Tagging customers with any tag stays allowed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from scrm.tenancy.models import Tenant
from scrm.wecom.api import api_for
from scrm.wecom.errors import WeComError

from ..facets import contacts_refresh
from ..models import Contact, EventType, Follow, FollowStatus, Tag, TagGroup
from .events import EventRow, events_record_rows

T = TypeVar("T", Tag, TagGroup)

NAME_MAX = 30  # WeCom's limit for tag and group names (40072)
# WeCom's refusal of a tag the app did not create: 81011 as developers report it; 301002 as one
# third-party summary has it (the documentation names none). Either means the same here.
NOT_APP_TAG_ERRCODES = (81011, 301002)


class TagNotEditableError(Exception):
    """The tag or group was not created through Siyu, so WeCom would refuse to change it."""


def _require_editable(item: Tag | TagGroup) -> None:
    if not item.wecom_editable:
        kind = "tag group" if isinstance(item, TagGroup) else "tag"
        raise TagNotEditableError(
            f"The {kind} {item.name!r} was not created through Siyu: WeCom lets an app rename or delete "
            f"only the tags it created. Change it in the WeCom admin console; tagging customers with it "
            f"still works."
        )


def _group_require_deletable(group: TagGroup) -> None:
    """Deleting a group deletes every tag in it: each must be Siyu's."""
    _require_editable(group)
    other = next((t for t in group.tags.filter(deleted=False) if not t.wecom_editable), None)
    if other is not None:
        raise TagNotEditableError(
            f"The tag group {group.name!r} holds {other.name!r}, which was not created through Siyu: "
            f"WeCom would refuse to delete the group. Delete that tag in the WeCom admin console first."
        )


def _wecom_change(item: Tag | TagGroup, call) -> None:
    """Make the WeCom call; when WeCom says the item is not this app's, remember it and say so."""
    try:
        call()
    except WeComError as exc:
        if exc.errcode not in NOT_APP_TAG_ERRCODES:
            raise
        type(item).objects.filter(pk=item.pk).update(created_by_app=False)
        item.created_by_app = False
        _require_editable(item)


def _check_name(name: str, field: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({field: ["A name is required."]})
    if len(name) > NAME_MAX:
        raise ValidationError({field: [f"WeCom allows at most {NAME_MAX} characters."]})
    return name


def _created_at(value: Any) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value, tz=dt.UTC) if value else None


def tag_group_create(*, tenant: Tenant, name: str, order: int = 0, tags: list[dict[str, Any]]) -> TagGroup:
    """A new group with its first tags (WeCom has no empty groups)."""
    name = _check_name(name, "name")
    if not tags:
        raise ValidationError({"tags": ["A group needs at least one tag: WeCom has no empty groups."]})
    specs, seen = [], set()
    for index, spec in enumerate(tags):
        tag_name = _check_name(spec.get("name", ""), f"tags.{index}.name")
        if tag_name in seen:
            raise ValidationError({f"tags.{index}.name": [f"{tag_name!r} is given twice."]})
        seen.add(tag_name)
        specs.append({"name": tag_name, "order": int(spec.get("order") or 0)})
    # WeCom adds into an existing group of the same name instead of refusing: that is never what
    # "create a group" means, so a live name is refused here.
    if TagGroup.objects.filter(name=name, deleted=False).exists():
        raise ValidationError({"name": [f"A tag group named {name!r} already exists."]})
    answer = api_for(tenant).add_corp_tag(group_name=name, order=order, tags=specs)["tag_group"]
    with transaction.atomic():
        group, _ = TagGroup.objects.update_or_create(
            wecom_id=answer["group_id"],
            defaults={
                "name": answer.get("group_name", name),
                "order": answer.get("order", order),
                "deleted": False,
                "wecom_created_at": _created_at(answer.get("create_time")),
                # A new group: a live name is refused above, and WeCom only adds into a group by name.
                "created_by_app": True,
            },
        )
        for tag in answer.get("tag", []):
            _tag_save(group, tag)
    return group


def _tag_save(group: TagGroup, answer: dict[str, Any]) -> Tag:
    tag, _ = Tag.objects.update_or_create(
        wecom_id=answer["id"],
        defaults={
            "group": group,
            "name": answer["name"],
            "order": answer.get("order", 0),
            "deleted": False,
            "wecom_created_at": _created_at(answer.get("create_time")),
            "created_by_app": True,  # add_corp_tag answers the tags it just made
        },
    )
    return tag


def tag_group_update(*, tenant: Tenant, group: TagGroup, name: str | None = None, order: int | None = None):
    """Rename and/or reorder a group (edit_corp_tag with the group's id)."""
    _require_editable(group)
    if name is not None:
        name = _check_name(name, "name")
        if TagGroup.objects.filter(name=name, deleted=False).exclude(pk=group.pk).exists():
            raise ValidationError({"name": [f"A tag group named {name!r} already exists."]})
    return _corp_tag_edit(tenant=tenant, item=group, name=name, order=order)


def tag_create(*, tenant: Tenant, group: TagGroup, name: str, order: int = 0) -> Tag:
    if group.deleted:
        raise ValidationError({"group": ["This tag group was deleted."]})
    name = _check_name(name, "name")
    if group.tags.filter(name=name, deleted=False).exists():
        raise ValidationError({"name": [f"The group already has a tag named {name!r}."]})
    answer = api_for(tenant).add_corp_tag(group_id=group.wecom_id, tags=[{"name": name, "order": order}])
    created = [t for t in answer["tag_group"].get("tag", []) if t.get("name") == name]
    return _tag_save(group, created[0])


def tag_update(*, tenant: Tenant, tag: Tag, name: str | None = None, order: int | None = None) -> Tag:
    _require_editable(tag)
    if name is not None:
        name = _check_name(name, "name")
        siblings = Tag.objects.filter(group_id=tag.group_id, name=name, deleted=False).exclude(pk=tag.pk)
        if siblings.exists():
            raise ValidationError({"name": [f"The group already has a tag named {name!r}."]})
    return _corp_tag_edit(tenant=tenant, item=tag, name=name, order=order)


def _corp_tag_edit(*, tenant: Tenant, item: T, name: str | None, order: int | None) -> T:
    """edit_corp_tag takes a group's id or a tag's alike; the local row changes once WeCom said yes."""
    if name is None and order is None:
        return item
    _wecom_change(item, lambda: api_for(tenant).edit_corp_tag(id=item.wecom_id, name=name, order=order))
    if name is not None:
        item.name = name
    if order is not None:
        item.order = order
    item.save(update_fields=["name", "order", "updated_at"])
    return item


def tag_group_delete(*, tenant: Tenant, group: TagGroup) -> None:
    """Delete a group with every tag in it, as WeCom does."""
    _group_require_deletable(group)
    _wecom_change(group, lambda: api_for(tenant).del_corp_tag(group_id=[group.wecom_id]))
    with transaction.atomic():
        tags_mark_deleted(Q(group=group), Q(pk=group.pk))


def tag_delete(*, tenant: Tenant, tag: Tag) -> None:
    """Delete one tag; a group left without tags disappears, as it does in WeCom."""
    _require_editable(tag)
    _wecom_change(tag, lambda: api_for(tenant).del_corp_tag(tag_id=[tag.wecom_id]))
    with transaction.atomic():
        tags_mark_deleted(Q(pk=tag.pk))


TAG_DELETED = "tag_deleted"  # the reason in the UNTAGGED events of a tag's deletion


def tags_mark_deleted(tags: Q, groups: Q | None = None) -> int:
    """Flag the live tags (and groups) matching these filters deleted, and do locally what WeCom did.

    Rows are flagged, never deleted: history and events refer to them. WeCom takes a deleted tag off
    every customer, so the follows here drop it too — an active one with an UNTAGGED event
    (``"reason": "tag_deleted"``), as a tag's removal is recorded wherever it happens — and the
    contacts' facets are refreshed; a group left without live tags is flagged deleted as well (WeCom
    has no empty groups). A deletion made here, in the admin console (a callback) or found by a full
    sync all come through here. Returns how many tags were flagged.
    """
    now = timezone.now()
    if groups is not None:
        # Read first: an UPDATE of no rows is still a write statement, and a no-change sync makes none.
        gone_groups = list(TagGroup.objects.filter(groups, deleted=False).values_list("id", flat=True))
        if gone_groups:
            TagGroup.objects.filter(id__in=gone_groups).update(deleted=True, updated_at=now)
    gone = list(Tag.objects.filter(tags, deleted=False).values_list("id", "wecom_id", "name", "group_id"))
    if gone:
        Tag.objects.filter(id__in=[row[0] for row in gone]).update(deleted=True, updated_at=now)
        _follows_untag(gone, now)
    # Groups whose last live tag just went (WeCom removes them with it).
    emptied = {row[3] for row in gone}
    if emptied:
        TagGroup.objects.filter(id__in=emptied, deleted=False).exclude(tags__deleted=False).update(
            deleted=True, updated_at=now
        )
    return len(gone)


def _follows_untag(gone: list[tuple[int, str, str, int]], now: dt.datetime) -> None:
    """Take deleted tags off the follows carrying them and refresh those contacts' facets; an active
    follow that loses one gets its UNTAGGED event (an ended follow is history: its tags just go).

    The carriers are found through the contacts' facets (a key lookup, indexed on PostgreSQL and
    working on SQLite too, where JSON containment does not exist), then every follow of theirs.
    """
    by_wecom_id = {wecom_id: {"id": pk, "name": name} for pk, wecom_id, name, _ in gone}
    carrying = Contact.objects.filter(facets__has_any_keys=[f"t:{pk}" for pk, *_ in gone])
    contact_ids = list(carrying.values_list("id", flat=True))
    changed, events = [], []
    follows = (
        Follow.objects.filter(contact_id__in=contact_ids)
        .select_related("staff")
        .only("id", "contact_id", "tag_ids", "state", "status", "staff__userid")
        .order_by("id")
    )
    for follow in follows:
        removed = [t for t in follow.tag_ids if t in by_wecom_id]
        if not removed:
            continue
        follow.tag_ids = [t for t in follow.tag_ids if t not in by_wecom_id]
        changed.append(follow)
        if follow.status == FollowStatus.ACTIVE:
            events.append(
                EventRow(
                    contact_id=follow.contact_id,
                    type=EventType.UNTAGGED,
                    occurred_at=now,
                    staff_id=follow.staff_id,
                    channel=follow.state,
                    payload={
                        "tags": [by_wecom_id[t] for t in removed],
                        "staff": follow.staff.userid,
                        "reason": TAG_DELETED,
                    },
                )
            )
    Follow.objects.bulk_update(changed, ["tag_ids"], batch_size=1000)
    events_record_rows(events)
    contacts_refresh(contact_ids)
