"""Reads of the SOP app, with the data scope applied once (DESIGN.md §3).

Admins and operators run SOPs and see all of them, their enrolments and every member's tasks. A sales
member sees no SOP (the routes answer 403) but its own tasks: the ones of the staff member whose WeCom
userid its membership carries; without one (or as a sales API key, which belongs to no member) it sees
none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import Count, IntegerField, Max, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from scrm.tenancy.models import Role
from scrm.tenancy.principal import Principal

from .models import (
    EnrolmentStatus,
    Sop,
    SopEnrolment,
    SopStepRun,
    SopTask,
    SopTaskStatus,
    SopVersion,
)

DUE_CHOICES = ("all", "today", "overdue")


def runs_sops(principal: Principal) -> bool:
    return principal.role in (Role.ADMIN, Role.OPERATOR)


# -- SOPs -----------------------------------------------------------------------------------------


def sop_list() -> QuerySet[Sop]:
    """Every SOP of the tenant, newest first, with its live version, author and how many customers (or
    groups) are inside now: one query a page."""
    active = (
        SopEnrolment.objects.filter(sop=OuterRef("pk"), status=EnrolmentStatus.ACTIVE)
        .order_by()
        .values("sop")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Sop.objects.select_related("live_version", "created_by", "created_by_api_key")
        .defer("live_version__definition")
        .annotate(
            active_enrolments=Coalesce(Subquery(active, output_field=IntegerField()), Value(0)),
            version_count=Coalesce(
                Subquery(
                    SopVersion.objects.filter(sop=OuterRef("pk"))
                    .order_by()
                    .values("sop")
                    .annotate(n=Count("pk"))
                    .values("n"),
                    output_field=IntegerField(),
                ),
                Value(0),
            ),
        )
        .order_by("-id")
    )


def sop_versions(sop: Sop) -> QuerySet[SopVersion]:
    """The SOP's versions, newest first, with their publisher and enrolment counts (one query; the
    counts go through the enrolments' (tenant, sop, status) index: versions have none there)."""
    return (
        SopVersion.objects.filter(sop=sop)
        .select_related("published_by", "published_by_api_key")
        .annotate(
            enrolled=Coalesce(
                Subquery(
                    SopEnrolment.objects.filter(sop=sop, version=OuterRef("pk"))
                    .order_by()
                    .values("version")
                    .annotate(n=Count("pk"))
                    .values("n"),
                    output_field=IntegerField(),
                ),
                Value(0),
            ),
            active=Coalesce(
                Subquery(
                    SopEnrolment.objects.filter(
                        sop=sop, version=OuterRef("pk"), status=EnrolmentStatus.ACTIVE
                    )
                    .order_by()
                    .values("version")
                    .annotate(n=Count("pk"))
                    .values("n"),
                    output_field=IntegerField(),
                ),
                Value(0),
            ),
        )
        .order_by("-number")
    )


# The largest number a version can have (a PostgreSQL integer column).
VERSION_MAX = 2**31 - 1


def version_by_number(sop: Sop, number: int | None) -> SopVersion | None:
    if number is None or number > VERSION_MAX:
        return None
    return SopVersion.objects.filter(sop=sop, number=number).first()


# -- steps of a definition --------------------------------------------------------------------------


def definition_walk(steps: Any) -> Iterator[dict[str, Any]]:
    """Every step of a definition's step list, nested ones included, in flow order (a draft may be
    malformed: what is not a step is passed over)."""
    if not isinstance(steps, list):
        return
    for step in steps:
        if not isinstance(step, dict):
            continue
        yield step
        if step.get("type") == "branch":
            yield from definition_walk(step.get("then"))
            yield from definition_walk(step.get("else"))
        elif step.get("type") == "split":
            for branch in step.get("branches") or []:
                if isinstance(branch, dict):
                    yield from definition_walk(branch.get("steps"))


def step_label(step: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(step.get("id", "")),
        "type": str(step.get("type", "")),
        "action": str(step.get("action", "")) if step.get("type") == "action" else "",
        "title": str(step.get("title") or ""),
    }


def step_labels(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(step.get("id")): step_label(step) for step in definition_walk(definition.get("steps"))}


# -- enrolments -----------------------------------------------------------------------------------


def sop_enrolments(
    sop: Sop, *, statuses: list[str] | None = None, version: SopVersion | None = None
) -> QuerySet[SopEnrolment]:
    """The SOP's enrolments, newest first, with customer, group and member (one query a page)."""
    enrolments = SopEnrolment.objects.filter(sop=sop)
    if statuses:
        enrolments = enrolments.filter(status__in=statuses)
    if version is not None:
        enrolments = enrolments.filter(version=version)
    return enrolments.select_related("contact", "group", "staff").order_by("-id")


def enrolment_rows(enrolments: list[SopEnrolment]) -> list[dict[str, Any]]:
    """A page of enrolments as the list shows them, with the step each is at (the latest step run) and
    its version's number and step titles: two queries for the page, whatever its size."""
    ids = [e.pk for e in enrolments]
    # The newest run of each enrolment (a page's worth): MAX(id) per enrolment works on SQLite too.
    newest = (
        SopStepRun.objects.filter(enrolment_id__in=ids)
        .order_by()
        .values("enrolment_id")
        .annotate(newest=Max("id"))
        .values("newest")
    )
    latest = {
        run.enrolment_id: run
        for run in SopStepRun.objects.filter(pk__in=Subquery(newest)).only(
            "enrolment_id", "step_id", "status", "due_at", "outcome"
        )
    }
    versions = {
        pk: (number, step_labels(definition))
        for pk, number, definition in SopVersion.objects.filter(
            pk__in={e.version_id for e in enrolments}
        ).values_list("pk", "number", "definition")
    }
    rows = []
    for e in enrolments:
        number, labels = versions.get(e.version_id, (None, {}))
        run = latest.get(e.pk)
        step = None
        if run is not None:
            label = labels.get(run.step_id, {"id": run.step_id, "type": "", "action": "", "title": ""})
            step = {**label, "status": run.status, "due_at": run.due_at, "outcome": run.outcome}
        rows.append(
            {
                "id": e.pk,
                "contact": {"id": e.contact.pk, "name": e.contact.name, "avatar": e.contact.avatar}
                if e.contact
                else None,
                "group": {"id": e.group.pk, "name": e.group.name} if e.group else None,
                "staff": {"id": e.staff.pk, "userid": e.staff.userid, "name": e.staff.name}
                if e.staff
                else None,
                "version": number,
                "status": e.status,
                "exit_reason": e.exit_reason,
                "occurrence": e.occurrence,
                "current_step": step,
                "splits": e.splits or {},
                "enrolled_at": e.enrolled_at,
                "finished_at": e.finished_at,
                "goal_at": e.goal_at,
            }
        )
    return rows


# -- members' tasks -------------------------------------------------------------------------------


def tasks_visible(principal: Principal) -> QuerySet[SopTask]:
    tasks = SopTask.objects.all()
    if runs_sops(principal):
        return tasks
    if not principal.wecom_userid:
        return tasks.none()
    return tasks.filter(staff__userid=principal.wecom_userid)


def task_list(
    principal: Principal,
    *,
    statuses: Iterable[str] = (),
    due: str = "all",
    staff_ids: Iterable[int] = (),
    sop_ids: Iterable[int] = (),
    day_start: dt.datetime | None = None,
) -> QuerySet[SopTask]:
    """The tasks ``principal`` may see, soonest due first. ``due``: ``today`` — due during the tenant's
    day starting at ``day_start``; ``overdue`` — still open and due before it."""
    tasks = tasks_visible(principal)
    statuses, staff_ids, sop_ids = list(statuses), list(staff_ids), list(sop_ids)
    if statuses:
        tasks = tasks.filter(status__in=statuses)
    if staff_ids:
        tasks = tasks.filter(staff_id__in=staff_ids)
    if sop_ids:
        tasks = tasks.filter(sop_id__in=sop_ids)
    if due == "today" and day_start is not None:
        tasks = tasks.filter(due_at__gte=day_start, due_at__lt=day_start + dt.timedelta(days=1))
    elif due == "overdue" and day_start is not None:
        tasks = tasks.filter(due_at__lt=day_start, status__in=(SopTaskStatus.TODO, SopTaskStatus.POSTPONED))
    return tasks.select_related("sop", "staff", "contact", "group").order_by("due_at", "id")
