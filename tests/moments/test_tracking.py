"""Tracking Moments against the sandbox: publish statuses, reach read once, interactions as events
exactly once, a poll that learns nothing writes nothing, the schedule by age, the tick's claim."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.models import Contact, ContactEvent, EventType, Staff
from moments.models import (
    CreateType,
    Moment,
    MomentInteraction,
    MomentPublication,
    MomentReach,
    MomentTask,
    TaskStatus,
)
from moments.services import tracking
from moments.services.tracking import PollResult, moment_poll, moments_poll_claim, next_poll_at
from scrm.tenancy.context import tenant_context
from scrm.wecom.api import api_for
from tests.helpers import sandbox_control

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE", "COPY")
DATA_TABLES = ('"moments_', '"contacts_contactevent"', "contacts_contactevent ")


def corp_post(tenant, sandbox, userids: list[str], *, text: str = "春季新品上市") -> Moment:
    """A corp post for ``userids`` made through WeCom's job (as a published task makes it), and its
    ``Moment`` row as the job check stores it."""
    api = api_for(tenant)
    job = api.add_moment_task(
        {"text": {"content": text}, "visible_range": {"sender_list": {"user_list": userids}}}
    )
    result: dict[str, Any] = {}
    while result.get("status") != 3:  # the sandbox answers 1, 2, 3 on successive reads
        result = api.get_moment_task_result(job["jobid"])
    with tenant_context(tenant):
        return Moment.objects.create(
            moment_id=result["result"]["moment_id"],
            create_type=CreateType.CORP,
            text=text,
            created_at_wecom=timezone.now(),
        )


def poll(moment: Moment) -> PollResult:
    with tenant_context(moment.tenant):
        result = moment_poll(moment=moment)
    moment.refresh_from_db()
    return result


def publish(sandbox, moment: Moment, userid: str) -> int:
    """The member publishes the post in WeCom; returns how many customers can see it."""
    answer = sandbox_control(
        sandbox, "simulate/staff-publish-moment", {"userid": userid, "moment_id": moment.moment_id}
    )
    return answer["visible_customers"]


def customers_of(sandbox, userid: str) -> list[str]:
    return sorted(c.external_userid for c in sandbox.state.contacts.values() if userid in c.follows)


def interact(sandbox, kind: str, moment: Moment, userid: str, external_userid: str) -> dict:
    return sandbox_control(
        sandbox,
        f"simulate/customer-{kind}-moment",
        {"moment_id": moment.moment_id, "userid": userid, "external_userid": external_userid},
    )


def members(sandbox, n: int) -> list[str]:
    """``n`` members who can publish (active, with the customer-contact permission, with customers)."""
    found = [
        s.userid
        for s in sandbox.state.staff.values()
        if s.status == 1 and s.has_contact_permission and customers_of(sandbox, s.userid)
    ]
    assert len(found) >= n
    return sorted(found)[:n]


def data_writes(queries) -> list[str]:
    """The statements that wrote Moments data or events."""
    return [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith(WRITES) and any(t in q["sql"] for t in DATA_TABLES)
    ]


def table(sql: str) -> str:
    words = sql.split()
    return words[1 if words[0].upper() == "UPDATE" else 2].strip('"')


def publications(moment: Moment) -> dict[str, MomentPublication]:
    with tenant_context(moment.tenant):
        return {
            p.staff.userid: p for p in MomentPublication.objects.filter(moment=moment).select_related("staff")
        }


def events(tenant, **filters) -> list[ContactEvent]:
    with tenant_context(tenant):
        return list(ContactEvent.objects.filter(type__startswith="moment_", **filters).order_by("pk"))


# --- the schedule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "interval"),
    [
        (dt.timedelta(0), dt.timedelta(minutes=15)),
        (dt.timedelta(hours=1, minutes=59), dt.timedelta(minutes=15)),
        (dt.timedelta(hours=2), dt.timedelta(hours=1)),
        (dt.timedelta(hours=23, minutes=59), dt.timedelta(hours=1)),
        (dt.timedelta(hours=24), dt.timedelta(days=1)),
        (dt.timedelta(days=13, hours=23), dt.timedelta(days=1)),
    ],
)
def test_polls_come_often_on_the_first_day_then_daily(age, interval):
    now = dt.datetime(2025, 3, 10, 12, tzinfo=dt.UTC)
    assert next_poll_at(created_at=now - age, now=now) == now + interval


def test_tracking_stops_after_14_days():
    now = dt.datetime(2025, 3, 10, 12, tzinfo=dt.UTC)
    assert next_poll_at(created_at=now - dt.timedelta(days=14), now=now) is None
    assert next_poll_at(created_at=now - dt.timedelta(days=90), now=now) is None


def test_a_poll_plans_the_next_by_age_and_the_last_one_ends_tracking(synced, sandbox):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        moment = corp_post(synced, sandbox, members(sandbox, 1))
        poll(moment)
        assert moment.next_poll_at == start + dt.timedelta(minutes=15)
        assert (moment.polls, moment.last_polled_at) == (1, start)
    with time_machine.travel(start + dt.timedelta(hours=3), tick=False):
        poll(moment)
        assert moment.next_poll_at == start + dt.timedelta(hours=4)
    late = start + dt.timedelta(days=13, hours=12)
    with time_machine.travel(late, tick=False):
        poll(moment)
        assert moment.next_poll_at == late + dt.timedelta(days=1)
    with time_machine.travel(late + dt.timedelta(days=1), tick=False):
        poll(moment)
        assert moment.next_poll_at is None
        assert moment.polls == 4
        assert moments_poll_claim() == []


# --- publish status and reach ---------------------------------------------------------------------


def test_publish_status_per_member_and_reach_read_once(synced, sandbox):
    first, second, third = members(sandbox, 3)
    moment = corp_post(synced, sandbox, [first, second, third])

    result = poll(moment)

    assert result.newly_published == 0
    copies = publications(moment)
    assert set(copies) == {first, second, third}
    assert not any(c.published or c.published_at for c in copies.values())
    assert (moment.members, moment.published, moment.reach) == (3, 0, 0)

    visible = publish(sandbox, moment, first)
    seen_at = timezone.now()
    result = poll(moment)

    assert result.newly_published == 1
    copies = publications(moment)
    assert copies[first].published
    assert copies[first].published_at >= seen_at
    assert not copies[second].published
    assert (copies[first].reach, copies[first].reach_read) == (visible, True)
    assert (moment.members, moment.published, moment.reach) == (3, 1, visible)
    with tenant_context(synced):
        reach = list(MomentReach.objects.filter(moment=moment))
        known = dict(Contact.objects.values_list("external_userid", "pk"))
    assert sorted(r.external_userid for r in reach) == customers_of(sandbox, first)
    assert {r.staff_id for r in reach} == {copies[first].staff_id}
    assert all(r.contact_id == known[r.external_userid] for r in reach)

    # Read once: the next poll reads the statuses (1 page) and the copy's comments, not the reach.
    result = poll(moment)
    assert (result.api_calls, result.newly_published, result.rows_written) == (2, 0, 0)

    publish(sandbox, moment, second)
    result = poll(moment)
    assert result.newly_published == 1
    assert moment.published == 2
    # get_moment_task + the new copy's send result + both copies' comments.
    assert result.api_calls == 4


def test_members_statuses_and_send_results_are_paged(synced, sandbox, monkeypatch):
    monkeypatch.setattr(tracking, "TASK_PAGE", 2)
    monkeypatch.setattr(tracking, "SEND_RESULT_PAGE", 7)
    userids = members(sandbox, 5)
    moment = corp_post(synced, sandbox, userids)
    visible = publish(sandbox, moment, userids[0])

    result = poll(moment)

    assert moment.members == 5
    assert moment.reach == visible
    pages = -(-visible // 7) or 1
    assert result.api_calls == 3 + pages + 1  # 3 status pages, the send result pages, one comments read


def test_a_member_siyu_does_not_know_yet_gets_a_copy_once_synced(synced, sandbox):
    first, second = members(sandbox, 2)
    moment = corp_post(synced, sandbox, [first, second])
    with tenant_context(synced):
        staff = Staff.objects.get(userid=second)
        MomentPublication.objects.all().delete()
        Staff.objects.filter(pk=staff.pk).update(userid="not-synced-yet")

    poll(moment)
    assert set(publications(moment)) == {first}

    with tenant_context(synced):
        Staff.objects.filter(pk=staff.pk).update(userid=second)
    poll(moment)
    assert set(publications(moment)) == {first, second}
    assert moment.members == 2


# --- interactions ---------------------------------------------------------------------------------


def test_interactions_become_events_exactly_once_under_repeated_polls(synced, sandbox):
    (member,) = members(sandbox, 1)
    moment = corp_post(synced, sandbox, [member])
    with tenant_context(synced):
        task = MomentTask.objects.create(text=moment.text, status=TaskStatus.PUBLISHING, moment=moment)
    publish(sandbox, moment, member)
    liker, commenter, later = customers_of(sandbox, member)[:3]
    interact(sandbox, "like", moment, member, liker)
    interact(sandbox, "comment", moment, member, commenter)
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=2)):
        interact(sandbox, "comment", moment, member, commenter)  # a customer may comment again

    result = poll(moment)

    assert (result.new_interactions, result.events) == (3, 3)
    got = events(synced)
    with tenant_context(synced):
        contacts = dict(Contact.objects.values_list("external_userid", "pk"))
        staff_id = Staff.objects.get(userid=member).pk
    assert sorted((e.type, e.contact_id) for e in got) == sorted(
        [
            (EventType.MOMENT_LIKED, contacts[liker]),
            (EventType.MOMENT_COMMENTED, contacts[commenter]),
            (EventType.MOMENT_COMMENTED, contacts[commenter]),
        ]
    )
    assert {e.staff_id for e in got} == {staff_id}
    assert all(
        e.payload == {"moment": moment.pk, "moment_id": moment.moment_id, "task": task.pk} for e in got
    )
    assert (moment.likes, moment.comments, moment.engaged_customers) == (1, 2, 2)
    copy = publications(moment)[member]
    assert (copy.likes, copy.comments) == (1, 2)

    # The same answer again: nothing new. Even with the digest lost, what is stored is not stored again.
    assert poll(moment).events == 0
    with tenant_context(synced):
        MomentPublication.objects.filter(moment=moment).update(comments_digest="")
    assert poll(moment).new_interactions == 0
    assert len(events(synced)) == 3

    # One more like: one more event, and only that one.
    interact(sandbox, "like", moment, member, later)
    result = poll(moment)
    assert (result.new_interactions, result.events) == (1, 1)
    (newest,) = events(synced, contact_id=contacts[later])
    assert newest.type == EventType.MOMENT_LIKED
    assert (moment.likes, moment.comments, moment.engaged_customers) == (2, 2, 3)


def test_a_colleagues_like_is_stored_without_an_event(synced, sandbox):
    member, colleague = members(sandbox, 2)
    moment = corp_post(synced, sandbox, [member])
    publish(sandbox, moment, member)
    sandbox_control(
        sandbox,
        "simulate/member-like-moment",
        {"moment_id": moment.moment_id, "userid": member, "by_userid": colleague},
    )

    result = poll(moment)

    assert (result.new_interactions, result.events) == (1, 0)
    with tenant_context(synced):
        (like,) = MomentInteraction.objects.filter(moment=moment)
    assert (like.by_userid, like.external_userid, like.contact_id) == (colleague, "", None)
    assert (moment.likes, moment.engaged_customers) == (1, 0)


def test_a_customer_siyu_does_not_know_is_stored_without_an_event(synced, sandbox):
    (member,) = members(sandbox, 1)
    moment = corp_post(synced, sandbox, [member])
    publish(sandbox, moment, member)
    stranger = customers_of(sandbox, member)[0]
    with tenant_context(synced):
        Contact.objects.filter(external_userid=stranger).delete()
    interact(sandbox, "like", moment, member, stranger)

    result = poll(moment)

    assert (result.new_interactions, result.events) == (1, 0)
    with tenant_context(synced):
        (like,) = MomentInteraction.objects.filter(moment=moment)
        reach = MomentReach.objects.get(moment=moment, external_userid=stranger)
    assert (like.external_userid, like.contact_id) == (stranger, None)
    assert reach.contact_id is None
    assert moment.engaged_customers == 1


def test_a_poll_with_nothing_new_writes_no_data_row(synced, sandbox):
    first, second = members(sandbox, 2)
    moment = corp_post(synced, sandbox, [first, second])
    publish(sandbox, moment, first)
    interact(sandbox, "like", moment, first, customers_of(sandbox, first)[0])
    poll(moment)

    with CaptureQueriesContext(connection) as queries:
        result = poll(moment)

    assert result.rows_written == 0
    # Only the Moment's own schedule is written.
    (write,) = data_writes(queries)
    assert write.startswith('UPDATE "moments_moment" SET "next_poll_at"')
    assert '"likes"' not in write
    assert moment.polls == 2

    # Something new: exactly that is written.
    interact(sandbox, "comment", moment, first, customers_of(sandbox, first)[1])
    with CaptureQueriesContext(connection) as queries:
        result = poll(moment)
    assert (result.new_interactions, result.events) == (1, 1)
    assert {table(sql) for sql in data_writes(queries)} == {
        "moments_moment",
        "moments_momentinteraction",
        "moments_momentpublication",
    }


def test_a_members_own_post_is_tracked_from_its_author(synced, sandbox):
    (member,) = members(sandbox, 1)
    posted = sandbox_control(sandbox, "simulate/staff-publish-moment", {"userid": member, "text": "周末活动"})
    with tenant_context(synced):
        staff = Staff.objects.get(userid=member)
        moment = Moment.objects.create(
            moment_id=posted["moment_id"],
            create_type=CreateType.MEMBER,
            creator=staff,
            creator_userid=member,
            text="周末活动",
            created_at_wecom=timezone.now(),
            members=1,
            published=1,
        )
        MomentPublication.objects.create(
            moment=moment, staff=staff, published=True, published_at=timezone.now()
        )
    customer = customers_of(sandbox, member)[0]
    interact(sandbox, "like", moment, member, customer)

    result = poll(moment)

    # No publish task and no send result for a member's own post: one comments read.
    assert result.api_calls == 1
    assert (result.new_interactions, result.events) == (1, 1)
    assert (moment.members, moment.published, moment.likes, moment.reach) == (1, 1, 1, 0)


# --- claiming, starting, refreshing ---------------------------------------------------------------


def test_the_tick_claims_due_moments_of_every_tenant_once(build_a, build_b):
    now = timezone.now()
    synced = build_a.tenant
    with tenant_context(synced):
        due = Moment.objects.create(
            moment_id="m-due", create_type=CreateType.CORP, created_at_wecom=now, next_poll_at=now
        )
        later = Moment.objects.create(
            moment_id="m-later",
            create_type=CreateType.CORP,
            created_at_wecom=now,
            next_poll_at=now + dt.timedelta(minutes=5),
        )
        Moment.objects.create(moment_id="m-done", create_type=CreateType.CORP, created_at_wecom=now)
    with tenant_context(build_b.tenant):
        other = Moment.objects.create(
            moment_id="m-b", create_type=CreateType.CORP, created_at_wecom=now, next_poll_at=now
        )

    claimed = moments_poll_claim(now=now)

    assert sorted(claimed) == sorted([(synced.pk, due.pk), (build_b.tenant.pk, other.pk)])
    # Leased: the next tick does not take them again until the lease ends.
    assert moments_poll_claim(now=now + dt.timedelta(minutes=1)) == []
    again = moments_poll_claim(now=now + tracking.POLL_LEASE)
    assert sorted(pk for _, pk in again) == sorted([due.pk, later.pk, other.pk])


def test_tracking_starts_with_a_poll_once_the_caller_commits(
    synced, sandbox, django_capture_on_commit_callbacks
):
    (member,) = members(sandbox, 1)
    moment = corp_post(synced, sandbox, [member])

    with tenant_context(synced), django_capture_on_commit_callbacks(execute=True):
        tracking.moment_track_start(moment=moment)
        moment.refresh_from_db()
        assert moment.polls == 0  # not before the commit
        assert moment.next_poll_at is not None

    moment.refresh_from_db()
    assert moment.polls == 1
    assert moment.members == 1

    publish(sandbox, moment, member)
    with tenant_context(synced), django_capture_on_commit_callbacks(execute=True):
        tracking.moment_refresh(moment=moment)
    moment.refresh_from_db()
    assert (moment.polls, moment.published) == (2, 1)
