"""The SOP definition: what it accepts (the stored form), every refusal with its path and code, ids checked
inside the tenant, and the compiled plan's flow (next / then / else / split branches)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from rest_framework.exceptions import ValidationError

from contacts.models import Segment
from library.models import Material
from scrm.tenancy.context import tenant_context
from sop.models import SopKind
from sop.services.definition import (
    ACTIONS,
    TRIGGER_EVENTS,
    definition_clean,
    definition_compile,
    definition_errors,
    definition_material_ids,
    plan_for,
)
from value.models import ProfileField


@pytest.fixture
def refs(build_a, tenant_a):
    """Ids of tenant A's things a definition may name."""
    staff = build_a.staff("sam")
    with tenant_context(tenant_a):
        segment = Segment.objects.create(name="VIP", filters={})
        image = Material.objects.create(kind="image", title="poster")
        ProfileField.objects.create(key="birthday", label="Birthday", kind="date", yearly=True)
        ProfileField.objects.create(key="city", label="City", kind="text")
        ProfileField.objects.create(key="old_day", label="Old", kind="date", archived=True)
    return {
        "tag": build_a.tag("hot").pk,
        "stage": build_a.stage("won").pk,
        "staff": staff.pk,
        "segment": segment.pk,
        "image": image.pk,
    }


def customer(refs: dict[str, int]) -> dict[str, Any]:
    return {
        "trigger": {
            "type": "event",
            "event": "tagged",
            "tag_ids": [refs["tag"]],
            "filters": {"status": "active"},
        },
        "steps": [
            {"id": "w1", "type": "wait", "days": 1},
            {
                "id": "b1",
                "type": "branch",
                "if": {"match": "any", "criteria": [{"event": "purchased"}, {"in_group": True}]},
                "then": [{"id": "t1", "type": "action", "action": "tag_add", "tag_ids": [refs["tag"]]}],
                "else": [],
            },
            {
                "id": "s1",
                "type": "split",
                "branches": [
                    {
                        "id": "a",
                        "name": "A",
                        "percent": 50,
                        "steps": [
                            {
                                "id": "r1",
                                "type": "action",
                                "action": "remind",
                                "text": "Say hi",
                                "attachments": [{"material_id": refs["image"]}],
                            }
                        ],
                    },
                    {"id": "b", "name": "B", "percent": 50, "steps": []},
                ],
            },
            {"id": "u1", "type": "wait_until", "time": "09:00", "weekday": 1, "title": "Monday"},
            {"id": "h1", "type": "wait_business_hours"},
            {"id": "n1", "type": "action", "action": "notify", "text": "done", "staff_ids": [refs["staff"]]},
            {"id": "g1", "type": "action", "action": "grant_points", "points": 10},
            {"id": "st", "type": "action", "action": "set_stage", "stage_id": None},
        ],
        "exit": [{"event": "lost"}],
        "goal": [{"filters": {"stage": str(refs["stage"])}}],
        "reenrol": "after_exit",
        "quiet_hours": {"start": "21:00", "end": "08:00"},
    }


def group() -> dict[str, Any]:
    return {
        "trigger": {"type": "schedule", "every": "weekly", "weekdays": [5, 1], "time": "08:30", "groups": {}},
        "steps": [{"id": "p", "type": "action", "action": "group_send", "text": "Morning!"}],
    }


def errors_of(tenant, definition, kind=SopKind.CUSTOMER) -> dict[str, list[str]]:
    with tenant_context(tenant):
        errors = definition_errors(kind=kind, definition=definition)
    return {path: [e.code for e in details] for path, details in errors.items()}


def test_a_full_customer_definition_is_clean_with_defaults_filled(tenant_a, refs):
    with tenant_context(tenant_a):
        cleaned = definition_clean(kind=SopKind.CUSTOMER, definition=customer(refs))
    assert cleaned["business_hours"] == {"weekdays": [1, 2, 3, 4, 5], "start": "09:00", "end": "18:00"}
    assert cleaned["respect_caps"] is True
    assert cleaned["reenrol"] == "after_exit"
    assert cleaned["trigger"] == {
        "type": "event",
        "event": "tagged",
        "tag_ids": [refs["tag"]],
        "filters": {"status": "active"},
    }
    assert cleaned["steps"][0] == {"id": "w1", "type": "wait", "days": 1, "hours": 0, "minutes": 0}
    assert cleaned["goal"] == [{"filters": {"stage": str(refs["stage"])}}]
    # Cleaning the stored form again changes nothing.
    with tenant_context(tenant_a):
        assert definition_clean(kind=SopKind.CUSTOMER, definition=cleaned) == cleaned


def test_a_group_definition_is_clean(tenant_a, db):
    with tenant_context(tenant_a):
        cleaned = definition_clean(kind=SopKind.GROUP, definition=group())
    assert cleaned["trigger"]["weekdays"] == [1, 5]
    assert (cleaned["exit"], cleaned["goal"]) == ([], [])


@pytest.mark.parametrize(
    ("trigger", "path", "code"),
    [
        ({"type": "event", "event": "added", "channel": "expo"}, None, None),
        ({"type": "event", "event": "stage_changed", "stage_id": "STAGE"}, None, None),
        ({"type": "event", "event": "tier_changed", "tier": "silent"}, None, None),
        ({"type": "event", "event": "purchased", "min_amount": "100"}, None, None),
        ({"type": "event", "event": "custom", "name": "booked"}, None, None),
        ({"type": "date", "field": "birthday", "offset_days": -3, "time": "10:00"}, None, None),
        ({"type": "date", "field": "first_added_at", "offset_days": 7}, None, None),
        ({"type": "segment", "segment_id": "SEGMENT"}, None, None),
        ({"type": "manual"}, None, None),
        ({"type": "event"}, "trigger.event", "required"),
        ({"type": "event", "event": "note"}, "trigger.event", "invalid"),
        ({"type": "event", "event": "added", "tag_ids": [1]}, "trigger.tag_ids", "invalid"),
        ({"type": "event", "event": "tagged", "tag_ids": [999999]}, "trigger.tag_ids.0", "does_not_exist"),
        ({"type": "event", "event": "tagged", "tag_ids": list(range(1, 22))}, "trigger.tag_ids", "too_many"),
        (
            {"type": "event", "event": "stage_changed", "stage_id": 999999},
            "trigger.stage_id",
            "does_not_exist",
        ),
        (
            {"type": "event", "event": "group_joined", "group_id": 999999},
            "trigger.group_id",
            "does_not_exist",
        ),
        ({"type": "event", "event": "tier_changed", "tier": "gold"}, "trigger.tier", "invalid"),
        ({"type": "event", "event": "purchased", "min_amount": "lots"}, "trigger.min_amount", "invalid"),
        ({"type": "event", "event": "added", "filters": {"stage": "999999"}}, "trigger.filters.stage", None),
        (
            {"type": "event", "event": "added", "filters": {"colour": "red"}},
            "trigger.filters.colour",
            "invalid",
        ),
        ({"type": "date", "field": "nope"}, "trigger.field", "does_not_exist"),
        ({"type": "date", "field": "city"}, "trigger.field", "invalid"),
        ({"type": "date", "field": "old_day"}, "trigger.field", "does_not_exist"),
        ({"type": "date", "field": "birthday", "offset_days": 31}, "trigger.offset_days", "invalid"),
        ({"type": "date", "field": "birthday", "time": "25:00"}, "trigger.time", "invalid"),
        ({"type": "segment"}, "trigger.segment_id", "required"),
        ({"type": "segment", "segment_id": 999999}, "trigger.segment_id", "does_not_exist"),
        ({"type": "schedule", "every": "daily"}, "trigger.type", "not_allowed"),
        ({"type": "rocket"}, "trigger.type", "invalid"),
        ({"type": "manual", "extra": 1}, "trigger.extra", "invalid"),
    ],
)
def test_customer_triggers(tenant_a, refs, trigger, path, code):
    trigger = {
        k: refs["stage"] if v == "STAGE" else refs["segment"] if v == "SEGMENT" else v
        for k, v in trigger.items()
    }
    definition = customer(refs) | {"trigger": trigger}
    errors = errors_of(tenant_a, definition)
    if path is None:
        assert errors == {}
    else:
        assert path in errors, errors
        if code:
            assert code in errors[path]


@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        ({"every": "dates", "weekdays": None, "dates": ["2026-12-24", "2026-12-31"]}, None, None),
        ({"every": "daily", "weekdays": None, "groups": {"owner_ids": ["STAFF"], "name": "VIP"}}, None, None),
        ({"every": "weekly", "weekdays": []}, "trigger.weekdays", "required"),
        ({"every": "weekly", "weekdays": [8]}, "trigger.weekdays", "invalid"),
        ({"every": "daily"}, "trigger.weekdays", "not_allowed"),
        ({"every": "dates", "weekdays": None, "dates": ["2026-02-30"]}, "trigger.dates.0", "invalid"),
        ({"every": "dates", "weekdays": None, "dates": ["2026-01-01"] * 101}, "trigger.dates", "too_many"),
        ({"every": "hourly"}, "trigger.every", "invalid"),
        ({"groups": {"owner_ids": [999999]}}, "trigger.groups.owner_ids.0", "does_not_exist"),
        ({"groups": {"tag_ids": [999999]}}, "trigger.groups.tag_ids.0", "does_not_exist"),
    ],
)
def test_group_schedule(tenant_a, refs, change, path, code):
    definition = group()
    definition["trigger"].update(change)
    if definition["trigger"].get("groups", {}).get("owner_ids") == ["STAFF"]:
        definition["trigger"]["groups"]["owner_ids"] = [refs["staff"]]
    errors = errors_of(tenant_a, definition, SopKind.GROUP)
    if path is None:
        assert errors == {}
    else:
        assert code in errors.get(path, []), errors


def _with_step(refs, step: dict) -> dict:
    definition = customer(refs)
    definition["steps"] = [step]
    return definition


@pytest.mark.parametrize(
    ("step", "path", "code"),
    [
        ({"type": "wait", "days": 1}, "steps.0.id", "required"),
        ({"id": "Bad Id", "type": "wait", "days": 1}, "steps.0.id", "invalid"),
        ({"id": "w", "type": "sleep"}, "steps.0.type", "invalid"),
        ({"id": "w", "type": "wait"}, "steps.0.days", "required"),
        ({"id": "w", "type": "wait", "days": 366}, "steps.0.days", "invalid"),
        ({"id": "w", "type": "wait", "hours": 24}, "steps.0.hours", "invalid"),
        ({"id": "w", "type": "wait", "minutes": 5, "time": "09:00"}, "steps.0.time", "invalid"),
        ({"id": "w", "type": "wait", "minutes": 5, "title": "x" * 101}, "steps.0.title", "too_many"),
        ({"id": "w", "type": "wait_until"}, "steps.0.time", "required"),
        ({"id": "w", "type": "wait_until", "time": "09:00", "weekday": 0}, "steps.0.weekday", "invalid"),
        ({"id": "a", "type": "action", "action": "fly"}, "steps.0.action", "invalid"),
        ({"id": "a", "type": "action", "action": "group_send", "text": "x"}, "steps.0.action", "not_allowed"),
        ({"id": "a", "type": "action", "action": "remind"}, "steps.0.text", "required"),
        ({"id": "a", "type": "action", "action": "remind", "text": "字" * 1400}, "steps.0.text", "too_many"),
        (
            {
                "id": "a",
                "type": "action",
                "action": "remind",
                "text": "x",
                "attachments": [{"material_id": 999999}],
            },
            "steps.0.attachments.0.material_id",
            "does_not_exist",
        ),
        (
            {
                "id": "a",
                "type": "action",
                "action": "mass_task",
                "text": "x",
                "attachments": [{"material_id": 1}] * 10,
            },
            "steps.0.attachments",
            "too_many",
        ),
        ({"id": "a", "type": "action", "action": "tag_add", "tag_ids": []}, "steps.0.tag_ids", "required"),
        (
            {"id": "a", "type": "action", "action": "tag_remove", "tag_ids": [999999]},
            "steps.0.tag_ids.0",
            "does_not_exist",
        ),
        ({"id": "a", "type": "action", "action": "set_stage"}, "steps.0.stage_id", "required"),
        (
            {"id": "a", "type": "action", "action": "set_stage", "stage_id": 999999},
            "steps.0.stage_id",
            "does_not_exist",
        ),
        ({"id": "a", "type": "action", "action": "grant_points", "points": 0}, "steps.0.points", "invalid"),
        (
            {"id": "a", "type": "action", "action": "grant_points", "points": 5, "note": "n" * 201},
            "steps.0.note",
            "too_many",
        ),
        ({"id": "a", "type": "action", "action": "notify", "text": "x"}, "steps.0.staff_ids", "required"),
        (
            {"id": "a", "type": "action", "action": "notify", "text": "x", "staff_ids": [999999]},
            "steps.0.staff_ids.0",
            "does_not_exist",
        ),
        (
            {"id": "a", "type": "action", "action": "tag_add", "tag_ids": [1], "text": "x"},
            "steps.0.text",
            "invalid",
        ),
        ({"id": "b", "type": "branch", "then": []}, "steps.0.if", "required"),
        (
            {"id": "b", "type": "branch", "if": {"match": "all", "criteria": []}},
            "steps.0.if.criteria",
            "required",
        ),
        (
            {"id": "b", "type": "branch", "if": {"match": "most", "criteria": [{"in_group": True}]}},
            "steps.0.if.match",
            "invalid",
        ),
        (
            {
                "id": "b",
                "type": "branch",
                "if": {"criteria": [{"event": "purchased"}]},
                "then": [{"id": "x", "type": "wait"}],
            },
            "steps.0.then.0.days",
            "required",
        ),
        ({"id": "s", "type": "split", "branches": []}, "steps.0.branches", "required"),
        (
            {"id": "s", "type": "split", "branches": [{"id": f"b{i}", "percent": 10} for i in range(6)]},
            "steps.0.branches",
            "too_many",
        ),
        (
            {
                "id": "s",
                "type": "split",
                "branches": [{"id": "a", "percent": 60}, {"id": "b", "percent": 30}],
            },
            "steps.0.branches",
            "invalid",
        ),
        (
            {
                "id": "s",
                "type": "split",
                "branches": [{"id": "a", "percent": 50}, {"id": "a", "percent": 50}],
            },
            "steps.0.branches.1.id",
            "duplicate_id",
        ),
        (
            {
                "id": "s",
                "type": "split",
                "branches": [{"id": "a", "percent": 0}, {"id": "b", "percent": 100}],
            },
            "steps.0.branches.0.percent",
            "invalid",
        ),
    ],
)
def test_step_errors(tenant_a, refs, step, path, code):
    errors = errors_of(tenant_a, _with_step(refs, step))
    assert code in errors.get(path, []), errors


def test_duplicate_step_ids_anywhere_in_the_tree(tenant_a, refs):
    definition = customer(refs)
    definition["steps"][1]["then"][0]["id"] = "w1"
    assert errors_of(tenant_a, definition) == {"steps.1.then.0.id": ["duplicate_id"]}


def test_step_count_and_depth_limits(tenant_a, refs):
    definition = customer(refs)
    definition["steps"] = [{"id": f"w{i}", "type": "wait", "minutes": 1} for i in range(51)]
    assert errors_of(tenant_a, definition) == {"steps": ["too_many"]}

    nested: list[dict] = [{"id": "leaf", "type": "wait", "minutes": 1}]
    for level in range(6):
        nested = [
            {"id": f"b{level}", "type": "branch", "if": {"criteria": [{"in_group": True}]}, "then": nested}
        ]
    definition["steps"] = nested
    errors = errors_of(tenant_a, definition)
    assert errors == {"steps.0.then.0.then.0.then.0.then.0.then.0": ["too_many"]}
    assert errors_of(tenant_a, {})["steps"] == ["required"]


def test_whole_definition_limits(tenant_a, refs):
    definition = customer(refs)
    definition["steps"][0]["title"] = "x"
    definition["padding"] = "x" * 70_000
    assert errors_of(tenant_a, definition)["non_field_errors"] == ["too_many"]
    assert errors_of(tenant_a, [1, 2]) == {"non_field_errors": ["invalid"]}
    assert errors_of(tenant_a, customer(refs) | {"colour": 1}) == {"colour": ["invalid"]}


@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        ({"exit": [{}]}, "exit.0", "required"),
        ({"exit": [{"event": "purchased", "in_group": True}]}, "exit.0", "invalid"),
        ({"exit": [{"event": "exploded"}]}, "exit.0.event", "invalid"),
        ({"exit": [{"event": "purchased", "name": "x"}]}, "exit.0.name", "not_allowed"),
        ({"exit": [{"in_group": "yes"}]}, "exit.0.in_group", "invalid"),
        ({"goal": [{"event": "lost"}, {"filters": {"stage": "999999"}}]}, "goal.1.filters.stage", None),
        ({"reenrol": "sometimes"}, "reenrol", "invalid"),
        ({"quiet_hours": {"start": "21:00"}}, "quiet_hours.end", "required"),
        ({"quiet_hours": {"start": "21:00", "end": "21:00"}}, "quiet_hours.end", "invalid"),
        (
            {"business_hours": {"weekdays": [9], "start": "09:00", "end": "18:00"}},
            "business_hours.weekdays",
            "invalid",
        ),
        ({"business_hours": {"start": "18:00", "end": "09:00"}}, "business_hours.end", "invalid"),
        ({"respect_caps": "no"}, "respect_caps", "invalid"),
    ],
)
def test_root_errors(tenant_a, refs, change, path, code):
    errors = errors_of(tenant_a, customer(refs) | change)
    assert path in errors, errors
    if code:
        assert code in errors[path]


def test_group_sops_refuse_branches_criteria_and_customer_actions(tenant_a, db):
    definition = group()
    definition["steps"] = [
        {"id": "b", "type": "branch", "if": {"criteria": [{"in_group": True}]}},
        {"id": "t", "type": "action", "action": "tag_add", "tag_ids": [1]},
        {
            "id": "s",
            "type": "split",
            "branches": [
                {
                    "id": "a",
                    "percent": 50,
                    "steps": [{"id": "m", "type": "action", "action": "moment_task", "text": "x"}],
                },
                {"id": "b", "percent": 50},
            ],
        },
    ]
    definition["exit"] = [{"event": "lost"}]
    errors = errors_of(tenant_a, definition, SopKind.GROUP)
    assert errors == {
        "steps.0.type": ["not_allowed"],
        "steps.1.action": ["not_allowed"],
        "exit": ["not_allowed"],
    }


def test_ids_of_another_tenant_name_nothing(tenant_a, tenant_b, refs, build_b):
    foreign_tag = build_b.tag("theirs").pk
    with tenant_context(tenant_b):
        foreign_material = Material.objects.create(kind="image", title="theirs").pk
    definition = customer(refs)
    definition["trigger"]["tag_ids"] = [foreign_tag]
    definition["steps"][2]["branches"][0]["steps"][0]["attachments"] = [{"material_id": foreign_material}]
    errors = errors_of(tenant_a, definition)
    assert errors == {
        "trigger.tag_ids.0": ["does_not_exist"],
        "steps.2.branches.0.steps.0.attachments.0.material_id": ["does_not_exist"],
    }


def test_definition_clean_raises_with_paths(tenant_a, refs):
    definition = customer(refs)
    definition["steps"][0]["days"] = -1
    with tenant_context(tenant_a), pytest.raises(ValidationError) as raised:
        definition_clean(kind=SopKind.CUSTOMER, definition=definition)
    assert list(raised.value.detail) == ["steps.0.days"]


def test_compiled_plan_flow(tenant_a, refs):
    with tenant_context(tenant_a):
        plan = definition_compile(definition_clean(kind=SopKind.CUSTOMER, definition=customer(refs)))
    assert plan.kind == SopKind.CUSTOMER
    assert plan.first == "w1"
    steps = plan.steps
    assert steps["w1"].next == "b1"
    assert (steps["b1"].then, steps["b1"].otherwise, steps["b1"].next) == ("t1", None, "s1")
    assert steps["t1"].next == "s1"  # the end of "then" continues after the branch
    assert steps["s1"].branches == (("a", 50, "r1"), ("b", 50, None))
    assert steps["r1"].next == "u1"
    assert steps["u1"].params == {"time": "09:00", "weekday": 1, "title": "Monday"}
    assert steps["b1"].params["if"]["match"] == "any"
    assert "then" not in steps["b1"].params
    assert "branches" not in steps["s1"].params
    assert steps["st"].next is None
    assert steps["g1"].params == {"action": "grant_points", "points": 10, "note": ""}
    assert (plan.reenrol, plan.quiet_hours) == ("after_exit", {"start": "21:00", "end": "08:00"})


def test_group_plan_kind_and_plan_cache(tenant_a, live_sop):
    definition = group()
    sop = live_sop(definition, kind=SopKind.GROUP)
    plan = plan_for(sop.live_version)
    assert (plan.kind, plan.first) == (SopKind.GROUP, "p")
    assert plan_for(sop.live_version) is plan


def test_material_ids(refs):
    definition = copy.deepcopy(customer(refs))
    definition["steps"].append(
        {
            "id": "m",
            "type": "action",
            "action": "moment_task",
            "text": "x",
            "attachments": [{"material_id": 7}],
        }
    )
    assert definition_material_ids(definition) == sorted({refs["image"], 7})
    assert definition_material_ids({"steps": "junk"}) == []


def test_vocabularies():
    assert set(TRIGGER_EVENTS) == {
        "added",
        "tagged",
        "stage_changed",
        "tier_changed",
        "purchased",
        "group_joined",
        "custom",
    }
    assert "group_send" in ACTIONS[SopKind.GROUP]
    assert "group_send" not in ACTIONS[SopKind.CUSTOMER]
