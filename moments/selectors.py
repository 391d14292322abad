"""Reads of the Moments app, with the data scope applied once (DESIGN.md §3).

Admins and operators run Moments and see everything. A sales member sees the Moments in which it has a
publication (a corp post it was asked to publish, or its own post), the tasks that became them, and in
them only its own publication, its own interactions and figures over its own copy; a sales API key
belongs to no member and sees none. Days are the tenant's (the campaigns settings' time zone): the
views read dates inside ``timezone.override(zone)``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from contacts.models import Contact, Department, Staff, Tag
from contacts.selectors import department_subtree, staff_ids_in_departments
from library.models import Material
from scrm.api.dates import day_start
from scrm.tenancy.models import Role
from scrm.tenancy.principal import Principal

from .models import (
    CreateType,
    InteractionKind,
    MemberSync,
    Moment,
    MomentInteraction,
    MomentPublication,
    MomentReach,
    MomentTask,
    TaskStatus,
)

CALENDAR_MAX_DAYS = 62
CALENDAR_MAX_ITEMS = 1_000
CALENDAR_TEXT = 60
RECENT_INTERACTIONS = 20
RANKING_ORDERINGS = (
    "asked",
    "published",
    "publish_rate",
    "own_posts",
    "likes",
    "comments",
    "engaged_customers",
)


def runs_moments(principal: Principal) -> bool:
    return principal.role in (Role.ADMIN, Role.OPERATOR)


def _own(principal: Principal, staff: str = "staff") -> Q:
    """The rows of ``principal``'s own copies (everything for the people who run Moments)."""
    if runs_moments(principal):
        return Q()
    if not principal.wecom_userid:
        return Q(pk__in=[])
    return Q(**{f"{staff}__userid": principal.wecom_userid})


def _mine(principal: Principal, moment_ref: str) -> Exists:
    return Exists(
        MomentPublication.objects.filter(moment=OuterRef(moment_ref), staff__userid=principal.wecom_userid)
    )


def moments_visible(principal: Principal) -> QuerySet[Moment]:
    moments = Moment.objects.all()
    if runs_moments(principal):
        return moments
    if not principal.wecom_userid:
        return moments.none()
    return moments.filter(_mine(principal, "pk"))


def tasks_visible(principal: Principal) -> QuerySet[MomentTask]:
    tasks = MomentTask.objects.all()
    if runs_moments(principal):
        return tasks
    if not principal.wecom_userid:
        return tasks.none()
    # Only a task in WeCom has publications: a sales member never sees drafts or scheduled tasks.
    return tasks.filter(_mine(principal, "moment_id"))


def task_list(principal: Principal) -> QuerySet[MomentTask]:
    """The tasks ``principal`` may see, newest first, with what the list shows (one query a page)."""
    return (
        tasks_visible(principal).select_related("moment", "created_by", "created_by_api_key").order_by("-id")
    )


def moment_list(principal: Principal) -> QuerySet[Moment]:
    """Every Moment ``principal`` may see, newest first, with its creator and task (one query a page)."""
    return moments_visible(principal).select_related("creator", "task").order_by("-created_at_wecom", "-id")


def moment_figures(principal: Principal, moments: list[Moment]) -> dict[int, dict[str, int]]:
    """Per Moment of a page, the figures ``principal`` may see: the totals tracking keeps, or, for a
    sales member, the sums over its own copies (two queries for the page, none for the others)."""
    if runs_moments(principal):
        return {
            m.pk: {
                "members": m.members,
                "published": m.published,
                "reach": m.reach,
                "likes": m.likes,
                "comments": m.comments,
                "engaged_customers": m.engaged_customers,
            }
            for m in moments
        }
    empty = {"members": 0, "published": 0, "reach": 0, "likes": 0, "comments": 0, "engaged_customers": 0}
    ids = [m.pk for m in moments]
    if not ids:
        return {}
    own = {
        row.pop("moment_id"): row
        for row in MomentPublication.objects.filter(_own(principal), moment_id__in=ids)
        .order_by()
        .values("moment_id")
        .annotate(
            members=Count("id"),
            published=Count("id", filter=Q(published=True)),
            reach=Coalesce(Sum("reach"), 0),
            likes=Coalesce(Sum("likes"), 0),
            comments=Coalesce(Sum("comments"), 0),
        )
    }
    engaged = dict(
        MomentInteraction.objects.filter(_own(principal), moment_id__in=ids)
        .exclude(external_userid="")
        .order_by()
        .values("moment_id")
        .annotate(n=Count("external_userid", distinct=True))
        .values_list("moment_id", "n")
    )
    return {pk: {**own.get(pk, empty), "engaged_customers": engaged.get(pk, 0)} for pk in ids}


def task_names(task: MomentTask) -> dict[str, dict]:
    """The names a task's page shows: the members, departments and tags it names, and those WeCom
    refused (by userid, WeCom department id and WeCom tag id). Six small queries."""
    invalid = task.invalid_senders or {}
    invalid_departments = {d for d in invalid.get("department_list") or () if isinstance(d, int)}
    return {
        "staff": {
            s.pk: {"id": s.pk, "userid": s.userid, "name": s.name, "avatar": s.avatar}
            for s in Staff.objects.filter(pk__in=task.staff_ids).only("id", "userid", "name", "avatar")
        },
        "departments": dict(Department.objects.filter(pk__in=task.department_ids).values_list("pk", "name")),
        "tags": dict(Tag.objects.filter(pk__in=task.tag_ids).values_list("pk", "name")),
        "invalid_users": staff_names({str(u) for u in invalid.get("user_list") or ()}),
        "invalid_departments": department_names(invalid_departments),
        "invalid_tags": dict(
            Tag.objects.filter(wecom_id__in=[str(t) for t in task.invalid_tags or ()]).values_list(
                "wecom_id", "name"
            )
        ),
    }


def task_materials(task: MomentTask) -> list[tuple[int, Material | None]]:
    """The task's attachments in order, each with its material (None when it is gone), with covers."""
    ids = [a.get("material_id") for a in task.attachments or () if isinstance(a, dict)]
    found = Material.objects.filter(pk__in=[pk for pk in ids if isinstance(pk, int)]).select_related("cover")
    materials = {m.pk: m for m in found}
    return [(pk, materials.get(pk)) for pk in ids if isinstance(pk, int)]


# -- one Moment -------------------------------------------------------------------------------------


def moment_publications(
    principal: Principal, moment: Moment, *, published: bool | None = None, department: int | None = None
) -> QuerySet[MomentPublication]:
    """The members' copies of ``moment`` (sales: its own), by member name; ``department`` is a WeCom
    department id and takes the members of its whole branch."""
    rows = MomentPublication.objects.filter(_own(principal), moment=moment)
    if published is not None:
        rows = rows.filter(published=published)
    if department is not None:
        rows = rows.filter(staff_id__in=staff_ids_in_departments(department_subtree(department)))
    return rows.select_related("staff").order_by("staff__name", "staff_id")


def moment_interactions(
    principal: Principal, moment: Moment, *, kind: str | None = None
) -> QuerySet[MomentInteraction]:
    """Likes and comments on ``moment`` (sales: on its own copy), newest first."""
    rows = MomentInteraction.objects.filter(_own(principal), moment=moment)
    if kind:
        rows = rows.filter(kind=kind)
    return rows.select_related("staff", "contact").order_by("-occurred_at", "-id")


def department_names(department_ids: set[int]) -> dict[int, str]:
    """WeCom department id → name, one query for a page of rows."""
    if not department_ids:
        return {}
    return dict(Department.objects.filter(wecom_id__in=department_ids).values_list("wecom_id", "name"))


def staff_names(userids: set[str]) -> dict[str, str]:
    """Member userid → name (colleagues who liked or commented), one query for a page of rows."""
    if not userids:
        return {}
    return dict(Staff.objects.filter(userid__in=userids).values_list("userid", "name"))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class MomentStats:
    totals: dict[str, Any]
    by_department: list[dict[str, Any]]
    by_day: list[dict[str, Any]]


def _engaged(interactions: QuerySet[MomentInteraction]) -> int:
    # A customer is known by external_userid (one not in Siyu yet counts too); colleagues have none.
    return interactions.exclude(external_userid="").values("external_userid").distinct().count()


def moment_stats(principal: Principal, moment: Moment, *, zone: zoneinfo.ZoneInfo) -> MomentStats:
    """Publish rate, reach and engagement of ``moment``: its totals, the publish rate per department and
    the day-by-day figures in the tenant's zone. The people who run Moments get the totals the tracking
    keeps; a sales member the figures over its own copy. A fixed number of queries."""
    publications = MomentPublication.objects.filter(_own(principal), moment=moment)
    interactions = MomentInteraction.objects.filter(_own(principal), moment=moment)
    if runs_moments(principal):
        figures = {
            "members": moment.members,
            "published": moment.published,
            "reach": moment.reach,
            "likes": moment.likes,
            "comments": moment.comments,
            "engaged_customers": moment.engaged_customers,
        }
    else:
        sums = publications.aggregate(
            members=Count("id"),
            published=Count("id", filter=Q(published=True)),
            reach=Coalesce(Sum("reach"), 0),
            likes=Coalesce(Sum("likes"), 0),
            comments=Coalesce(Sum("comments"), 0),
        )
        figures = {**sums, "engaged_customers": _engaged(interactions)}
    totals = {
        **figures,
        "publish_rate": _rate(figures["published"], figures["members"]),
        "interaction_rate": _rate(figures["engaged_customers"], figures["reach"]),
    }
    return MomentStats(
        totals=totals,
        by_department=_by_department(publications),
        by_day=_by_day(moment, publications, interactions, zone),
    )


def _by_department(publications: QuerySet[MomentPublication]) -> list[dict[str, Any]]:
    """Members and publishers per WeCom department of the members (a member of two counts in both),
    in SQL: one row per department however many members were asked."""
    rows = publications.values_list("staff_id", "published")
    sql, params = rows.query.sql_with_params()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The subquery is Django's own SQL for the scoped queryset, its values passed as parameters.
            cursor.execute(
                f"""
                SELECT (d.value)::bigint, count(*), count(*) FILTER (WHERE p.published)
                FROM ({sql}) AS p (staff_id, published)
                JOIN contacts_staff s ON s.id = p.staff_id
                CROSS JOIN LATERAL jsonb_array_elements_text(s.department_ids) AS d (value)
                GROUP BY 1
                """,  # noqa: S608
                params,
            )
            counts = {dept: (members, published) for dept, members, published in cursor.fetchall()}
    else:  # SQLite (development): the same counts in Python over the two columns
        departments = dict(
            Staff.objects.filter(id__in=rows.values("staff_id")).values_list("id", "department_ids")
        )
        counts = {}
        for staff_id, published in rows:
            for dept in departments.get(staff_id) or ():
                members, done = counts.get(dept, (0, 0))
                counts[dept] = (members + 1, done + int(published))
    names = department_names(set(counts))
    result = [
        {
            "department_id": dept,
            "name": names.get(dept, ""),
            "members": members,
            "published": published,
            "publish_rate": _rate(published, members),
        }
        for dept, (members, published) in counts.items()
    ]
    return sorted(result, key=lambda row: (-row["members"], row["department_id"]))


def _by_day(
    moment: Moment,
    publications: QuerySet[MomentPublication],
    interactions: QuerySet[MomentInteraction],
    zone: zoneinfo.ZoneInfo,
) -> list[dict[str, Any]]:
    """Per day in the tenant's zone, from the day it was posted to the last day with news: members who
    published (when first seen published) and likes and comments (when they happened)."""
    published = dict(
        publications.filter(published=True, published_at__isnull=False)
        .annotate(day=TruncDate("published_at", tzinfo=zone))
        .order_by()
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    engaged: dict[dt.date, dict[str, int]] = {}
    for day, kind, n in (
        interactions.annotate(day=TruncDate("occurred_at", tzinfo=zone))
        .order_by()
        .values("day", "kind")
        .annotate(n=Count("id"))
        .values_list("day", "kind", "n")
    ):
        engaged.setdefault(day, {})[kind] = n
    first = timezone.localtime(moment.created_at_wecom, zone).date()
    days = {first, *published, *engaged}
    start, end = min(days), max(days)
    return [
        {
            "date": start + dt.timedelta(days=offset),
            "published": published.get(start + dt.timedelta(days=offset), 0),
            "likes": engaged.get(start + dt.timedelta(days=offset), {}).get(InteractionKind.LIKE, 0),
            "comments": engaged.get(start + dt.timedelta(days=offset), {}).get(InteractionKind.COMMENT, 0),
        }
        for offset in range((end - start).days + 1)
    ]


# -- the calendar -----------------------------------------------------------------------------------


def _day_bounds(first: dt.date, last: dt.date, zone: zoneinfo.ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    with timezone.override(zone):
        return day_start(first), day_start(last + dt.timedelta(days=1))


def calendar(
    principal: Principal, *, first: dt.date, last: dt.date, zone: zoneinfo.ZoneInfo
) -> dict[str, Any]:
    """What was posted and what is planned, day by day from ``first`` to ``last`` (tenant days): tasks
    scheduled or being created in WeCom, corp posts and members' own posts. Every day's counts, and
    the items themselves up to ``CALENDAR_MAX_ITEMS`` (earliest first; ``truncated`` says when more).
    Three queries for the items and two for the counts, whatever the range holds."""
    start, end = _day_bounds(first, last, zone)
    planned = (
        tasks_visible(principal)
        .filter(status__in=(TaskStatus.SCHEDULED, TaskStatus.SUBMITTING), moment__isnull=True)
        .annotate(at=Coalesce("scheduled_at", "claimed_at", "created_at"))
        .filter(at__gte=start, at__lt=end)
    )
    posted = moments_visible(principal).filter(created_at_wecom__gte=start, created_at_wecom__lt=end)

    days: dict[dt.date, dict[str, int]] = {}
    for day, status, n in (
        planned.annotate(day=TruncDate("at", tzinfo=zone))
        .order_by()
        .values("day", "status")
        .annotate(n=Count("id"))
        .values_list("day", "status", "n")
    ):
        days.setdefault(day, {})[status] = n
    for day, create_type, n in (
        posted.annotate(day=TruncDate("created_at_wecom", tzinfo=zone))
        .order_by()
        .values("day", "create_type")
        .annotate(n=Count("id"))
        .values_list("day", "create_type", "n")
    ):
        days.setdefault(day, {})["corp" if create_type == CreateType.CORP else "member"] = n

    tasks = list(
        planned.select_related("created_by", "created_by_api_key").order_by("at", "id")[
            : CALENDAR_MAX_ITEMS + 1
        ]
    )
    moments = list(
        posted.select_related("creator", "task").order_by("created_at_wecom", "id")[: CALENDAR_MAX_ITEMS + 1]
    )
    items = [_task_item(task, zone) for task in tasks] + [_moment_item(moment, zone) for moment in moments]
    items.sort(key=lambda item: (item["at"], item["kind"], item["task_id"] or 0, item["moment_id"] or 0))
    return {
        "from": first,
        "to": last,
        "days": [
            {
                "date": day,
                "scheduled": counts.get(TaskStatus.SCHEDULED, 0),
                "submitting": counts.get(TaskStatus.SUBMITTING, 0),
                "corp": counts.get("corp", 0),
                "member": counts.get("member", 0),
            }
            for day, counts in sorted(days.items())
        ],
        "items": items[:CALENDAR_MAX_ITEMS],
        "truncated": len(items) > CALENDAR_MAX_ITEMS,
    }


def _task_item(task: MomentTask, zone: zoneinfo.ZoneInfo) -> dict[str, Any]:
    from scrm.tenancy.actors import actor_display

    author = actor_display(user=task.created_by, api_key=task.created_by_api_key)
    return {
        "date": timezone.localtime(task.at, zone).date(),
        "at": task.at,
        "kind": task.status,
        "task_id": task.pk,
        "moment_id": None,
        "text": task.text[:CALENDAR_TEXT],
        "creator": author["name"] if author else "",
        "published": None,
        "members": None,
    }


def _moment_item(moment: Moment, zone: zoneinfo.ZoneInfo) -> dict[str, Any]:
    task = getattr(moment, "task", None)
    return {
        "date": timezone.localtime(moment.created_at_wecom, zone).date(),
        "at": moment.created_at_wecom,
        "kind": "corp" if moment.create_type == CreateType.CORP else "member",
        "task_id": task.pk if task is not None else None,
        "moment_id": moment.pk,
        "text": moment.text[:CALENDAR_TEXT],
        "creator": moment.creator.name if moment.creator else moment.creator_userid,
        "published": moment.published,
        "members": moment.members,
    }


# -- the ranking ------------------------------------------------------------------------------------


def ranking(
    principal: Principal,
    *,
    first: dt.date,
    last: dt.date,
    zone: zoneinfo.ZoneInfo,
    department: int | None = None,
    ordering: str = "-published",
) -> list[dict[str, Any]]:
    """Per member, over the Moments posted from ``first`` to ``last`` (tenant days): corp posts it was
    asked to publish and did, its own posts, the likes and comments its copies got and the distinct
    customers who engaged. Sales: its own row only. Three queries, grouped in SQL."""
    start, end = _day_bounds(first, last, zone)
    in_period = Q(moment__created_at_wecom__gte=start, moment__created_at_wecom__lt=end)
    publications = MomentPublication.objects.filter(_own(principal), in_period)
    interactions = MomentInteraction.objects.filter(_own(principal), in_period).exclude(external_userid="")
    if department is not None:
        members = staff_ids_in_departments(department_subtree(department))
        publications = publications.filter(staff_id__in=members)
        interactions = interactions.filter(staff_id__in=members)
    corp, own = Q(moment__create_type=CreateType.CORP), Q(moment__create_type=CreateType.MEMBER)
    rows = {
        row["staff_id"]: row
        for row in publications.order_by()
        .values("staff_id")
        .annotate(
            asked=Count("id", filter=corp),
            published=Count("id", filter=corp & Q(published=True)),
            own_posts=Count("id", filter=own),
            likes=Coalesce(Sum("likes"), 0),
            comments=Coalesce(Sum("comments"), 0),
        )
    }
    engaged = dict(
        interactions.order_by()
        .values("staff_id")
        .annotate(n=Count("external_userid", distinct=True))
        .values_list("staff_id", "n")
    )
    staff = {
        s.pk: s
        for s in Staff.objects.filter(pk__in=rows).only("id", "userid", "name", "avatar", "department_ids")
    }
    result = [
        {
            "staff": {
                "id": pk,
                "userid": staff[pk].userid,
                "name": staff[pk].name,
                "avatar": staff[pk].avatar,
            },
            "asked": row["asked"],
            "published": row["published"],
            "publish_rate": _rate(row["published"], row["asked"]),
            "own_posts": row["own_posts"],
            "likes": row["likes"],
            "comments": row["comments"],
            "engaged_customers": engaged.get(pk, 0),
        }
        for pk, row in rows.items()
    ]
    field = ordering.lstrip("-")
    result.sort(key=lambda row: (row["staff"]["name"], row["staff"]["id"]))
    # Members without a rate (asked nothing) come last either way; the sorts are stable: ties by name.
    present = [row for row in result if row[field] is not None]
    absent = [row for row in result if row[field] is None]
    present.sort(key=lambda row: row[field], reverse=ordering.startswith("-"))
    return present + absent


# -- a customer's engagement ------------------------------------------------------------------------


def contact_engagement(contact: Contact) -> dict[str, Any]:
    """A customer's engagement with the corp's and members' Moments: likes, comments, the last one,
    the corp posts they could see, and the 20 latest interactions. Three queries on the contact
    indexes (``momentinteraction_contact``, ``momentreach_contact``)."""
    interactions = MomentInteraction.objects.filter(contact=contact)
    figures = interactions.aggregate(
        likes=Count("id", filter=Q(kind=InteractionKind.LIKE)),
        comments=Count("id", filter=Q(kind=InteractionKind.COMMENT)),
        last_interaction_at=Max("occurred_at"),
    )
    posts_seen = MomentReach.objects.filter(contact=contact).values("moment_id").distinct().count()
    recent = interactions.select_related("moment", "staff").order_by("-occurred_at", "-id")[
        :RECENT_INTERACTIONS
    ]
    return {**figures, "posts_seen": posts_seen, "recent": list(recent)}


def engaged_within_q(days: int, *, now: dt.datetime | None = None) -> Exists:
    """Contacts (as ``OuterRef("pk")``) who liked or commented a Moment in the last ``days`` days: an
    EXISTS on the ``momentinteraction_contact`` index, for the contacts filters."""
    since = (now or timezone.now()) - dt.timedelta(days=days)
    return Exists(MomentInteraction.objects.filter(contact=OuterRef("pk"), occurred_at__gte=since))


def member_sync_state(tenant) -> MemberSync | None:
    """Where the daily read of the members' own posts got to; None before its first run."""
    return MemberSync.objects.filter(tenant=tenant).first()
