"""Reads of the contacts app. Data scope (DESIGN.md §3) is applied here, once, for every caller:
lists, details, exports and bulk jobs all start from ``contacts_visible``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.functions import Cast, Coalesce, JSONArray, TruncDate
from django.http import QueryDict
from django.utils import timezone

from scrm.tenancy.models import DataScope, Role
from scrm.tenancy.principal import Principal
from value.models import ContactValue

from .filters import FILTER_PARAMS, ContactFilter
from .models import (
    Contact,
    ContactEvent,
    ContactStatus,
    Department,
    EventType,
    Follow,
    FollowStatus,
    Note,
    Segment,
    Staff,
    Tag,
)


def contact_scope_q(principal: Principal) -> Q:
    """What part of the tenant's customers ``principal`` may see and act on (facets keys, see facets.py)."""
    if principal.role in (Role.ADMIN, Role.OPERATOR) or principal.data_scope == DataScope.ALL:
        return Q()
    if not principal.wecom_userid:
        return Q(pk__in=[])
    own = Q(facets__has_key=f"s:{principal.wecom_userid}")
    if principal.data_scope == DataScope.DEPARTMENTS and principal.department_ids:
        return own | Q(facets__has_any_keys=[f"d:{d}" for d in principal.department_ids])
    return own


def contacts_visible(principal: Principal) -> QuerySet[Contact]:
    return Contact.objects.filter(contact_scope_q(principal))


def contacts_matching(*, principal: Principal, filters: Mapping[str, str]) -> QuerySet[Contact]:
    """The contacts a saved filter (the list's query parameters) selects, within the principal's scope.

    Raises DRF's ValidationError (400, naming the parameter) for invalid or unknown values.
    """
    from rest_framework.exceptions import ValidationError

    data = QueryDict(mutable=True)
    for key in FILTER_PARAMS:
        if filters.get(key) not in (None, ""):
            data[key] = str(filters[key])
    filterset = ContactFilter(data=data, queryset=contacts_visible(principal))
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs


SEGMENT_TAG_PARAMS = ("tags_all", "tags_any", "tags_none")


def segments_deleted_tags(segments: Iterable[Segment]) -> dict[int, list[dict[str, Any]]]:
    """Per segment, the tags its filters name that are gone (deleted in WeCom, with their group or
    alone): ``{"id", "name", "group", "filter"}`` each, the name ``None`` for an id never known. One
    query for all the segments (a page of the list)."""
    wanted: dict[int, list[tuple[int, str]]] = {}
    for segment in segments:
        wanted[segment.pk] = [
            (int(part), param)
            for param in SEGMENT_TAG_PARAMS
            for part in str((segment.filters or {}).get(param) or "").split(",")
            if part.strip().isdigit()
        ]
    ids = {tag_id for pairs in wanted.values() for tag_id, _ in pairs}
    known = (
        {t["id"]: t for t in Tag.objects.filter(id__in=ids).values("id", "name", "group__name", "deleted")}
        if ids
        else {}
    )
    gone_ids = {tag_id for tag_id in ids if tag_id not in known or known[tag_id]["deleted"]}
    gone = {tag_id: known[tag_id] for tag_id in gone_ids if tag_id in known}
    return {
        pk: [
            {
                "id": tag_id,
                "name": gone[tag_id]["name"] if tag_id in gone else None,
                "group": gone[tag_id]["group__name"] if tag_id in gone else None,
                "filter": param,
            }
            for tag_id, param in pairs
            if tag_id in gone_ids
        ]
        for pk, pairs in wanted.items()
    }


# -- staff and departments ------------------------------------------------------------------------


def department_subtree(wecom_id: int) -> list[int]:
    """A department and every department under it (WeCom ids): staff usually sit in leaf departments,
    so filtering by a parent such as 销售中心 means its whole branch. One query: a corp's tree is small."""
    children: dict[int, list[int]] = {}
    for dept, parent in Department.objects.values_list("wecom_id", "parent_wecom_id"):
        children.setdefault(parent, []).append(dept)
    branch, todo = [], [wecom_id]
    while todo:
        dept = todo.pop()
        if dept not in branch:
            branch.append(dept)
            todo.extend(children.get(dept, ()))
    return branch


def staff_ids_in_departments(department_ids: Iterable[int]) -> list[int]:
    """Staff of these WeCom departments. Filtered in Python: JSON containment does not exist on SQLite,
    and a corp's member list is small (one query, two columns)."""
    wanted = set(department_ids)
    return [
        pk
        for pk, departments in Staff.objects.values_list("id", "department_ids")
        if wanted.intersection(departments or ())
    ]


def staff_with_counts() -> QuerySet[Staff]:
    """Staff with ``customer_count``: their active follows, counted in the same query."""
    # A correlated count (the follows index answers it) is computed for the page's rows only, where a
    # JOIN + GROUP BY would aggregate every follow of the corp before the LIMIT.
    active = (
        Follow.objects.filter(staff=OuterRef("pk"), status=FollowStatus.ACTIVE)
        .order_by()
        .values("staff")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Staff.objects.annotate(customer_count=Coalesce(Subquery(active), 0)).order_by("name", "id")


def department_tree() -> list[dict[str, Any]]:
    """The tenant's departments nested under their parents, from one query (WeCom's order: larger first)."""
    nodes = {
        row["wecom_id"]: {**row, "children": []}
        for row in Department.objects.order_by("parent_wecom_id", "-order", "wecom_id").values(
            "id", "wecom_id", "name", "parent_wecom_id", "order"
        )
    }
    roots = []
    for node in nodes.values():
        parent = nodes.get(node["parent_wecom_id"])
        # A department whose parent is outside the app's visible range is shown as a root.
        (parent["children"] if parent is not None and parent is not node else roots).append(node)
    return roots


# -- contacts -------------------------------------------------------------------------------------

CONTACT_ROW_FIELDS = (
    "id",
    "external_userid",
    "name",
    "avatar",
    "type",
    "gender",
    "corp_name",
    "status",
    "stage_id",
    "stage__name",
    "first_added_at",
    "facets",
    "value_row",  # contacts_for_rows
)


def contacts_for_rows(queryset: QuerySet[Contact]) -> QuerySet[Contact]:
    """``queryset`` with what the list's rows show of the customer's value (value.ContactValue): its
    tier, score and LTV as one JSON array ``[tier, score, "ltv"]``, null while not computed yet.

    A correlated subquery on the unique (tenant, contact) key rather than a JOIN: PostgreSQL evaluates
    it for the page's rows only, after the sort and the LIMIT, where a JOIN is made for every matching
    row before a top-N sort (thousands of lookups for a broad filter). The value filters and the score
    and LTV orderings join ``value`` themselves, when given.
    """
    row = ContactValue.objects.filter(contact=OuterRef("pk")).values(
        row=JSONArray("tier", "score", Cast("ltv", output_field=CharField()))
    )
    return queryset.annotate(value_row=Subquery(row[:1]))


CENT = Decimal("0.01")


def contact_rows_resolve(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turn a page of ``CONTACT_ROW_FIELDS`` rows into list rows: the tags and followers named in the
    facets are resolved with one query each for the whole page, whatever its size (the value columns
    come with the page's own query: ``contacts_for_rows``)."""
    tag_ids: set[int] = set()
    userids: set[str] = set()
    for row in rows:
        for key in row["facets"]:
            if key.startswith("t:"):
                tag_ids.add(int(key[2:]))
            elif key.startswith("s:"):
                userids.add(key[2:])
    tags = (
        {t["id"]: t for t in Tag.objects.filter(id__in=tag_ids).values("id", "name", "group_id")}
        if tag_ids
        else {}
    )
    staff = (
        {s["userid"]: s for s in Staff.objects.filter(userid__in=userids).values("userid", "name")}
        if userids
        else {}
    )
    out = []
    for row in rows:
        facets = row["facets"]
        out.append(
            {
                "id": row["id"],
                "external_userid": row["external_userid"],
                "name": row["name"],
                "avatar": row["avatar"],
                "type": row["type"],
                "gender": row["gender"],
                "corp_name": row["corp_name"],
                "status": row["status"],
                "stage": {"id": row["stage_id"], "name": row["stage__name"]} if row["stage_id"] else None,
                "first_added_at": row["first_added_at"],
                "tags": [tags[i] for i in sorted(int(k[2:]) for k in facets if k[:2] == "t:") if i in tags],
                "staff": [staff[k[2:]] for k in facets if k[:2] == "s:" and k[2:] in staff],
                **_value_columns(row["value_row"]),
            }
        )
    return out


def _value_columns(value_row: list | None) -> dict[str, Any]:
    if value_row is None:
        return {"tier": None, "score": None, "ltv": None}
    tier, score, ltv = value_row
    # A string, as every amount of the API ("3200.00"): SQLite's text of a decimal may be "3200.5".
    return {"tier": tier, "score": score, "ltv": str(Decimal(ltv).quantize(CENT))}


def contact_follows(contact: Contact) -> list[dict[str, Any]]:
    """The contact's follows (active first, then by when added) with their staff and tags resolved."""
    follows = list(
        Follow.objects.filter(contact=contact)
        .select_related("staff")
        .order_by(Case(When(status=FollowStatus.ACTIVE, then=0), default=1), "added_at", "id")
    )
    wecom_tag_ids = {t for follow in follows for t in follow.tag_ids or ()}
    tags = {
        t["wecom_id"]: t
        for t in Tag.objects.filter(wecom_id__in=wecom_tag_ids).values("id", "wecom_id", "name", "group_id")
    }
    return [
        {
            "staff": {"userid": f.staff.userid, "name": f.staff.name},
            "remark": f.remark,
            "description": f.description,
            "remark_corp_name": f.remark_corp_name,
            "remark_mobiles": f.remark_mobiles,
            "add_way": f.add_way,
            "state": f.state,
            "tags": [
                {"id": tags[t]["id"], "name": tags[t]["name"], "group_id": tags[t]["group_id"]}
                for t in f.tag_ids or ()
                if t in tags
            ],
            "added_at": f.added_at,
            "status": f.status,
            "ended_at": f.ended_at,
        }
        for f in follows
    ]


def contact_notes(contact: Contact) -> QuerySet[Note]:
    return (
        Note.objects.filter(contact=contact)
        .select_related("author", "author_api_key")
        .order_by("-created_at", "-id")
    )


def contact_timeline(contact: Contact) -> QuerySet[ContactEvent]:
    """The contact's events, latest first (by id: the stream's order)."""
    return (
        ContactEvent.objects.filter(contact=contact)
        .select_related("staff", "actor", "actor_api_key")
        .order_by("-id")
    )


# -- losses ---------------------------------------------------------------------------------------


def follow_scope_q(principal: Principal) -> Q:
    """Which follows ``principal`` may see: a sales member its own (or its departments' staff's)."""
    if principal.role in (Role.ADMIN, Role.OPERATOR) or principal.data_scope == DataScope.ALL:
        return Q()
    if not principal.wecom_userid:
        return Q(pk__in=[])
    own = Q(staff__userid=principal.wecom_userid)
    if principal.data_scope == DataScope.DEPARTMENTS and principal.department_ids:
        return own | Q(staff_id__in=staff_ids_in_departments(principal.department_ids))
    return own


def follows_lost(principal: Principal) -> QuerySet[Follow]:
    """Customers who deleted a staff member (流失), newest first, with how many days they stayed."""
    stayed = ExpressionWrapper(F("ended_at") - F("added_at"), output_field=DurationField())
    return (
        Follow.objects.filter(follow_scope_q(principal), status=FollowStatus.DELETED_BY_CUSTOMER)
        .select_related("contact", "staff")
        .annotate(stayed=stayed)
        .order_by(F("ended_at").desc(nulls_last=True), "-id")
    )


# -- overview -------------------------------------------------------------------------------------

OVERVIEW_DAYS = 30


def overview(
    principal: Principal, *, now: dt.datetime | None = None, days: int = OVERVIEW_DAYS
) -> dict[str, Any]:
    """The dashboard's headline numbers and its daily new/lost series, within ``principal``'s scope.

    Days are calendar days in the tenant's time zone (``settings.TIME_ZONE``); a day is counted by
    the distinct customers who added (``ADDED``) or deleted (``LOST``) a staff member that day, so a
    customer adding two salespeople the same day is one new customer. Events are scoped by the staff
    member they concern (as the losses list is): a sales member's "lost today" is the customers who
    deleted *them*, even when another salesperson still follows the customer. Four queries whatever
    the data (the three counts and one grouped query for the whole series), plus the department's
    staff for a department-scoped sales member.
    """
    tz = timezone.get_default_timezone()
    today = timezone.localdate(now or timezone.now(), tz)
    first = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    counted = (
        ContactEvent.objects.filter(
            follow_scope_q(principal),
            type__in=[EventType.ADDED, EventType.LOST],
            occurred_at__gte=start,
            occurred_at__lt=end,
        )
        .annotate(day=TruncDate("occurred_at", tzinfo=tz))
        .order_by()
        .values("day", "type")
        .annotate(n=Count("contact_id", distinct=True))
    )
    per_day = {(row["day"], row["type"]): row["n"] for row in counted}
    series = [
        {
            "date": day,
            "new": per_day.get((day, EventType.ADDED), 0),
            "lost": per_day.get((day, EventType.LOST), 0),
        }
        for day in (first + dt.timedelta(days=i) for i in range(days))
    ]
    week_start = today - dt.timedelta(days=today.weekday())  # Monday
    this_week = [point for point in series if point["date"] >= week_start]
    return {
        "customers": contacts_visible(principal).filter(status=ContactStatus.ACTIVE).count(),
        "new_today": series[-1]["new"],
        "lost_today": series[-1]["lost"],
        "net_this_week": sum(p["new"] - p["lost"] for p in this_week),
        "tags": Tag.objects.filter(deleted=False).count(),
        "staff": Staff.objects.filter(is_active=True).count(),
        "today": today,
        "week_start": week_start,
        "time_zone": str(tz),
        "daily": series,
    }
