"""An SOP's report: enrolments by outcome, goal conversion and time to goal, each step's counts in flow
order, each A/B split's branches with whether their difference is significant, and members' tasks.

Figures cover one version, or every version (steps drawn from the latest one: the builder keeps step
ids across edits, so a step's counts add up over versions). Every figure is a GROUP BY over the
report's indexes: a handful of queries whatever the number of enrolments, one more per split step.

Significance is computed here, from the counts (no statistics package): a two-proportion z-test for
two branches, Pearson's chi-square test of independence (branches × goal reached) for more.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from django.db import connection
from django.db.models import Aggregate, Count, F, FloatField, Func, Q
from django.db.models.fields.json import KeyTextTransform

from ..models import (
    EnrolmentStatus,
    Sop,
    SopEnrolment,
    SopStepRun,
    SopTask,
    SopTaskStatus,
    SopVersion,
    StepStatus,
)
from ..selectors import step_label

SIGNIFICANCE = 0.05


class _Median(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


class _EpochSeconds(Func):
    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


# -- statistics -------------------------------------------------------------------------------------


def two_proportion_p_value(goal_a: int, n_a: int, goal_b: int, n_b: int) -> float | None:
    """The two-sided p-value of the two-proportion z-test (pooled variance); None when a side is empty.

    Both proportions 0 (or both 1) have no variance: nothing tells them apart, p = 1.
    """
    if n_a <= 0 or n_b <= 0:
        return None
    pooled = (goal_a + goal_b) / (n_a + n_b)
    variance = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
    if variance <= 0:
        return 1.0
    z = (goal_a / n_a - goal_b / n_b) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))


def _lower_gamma_series(a: float, x: float) -> float:
    """P(a, x), the regularized lower incomplete gamma function, by its series (x < a + 1)."""
    term = total = 1 / a
    n = a
    for _ in range(1000):
        n += 1
        term *= x / n
        total += term
        if abs(term) < abs(total) * 1e-15:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _upper_gamma_fraction(a: float, x: float) -> float:
    """Q(a, x), the regularized upper incomplete gamma function, by its continued fraction (x ≥ a + 1;
    modified Lentz's method)."""
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def chi_square_sf(statistic: float, df: int) -> float:
    """P(X ≥ statistic) for X chi-square distributed with ``df`` degrees of freedom."""
    if statistic <= 0:
        return 1.0
    a, x = df / 2, statistic / 2
    if x < a + 1:
        return max(0.0, 1 - _lower_gamma_series(a, x))
    return min(1.0, _upper_gamma_fraction(a, x))


def chi_square_p_value(groups: list[tuple[int, int]]) -> float | None:
    """Pearson's chi-square test of independence over ``(goal, enrolled)`` per branch (branches × reached
    the goal or not); None with fewer than two branches that have anybody."""
    groups = [(goal, n) for goal, n in groups if n > 0]
    if len(groups) < 2:
        return None
    total = sum(n for _, n in groups)
    reached = sum(goal for goal, _ in groups)
    if reached in (0, total):
        return 1.0  # nobody (or everybody) reached the goal: no difference to test
    statistic = 0.0
    for goal, n in groups:
        for observed, share in ((goal, reached / total), (n - goal, 1 - reached / total)):
            expected = n * share
            statistic += (observed - expected) ** 2 / expected
    return chi_square_sf(statistic, len(groups) - 1)


def split_test(branches: list[dict[str, Any]]) -> tuple[str, float | None]:
    """The test that fits the number of branches, and its p-value."""
    if len(branches) == 2:
        a, b = branches
        return "z", two_proportion_p_value(a["goal"], a["enrolled"], b["goal"], b["enrolled"])
    if len(branches) > 2:
        return "chi_square", chi_square_p_value([(b["goal"], b["enrolled"]) for b in branches])
    return "", None


# -- the flow ----------------------------------------------------------------------------------------


def flow(
    steps: Any, *, depth: int = 0, parent: str | None = None, lane: str = ""
) -> Iterator[dict[str, Any]]:
    """The definition's steps in flow order, each with where it sits (depth, parent step, lane)."""
    if not isinstance(steps, list):
        return
    for step in steps:
        if not isinstance(step, dict):
            continue
        label = step_label(step)
        yield {**label, "depth": depth, "parent": parent, "lane": lane, "raw": step}
        if step.get("type") == "branch":
            yield from flow(step.get("then"), depth=depth + 1, parent=label["id"], lane="then")
            yield from flow(step.get("else"), depth=depth + 1, parent=label["id"], lane="else")
        elif step.get("type") == "split":
            for branch in step.get("branches") or []:
                if isinstance(branch, dict):
                    yield from flow(
                        branch.get("steps"),
                        depth=depth + 1,
                        parent=label["id"],
                        lane=str(branch.get("id", "")),
                    )


def _definition(sop: Sop, version: SopVersion | None) -> dict[str, Any]:
    if version is not None:
        return version.definition
    latest = (
        SopVersion.objects.filter(sop=sop).order_by("-number").values_list("definition", flat=True).first()
    )
    return latest if latest is not None else (sop.draft if isinstance(sop.draft, dict) else {})


# -- the report --------------------------------------------------------------------------------------


def _enrolment_figures(enrolments) -> dict[str, Any]:
    figures: dict[str, Any] = {s: 0 for s in EnrolmentStatus.values}
    reasons: dict[str, int] = defaultdict(int)
    for row in enrolments.order_by().values("status", "exit_reason").annotate(n=Count("pk")):
        figures[row["status"]] = figures.get(row["status"], 0) + row["n"]
        if row["status"] == EnrolmentStatus.EXITED:
            reasons[row["exit_reason"] or "unknown"] += row["n"]
    figures["total"] = sum(figures[s] for s in EnrolmentStatus.values)
    figures["by_exit_reason"] = dict(sorted(reasons.items()))
    return figures


def _goal_figures(enrolments, figures: dict[str, Any]) -> dict[str, Any]:
    reached = figures[EnrolmentStatus.GOAL]
    median = None
    if reached:
        goals = enrolments.filter(status=EnrolmentStatus.GOAL, goal_at__isnull=False)
        if connection.vendor == "postgresql":
            seconds = goals.aggregate(median=_Median(_EpochSeconds(F("goal_at") - F("enrolled_at"))))[
                "median"
            ]
        else:  # SQLite (make run) has no percentile: the durations are read and their median taken here
            durations = [(g - e).total_seconds() for g, e in goals.values_list("goal_at", "enrolled_at")]
            seconds = statistics.median(durations) if durations else None
        median = round(seconds / 3600, 2) if seconds is not None else None
    total = figures["total"]
    return {
        "reached": reached,
        "conversion": round(reached / total, 4) if total else None,
        "median_hours_to_goal": median,
    }


def _step_figures(sop: Sop, version: SopVersion | None, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    runs = SopStepRun.objects.filter(sop=sop)
    if version is not None:
        runs = runs.filter(version=version)
    counts: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"waiting": 0, "done": 0, "skipped": 0, "skipped_by_reason": defaultdict(int), "cancelled": 0}
    )
    for row in runs.order_by().values("step_id", "status", "outcome").annotate(n=Count("pk")):
        figure = counts[row["step_id"]]
        if row["status"] in (StepStatus.PENDING, StepStatus.CLAIMED):
            figure["waiting"] += row["n"]
        elif row["status"] == StepStatus.SKIPPED:
            figure["skipped"] += row["n"]
            figure["skipped_by_reason"][row["outcome"] or "unknown"] += row["n"]
        else:
            figure[row["status"]] += row["n"]
    rows = []
    for step in steps:
        figure = counts[step["id"]]
        rows.append(
            {
                **{k: step[k] for k in ("id", "type", "action", "title", "depth", "parent", "lane")},
                **figure,
                "skipped_by_reason": dict(sorted(figure["skipped_by_reason"].items())),
            }
        )
    return rows


def _split_figures(enrolments, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    splits = []
    for step in steps:
        if step["type"] != "split":
            continue
        drawn = {
            row["branch"]: row
            for row in enrolments.filter(splits__has_key=step["id"])
            .order_by()
            .annotate(branch=KeyTextTransform(step["id"], "splits"))
            .values("branch")
            .annotate(enrolled=Count("pk"), goal=Count("pk", filter=Q(status=EnrolmentStatus.GOAL)))
        }
        branches = []
        for branch in step["raw"].get("branches") or []:
            if not isinstance(branch, dict):
                continue
            key = str(branch.get("id", ""))
            row = drawn.get(key, {"enrolled": 0, "goal": 0})
            branches.append(
                {
                    "id": key,
                    "name": str(branch.get("name") or key),
                    "percent": branch.get("percent") if isinstance(branch.get("percent"), int) else 0,
                    "enrolled": row["enrolled"],
                    "goal": row["goal"],
                    "conversion": round(row["goal"] / row["enrolled"], 4) if row["enrolled"] else None,
                }
            )
        test, p_value = split_test(branches)
        splits.append(
            {
                "step_id": step["id"],
                "title": step["title"],
                "branches": branches,
                "test": test if p_value is not None else "",
                "p_value": p_value,
                "significant": p_value is not None and p_value < SIGNIFICANCE,
            }
        )
    return splits


def _member_figures(sop: Sop, version: SopVersion | None) -> list[dict[str, Any]]:
    tasks = SopTask.objects.filter(sop=sop)
    if version is not None:
        tasks = tasks.filter(step_run__version=version)
    by_status = {s: Count("pk", filter=Q(status=s)) for s in SopTaskStatus.values}
    rows = (
        tasks.order_by()
        .values("staff_id", "staff__userid", "staff__name")
        .annotate(tasks=Count("pk"), **by_status)
        .order_by("-tasks", "staff_id")
    )
    return [
        {
            "staff_id": row["staff_id"],
            "userid": row["staff__userid"],
            "name": row["staff__name"],
            "tasks": row["tasks"],
            "todo": row[SopTaskStatus.TODO],
            "done": row[SopTaskStatus.DONE],
            "skipped": row[SopTaskStatus.SKIPPED],
            "postponed": row[SopTaskStatus.POSTPONED],
            "completion_rate": round(row[SopTaskStatus.DONE] / row["tasks"], 4) if row["tasks"] else None,
        }
        for row in rows
    ]


def sop_report(*, sop: Sop, version: SopVersion | None = None) -> dict[str, Any]:
    enrolments = SopEnrolment.objects.filter(sop=sop)
    if version is not None:
        enrolments = enrolments.filter(version=version)
    steps = list(flow(_definition(sop, version).get("steps")))
    figures = _enrolment_figures(enrolments)
    return {
        "version": version.number if version is not None else None,
        "enrolments": figures,
        "goal": _goal_figures(enrolments, figures),
        "steps": _step_figures(sop, version, steps),
        "splits": _split_figures(enrolments, steps),
        "members": _member_figures(sop, version),
    }
