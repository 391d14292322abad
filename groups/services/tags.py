"""Group tags (local labels: WeCom has no tags on groups) and which groups carry them.

Nothing here talks to WeCom. Tag names are unique per tenant (the constraint says so too; checking
first gives the client a 400 naming the field rather than an integrity error). The bulk route's
limits (at most ``serializers.BULK_MAX_GROUPS`` groups, no tag both added and removed) are checked
by its serializer, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import Group, GroupTag, GroupTagging


def _name_check(*, name: str, tag: GroupTag | None = None) -> None:
    others = GroupTag.objects.filter(name=name)
    if tag is not None:
        others = others.exclude(pk=tag.pk)
    if others.exists():
        raise ValidationError({"name": ["A group tag with this name exists."]})


def group_tag_create(*, name: str, color: str = "", order: int = 0) -> GroupTag:
    _name_check(name=name)
    return GroupTag.objects.create(name=name, color=color, order=order)


def group_tag_update(*, tag: GroupTag, data: dict) -> GroupTag:
    """Change the fields given (``name``, ``color``, ``order``)."""
    if "name" in data:
        _name_check(name=data["name"], tag=tag)
    for field in ("name", "color", "order"):
        if field in data:
            setattr(tag, field, data[field])
    tag.save()
    return tag


def group_tag_delete(*, tag: GroupTag) -> None:
    tag.delete()  # its taggings go with it (cascade)


@transaction.atomic
def group_tags_set(*, group: Group, tags: Iterable[GroupTag]) -> None:
    """Make ``tags`` exactly the group's tags: add the missing ones, remove the others.

    Two requests setting the same group's tags at once take turns on the group's row: each one's
    delete-then-insert sees the other's result, and the last one's set is what stays.
    """
    Group.objects.select_for_update().filter(pk=group.pk).values_list("pk").first()
    wanted = {tag.pk: tag for tag in tags}
    GroupTagging.objects.filter(group=group).exclude(tag_id__in=wanted).delete()
    have = set(GroupTagging.objects.filter(group=group).values_list("tag_id", flat=True))
    GroupTagging.objects.bulk_create(
        [GroupTagging(group=group, tag=tag) for pk, tag in wanted.items() if pk not in have],
        # A bulk-tag request may add one meanwhile (it does not take the group's lock): same result.
        ignore_conflicts=True,
    )


@transaction.atomic
def group_tags_bulk(
    *, groups: Sequence[Group], add: Iterable[GroupTag] = (), remove: Iterable[GroupTag] = ()
) -> dict[str, int]:
    """Add tags to and remove tags from many groups at once; answers how many taggings changed."""
    add, remove = list(add), list(remove)
    group_ids = [g.pk for g in groups]
    removed = 0
    if remove:
        removed, _ = GroupTagging.objects.filter(group_id__in=group_ids, tag__in=remove).delete()
    added = 0
    if add:
        have = set(
            GroupTagging.objects.filter(group_id__in=group_ids, tag__in=add).values_list("group_id", "tag_id")
        )
        missing = [
            GroupTagging(group_id=g, tag_id=t.pk) for g in group_ids for t in add if (g, t.pk) not in have
        ]
        GroupTagging.objects.bulk_create(missing, ignore_conflicts=True, batch_size=1000)
        added = len(missing)
    return {"groups": len(group_ids), "added": added, "removed": removed}
