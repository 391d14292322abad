"""Reads of the groups app. The data scope (DESIGN.md §3) is applied here, once: every group route,
the group statistics and a contact's groups start from ``group_scope_q`` / ``groups_visible``.

Members are not keyed to Staff or Contact (see ``GroupMember``): the names, group codes and contacts
a page of members refers to are resolved here in one query each, whatever the page's size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

from django.db.models import (
    Count,
    DateTimeField,
    F,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    TextChoices,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from contacts.models import Contact, Staff
from contacts.selectors import contacts_visible, staff_ids_in_departments
from scrm.api.dates import day_start
from scrm.tenancy.models import DataScope, Role
from scrm.tenancy.principal import Principal

from .models import (
    CREATED_SORT,
    STAT_FIELDS,
    Group,
    GroupMember,
    GroupStatDay,
    GroupStatus,
    GroupTag,
    GroupTagging,
    JoinWay,
    MemberType,
)

RECENT_DAYS = 7
CONTACT_GROUPS_LIMIT = 100
# Sort keys of nullable timestamps: a cursor needs a non-null position, and rows WeCom gave no time
# sort as the oldest.
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# WeCom's daily figures (groupchat/statistic_group_by_day): the ones that count what happened on a
# day add up over a range; chat_total and member_total are how many there were, so a range has the
# last day's.
STAT_EVENT_FIELDS = ("new_chat_cnt", "chat_has_msg", "new_member_cnt", "member_has_msg", "msg_total")
STAT_STOCK_FIELDS = ("chat_total", "member_total")


class HistoryKind(TextChoices):
    JOINED = "joined", "Joined"
    LEFT = "left", "Left"


# -- scope ----------------------------------------------------------------------------------------


def group_owner_scope_q(principal: Principal, *, owner: str = "owner") -> Q:
    """Which owners' groups ``principal`` may see: admins and operators all; a sales member the groups
    it owns (its membership's WeCom userid), or its departments' staff's with a department scope.

    ``owner`` is the path to the owning Staff from the queried model (``owner`` for groups and daily
    statistics, ``group__owner`` for members).
    """
    if principal.role in (Role.ADMIN, Role.OPERATOR) or principal.data_scope == DataScope.ALL:
        return Q()
    if not principal.wecom_userid:
        return Q(pk__in=[])  # a sales API key is nobody in WeCom: it owns no group
    own = Q(**{f"{owner}__userid": principal.wecom_userid})
    if principal.data_scope == DataScope.DEPARTMENTS and principal.department_ids:
        return own | Q(**{f"{owner}__in": staff_ids_in_departments(principal.department_ids)})
    return own


def group_scope_q(principal: Principal) -> Q:
    return group_owner_scope_q(principal, owner="owner")


def groups_visible(principal: Principal) -> QuerySet[Group]:
    return Group.objects.filter(group_scope_q(principal))


# -- lists of group ids (inputs) ------------------------------------------------------------------


def _invalid(field: str | None, detail: Any) -> NoReturn:
    raise ValidationError({field: detail} if field else detail)


def group_ids_parse(value: Any, *, at_most: int, field: str | None = "group_ids") -> list[int]:
    """``value`` as group ids: a list of integers, each once (in the order given), 1 to ``at_most``.

    The one check of a list of group ids (group codes, transfers, bulk tagging), with one set of
    messages. Errors name ``field`` (None: the caller's serializer field names them).
    """
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        _invalid(field, ["A list of group ids."])
    ids = list(dict.fromkeys(value))
    if not ids:
        _invalid(field, ["Choose at least one group."])
    if len(ids) > at_most:
        _invalid(field, [f"At most {at_most} groups at a time."])
    return ids


def groups_resolve(
    value: Any,
    *,
    at_most: int,
    among: QuerySet[Group] | None = None,
    live: bool = True,
    field: str | None = "group_ids",
) -> list[Group]:
    """The groups ``value`` names (see ``group_ids_parse``), in the order given, in one query.

    ``among``: the groups that may be named (the tenant's by default; a caller's visible ones). With
    ``live``, a dismissed group is refused too. Each wrong id is an error at its index (``group_ids.2``).
    """
    ids = group_ids_parse(value, at_most=at_most, field=field)
    found = (among if among is not None else Group.objects.all()).in_bulk(ids)
    errors: dict[str, list[str]] = {}
    for index, pk in enumerate(ids):
        group = found.get(pk)
        if group is None:
            errors[str(index)] = [f"No such group: {pk}."]
        elif live and group.status == GroupStatus.DISMISSED:
            errors[str(index)] = [f"{group.name or group.chat_id} was dismissed."]
    if errors:
        _invalid(field, errors)
    return [found[pk] for pk in ids]


# -- groups ---------------------------------------------------------------------------------------


def group_tags_prefetch() -> Prefetch:
    """A group's tags in one query for a whole page (``group.tag_list``), in the tags' order."""
    taggings = GroupTagging.objects.select_related("tag").order_by("tag__order", "tag_id")
    return Prefetch("taggings", queryset=taggings, to_attr="tag_list")


def group_list(principal: Principal) -> QuerySet[Group]:
    """The groups ``principal`` may see, with their owner and tags (two queries a page, whatever its size).

    ``created_sort`` is the ``created`` ordering's key (see ``groups.filters.GroupOrdering``): the
    expression the ``group_tenant_created`` index holds, so the default order reads the index.
    """
    return (
        groups_visible(principal)
        .select_related("owner")
        .prefetch_related(group_tags_prefetch())
        .annotate(created_sort=CREATED_SORT)
    )


def group_recent_moves(group: Group, *, now: dt.datetime | None = None, days: int = RECENT_DAYS) -> dict:
    """Joins and leaves of the last ``days`` days (one query)."""
    since = (now or timezone.now()) - dt.timedelta(days=days)
    return GroupMember.objects.filter(group=group).aggregate(
        joins=Count("id", filter=Q(joined_at__gte=since)),
        leaves=Count("id", filter=Q(left_at__gte=since)),
    )


# -- members and history --------------------------------------------------------------------------


def group_members(
    group: Group, *, current: bool = True, member_type: str | None = None, q: str = ""
) -> QuerySet[GroupMember]:
    """The group's stays, the latest joins first: the current ones, or every stay (past ones too)."""
    members = GroupMember.objects.filter(group=group)
    if current:
        members = members.filter(left_at__isnull=True)
    if member_type:
        members = members.filter(type=member_type)
    q = q.strip()
    if q:
        members = members.filter(
            Q(name__icontains=q) | Q(group_nickname__icontains=q) | Q(userid__icontains=q)
        )
    return members.annotate(joined_sort=Coalesce("joined_at", Value(EPOCH))).order_by("-joined_sort", "-id")


def group_history(group: Group) -> QuerySet:
    """Joins and leaves, newest first, as ``{at, kind, member_id}`` rows: one stay is a "joined" entry and,
    once it ended, a "left" entry. One SQL UNION, so the database orders and pages it."""
    stays = GroupMember.objects.filter(group=group).order_by()
    joined = stays.filter(joined_at__isnull=False).values(
        member_id=F("id"), at=F("joined_at"), kind=Value(HistoryKind.JOINED.value)
    )
    left = stays.filter(left_at__isnull=False).values(
        member_id=F("id"), at=F("left_at"), kind=Value(HistoryKind.LEFT.value)
    )
    # Same instant: the leave is the newer of the two ("left" > "joined").
    return joined.union(left, all=True).order_by("-at", "-member_id", "-kind")


def members_resolve(members: Sequence[GroupMember], *, group: Group, principal: Principal) -> list[dict]:
    """Member items for a page: inviter names, group codes and contacts in one query each.

    ``contact_id`` is set only for a contact the caller may open (a sales member's own customers), so
    the dashboard never links to a 404.
    """
    inviters = {m.inviter_userid for m in members if m.inviter_userid}
    states = {m.state for m in members if m.state}
    customers = {m.userid for m in members if m.type == MemberType.CUSTOMER}
    names: dict[str, str] = {}
    if inviters:
        # Staff first (inviters are usually staff); a customer who invited is named as in the group.
        names = dict(
            GroupMember.objects.filter(group=group, userid__in=inviters)
            .exclude(name="")
            .order_by("joined_at", "id")
            .values_list("userid", "name")
        )
        names.update(Staff.objects.filter(userid__in=inviters).exclude(name="").values_list("userid", "name"))
    join_ways = (
        {w["state"]: w for w in JoinWay.objects.filter(state__in=states).values("id", "name", "state")}
        if states
        else {}
    )
    contacts = (
        dict(
            contacts_visible(principal)
            .filter(external_userid__in=customers)
            .values_list("external_userid", "id")
        )
        if customers
        else {}
    )
    return [
        {
            "id": m.pk,
            "userid": m.userid,
            "type": m.type,
            "name": m.name,
            "group_nickname": m.group_nickname,
            "joined_at": m.joined_at,
            "join_scene": m.join_scene,
            "inviter": (
                {"userid": m.inviter_userid, "name": names.get(m.inviter_userid, "")}
                if m.inviter_userid
                else None
            ),
            "state": m.state,
            "join_way": (
                {"id": join_ways[m.state]["id"], "name": join_ways[m.state]["name"]}
                if m.state in join_ways
                else None
            ),
            "left_at": m.left_at,
            "quit_scene": m.quit_scene,
            "contact_id": contacts.get(m.userid) if m.type == MemberType.CUSTOMER else None,
        }
        for m in members
    ]


def history_resolve(entries: Sequence[dict], *, group: Group, principal: Principal) -> list[dict]:
    """History items for a page of ``group_history`` rows (the page's members in one query)."""
    stays = {m.pk: m for m in GroupMember.objects.filter(pk__in={e["member_id"] for e in entries})}
    items = {
        item["id"]: item for item in members_resolve(list(stays.values()), group=group, principal=principal)
    }
    return [{"at": e["at"], "kind": e["kind"], "member": items[e["member_id"]]} for e in entries]


# -- statistics -----------------------------------------------------------------------------------


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def group_stats(group: Group, *, start: dt.date, end: dt.date) -> dict[str, Any]:
    """Per day of [start, end] (the tenant's calendar): joins, leaves and members at the end of the day,
    from the stays (WeCom has no per-group statistics). Three queries, whatever the range.

    Members at the end of a day = members at the start of the range + that range's joins − leaves up to
    and including the day; a stay with no join time counts as present from the start.
    """
    tz = timezone.get_current_timezone()
    since, until = day_start(start), day_start(end + dt.timedelta(days=1))
    stays = GroupMember.objects.filter(group=group).order_by()
    before = stays.filter(Q(joined_at__lt=since) | Q(joined_at__isnull=True)).filter(
        Q(left_at__isnull=True) | Q(left_at__gte=since)
    )
    members = before.count()

    def per_day(field: str) -> dict[dt.date, int]:
        rows = (
            stays.filter(**{f"{field}__gte": since, f"{field}__lt": until})
            .annotate(day=TruncDate(field, tzinfo=tz))
            .values("day")
            .annotate(n=Count("id"))
        )
        return {row["day"]: row["n"] for row in rows}

    joins, leaves = per_day("joined_at"), per_day("left_at")
    days = []
    for day in _days(start, end):
        members += joins.get(day, 0) - leaves.get(day, 0)
        days.append(
            {"day": day, "joins": joins.get(day, 0), "leaves": leaves.get(day, 0), "members": members}
        )
    return {"days": days}


def group_stats_by_day(
    principal: Principal, *, start: dt.date, end: dt.date, owner_ids: Iterable[int] = ()
) -> dict[str, Any]:
    """WeCom's daily group figures summed over the owners in scope (optionally these owners), per day of
    [start, end] (zeros and ``has_figures`` false where WeCom gave none yet: today, days not fetched),
    with the range's totals. One query."""
    rows = GroupStatDay.objects.filter(group_owner_scope_q(principal), day__gte=start, day__lte=end)
    owner_ids = list(owner_ids)
    if owner_ids:
        rows = rows.filter(owner_id__in=owner_ids)
    summed = {
        row["day"]: row for row in rows.order_by().values("day").annotate(**{f: Sum(f) for f in STAT_FIELDS})
    }
    days = [
        {
            "day": day,
            "has_figures": day in summed,
            **{f: (summed.get(day) or {}).get(f) or 0 for f in STAT_FIELDS},
        }
        for day in _days(start, end)
    ]
    last = next((summed[d["day"]] for d in reversed(days) if d["day"] in summed), {})
    totals = {f: sum(d[f] for d in days) for f in STAT_EVENT_FIELDS}
    totals.update({f: last.get(f) or 0 for f in STAT_STOCK_FIELDS})
    return {"days": days, "totals": {f: totals[f] for f in STAT_FIELDS}}


# -- group tags -----------------------------------------------------------------------------------


def group_tags_with_counts(principal: Principal) -> QuerySet[GroupTag]:
    """Group tags with how many of the groups ``principal`` may see carry each (one query)."""
    counted = Q(taggings__group__in=groups_visible(principal).values("pk"))
    return GroupTag.objects.annotate(group_count=Count("taggings", filter=counted)).order_by("order", "id")


# -- a contact's groups ---------------------------------------------------------------------------


def contact_groups(
    *, principal: Principal, contact: Contact, limit: int = CONTACT_GROUPS_LIMIT
) -> list[dict]:
    """The groups a customer is or was in (one row per stay, current stays first, then the latest),
    among the groups ``principal`` may see. One query."""
    stays = (
        GroupMember.objects.filter(
            group_owner_scope_q(principal, owner="group__owner"),
            userid=contact.external_userid,
            type=MemberType.CUSTOMER,
        )
        .annotate(joined_sort=Coalesce("joined_at", Value(EPOCH), output_field=DateTimeField()))
        .order_by(F("left_at").desc(nulls_first=True), "-joined_sort", "-id")
        .values("group_id", "group__name", "group__owner__name", "group__status", "joined_at", "left_at")[
            :limit
        ]
    )
    return [
        {
            "id": s["group_id"],
            "name": s["group__name"],
            "owner_name": s["group__owner__name"] or "",
            # A dismissed group's stays stay open (members are kept as they were): the status says
            # the customer is no longer in a live group.
            "group_status": s["group__status"],
            "joined_at": s["joined_at"],
            "left_at": s["left_at"],
        }
        for s in stays
    ]
