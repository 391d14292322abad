"""An SOP's report on a hand-made case (enrolments, step runs and tasks written with the ORM): enrolment
counts by outcome and exit reason, goal conversion and median time to goal, each step's counts in flow
order with its place, A/B split branches with their test, members' task figures, one version or all;
and the statistics against known values (normal and chi-square tables)."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from statistics import NormalDist

import pytest

from scrm.tenancy.context import tenant_context
from sop.models import Sop, SopEnrolment, SopStatus, SopStepRun, SopTask, SopVersion
from sop.services.reports import (
    chi_square_p_value,
    chi_square_sf,
    sop_report,
    two_proportion_p_value,
)

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
_subjects = itertools.count(1)

DEFINITION = {
    "trigger": {"type": "manual"},
    "steps": [
        {"id": "r1", "type": "action", "action": "remind", "title": "提醒", "text": "hi"},
        {
            "id": "ab",
            "type": "split",
            "title": "A/B",
            "branches": [
                {
                    "id": "a",
                    "name": "A 文案",
                    "percent": 50,
                    "steps": [{"id": "ma", "type": "action", "action": "mass_task", "text": "A"}],
                },
                {"id": "b", "name": "B 文案", "percent": 50, "steps": []},
            ],
        },
        {"id": "w1", "type": "wait", "days": 1},
        {
            "id": "br",
            "type": "branch",
            "if": {"match": "any", "criteria": [{"event": "purchased"}]},
            "then": [],
            "else": [{"id": "t1", "type": "action", "action": "tag_add", "tag_ids": [1]}],
        },
    ],
}


class Case:
    """Tenant A's SOP with its version 1, and writers of its rows."""

    def __init__(self, tenant, build):
        self.tenant = tenant
        self.bob, self.sam = build.staff("bob", "Bob"), build.staff("sam", "Sam")
        with tenant_context(tenant):
            self.sop = Sop.objects.create(name="报表", status=SopStatus.LIVE, draft=DEFINITION)
            self.v1 = SopVersion.objects.create(sop=self.sop, number=1, definition=DEFINITION)

    def enrolment(
        self, status: str = "active", *, version=None, hours_to_goal=None, reason="", split=None, step="ab"
    ):
        with tenant_context(self.tenant):
            return SopEnrolment.objects.create(
                sop=self.sop,
                version=version or self.v1,
                subject=f"c{next(_subjects)}",
                status=status,
                exit_reason=reason,
                splits={step: split} if split else {},
                enrolled_at=T0,
                goal_at=T0 + dt.timedelta(hours=hours_to_goal) if hours_to_goal is not None else None,
            )

    def run(self, enrolment, step_id: str, status: str, outcome: str = "") -> SopStepRun:
        with tenant_context(self.tenant):
            return SopStepRun.objects.create(
                enrolment=enrolment,
                sop=self.sop,
                version=enrolment.version,
                step_id=step_id,
                status=status,
                outcome=outcome,
                due_at=T0,
            )

    def task(self, enrolment, staff, status: str) -> SopTask:
        run = self.run(enrolment, f"task{next(_subjects)}", "done")
        with tenant_context(self.tenant):
            return SopTask.objects.create(
                step_run=run, sop=self.sop, staff=staff, title="跟进", status=status, due_at=T0
            )


@pytest.fixture
def case(tenant_a, build_a) -> Case:
    """Ten customers in version 1: 3 active, 2 completed, 3 reached the goal (after 2, 4 and 10 hours),
    2 exited (lost, exit criteria). Split A: 5 (2 goals), B: 3 (1 goal), 2 not there yet."""
    c = Case(tenant_a, build_a)
    e = [
        c.enrolment("goal", hours_to_goal=2, split="a"),
        c.enrolment("goal", hours_to_goal=10, split="a"),
        c.enrolment("completed", split="a"),
        c.enrolment("exited", reason="lost", split="a"),
        c.enrolment("active", split="a"),
        c.enrolment("goal", hours_to_goal=4, split="b"),
        c.enrolment("completed", split="b"),
        c.enrolment("exited", reason="exit_criteria", split="b"),
        c.enrolment("active"),
        c.enrolment("active"),
    ]
    for i, enrolment in enumerate(e):
        if i == 9:
            c.run(enrolment, "r1", "pending")
        elif i == 8:
            c.run(enrolment, "r1", "skipped", "capped")
        else:
            c.run(enrolment, "r1", "done", "queued")
            c.run(enrolment, "ab", "done")
    for enrolment in e[:5]:
        c.run(
            enrolment,
            "ma",
            "skipped" if enrolment is e[3] else "done",
            "dnd" if enrolment is e[3] else "sent",
        )
    c.run(e[4], "w1", "pending")
    c.run(e[3], "w1", "cancelled", "lost")
    c.run(e[6], "t1", "done", "tagged")
    c.task(e[0], c.bob, "done")
    c.task(e[1], c.bob, "skipped")
    c.task(e[4], c.bob, "todo")
    c.task(e[5], c.sam, "done")
    c.task(e[6], c.sam, "postponed")
    c.e = e
    return c


def test_the_enrolments_and_the_goal(case, tenant_a):
    with tenant_context(tenant_a):
        report = sop_report(sop=case.sop)
    assert report["version"] is None
    assert report["enrolments"] == {
        "active": 3,
        "completed": 2,
        "goal": 3,
        "exited": 2,
        "total": 10,
        "by_exit_reason": {"exit_criteria": 1, "lost": 1},
    }
    assert report["goal"] == {"reached": 3, "conversion": 0.3, "median_hours_to_goal": 4.0}


def test_the_steps_in_flow_order_with_their_place(case, tenant_a):
    with tenant_context(tenant_a):
        steps = sop_report(sop=case.sop)["steps"]
    places = [(s["id"], s["type"], s["action"], s["depth"], s["parent"], s["lane"]) for s in steps]
    assert places == [
        ("r1", "action", "remind", 0, None, ""),
        ("ab", "split", "", 0, None, ""),
        ("ma", "action", "mass_task", 1, "ab", "a"),
        ("w1", "wait", "", 0, None, ""),
        ("br", "branch", "", 0, None, ""),
        ("t1", "action", "tag_add", 1, "br", "else"),
    ]
    counts = {
        s["id"]: (s["waiting"], s["done"], s["skipped"], s["skipped_by_reason"], s["cancelled"])
        for s in steps
    }
    assert counts == {
        "r1": (1, 8, 1, {"capped": 1}, 0),
        "ab": (0, 8, 0, {}, 0),
        "ma": (0, 4, 1, {"dnd": 1}, 0),
        "w1": (1, 0, 0, {}, 1),
        "br": (0, 0, 0, {}, 0),
        "t1": (0, 1, 0, {}, 0),
    }
    assert steps[0]["title"] == "提醒"


def test_the_split_and_its_significance(case, tenant_a):
    with tenant_context(tenant_a):
        (split,) = sop_report(sop=case.sop)["splits"]
    assert (split["step_id"], split["title"], split["test"]) == ("ab", "A/B", "z")
    assert split["branches"] == [
        {"id": "a", "name": "A 文案", "percent": 50, "enrolled": 5, "goal": 2, "conversion": 0.4},
        {"id": "b", "name": "B 文案", "percent": 50, "enrolled": 3, "goal": 1, "conversion": 0.3333},
    ]
    # Pooled 3/8: z = (2/5 - 1/3) / sqrt(3/8 * 5/8 * (1/5 + 1/3)) = 0.1886.
    z = (2 / 5 - 1 / 3) / math.sqrt(3 / 8 * 5 / 8 * (1 / 5 + 1 / 3))
    assert split["p_value"] == pytest.approx(2 * (1 - NormalDist().cdf(z)), abs=1e-9)
    assert split["p_value"] == pytest.approx(0.8504, abs=1e-4)
    assert split["significant"] is False


def test_the_members(case, tenant_a):
    with tenant_context(tenant_a):
        members = sop_report(sop=case.sop)["members"]
    assert members == [
        {
            "staff_id": case.bob.pk,
            "userid": "bob",
            "name": "Bob",
            "tasks": 3,
            "todo": 1,
            "done": 1,
            "skipped": 1,
            "postponed": 0,
            "completion_rate": 0.3333,
        },
        {
            "staff_id": case.sam.pk,
            "userid": "sam",
            "name": "Sam",
            "tasks": 2,
            "todo": 0,
            "done": 1,
            "skipped": 0,
            "postponed": 1,
            "completion_rate": 0.5,
        },
    ]


def test_one_version_or_all(case, tenant_a):
    definition = {**DEFINITION, "steps": [{"id": "r2", "type": "action", "action": "remind", "text": "v2"}]}
    with tenant_context(tenant_a):
        v2 = SopVersion.objects.create(sop=case.sop, number=2, definition=definition)
    newer = case.enrolment("goal", version=v2, hours_to_goal=1)
    case.run(newer, "r2", "done")
    case.task(newer, case.sam, "done")
    with tenant_context(tenant_a):
        first = sop_report(sop=case.sop, version=case.v1)
        second = sop_report(sop=case.sop, version=v2)
        every = sop_report(sop=case.sop)
    assert (first["version"], first["enrolments"]["total"], first["goal"]["median_hours_to_goal"]) == (
        1,
        10,
        4.0,
    )
    assert [s["id"] for s in first["steps"]] == ["r1", "ab", "ma", "w1", "br", "t1"]
    assert (second["version"], second["enrolments"]["total"], second["goal"]["conversion"]) == (2, 1, 1.0)
    assert [(s["id"], s["done"]) for s in second["steps"]] == [("r2", 1)]
    assert second["splits"] == []
    assert [(m["name"], m["tasks"]) for m in second["members"]] == [("Sam", 1)]
    # Every version: the latest's steps, figures over all.
    assert (every["enrolments"]["total"], every["goal"]["reached"]) == (11, 4)
    assert every["goal"]["median_hours_to_goal"] == 3.0
    assert [s["id"] for s in every["steps"]] == ["r2"]
    assert [(m["name"], m["tasks"]) for m in every["members"]] == [("Bob", 3), ("Sam", 3)]


def test_a_split_of_three_uses_chi_square(tenant_a, build_a):
    c = Case(tenant_a, build_a)
    definition = {
        **DEFINITION,
        "steps": [
            {
                "id": "abc",
                "type": "split",
                "branches": [
                    {"id": k, "percent": p, "steps": []} for k, p in (("a", 34), ("b", 33), ("c", 33))
                ],
            }
        ],
    }
    with tenant_context(tenant_a):
        c.v1.definition = definition
        c.v1.save()
    for branch, goals, others in (("a", 30, 70), ("b", 10, 90), ("c", 20, 80)):
        for _ in range(goals):
            c.enrolment("goal", hours_to_goal=1, split=branch, step="abc")
        for _ in range(others):
            c.enrolment("completed", split=branch, step="abc")
    c.enrolment("active")  # not drawn yet
    with tenant_context(tenant_a):
        (split,) = sop_report(sop=c.sop, version=c.v1)["splits"]
    assert [(b["id"], b["name"], b["enrolled"], b["goal"]) for b in split["branches"]] == [
        ("a", "a", 100, 30),
        ("b", "b", 100, 10),
        ("c", "c", 100, 20),
    ]
    # Expected goals 20 per branch: (10² + 10² + 0) / 20 + (10² + 10² + 0) / 80 = 12.5; df 2: p = e^(-12.5/2).
    assert split["test"] == "chi_square"
    assert split["p_value"] == pytest.approx(math.exp(-12.5 / 2), rel=1e-9)
    assert split["significant"] is True


# -- the statistics ------------------------------------------------------------------------------------


def test_the_two_proportion_z_test_on_a_known_case():
    # 10% of 1,000 against 13% of 1,000: z = 2.1027, two-sided p = 0.0355 (normal table).
    p = two_proportion_p_value(100, 1000, 130, 1000)
    assert p == pytest.approx(0.03549, abs=1e-4)
    assert p < 0.05
    assert two_proportion_p_value(130, 1000, 100, 1000) == p
    assert two_proportion_p_value(50, 1000, 50, 1000) == pytest.approx(1.0)
    assert two_proportion_p_value(0, 10, 0, 10) == 1.0  # nobody converted: nothing to tell apart
    assert two_proportion_p_value(1, 10, 0, 0) is None


@pytest.mark.parametrize(
    ("statistic", "df", "p"),
    [
        (3.841, 1, 0.05),  # the chi-square table's 5% critical values
        (5.991, 2, 0.05),
        (9.488, 4, 0.05),
        (18.307, 10, 0.05),
        (3.940, 10, 0.95),  # the series branch (x < a + 1)
        (0.0, 3, 1.0),
    ],
)
def test_chi_square_against_the_table(statistic, df, p):
    assert chi_square_sf(statistic, df) == pytest.approx(p, abs=2e-4)


def test_chi_square_with_two_branches_is_the_z_test():
    assert chi_square_p_value([(100, 1000), (130, 1000)]) == pytest.approx(
        two_proportion_p_value(100, 1000, 130, 1000), rel=1e-9
    )
    assert chi_square_p_value([(0, 10), (0, 20), (0, 5)]) == 1.0
    assert chi_square_p_value([(3, 10), (0, 0), (0, 0)]) is None
