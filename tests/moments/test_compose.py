"""Composing Moments tasks: what WeCom would refuse is refused with its field, drafts and scheduled tasks
change, only drafts are deleted, publishing now or later, cancelling by status, and the preview of who
would publish and see a post (departments with their sub-departments, customer tags)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from contacts.models import ContactStatus, FollowStatus
from moments.models import Moment, MomentTask, TaskStatus
from moments.services import compose
from moments.services.compose import (
    MomentTaskStateError,
    moment_task_cancel,
    moment_task_create,
    moment_task_delete,
    moment_task_preview,
    moment_task_publish,
    moment_task_update,
)
from moments.tasks import task_step
from scrm.tenancy.actors import SYSTEM, Actor
from scrm.tenancy.context import tenant_context

pytestmark = pytest.mark.django_db


def codes(call) -> dict[str, str]:
    """The refused fields and their codes."""
    with pytest.raises(ValidationError) as caught:
        call()
    return {
        field: getattr(detail, "code", None) or detail[0].code
        for field, detail in caught.value.detail.items()
    }


@pytest.fixture
def corp(build_a):
    """Departments 1 (root) > 2 > 3 and 1 > 4; members in each; Lisa cannot publish (no permission)."""
    for wecom_id, parent in ((2, 1), (3, 2), (4, 1)):
        build_a.department(wecom_id, parent=parent)
    root = build_a.department(1, parent=0)
    staff = {
        "ann": build_a.staff("ann", departments=(2,)),
        "ben": build_a.staff("ben", departments=(3,)),
        "cai": build_a.staff("cai", departments=(4,)),
        "dan": build_a.staff("dan", departments=(1,)),
        "lisa": build_a.staff("lisa", departments=(2,)),
    }
    type(staff["lisa"]).objects.filter(pk=staff["lisa"].pk).update(has_contact_permission=False)
    vip, new = build_a.tag("VIP"), build_a.tag("新客")
    gone = build_a.tag("过期", deleted=True)
    return {"build": build_a, "root": root, "staff": staff, "vip": vip, "new": new, "gone": gone}


def departments(build_a) -> dict[int, int]:
    from contacts.models import Department

    return dict(Department.objects.values_list("wecom_id", "pk"))


def test_a_draft_is_created_with_its_fields_and_an_idempotency_key_answers_the_first(corp, alice):
    actor = Actor(user=alice)
    data = {"text": "  春季新品上市  ", "staff_ids": [corp["staff"]["ann"].pk], "tag_ids": [corp["vip"].pk]}
    task = moment_task_create(actor=actor, data=data, idempotency_key="k1")
    again = moment_task_create(actor=actor, data={"text": "another"}, idempotency_key="k1")
    assert again.pk == task.pk
    assert (task.status, task.text, task.staff_ids, task.tag_ids) == (
        TaskStatus.DRAFT,
        "春季新品上市",
        [corp["staff"]["ann"].pk],
        [corp["vip"].pk],
    )
    assert task.created_by == alice
    assert MomentTask.objects.count() == 1
    # The same key from another caller is another request.
    assert moment_task_create(actor=SYSTEM, data={"text": "x"}, idempotency_key="k1").pk != task.pk


def test_what_wecom_would_refuse_is_refused_with_its_path(corp):
    staff = corp["staff"]
    assert codes(lambda: moment_task_create(actor=SYSTEM, data={"text": "字" * 2001})) == {
        "text": "max_length"
    }
    assert codes(lambda: moment_task_create(actor=SYSTEM, data={"text": "  "})) == {"text": compose.EMPTY}
    assert codes(
        lambda: moment_task_create(
            actor=SYSTEM, data={"text": "x", "staff_ids": [staff["ann"].pk, 999_999, staff["lisa"].pk]}
        )
    ) == {"staff_ids.1": compose.DOES_NOT_EXIST, "staff_ids.2": compose.CANNOT_PUBLISH}
    assert codes(
        lambda: moment_task_create(actor=SYSTEM, data={"text": "x", "department_ids": [999_999]})
    ) == {"department_ids.0": compose.DOES_NOT_EXIST}
    assert codes(
        lambda: moment_task_create(
            actor=SYSTEM, data={"text": "x", "tag_ids": [corp["vip"].pk, corp["gone"].pk]}
        )
    ) == {"tag_ids.1": compose.DOES_NOT_EXIST}
    assert codes(lambda: moment_task_create(actor=SYSTEM, data={"text": "x", "staff_ids": "1,2"})) == {
        "staff_ids": "invalid"
    }
    past = timezone.now() - dt.timedelta(minutes=1)
    assert codes(lambda: moment_task_create(actor=SYSTEM, data={"text": "x", "scheduled_at": past})) == {
        "scheduled_at": "in_the_past"
    }
    assert codes(lambda: moment_task_create(actor=SYSTEM, data={"text": "x", "sender": "ann"})) == {
        "sender": compose.UNKNOWN_FIELD
    }
    assert codes(
        lambda: moment_task_create(actor=SYSTEM, data={"text": "x", "attachments": [{"material_id": 1}]})
    ) == {"attachments.0.material_id": "does_not_exist"}
    assert MomentTask.objects.count() == 0
    assert len(moment_task_create(actor=SYSTEM, data={"text": "字" * 2000}).text) == 2000


def test_drafts_and_scheduled_tasks_change_and_only_drafts_are_deleted(corp):
    task = moment_task_create(actor=SYSTEM, data={"text": "初稿"})
    task = moment_task_update(task=task, data={"text": "定稿", "tag_ids": [corp["new"].pk]})
    assert (task.text, task.tag_ids) == ("定稿", [corp["new"].pk])
    # Emptying the text of a task with no attachments leaves nothing to post.
    assert codes(lambda: moment_task_update(task=task, data={"text": ""})) == {"text": compose.EMPTY}

    later = timezone.now() + dt.timedelta(hours=2)
    task = moment_task_publish(task=task, scheduled_at=later)
    assert (task.status, task.scheduled_at, task.next_check_at) == (TaskStatus.SCHEDULED, later, later)
    moved = later + dt.timedelta(hours=1)
    task = moment_task_update(task=task, data={"scheduled_at": moved})
    assert (task.scheduled_at, task.next_check_at) == (moved, moved)  # the tick submits it at the new time
    assert codes(lambda: moment_task_update(task=task, data={"scheduled_at": None})) == {
        "scheduled_at": "invalid"
    }
    with pytest.raises(MomentTaskStateError) as caught:
        moment_task_delete(task=task)
    assert caught.value.code == "not_deletable"

    MomentTask.objects.filter(pk=task.pk).update(status=TaskStatus.PUBLISHING)
    with pytest.raises(MomentTaskStateError) as caught:
        moment_task_update(task=task, data={"text": "改"})
    assert caught.value.code == "not_editable"

    draft = moment_task_create(actor=SYSTEM, data={"text": "删掉"})
    moment_task_delete(task=draft)
    assert not MomentTask.objects.filter(pk=draft.pk).exists()


def test_publishing_now_enqueues_the_submit_once_committed(
    corp, django_capture_on_commit_callbacks, monkeypatch
):
    enqueued = []
    monkeypatch.setattr(task_step, "delay", lambda *args: enqueued.append(args))
    task = moment_task_create(actor=SYSTEM, data={"text": "现在发"})
    with django_capture_on_commit_callbacks(execute=True):
        task = moment_task_publish(task=task)
        assert enqueued == []  # not before the commit
    assert enqueued == [(task.tenant_id, task.pk, "submit")]
    assert task.status == TaskStatus.SUBMITTING
    # The tick submits it if that message is lost.
    assert task.next_check_at == pytest.approx(
        timezone.now() + compose.SUBMIT_FALLBACK, abs=dt.timedelta(seconds=5)
    )
    with pytest.raises(MomentTaskStateError) as caught:
        moment_task_publish(task=task)
    assert caught.value.code == "not_publishable"


def test_publishing_checks_the_task_again(corp):
    ann = corp["staff"]["ann"]
    task = moment_task_create(actor=SYSTEM, data={"text": "x", "staff_ids": [ann.pk]})
    type(ann).objects.filter(pk=ann.pk).update(has_contact_permission=False)
    assert codes(lambda: moment_task_publish(task=task)) == {"staff_ids.0": compose.CANNOT_PUBLISH}
    task.refresh_from_db()
    assert task.status == TaskStatus.DRAFT


def test_cancelling_by_status(corp, connected, sandbox):
    draft = moment_task_create(actor=SYSTEM, data={"text": "草稿"})
    scheduled = moment_task_publish(
        task=moment_task_create(actor=SYSTEM, data={"text": "定时"}),
        scheduled_at=timezone.now() + dt.timedelta(hours=1),
    )
    for task in (draft, scheduled):
        task = moment_task_cancel(task=task)
        assert (task.status, task.next_check_at) == (TaskStatus.CANCELLED, None)
        assert task.cancelled_at is not None

    submitting = moment_task_create(actor=SYSTEM, data={"text": "提交中"})
    MomentTask.objects.filter(pk=submitting.pk).update(status=TaskStatus.SUBMITTING)
    with pytest.raises(MomentTaskStateError) as caught:
        moment_task_cancel(task=submitting)
    assert caught.value.code == "being_created"

    # One members are publishing: cancelled in WeCom first.
    jobid = sandbox_job(connected)
    moment_id = connected_result(connected, jobid)
    moment = Moment.objects.create(moment_id=moment_id, create_type=0, created_at_wecom=timezone.now())
    publishing = moment_task_create(actor=SYSTEM, data={"text": "发布中"})
    MomentTask.objects.filter(pk=publishing.pk).update(status=TaskStatus.PUBLISHING, moment=moment)
    publishing = moment_task_cancel(task=publishing)
    assert publishing.status == TaskStatus.CANCELLED
    assert [r["body"] for r in sandbox.records("externalcontact/cancel_moment_task")] == [
        {"moment_id": moment_id}
    ]
    moment.refresh_from_db()
    assert moment.cancelled
    with pytest.raises(MomentTaskStateError) as caught:
        moment_task_cancel(task=publishing)
    assert caught.value.code == "not_cancellable"


def sandbox_job(tenant) -> str:
    from scrm.wecom.api import api_for

    return api_for(tenant).add_moment_task({"text": {"content": "发布中"}})["jobid"]


def connected_result(tenant, jobid: str) -> str:
    """Read the job until WeCom says it is done (the sandbox answers 1, 2, 3); its moment_id."""
    from scrm.wecom.api import api_for

    api = api_for(tenant)
    while (answer := api.get_moment_task_result(jobid))["status"] != 3:
        pass
    return answer["result"]["moment_id"]


def test_the_preview_counts_members_with_sub_departments_and_customers_by_tag(
    corp, django_assert_max_num_queries
):
    build, staff, vip, new = corp["build"], corp["staff"], corp["vip"], corp["new"]
    ids = departments(build)
    build.contact(staff=[staff["ann"], staff["ben"]], tags=[vip])  # one customer of two members
    build.contact(staff=staff["ben"], tags=[new])
    build.contact(staff=staff["cai"], tags=[vip])
    build.contact(staff=staff["dan"])
    build.contact(staff=staff["lisa"], tags=[vip])  # Lisa cannot publish: her customers see nothing
    lost = build.contact(staff=staff["ann"], tags=[vip], follow_status=FollowStatus.DELETED_BY_CUSTOMER)
    assert lost.status == ContactStatus.LOST

    def preview(**data):
        with django_assert_max_num_queries(8):
            return moment_task_preview(data=data)

    # Everyone who may publish: 4 members, their 4 distinct customers (the lost one is not counted).
    assert preview() == {
        "members": 4,
        "customers": 4,
        "invalid": {"staff_ids": [], "department_ids": [], "tag_ids": []},
    }
    # Department 2 includes 3: Ann and Ben (Lisa cannot publish).
    assert preview(department_ids=[ids[2]])["members"] == 2
    assert preview(department_ids=[ids[2]], staff_ids=[staff["cai"].pk]) == {
        "members": 3,
        "customers": 3,
        "invalid": {"staff_ids": [], "department_ids": [], "tag_ids": []},
    }
    assert preview(department_ids=[ids[2]], tag_ids=[vip.pk])["customers"] == 1
    assert preview(tag_ids=[vip.pk, new.pk])["customers"] == 3
    assert preview(staff_ids=[staff["lisa"].pk, 999_999], tag_ids=[corp["gone"].pk]) == {
        "members": 0,
        "customers": 0,
        "invalid": {
            "staff_ids": sorted([staff["lisa"].pk, 999_999]),
            "department_ids": [],
            "tag_ids": [corp["gone"].pk],
        },
    }
    # Set-based: the same number of queries for many more members and customers.
    for i in range(30):
        member = build.staff(f"m{i}", departments=(3,))
        build.contact(staff=member, tags=[vip])
    assert preview(department_ids=[ids[2]], tag_ids=[vip.pk]) == {
        "members": 32,
        "customers": 31,
        "invalid": {"staff_ids": [], "department_ids": [], "tag_ids": []},
    }


def test_tasks_of_another_tenant_are_not_visible(corp, tenant_b):
    task = moment_task_create(actor=SYSTEM, data={"text": "A 的"})
    with tenant_context(tenant_b):
        assert not MomentTask.objects.filter(pk=task.pk).exists()
        assert codes(
            lambda: moment_task_create(
                actor=SYSTEM, data={"text": "x", "staff_ids": [corp["staff"]["ann"].pk]}
            )
        ) == {"staff_ids.0": compose.DOES_NOT_EXIST}


def test_moments_settings_are_made_on_first_read_and_changed_within_their_ranges(tenant_a):
    from moments.services.settings import moment_settings_get, moment_settings_update

    with tenant_context(tenant_a):
        settings = moment_settings_get(tenant=tenant_a)
        assert (settings.remind_after_hours, settings.manager_digest) == (24, False)
        assert moment_settings_get(tenant=tenant_a).pk == settings.pk
        assert codes(lambda: moment_settings_update(tenant=tenant_a, data={"remind_after_hours": 169})) == {
            "remind_after_hours": "out_of_range"
        }
        assert codes(
            lambda: moment_settings_update(tenant=tenant_a, data={"manager_digest": "yes", "x": 1})
        ) == {
            "manager_digest": "invalid",
            "x": "unknown_field",
        }
        settings = moment_settings_update(
            tenant=tenant_a, data={"remind_after_hours": 0, "manager_digest": True}
        )
        settings.refresh_from_db()
        assert (settings.remind_after_hours, settings.manager_digest) == (0, True)
