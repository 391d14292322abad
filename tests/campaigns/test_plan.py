"""Planning: one sender per customer (the first or the latest member who added them and can send),
the exclusions counted by reason, tasks of at most 10,000 customers (2,000 groups) per member, and
the preview is exactly what is written."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.exceptions import ValidationError

from campaigns.models import (
    Campaign,
    CampaignRecipient,
    CampaignTask,
    ChatType,
    DoNotDisturb,
    ReceiveLimit,
    RecipientStatus,
    SenderRule,
    TaskStatus,
    TouchKind,
)
from campaigns.services import plan as planning
from campaigns.services.audience import audience_clean
from campaigns.services.settings import campaign_settings_get, campaign_settings_update
from contacts.facets import contacts_refresh
from contacts.models import Follow, FollowStatus, Segment, Staff
from groups.models import GroupStatus, GroupTag, GroupTagging
from scrm.tenancy.context import tenant_context
from tests.campaigns.conftest import at

pytestmark = pytest.mark.django_db
NOW = at("2026-11-30 10:00")
EVERYONE = {"filters": {}}


@pytest.fixture(autouse=True)
def _pinned(time_machine):
    time_machine.move_to(NOW, tick=False)


def _settings(tenant, **values):
    with tenant_context(tenant):
        campaign_settings_update(settings=campaign_settings_get(tenant=tenant), data=values)


def follow(contact, staff, *, days_ago: int, status: str = FollowStatus.ACTIVE) -> None:
    with tenant_context(contact.tenant):
        Follow.objects.create(
            contact=contact, staff=staff, added_at=NOW - dt.timedelta(days=days_ago), status=status
        )
        contacts_refresh([contact.pk])


def build(tenant, audience=EVERYONE, chat_type=ChatType.SINGLE, when=None) -> planning.Plan:
    with tenant_context(tenant):
        return planning.plan_build(tenant=tenant, chat_type=chat_type, audience=audience, at=when)


def senders(plan: planning.Plan) -> dict[str, int | None]:
    return {r.target: r.staff_id for r in plan.recipients}


def reasons(plan: planning.Plan) -> dict[str, str | None]:
    return {r.target: r.reason for r in plan.recipients}


def test_each_customer_is_sent_once_by_the_first_or_the_latest_member(tenant_a, build_a):
    anna, ben, cleo = build_a.staff("anna"), build_a.staff("ben"), build_a.staff("cleo")
    shared = build_a.contact(staff=anna, added_at=NOW - dt.timedelta(days=30))
    follow(shared, ben, days_ago=3)
    follow(shared, cleo, days_ago=10)
    alone = build_a.contact(staff=ben)

    first = build(tenant_a)
    assert senders(first) == {shared.external_userid: anna.pk, alone.external_userid: ben.pk}
    assert len(first.recipients) == 2  # never two rows (two tasks) for one customer

    _settings(tenant_a, sender_rule=SenderRule.LATEST)
    latest = build(tenant_a)
    assert senders(latest) == {shared.external_userid: ben.pk, alone.external_userid: ben.pk}
    assert latest.figures()["members"] == 1
    assert latest.figures()["per_member"] == [
        {"staff": {"id": ben.pk, "userid": "ben", "name": "Ben"}, "recipients": 2, "tasks": 1}
    ]


def test_members_who_cannot_send_are_passed_over(tenant_a, build_a):
    gone = build_a.staff("gone", is_active=False)
    outside = build_a.staff("outside")
    with tenant_context(tenant_a):
        Staff.objects.filter(pk=outside.pk).update(has_contact_permission=False)
    ben = build_a.staff("ben")
    passed_over = build_a.contact(staff=gone, added_at=NOW - dt.timedelta(days=30))
    follow(passed_over, outside, days_ago=20)
    follow(passed_over, ben, days_ago=1)
    nobody = build_a.contact(staff=[gone, outside])
    # Ben deleted this customer: that follow is over, whatever its date.
    deleted = build_a.contact(staff=outside)
    follow(deleted, ben, days_ago=40, status=FollowStatus.DELETED_BY_STAFF)

    plan = build(tenant_a)
    assert senders(plan)[passed_over.external_userid] == ben.pk
    assert reasons(plan) == {
        passed_over.external_userid: None,
        nobody.external_userid: planning.NO_SENDER,
        deleted.external_userid: planning.NO_SENDER,
    }
    assert plan.skipped == {"dnd": 0, "no_sender": 2, "receive_limit": 0, "marketing_cap": 0}


def test_exclusions_are_counted_by_reason_and_lost_customers_are_not_the_audience(tenant_a, build_a, touch):
    _settings(tenant_a, receive_limit=ReceiveLimit.DAY, marketing_cap_per_week=2)
    anna = build_a.staff("anna")
    fine = build_a.contact("Fine", staff=anna)
    quiet = build_a.contact("Quiet", staff=anna)
    limited = build_a.contact("Limited", staff=anna)
    capped = build_a.contact("Capped", staff=anna)
    quiet_and_limited = build_a.contact("Both", staff=anna)
    lost = build_a.contact("Lost", staff=anna, follow_status=FollowStatus.DELETED_BY_CUSTOMER)
    with tenant_context(tenant_a):
        DoNotDisturb.objects.create(contact=quiet, reason="asked")
        DoNotDisturb.objects.create(contact=quiet_and_limited)
        DoNotDisturb.objects.create(contact=lost)
    touch(limited.external_userid, NOW - dt.timedelta(hours=2), kind=TouchKind.MEMBER_MASS_MESSAGE)
    touch(quiet_and_limited.external_userid, NOW - dt.timedelta(hours=2))
    touch(capped.external_userid, NOW - dt.timedelta(days=1), kind=TouchKind.SOP)
    touch(capped.external_userid, NOW - dt.timedelta(days=2), kind=TouchKind.MOMENT)

    plan = build(tenant_a)
    assert reasons(plan) == {
        fine.external_userid: None,
        quiet.external_userid: planning.DND,
        limited.external_userid: "receive_limit",
        capped.external_userid: "marketing_cap",
        quiet_and_limited.external_userid: planning.DND,  # one reason each, do-not-disturb first
    }
    figures = plan.figures()
    assert (figures["audience_total"], figures["lost"], figures["will_receive"]) == (5, 1, 1)
    assert figures["skipped"] == {"dnd": 2, "no_sender": 0, "receive_limit": 1, "marketing_cap": 1}
    assert {(s["name"], s["reason"]) for s in figures["skipped_sample"]} == {
        ("Quiet", "dnd"),
        ("Both", "dnd"),
        ("Limited", "receive_limit"),
        ("Capped", "marketing_cap"),
    }


def test_the_limit_is_the_one_of_the_send_time(tenant_a, build_a, touch):
    _settings(tenant_a, receive_limit=ReceiveLimit.DAY)
    contact = build_a.contact(staff=build_a.staff("anna"))
    touch(contact.external_userid, NOW - dt.timedelta(hours=1))
    assert reasons(build(tenant_a))[contact.external_userid] == "receive_limit"
    assert reasons(build(tenant_a, when=NOW + dt.timedelta(days=1)))[contact.external_userid] is None


def test_tasks_hold_at_most_a_chunk_per_member(tenant_a, build_a, monkeypatch):
    # WeCom's limits per add_msg_template call.
    assert (planning.SINGLE_CHUNK_SIZE, planning.GROUP_CHUNK_SIZE) == (10_000, 2_000)
    monkeypatch.setattr(planning, "SINGLE_CHUNK_SIZE", 2)
    anna, ben = build_a.staff("anna"), build_a.staff("ben")
    annas = [build_a.contact(staff=anna) for _ in range(5)]
    bens = [build_a.contact(staff=ben) for _ in range(2)]

    plan = build(tenant_a)
    assert sorted(plan.tasks) == [
        planning.PlannedTask(anna.pk, 0, 2),
        planning.PlannedTask(anna.pk, 1, 2),
        planning.PlannedTask(anna.pk, 2, 1),
        planning.PlannedTask(ben.pk, 0, 2),
    ]
    chunks = {r.target: r.chunk for r in plan.recipients}
    assert [chunks[c.external_userid] for c in annas] == [0, 0, 1, 1, 2]  # in id order
    assert [chunks[c.external_userid] for c in bens] == [0, 0]
    assert plan.figures()["per_member"][0] == {
        "staff": {"id": anna.pk, "userid": "anna", "name": "Anna"},
        "recipients": 5,
        "tasks": 3,
    }


def test_group_campaigns_go_to_live_groups_from_their_owners(
    tenant_a, build_a, build_group, monkeypatch, touch
):
    monkeypatch.setattr(planning, "GROUP_CHUNK_SIZE", 2)
    anna, gone = build_a.staff("anna"), build_a.staff("gone", is_active=False)
    vip = [build_group(owner=anna, name=f"VIP {i}") for i in range(3)]
    other = build_group(owner=anna, name="其他")
    dismissed = build_group(owner=anna, name="VIP old", status=GroupStatus.DISMISSED)
    orphan = build_group(owner=gone, name="VIP orphan")
    limited = build_group(owner=anna, name="VIP limited")
    _settings(tenant_a, receive_limit=ReceiveLimit.WEEK)
    for hours in range(7):  # this week (from Monday 00:00) it had its 7
        touch(limited.chat_id, NOW - dt.timedelta(hours=hours))
    with tenant_context(tenant_a):
        tag = GroupTag.objects.create(name="华东")
        for group in (*vip, dismissed, orphan, limited):
            GroupTagging.objects.create(group=group, tag=tag)
        audience = audience_clean(
            tenant=tenant_a, chat_type=ChatType.GROUP, audience={"tag_ids": [tag.pk], "name": "vip"}
        )

    plan = build(tenant_a, audience, ChatType.GROUP)
    assert reasons(plan) == {
        **{g.chat_id: None for g in vip},
        orphan.chat_id: planning.NO_SENDER,
        limited.chat_id: "receive_limit",
    }
    assert other.chat_id not in reasons(plan)
    assert sorted(plan.tasks) == [planning.PlannedTask(anna.pk, 0, 2), planning.PlannedTask(anna.pk, 1, 1)]
    assert {r.group_id for r in plan.recipients} == {g.pk for g in (*vip, orphan, limited)}
    assert plan.figures()["dismissed"] == 1


def test_the_preview_is_what_is_written_and_writing_twice_writes_once(tenant_a, build_a, touch, monkeypatch):
    monkeypatch.setattr(planning, "SINGLE_CHUNK_SIZE", 3)
    _settings(tenant_a, receive_limit=ReceiveLimit.DAY)
    anna, ben = build_a.staff("anna"), build_a.staff("ben")
    contacts = [build_a.contact(staff=anna) for _ in range(4)] + [build_a.contact(staff=[anna, ben])]
    nobody = build_a.contact(staff=build_a.staff("gone", is_active=False))
    touch(contacts[1].external_userid, NOW - dt.timedelta(hours=1))
    with tenant_context(tenant_a):
        DoNotDisturb.objects.create(contact=contacts[2])
        campaign = Campaign.objects.create(name="双十二", audience=EVERYONE, text="上新")

    preview = build(tenant_a)
    with tenant_context(tenant_a):
        planning.campaign_plan_write(campaign=campaign)
        planning.campaign_plan_write(campaign=campaign)
        rows = list(CampaignRecipient.objects.filter(campaign=campaign).select_related("task"))
        tasks = list(CampaignTask.objects.filter(campaign=campaign))

    written = {
        (
            r.target,
            r.contact_id,
            r.status,
            r.task.staff_id if r.task else None,
            r.task.chunk if r.task else None,
        )
        for r in rows
    }
    previewed = {(r.target, r.contact_id, r.status, r.staff_id, r.chunk) for r in preview.recipients}
    assert written == previewed
    assert len(rows) == len(contacts) + 1
    # Anna sends to the three who are neither limited nor on do-not-disturb (the shared customer too:
    # she and Ben added it at the same time, and her follow came first).
    assert [(t.staff_id, t.chunk, t.recipients, t.status) for t in tasks] == [
        (anna.pk, 0, 3, TaskStatus.PENDING)
    ]
    assert sorted((t.staff_id, t.chunk, t.recipients) for t in tasks) == sorted(preview.tasks)
    campaign.refresh_from_db()
    assert campaign.plan == preview.figures()
    assert (campaign.members, campaign.tasks, campaign.recipients) == (1, len(tasks), preview.will_receive)
    statuses = {r.target: r.status for r in rows}
    assert statuses[contacts[1].external_userid] == RecipientStatus.SKIPPED_LIMIT
    assert statuses[contacts[2].external_userid] == RecipientStatus.SKIPPED_DND
    assert statuses[nobody.external_userid] == RecipientStatus.SKIPPED_NO_SENDER


def test_planning_is_a_few_queries_whatever_the_audience(tenant_a, build_a):
    anna, ben = build_a.staff("anna"), build_a.staff("ben")
    _settings(tenant_a, sender_rule=SenderRule.FIRST)  # made on first read: not counted below

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            build(tenant_a).figures()
        return len(captured)

    for _ in range(3):
        build_a.contact(staff=[anna, ben])
    few = queries()
    for _ in range(40):
        build_a.contact(staff=[anna, ben])
    assert queries() == few <= 7


def test_a_segment_or_filters_select_the_audience(tenant_a, build_a):
    anna = build_a.staff("anna")
    vip = build_a.tag("VIP")
    tagged = build_a.contact(staff=anna, tags=[vip])
    build_a.contact(staff=anna)
    with tenant_context(tenant_a):
        segment = Segment.objects.create(name="VIP", filters={"tags_any": str(vip.pk)})
        by_segment = audience_clean(
            tenant=tenant_a, chat_type=ChatType.SINGLE, audience={"segment_id": segment.pk}
        )
        by_filters = audience_clean(
            tenant=tenant_a,
            chat_type=ChatType.SINGLE,
            audience={"filters": {"tags_any": str(vip.pk), "search": ""}},
        )
    assert by_filters == {"filters": {"tags_any": str(vip.pk)}}
    for audience in (by_segment, by_filters):
        assert list(reasons(build(tenant_a, audience))) == [tagged.external_userid]


@pytest.mark.parametrize(
    ("chat_type", "audience", "path", "code"),
    [
        (ChatType.SINGLE, {"segment_id": 999999}, "audience.segment_id", "does_not_exist"),
        (ChatType.SINGLE, {"filters": {"tags_any": "999999"}}, "audience.filters.tags_any", "does_not_exist"),
        (ChatType.SINGLE, {"filters": {"colour": "red"}}, "audience.filters.colour", "invalid"),
        (ChatType.SINGLE, {"filters": {}, "segment_id": 1}, "audience", "invalid"),
        (ChatType.SINGLE, {"owner_ids": [1]}, "audience.owner_ids", "invalid"),
        (ChatType.GROUP, {"owner_ids": [999999]}, "audience.owner_ids.0", "does_not_exist"),
        (ChatType.GROUP, {"tag_ids": [999999]}, "audience.tag_ids.0", "does_not_exist"),
        (ChatType.GROUP, {"filters": {}}, "audience.filters", "invalid"),
    ],
)
def test_audiences_that_name_nothing_are_refused(tenant_a, chat_type, audience, path, code):
    from scrm.api.errors import _flatten

    with tenant_context(tenant_a), pytest.raises(ValidationError) as refused:
        audience_clean(tenant=tenant_a, chat_type=chat_type, audience=audience)
    assert [(e["path"], e["code"]) for e in _flatten(refused.value.detail)] == [(path, code)]
