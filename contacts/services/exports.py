"""CSV exports of contacts: created from the API as a job, written in the background, downloaded later.

The job's params keep the filter and the creator's data scope, so the worker exports exactly what the
creator could see when they asked, however long the queue. Rows are read in id order, a chunk at a
time (keyset, never OFFSET), with one query for the chunk's follows: memory stays flat for a million
contacts. The file is UTF-8 with a BOM, which is how Excel recognises UTF-8 (Chinese names) in a CSV.

The customer's value columns come from its ``ContactValue`` and ``PointsAccount`` rows (LEFT JOINs on
their unique contact keys, in the chunk's own query; empty while the value is not computed), and the
``profile`` column stands for one column per profile field in use when the file is written, headed
by the field's label.
"""

from __future__ import annotations

import csv
import tempfile
from collections import defaultdict
from typing import Any

from django.core.files import File
from django.db.models import QuerySet
from django.utils import timezone

from scrm.durable import work_update
from scrm.spreadsheets import cell_safe
from scrm.tenancy.actors import Actor
from scrm.tenancy.principal import Principal
from scrm.tenancy.services import audit_record
from value.models import Level, ProfileField

from ..models import Follow, FollowStatus, Job, JobKind, Stage, Tag
from ..selectors import contacts_matching
from .jobs import job_create, job_principal, job_progress, job_runner, job_set_total

CHUNK = 2000
EXPORT_COLUMNS = (
    "external_userid",
    "name",
    "gender",
    "type",
    "corp_name",
    "stage",
    "status",
    "first_added_at",
    "staff",
    "remarks",
    "mobiles",
    "tags",
    "channels",
    "tier",
    "score",
    "ltv",
    "orders",
    "points",
    "level",
)
# What a request may ask for: the columns, and "profile" (a column per profile field in use).
EXPORT_COLUMN_CHOICES = (*EXPORT_COLUMNS, "profile")
PROFILE_PREFIX = "profile."
GENDERS = {0: "", 1: "男", 2: "女"}
TYPES = {1: "微信", 2: "企业微信"}


def export_create(
    *,
    principal: Principal,
    filters: dict[str, str],
    columns: list[str],
    segment_id: int | None = None,
    idempotency_key: str = "",
) -> tuple[Job, bool]:
    """Queue an export of the contacts ``filters`` select within ``principal``'s scope (audit-logged)."""
    # Validate now: a typo must be a 400 to the caller, not a failed job later.
    contacts_matching(principal=principal, filters=filters)
    params = {
        "filters": filters,
        "columns": columns,
        "segment": segment_id,
    }
    job, created = job_create(
        principal=principal, kind=JobKind.EXPORT, params=params, idempotency_key=idempotency_key
    )
    if created:
        audit_record(
            actor=Actor.of(principal),
            action="contacts.export",
            data={"job": job.pk, "filters": filters, "segment": segment_id, "columns": columns},
        )
    return job, created


def _chunks(queryset: QuerySet) -> Any:
    last = 0
    fields = ("id", "external_userid", "name", "gender", "type", "corp_name", "stage_id", "status")
    value = (
        "value__tier",
        "value__score",
        "value__ltv",
        "value__orders",
        "points__balance",
        "points__level_id",
    )
    queryset = queryset.order_by("id").values(*fields, "first_added_at", "facets", "profile", *value)
    while True:
        rows = list(queryset.filter(id__gt=last)[:CHUNK])
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]


def _follows_of(contact_ids: list[int]) -> dict[int, list[dict]]:
    follows: dict[int, list[dict]] = defaultdict(list)
    for row in (
        Follow.objects.filter(contact_id__in=contact_ids)
        .order_by("contact_id", "added_at", "id")
        .values("contact_id", "status", "remark", "remark_mobiles", "state", "staff__name", "staff__userid")
    ):
        follows[row["contact_id"]].append(row)
    return follows


def _join(values) -> str:
    return "; ".join(dict.fromkeys(v for v in values if v))


def _neutralised(row: dict) -> dict:
    return {column: cell_safe(value) for column, value in row.items()}


def _profile_cell(value):
    """A profile value as a cell: a multiple choice as "a; b", a number as a number, the rest as text."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return value


def _row(
    contact: dict,
    follows: list[dict],
    tags: dict[int, str],
    stages: dict[int, str],
    levels: dict[int, str],
    profile_keys: list[str],
) -> dict:
    # The columns about follows describe the ones that count (active, else the ended ones of a lost
    # customer), as the list and its filters do.
    counted = [f for f in follows if f["status"] == FollowStatus.ACTIVE] or follows
    added = contact["first_added_at"]
    computed = contact["value__tier"] is not None
    profile = contact["profile"] or {}
    return {
        "external_userid": contact["external_userid"],
        "name": contact["name"],
        "gender": GENDERS.get(contact["gender"], ""),
        "type": TYPES.get(contact["type"], str(contact["type"])),
        "corp_name": contact["corp_name"],
        "stage": stages.get(contact["stage_id"], ""),
        "status": contact["status"],
        "first_added_at": timezone.localtime(added).strftime("%Y-%m-%d %H:%M:%S") if added else "",
        "staff": _join(f"{f['staff__name']}({f['staff__userid']})" for f in counted),
        "remarks": _join(f["remark"] for f in counted),
        "mobiles": _join(m for f in counted for m in f["remark_mobiles"] or ()),
        "tags": _join(tags.get(int(k[2:]), "") for k in contact["facets"] if k.startswith("t:")),
        "channels": _join(f["state"] for f in counted),
        "tier": contact["value__tier"] or "",
        "score": contact["value__score"] if computed else "",
        "ltv": str(contact["value__ltv"]) if computed else "",
        "orders": contact["value__orders"] if computed else "",
        "points": contact["points__balance"] or 0,
        "level": levels.get(contact["points__level_id"], ""),
        **{PROFILE_PREFIX + key: _profile_cell(profile.get(key)) for key in profile_keys},
    }


@job_runner(JobKind.EXPORT)
def export_run(job: Job) -> None:
    """Write the export's CSV to ``job.result_file``. A resumed job starts over: the file is rebuilt whole."""
    queryset = contacts_matching(principal=job_principal(job), filters=job.params["filters"])
    wanted = job.params.get("columns") or EXPORT_COLUMN_CHOICES
    columns = [c for c in wanted if c in EXPORT_COLUMNS]
    headers = list(columns)
    profile_keys: list[str] = []
    if "profile" in wanted:
        # The fields in use now, in their order; a column per field, headed by its label.
        for key, label in (
            ProfileField.objects.filter(archived=False).order_by("order", "id").values_list("key", "label")
        ):
            profile_keys.append(key)
            columns.append(PROFILE_PREFIX + key)
            headers.append(label)
    tags = dict(Tag.objects.values_list("id", "name"))
    stages = dict(Stage.objects.values_list("id", "name"))
    levels = dict(Level.objects.values_list("id", "name"))
    job_set_total(job, queryset.count())
    if job.done:
        work_update(job, done=0)
    with tempfile.TemporaryFile("w+", encoding="utf-8-sig", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        # Labels are the tenant's text: neutralised like every cell.
        writer.writerow(_neutralised(dict(zip(columns, headers, strict=True))))
        for rows in _chunks(queryset):
            follows = _follows_of([r["id"] for r in rows])
            writer.writerows(
                _neutralised(_row(r, follows.get(r["id"], []), tags, stages, levels, profile_keys))
                for r in rows
            )
            job_progress(job, done=len(rows))
        out.flush()
        out.seek(0)
        name = f"contacts-{job.pk}-{timezone.localtime():%Y%m%d-%H%M%S}.csv"
        job.result_file.save(name, File(out.buffer), save=False)
    work_update(job, result_file=job.result_file.name)
