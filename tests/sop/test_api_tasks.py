"""``/sop-tasks/``: the members' SOP tasks. A sales member sees and acts on its own only (another
member's task is a 404, as another tenant's is), admins and operators on everyone's; done, postpone
and skip with their refusals; the due filter in the tenant's days; a pinned query count.

The clock is pinned: "today" and "overdue" are days in the tenant's time zone (Asia/Shanghai).
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Role
from sop.models import Sop, SopDelivery, SopEnrolment, SopStatus, SopStepRun, SopTask, SopVersion
from tests.campaigns.conftest import at
from tests.helpers import assert_problem

pytestmark = pytest.mark.django_db
TASKS = "/api/v1/sop-tasks/"
NOW = at("2026-12-08 10:00")
_steps = itertools.count(1)


@pytest.fixture(autouse=True)
def _pinned(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def world(build_a, tenant_a):
    """An SOP with tasks for Bob (the sales member's WeCom userid) and Sam."""
    bob, sam = build_a.staff("bob", "Bob"), build_a.staff("sam", "Sam")
    ann, cat = build_a.contact("Ann", staff=bob), build_a.contact("Cat", staff=sam)
    definition = {"trigger": {"type": "manual"}, "steps": []}
    with tenant_context(tenant_a):
        sop = Sop.objects.create(name="新客 SOP", status=SopStatus.LIVE, draft=definition)
        version = SopVersion.objects.create(sop=sop, number=1, definition=definition)

    def task(staff, contact, due: dt.datetime, **fields) -> SopTask:
        with tenant_context(tenant_a):
            enrolment, _ = SopEnrolment.objects.get_or_create(
                sop=sop,
                subject=f"c{contact.pk}",
                occurrence="",
                defaults={"version": version, "contact": contact, "staff": staff, "enrolled_at": NOW},
            )
            run = SopStepRun.objects.create(
                enrolment=enrolment, sop=sop, version=version, step_id=f"s{next(_steps)}", due_at=due
            )
            return SopTask.objects.create(
                step_run=run,
                sop=sop,
                staff=staff,
                contact=contact,
                title="跟进新客",
                content={"text": "你好", "attachments": [{"material_id": 7}]},
                due_at=due,
                **fields,
            )

    return {"sop": sop, "bob": bob, "sam": sam, "ann": ann, "cat": cat, "task": task}


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_a_task_as_listed(alice_client, world, tenant_a):
    with tenant_context(tenant_a):
        delivery = SopDelivery.objects.create(
            sop=world["sop"], step_id="s", kind="mass_task", staff=world["bob"], key="k"
        )
    task = world["task"](world["bob"], world["ann"], NOW, delivery=delivery)
    row = alice_client.get(TASKS).json()["results"][0]
    assert row == {
        "id": task.pk,
        "sop": {"id": world["sop"].pk, "name": "新客 SOP"},
        "title": "跟进新客",
        "content": {"text": "你好", "attachments": [{"material_id": 7}]},
        "contact": {"id": world["ann"].pk, "name": "Ann", "avatar": ""},
        "group": None,
        "staff": {"id": world["bob"].pk, "userid": "bob", "name": "Bob"},
        "status": "todo",
        "due_at": "2026-12-08T10:00:00+08:00",
        "reason": "",
        "done_via": "",
        "done_at": None,
        "delivery_kind": "mass_task",
        "created_at": row["created_at"],
    }
    assert alice_client.get(f"{TASKS}{task.pk}/").json() == row


def test_sales_members_see_and_do_their_own_tasks_only(
    bob_client, alice_client, world, key_client_for, tenant_a
):
    mine = world["task"](world["bob"], world["ann"], NOW)
    theirs = world["task"](world["sam"], world["cat"], NOW)
    assert ids(bob_client.get(TASKS)) == [mine.pk]
    assert ids(alice_client.get(TASKS)) == [mine.pk, theirs.pk]
    for action, body in (
        ("done", None),
        ("postpone", {"until": "2026-12-09T09:00:00"}),
        ("skip", {"reason": "x"}),
    ):
        assert_problem(
            bob_client.post(f"{TASKS}{theirs.pk}/{action}/", body, format="json"), 404, "not_found"
        )
    assert_problem(bob_client.get(f"{TASKS}{theirs.pk}/"), 404, "not_found")
    done = bob_client.post(f"{TASKS}{mine.pk}/done/")
    assert done.status_code == 200, done.content
    assert (done.json()["status"], done.json()["done_via"]) == ("done", "member")
    assert done.json()["done_at"] == "2026-12-08T10:00:00+08:00"
    # A sales key belongs to no member: no task is its own.
    sales_key = key_client_for(tenant_a, Role.SALES)
    assert ids(sales_key.get(TASKS)) == []
    assert_problem(sales_key.post(f"{TASKS}{theirs.pk}/done/"), 404, "not_found")


@pytest.mark.parametrize("who", ["alice", "operator", "admin_key", "operator_key"])
def test_admins_operators_and_their_keys_act_on_every_task(
    who, alice_client, operator_client, key_client_for, world, tenant_a
):
    client = {"alice": alice_client, "operator": operator_client}.get(who) or key_client_for(
        tenant_a, Role.ADMIN if who == "admin_key" else Role.OPERATOR
    )
    tasks = [world["task"](world["sam"], world["cat"], NOW) for _ in range(3)]
    # Keys page by cursor, newest first; the dashboard by due time.
    assert sorted(ids(client.get(TASKS))) == [t.pk for t in tasks]
    assert client.post(f"{TASKS}{tasks[0].pk}/done/").json()["status"] == "done"
    postponed = client.post(
        f"{TASKS}{tasks[1].pk}/postpone/",
        {"until": "2026-12-09T09:00:00", "reason": "客户出差"},
        format="json",
    ).json()
    assert (postponed["status"], postponed["due_at"], postponed["reason"]) == (
        "postponed",
        "2026-12-09T09:00:00+08:00",
        "客户出差",
    )
    skipped = client.post(f"{TASKS}{tasks[2].pk}/skip/", {"reason": "  已电话联系  "}, format="json").json()
    assert (skipped["status"], skipped["reason"]) == ("skipped", "已电话联系")


def test_another_tenant_gets_404(charlie_client, world):
    task = world["task"](world["bob"], world["ann"], NOW)
    assert ids(charlie_client.get(TASKS)) == []
    assert_problem(charlie_client.get(f"{TASKS}{task.pk}/"), 404, "not_found")
    for action, body in (
        ("done", None),
        ("postpone", {"until": "2026-12-09T09:00:00"}),
        ("skip", {"reason": "x"}),
    ):
        assert_problem(
            charlie_client.post(f"{TASKS}{task.pk}/{action}/", body, format="json"), 404, "not_found"
        )
    with tenant_context(task.tenant):
        assert SopTask.objects.get(pk=task.pk).status == "todo"


def test_done_twice_is_done_and_a_closed_task_refuses_the_rest(alice_client, world):
    task = world["task"](world["bob"], world["ann"], NOW)
    one = f"{TASKS}{task.pk}/"
    assert alice_client.post(f"{one}done/").json()["status"] == "done"
    assert alice_client.post(f"{one}done/").status_code == 200
    assert_problem(alice_client.post(f"{one}skip/", {"reason": "x"}, format="json"), 409, "not_open")
    assert_problem(
        alice_client.post(f"{one}postpone/", {"until": "2026-12-09T09:00:00"}, format="json"), 409, "not_open"
    )
    other = world["task"](world["bob"], world["ann"], NOW)
    alice_client.post(f"{TASKS}{other.pk}/skip/", {"reason": "不需要"}, format="json")
    assert_problem(alice_client.post(f"{TASKS}{other.pk}/done/"), 409, "not_open")
    # A postponed task is still open.
    third = world["task"](world["bob"], world["ann"], NOW)
    alice_client.post(f"{TASKS}{third.pk}/postpone/", {"until": "2026-12-08T15:00:00"}, format="json")
    assert alice_client.post(f"{TASKS}{third.pk}/done/").json()["status"] == "done"


@pytest.mark.parametrize(
    ("action", "body", "path", "code"),
    [
        ("postpone", {}, "until", "required"),
        ("postpone", {"until": "tomorrow"}, "until", "invalid"),
        ("postpone", {"until": "2026-12-08T09:00:00"}, "until", "in_the_past"),
        ("postpone", {"until": "2027-01-08T11:00:00+08:00"}, "until", "too_far_ahead"),
        ("postpone", {"until": "2026-12-09T09:00:00", "reason": "长" * 201}, "reason", "max_length"),
        ("skip", {}, "reason", "required"),
        ("skip", {"reason": "   "}, "reason", "blank"),
        ("skip", {"reason": 5}, "reason", "invalid"),
    ],
)
def test_refusals_name_their_field(alice_client, world, action, body, path, code):
    task = world["task"](world["bob"], world["ann"], NOW)
    problem = assert_problem(
        alice_client.post(f"{TASKS}{task.pk}/{action}/", body, format="json"), 400, "validation_error"
    )
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [(path, code)]


def test_the_filters(alice_client, world):
    make = world["task"]
    yesterday = make(world["bob"], world["ann"], at("2026-12-07 18:00"))
    early = make(world["bob"], world["ann"], at("2026-12-08 00:00"))
    late = make(world["sam"], world["cat"], at("2026-12-08 23:59"))
    tomorrow = make(world["sam"], world["cat"], at("2026-12-09 00:00"))
    done_before = make(world["bob"], world["ann"], at("2026-12-06 09:00"), status="done")
    assert ids(alice_client.get(TASKS)) == [done_before.pk, yesterday.pk, early.pk, late.pk, tomorrow.pk]
    assert ids(alice_client.get(TASKS, {"due": "today"})) == [early.pk, late.pk]
    assert ids(alice_client.get(TASKS, {"due": "overdue"})) == [yesterday.pk]
    assert ids(alice_client.get(TASKS, {"status": "done"})) == [done_before.pk]
    assert ids(alice_client.get(f"{TASKS}?status=todo&status=done&staff={world['sam'].pk}")) == [
        late.pk,
        tomorrow.pk,
    ]
    assert ids(alice_client.get(TASKS, {"sop": world["sop"].pk + 1})) == []
    for bad in ({"due": "soon"}, {"status": "open"}, {"staff": "x"}):
        assert_problem(alice_client.get(TASKS, bad), 400, "validation_error")


def test_the_list_costs_the_same_whatever_its_length(alice_client, bob_client, world):
    def count(client) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(TASKS).status_code == 200
        return len(queries)

    world["task"](world["bob"], world["ann"], NOW)
    count(alice_client)  # the first read of the tenant's settings makes their row
    before = [count(alice_client), count(bob_client)]
    # Three to know the session's caller, the tenant's time zone (its days), the page.
    assert before == [5, 5]
    for _ in range(5):
        world["task"](world["bob"], world["ann"], NOW)
        world["task"](world["sam"], world["cat"], NOW)
    assert [count(alice_client), count(bob_client)] == before
