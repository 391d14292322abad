"""The demo tenant's Moments (moments.services.demo) against the in-process sandbox: a task published by
two thirds of the members, customers' likes and comments as events, the members' own posts, made once."""

from __future__ import annotations

from contacts.models import ContactEvent, Staff
from moments.models import CreateType, Moment, MomentInteraction, MomentTask, TaskStatus
from moments.services.demo import demo_moments_seed
from moments.services.submit import task_job_check
from scrm.tenancy.context import tenant_context
from scrm.wecom.sandbox.endpoints_marketing import book


def test_the_demo_moments_are_made_once_with_figures(sandbox, synced, django_capture_on_commit_callbacks):
    with tenant_context(synced):
        # The first step composes and publishes the task; its submit runs once that commits (eager).
        with django_capture_on_commit_callbacks(execute=True):
            assert demo_moments_seed(tenant=synced) is False
        task = MomentTask.objects.get()
        assert task.jobid
        assert len(task.attachments) == 1  # the demo library's poster
        for _ in range(3):  # the sandbox's job answers 1, 2, then 3 (done); the beat tick reads it
            if task.moment_id is None:
                assert demo_moments_seed(tenant=synced) is False
                with django_capture_on_commit_callbacks(execute=True):
                    task_job_check(task=task)
                task.refresh_from_db()
        assert task.status == TaskStatus.PUBLISHING

        with django_capture_on_commit_callbacks(execute=True):
            assert demo_moments_seed(tenant=synced) is True
        moment = Moment.objects.get(pk=task.moment_id)
        members = Staff.objects.filter(has_contact_permission=True, is_active=True).count()
        customer_interactions = MomentInteraction.objects.filter(moment=moment).exclude(external_userid="")
        events = ContactEvent.objects.filter(
            type__in=("moment_liked", "moment_commented"), payload__task=task.pk
        )
        reacted = (customer_interactions.count(), events.count())
        own_posts = Moment.objects.filter(create_type=CreateType.MEMBER).count()

        # A repeated step (the task retried after an error) reacts no more; a restart makes no other task.
        assert demo_moments_seed(tenant=synced) is True
        assert MomentTask.objects.count() == 1
        again = Moment.objects.get(pk=moment.pk)
        assert (again.published, again.likes, again.comments) == (
            moment.published,
            moment.likes,
            moment.comments,
        )
        assert (customer_interactions.count(), events.count()) == reacted
    with sandbox.state.lock:
        sandboxed = book(sandbox.state).moments[moment.moment_id]
        in_wecom = (len(sandboxed.published), len(sandboxed.likes), len(sandboxed.comments))
    assert moment.members == members
    assert moment.published == round(members * 2 / 3)
    assert 0 < moment.comments < moment.likes
    assert (moment.published, moment.likes, moment.comments) == in_wecom
    assert reacted == (moment.likes + moment.comments,) * 2  # every reaction is a customer's, and an event
    assert own_posts > 0  # the members' own posts of the last 30 days
