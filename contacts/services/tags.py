"""Corp tag groups and tags, written through WeCom first (wecom-api.md §3).

WeCom is the source of truth: every change is sent with ``add/edit/del_corp_tag`` and only what
WeCom accepted (and, for new tags, the ids WeCom gave them) is written locally. A refusal raises
``WeComError`` before anything local changed. What the request itself gets wrong (empty or long
names, a name already taken) is refused here first, so WeCom is not asked for what it would refuse.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from scrm.tenancy.models import Tenant
from scrm.wecom.api import api_for

from ..facets import contacts_refresh
from ..models import Contact, Follow, Tag, TagGroup

T = TypeVar("T", Tag, TagGroup)

NAME_MAX = 30  # WeCom's limit for tag and group names (40072)


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
        },
    )
    return tag


def tag_group_update(*, tenant: Tenant, group: TagGroup, name: str | None = None, order: int | None = None):
    """Rename and/or reorder a group (edit_corp_tag with the group's id)."""
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
    api_for(tenant).edit_corp_tag(id=item.wecom_id, name=name, order=order)
    if name is not None:
        item.name = name
    if order is not None:
        item.order = order
    item.save(update_fields=["name", "order", "updated_at"])
    return item


def tag_group_delete(*, tenant: Tenant, group: TagGroup) -> None:
    api_for(tenant).del_corp_tag(group_id=[group.wecom_id])
    with transaction.atomic():
        tags = list(group.tags.filter(deleted=False))
        group.deleted = True
        group.save(update_fields=["deleted", "updated_at"])
        _tags_deleted(tags)


def tag_delete(*, tenant: Tenant, tag: Tag) -> None:
    """Delete one tag; a group left without tags disappears, as it does in WeCom."""
    api_for(tenant).del_corp_tag(tag_id=[tag.wecom_id])
    with transaction.atomic():
        _tags_deleted([tag])
        group = tag.group
        if not group.tags.filter(deleted=False).exists():
            group.deleted = True
            group.save(update_fields=["deleted", "updated_at"])


def _tags_deleted(tags: list[Tag]) -> None:
    """Mark tags deleted and take them off the follows carrying them (WeCom drops deleted tags from
    customers), then refresh those contacts' facets."""
    if not tags:
        return
    Tag.objects.filter(pk__in=[t.pk for t in tags]).update(deleted=True, updated_at=timezone.now())
    wecom_ids = {t.wecom_id for t in tags}
    # The contacts whose facets carry one of the tags: a key lookup that works on SQLite and
    # PostgreSQL alike (JSON list containment does not exist on SQLite).
    contact_ids = list(
        Contact.objects.filter(facets__has_any_keys=[f"t:{t.pk}" for t in tags]).values_list("id", flat=True)
    )
    changed = []
    for follow in Follow.objects.filter(contact_id__in=contact_ids).only("id", "tag_ids"):
        kept = [t for t in follow.tag_ids if t not in wecom_ids]
        if kept != follow.tag_ids:
            follow.tag_ids = kept
            changed.append(follow)
    Follow.objects.bulk_update(changed, ["tag_ids"], batch_size=1000)
    contacts_refresh(contact_ids)
