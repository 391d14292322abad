"""Moments tasks into WeCom, against the sandbox: one add_moment_task per task, the job read until done,
its Moment linked and tracked, invalid senders and tags kept, WeCom's rate limit waited out, refusals
failed with WeCom's answer, lost answers reconciled without a duplicate, scheduled tasks claimed once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from contacts.models import Department, Staff, Tag
from library.models import Material
from moments.models import Moment, MomentTask, TaskStatus
from moments.services import submit
from moments.services.compose import moment_task_create, moment_task_publish, task_publishers
from scrm.tenancy.actors import SYSTEM
from scrm.tenancy.context import tenant_context
from scrm.wecom.api import api_for
from scrm.wecom.errors import WeComError
from scrm.wecom.ratelimit import get_limiter
from scrm.wecom.sandbox.endpoints_marketing import book
from tests.helpers import sandbox_control
from tests.library.conftest import image

pytestmark = pytest.mark.django_db
ADD = "externalcontact/add_moment_task"
START = dt.datetime(2031, 3, 4, 2, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def a(synced):
    with tenant_context(synced):
        yield synced


def make(**data) -> MomentTask:
    data.setdefault("text", "春季新品上市，欢迎到店体验！")
    return moment_task_create(actor=SYSTEM, data=data)


def queued(**data) -> MomentTask:
    """A task published now, its submit not run yet (the worker's message in flight)."""
    task = moment_task_publish(task=make(**data))
    assert task.status == TaskStatus.SUBMITTING
    return task


def fresh(task: MomentTask) -> MomentTask:
    task.refresh_from_db()
    return task


def test_publishing_now_creates_one_wecom_task_whose_moment_is_linked_and_tracked(
    a, sandbox, django_capture_on_commit_callbacks
):
    poster = image()
    task = make(attachments=[{"material_id": poster.pk}])
    with django_capture_on_commit_callbacks(execute=True):
        moment_task_publish(task=task)
    task = fresh(task)
    assert task.status == TaskStatus.PUBLISHING, task.error
    sent = sandbox.records(ADD)
    assert len(sent) == 1
    media_id = Material.objects.get(pk=poster.pk).moment_media_id
    assert sent[0]["body"]["attachments"] == [{"msgtype": "image", "image": {"media_id": media_id}}]
    assert "visible_range" not in sent[0]["body"]  # every member WeCom allows
    moment = task.moment
    wecom = book(sandbox.state).moments[moment.moment_id]
    assert (wecom.text, wecom.images) == (task.text, [media_id])
    assert (moment.create_type, moment.text, moment.content) == (
        0,
        task.text,
        {"image": [{"media_id": media_id}]},
    )
    assert moment.polls >= 1 or moment.next_poll_at is not None  # tracking started
    assert task.next_check_at is None


def test_the_job_is_read_again_sooner_then_later_until_wecom_says_it_is_done(a, sandbox, time_machine):
    time_machine.move_to(START, tick=False)
    task = queued()
    submit.task_submit(task=task)
    task = fresh(task)
    assert task.jobid
    assert task.attempts == 1
    assert task.next_check_at == START + dt.timedelta(seconds=5)
    time_machine.move_to(START + dt.timedelta(seconds=5), tick=False)
    submit.task_job_check(task=task)  # status 1: started
    assert fresh(task).next_check_at == START + dt.timedelta(seconds=20)
    time_machine.move_to(START + dt.timedelta(seconds=6), tick=False)
    submit.task_job_check(task=task)  # status 2: running
    assert fresh(task).next_check_at == START + dt.timedelta(seconds=6 + 15)
    assert task.status == TaskStatus.SUBMITTING
    assert task.moment is None
    time_machine.move_to(START + dt.timedelta(seconds=20), tick=False)
    submit.task_job_check(task=task)  # status 3
    task = fresh(task)
    assert task.status == TaskStatus.PUBLISHING
    assert task.moment.created_at_wecom == START + dt.timedelta(seconds=20)
    assert Moment.objects.count() == 1
    assert len(sandbox.records(ADD)) == 1


def _department_with_children() -> tuple[Department, set[int]]:
    """A department with a sub-department, and the WeCom ids of both and what is under them."""
    rows = list(Department.objects.values_list("pk", "wecom_id", "parent_wecom_id"))
    for pk, wecom_id, _ in rows:
        below = {wecom_id}
        while True:
            more = {w for _, w, parent in rows if parent in below} - below
            if not more:
                break
            below |= more
        if (
            len(below) > 1
            and Staff.objects.filter(department_ids__contains=[min(below - {wecom_id})]).exists()
        ):
            return Department.objects.get(pk=pk), below
    pytest.fail("the sandbox corp has no department with a sub-department")


def test_visible_ranges_go_to_wecom_by_its_ids_and_invalid_senders_and_tags_are_kept(a, sandbox):
    department, _ = _department_with_children()
    outside = (
        Staff.objects.filter(has_contact_permission=True)
        .exclude(pk__in=task_publishers(staff_ids=[], department_ids=[department.pk]))
        .first()
    )
    vip, gone = Tag.objects.filter(deleted=False)[:2]
    task = queued(staff_ids=[outside.pk], department_ids=[department.pk], tag_ids=[vip.pk, gone.pk])
    expected = set(
        task_publishers(staff_ids=[outside.pk], department_ids=[department.pk]).values_list(
            "userid", flat=True
        )
    )
    # Since the last sync, WeCom took the permission from that member and the tag was deleted there.
    sandbox.state.staff[outside.userid].has_contact_permission = False
    sandbox.state.tags[gone.wecom_id].deleted = True

    submit.task_submit(task=task)
    task = fresh(task)
    assert sandbox.records(ADD)[0]["body"]["visible_range"] == {
        "sender_list": {"user_list": [outside.userid], "department_list": [department.wecom_id]},
        "external_contact_list": {"tag_list": sorted([vip.wecom_id, gone.wecom_id])},
    }
    while task.status == TaskStatus.SUBMITTING:
        submit.task_job_check(task=task)
        task = fresh(task)
    assert task.invalid_senders == {"user_list": [outside.userid], "department_list": []}
    assert task.invalid_tags == [gone.wecom_id]
    assert task.moment.visible_type == 0  # some customers: the tag still in use
    # WeCom asks the members of the department and its sub-departments, as the preview counted them.
    assert set(book(sandbox.state).moments[task.moment.moment_id].senders) == expected - {outside.userid}


def test_wecoms_rate_limit_leaves_the_task_queued_and_a_later_tick_submits_it(a, sandbox, time_machine):
    time_machine.move_to(START, tick=False)
    sandbox_control(sandbox, "faults", {"apis": {ADD: {"errors": {"45009": 1.0}}}})
    task = queued()
    submit.task_submit(task=task)
    task = fresh(task)
    assert (task.status, task.jobid, task.claimed_at, task.attempts) == (TaskStatus.SUBMITTING, "", None, 0)
    assert task.error["errcode"] == 45009
    assert task.next_check_at == START + dt.timedelta(seconds=60)  # WeCom's window
    assert submit.tasks_due_claim(now=START + dt.timedelta(seconds=59)) == []

    sandbox_control(sandbox, "faults", {"reset": True})
    get_limiter().backend.delete(f"wecom:block:{a.corp_id}:{ADD}")
    time_machine.move_to(START + dt.timedelta(seconds=60), tick=False)
    assert submit.tasks_due_claim() == [(a.pk, task.pk, submit.SUBMIT)]
    submit.task_step(task=fresh(task), action=submit.SUBMIT)
    task = fresh(task)
    assert task.jobid
    assert task.attempts == 1
    assert task.error == {}
    assert len(sandbox.records(ADD)) == 1


def test_a_refusal_fails_the_task_with_wecoms_answer_and_is_not_retried(a, sandbox):
    sandbox_control(sandbox, "faults", {"apis": {ADD: {"errors": {"40007": 1.0}}}})
    task = queued()
    submit.task_submit(task=task)
    task = fresh(task)
    assert (task.status, task.next_check_at) == (TaskStatus.FAILED, None)
    assert task.error["errcode"] == 40007
    assert submit.tasks_due_claim(now=timezone.now() + dt.timedelta(days=1)) == []


def test_a_lost_answer_is_reconciled_into_the_moment_wecom_made_without_a_duplicate(a, sandbox, monkeypatch):
    other = queued(text="另一条")  # the same window, other content: not adopted
    submit.task_submit(task=other)
    task = queued()
    with monkeypatch.context() as patch:
        # The worker dies between WeCom's answer and storing the jobid.
        patch.setattr(submit, "_store_job", lambda task, *, jobid: None)
        submit.task_submit(task=task)
    task = fresh(task)
    assert (task.jobid, task.attempts) == ("", 1)
    assert task.claimed_at is not None
    api = api_for(a)
    for job in list(book(sandbox.state).jobs):  # WeCom runs its jobs whether or not anyone asks
        while api.get_moment_task_result(job)["status"] != 3:
            pass

    later = task.claimed_at + submit.CLAIM_STALE
    assert (a.pk, task.pk, submit.RECONCILE) not in submit.tasks_due_claim(
        now=later - dt.timedelta(seconds=1)
    )
    assert (a.pk, task.pk, submit.RECONCILE) in submit.tasks_due_claim(now=later)
    submit.task_reconcile(task=fresh(task))
    task = fresh(task)
    assert task.status == TaskStatus.PUBLISHING
    mine = [m for m in book(sandbox.state).moments.values() if m.text == task.text]
    assert [task.moment.moment_id] == [m.moment_id for m in mine]
    assert len(sandbox.records(ADD)) == 2  # the other task's and this one's: nothing submitted again


class NoAnswer:
    """The gateway for a WeCom whose add_moment_task answers never arrive (timeouts)."""

    def __init__(self, api):
        self.api, self.calls = api, 0

    def __getattr__(self, name):
        return getattr(self.api, name)

    def add_moment_task(self, body):
        self.calls += 1
        raise WeComError(ADD, None, "WeCom did not answer within 10s")


def test_a_post_that_never_appears_is_submitted_again_then_failed_as_lost(a, sandbox):
    api = NoAnswer(api_for(a))
    task = queued()
    submit.task_submit(task=task, api=api)
    task = fresh(task)
    assert task.status == TaskStatus.SUBMITTING
    assert task.error["errcode"] is None
    assert task.next_check_at == task.claimed_at + submit.CLAIM_STALE  # reconciled, never resent blindly
    for attempt in (2, 3):
        submit.task_reconcile(task=task, api=api)  # not in WeCom: submitted again
        task = fresh(task)
        assert (task.attempts, api.calls, task.status) == (attempt, attempt, TaskStatus.SUBMITTING)
    submit.task_reconcile(task=task, api=api)
    task = fresh(task)
    assert (task.status, task.error["code"], api.calls) == (TaskStatus.FAILED, "lost", 3)


def test_a_scheduled_task_is_claimed_by_the_tick_once_when_due(a, sandbox):
    at = timezone.now() + dt.timedelta(hours=1)
    task = moment_task_publish(task=make(), scheduled_at=at)
    assert submit.tasks_due_claim(now=at - dt.timedelta(seconds=1)) == []
    assert submit.tasks_due_claim(now=at) == [(a.pk, task.pk, submit.SUBMIT)]
    assert submit.tasks_due_claim(now=at) == []  # leased: a second tick does not take it again
    task = fresh(task)
    assert task.status == TaskStatus.SUBMITTING
    submit.task_step(task=task, action=submit.SUBMIT)
    submit.task_step(task=fresh(task), action=submit.SUBMIT)  # a duplicate delivery is a no-op
    assert len(sandbox.records(ADD)) == 1
    # The lease ran out before its step ran: the next tick reads the job.
    assert submit.tasks_due_claim(now=at + submit.LEASE) == [(a.pk, task.pk, submit.CHECK)]


def test_a_job_wecom_forgot_is_reconciled_from_the_moments_list(a, sandbox, time_machine):
    time_machine.move_to(START, tick=False)
    task = queued()
    submit.task_submit(task=task)
    task = fresh(task)
    api = api_for(a)
    while api.get_moment_task_result(task.jobid)["status"] != 3:  # WeCom finished it meanwhile
        pass
    time_machine.move_to(START + dt.timedelta(hours=25), tick=False)
    submit.task_job_check(task=task)
    task = fresh(task)
    assert task.status == TaskStatus.PUBLISHING
    assert task.moment.created_at_wecom == START
    assert len(sandbox.records(ADD)) == 1
