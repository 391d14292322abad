"""Campaign results, reminders and cancelling against the sandbox."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import tasks as campaign_tasks
from campaigns.models import Campaign, CampaignStatus, RecipientStatus, TaskStatus, Touch, TouchKind
from campaigns.services import plan, results
from campaigns.services.results import (
    RemindLimitError,
    campaign_cancel,
    campaign_poll,
    campaign_remind,
    poll_interval,
    task_remind,
)
from contacts.models import ContactEvent, EventType
from scrm.tenancy.actors import Actor
from scrm.tenancy.context import tenant_context
from tests.campaigns.sandboxed import (
    campaign_make,
    confirm,
    connected,  # noqa: F401 -- fixture
    dispatch,
    recipients_of,
    sandbox,  # noqa: F401 -- fixture
    sandbox_factory,  # noqa: F401 -- fixture
    synced,  # noqa: F401 -- fixture
    tasks_of,
)
from tests.helpers import sandbox_control

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE", "COPY")


@pytest.fixture
def sent(synced, sandbox, django_capture_on_commit_callbacks):  # noqa: F811
    """A campaign to every customer of tenant A, its WeCom tasks created (nobody confirmed yet)."""
    return dispatch(campaign_make(synced), django_capture_on_commit_callbacks)


def poll(campaign: Campaign) -> results.PollSummary:
    with tenant_context(campaign.tenant):
        summary = campaign_poll(campaign=campaign)
    campaign.refresh_from_db()
    return summary


def writes(queries) -> list[str]:
    return [
        q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES) or " UPDATE " in q["sql"]
    ]


def _events(campaign) -> list[ContactEvent]:
    with tenant_context(campaign.tenant):
        return list(ContactEvent.objects.filter(type=EventType.MASS_MESSAGE_RECEIVED))


def _touches(campaign) -> list[Touch]:
    with tenant_context(campaign.tenant):
        return list(Touch.objects.all())


def test_results_per_recipient_with_events_and_touches_once(sent, sandbox):  # noqa: F811
    tasks = tasks_of(sent)
    first, second = tasks[0], tasks[1]
    counts = confirm(sandbox, first)
    sandbox_control(sandbox, "simulate/customer-delete", {"userid": second.staff.userid,
                    "external_userid": recipients_of(sent, task=second)[0].target})  # fmt: skip
    counts_second = confirm(sandbox, second)

    summary = poll(sent)

    assert summary.newly_sent == counts["sent"] + counts_second["sent"]
    assert (sent.sent, sent.not_friend) == (counts["sent"] + counts_second["sent"], 1)
    assert sent.confirmed_members == 2
    assert sent.status == CampaignStatus.SENT
    assert sent.polls == 1
    assert sent.last_polled_at is not None
    got = recipients_of(sent, status=RecipientStatus.SENT)
    assert {r.task_id for r in got} == {first.pk, second.pk}
    assert all(r.sent_at is not None for r in got)
    (gone,) = recipients_of(sent, status=RecipientStatus.NOT_FRIEND)
    assert gone.task_id == second.pk
    assert gone.sent_at is None
    # Everyone else has not got it yet.
    assert len(recipients_of(sent, status=RecipientStatus.PLANNED)) == sent.recipients - len(got) - 1
    task = next(t for t in tasks_of(sent) if t.pk == first.pk)
    assert task.confirmed_at is not None
    assert task.results_complete
    assert (task.sent, task.not_friend) == (counts["sent"], 0)

    events = _events(sent)
    assert sorted(e.contact_id for e in events) == sorted(r.contact_id for r in got)
    mine = next(r for r in got if r.task_id == first.pk)
    event = next(e for e in events if e.contact_id == mine.contact_id)
    assert event.staff_id == first.staff_id
    assert event.payload == {"campaign_id": sent.pk, "msgid": first.msgid}
    touches = _touches(sent)
    assert sorted(t.target for t in touches) == sorted(r.target for r in got)
    assert {t.kind for t in touches} == {TouchKind.MASS_MESSAGE}

    # Read again (and the pages once more, as if the cursor were lost): nothing is counted twice.
    poll(sent)
    with tenant_context(sent.tenant):
        results.CampaignTask.objects.filter(campaign=sent).update(results_complete=False, result_cursor="")
    poll(sent)
    assert len(_events(sent)) == len(events)
    assert len(_touches(sent)) == len(touches)
    assert sent.sent == len(got)


def test_a_repeated_poll_with_nothing_new_writes_no_row(sent, sandbox):  # noqa: F811
    tasks = tasks_of(sent)
    confirm(sandbox, tasks[0])
    poll(sent)

    with CaptureQueriesContext(connection) as queries:
        summary = poll(sent)

    assert summary.changed == 0
    # Only the campaign's own schedule (next_poll_at, polls, last_polled_at) is written.
    assert [sql.split()[1] for sql in writes(queries)] == ['"campaigns_campaign"']
    # The confirmed task is complete: its results are not read again; the others' confirmations are.
    assert summary.api_calls == len(tasks) - 1

    # Another member confirms: the next poll writes exactly their recipients.
    counts = confirm(sandbox, tasks[1])
    before = len(_events(sent))
    summary = poll(sent)
    assert summary.changed == counts["sent"] + counts["not_friend"] + counts["over_limit"]
    assert len(_events(sent)) == before + counts["sent"]


def test_results_page_with_the_cursor(sent, sandbox, monkeypatch):  # noqa: F811
    monkeypatch.setattr(results, "RESULT_PAGE", 7)
    tasks = tasks_of(sent)
    for task in tasks:
        confirm(sandbox, task)

    summary = poll(sent)

    pages = sum(-(-task.recipients // 7) for task in tasks)
    assert summary.api_calls == len(tasks) + pages  # one task read per member, then their pages
    assert sent.sent + sent.not_friend + sent.over_limit == sent.recipients
    assert len(recipients_of(sent, status=RecipientStatus.PLANNED)) == 0
    # Every task read to its end: complete, and closed with it.
    assert all(t.results_complete and t.result_cursor == "" for t in tasks_of(sent))
    assert sent.status == CampaignStatus.CLOSED
    assert sent.next_poll_at is None
    assert len(_events(sent)) == sent.sent


def test_the_stored_cursor_skips_final_pages_and_stops_at_the_first_open_one(sent, sandbox, monkeypatch):  # noqa: F811
    """A page with a recipient WeCom still lists as unsent (0) is read again next time; the final
    pages before it are not."""
    from scrm.wecom.api import WeComAPI

    monkeypatch.setattr(results, "RESULT_PAGE", 5)
    task = max(tasks_of(sent), key=lambda t: t.recipients)
    confirm(sandbox, task)
    real = WeComAPI.get_groupmsg_send_result
    cursors = []

    def third_page_still_sending(self, **kwargs):
        cursors.append(kwargs["cursor"])
        page = real(self, **kwargs)
        if len(cursors) == 3:
            page["send_list"][0] = {**page["send_list"][0], "status": 0, "send_time": 0}
        return page

    monkeypatch.setattr(WeComAPI, "get_groupmsg_send_result", third_page_still_sending)
    poll(sent)
    stored = next(t for t in tasks_of(sent) if t.pk == task.pk)
    assert not stored.results_complete
    assert stored.result_cursor == cursors[2]  # the third page is where the next poll starts

    cursors.clear()
    monkeypatch.setattr(
        WeComAPI,
        "get_groupmsg_send_result",
        lambda self, **kw: cursors.append(kw["cursor"]) or real(self, **kw),
    )
    poll(sent)
    assert cursors[0] == stored.result_cursor
    assert len(cursors) == -(-task.recipients // 5) - 2
    stored = next(t for t in tasks_of(sent) if t.pk == task.pk)
    assert stored.results_complete
    assert stored.sent == task.recipients - stored.not_friend - stored.over_limit


def test_still_dispatching_is_read_later(synced, sandbox, django_capture_on_commit_callbacks):  # noqa: F811
    sandbox_control(sandbox, "settings/marketing", {"mass_msg_dispatch_seconds": 3600})
    campaign = dispatch(campaign_make(synced), django_capture_on_commit_callbacks)
    summary = poll(campaign)
    assert summary.changed == 0
    assert campaign.status == CampaignStatus.SENT
    assert campaign.next_poll_at > timezone.now()


def test_the_poll_schedule():
    assert poll_interval(age=dt.timedelta(minutes=3)) == dt.timedelta(minutes=5)
    assert poll_interval(age=dt.timedelta(hours=5, minutes=59)) == dt.timedelta(minutes=5)
    assert poll_interval(age=dt.timedelta(hours=7)) == dt.timedelta(hours=1)
    assert poll_interval(age=dt.timedelta(days=2, hours=23)) == dt.timedelta(hours=1)
    assert poll_interval(age=dt.timedelta(days=4)) == dt.timedelta(days=1)


def test_a_campaign_closes_after_its_last_poll(sent, sandbox, time_machine):  # noqa: F811
    poll(sent)
    assert sent.next_poll_at - sent.last_polled_at == dt.timedelta(minutes=5)
    time_machine.move_to(sent.dispatched_at + dt.timedelta(hours=8), tick=True)
    poll(sent)
    assert sent.next_poll_at - sent.last_polled_at == dt.timedelta(hours=1)
    time_machine.move_to(sent.dispatched_at + results.CLOSE_AFTER + dt.timedelta(minutes=1), tick=True)
    poll(sent)
    assert sent.status == CampaignStatus.CLOSED
    assert sent.closed_at is not None
    assert sent.next_poll_at is None


def test_the_tick_claims_due_campaigns_once(sent, sandbox, django_capture_on_commit_callbacks, time_machine):  # noqa: F811
    other = campaign_make(sent.tenant, name="Draft", next_poll_at=timezone.now() - dt.timedelta(minutes=1))
    assert results.campaigns_poll_claim() == []  # the sent one is due in a minute; drafts never
    time_machine.move_to(sent.next_poll_at + dt.timedelta(seconds=1), tick=True)
    confirm(sandbox, tasks_of(sent)[0])
    assert campaign_tasks.poll_due.run() == 1  # eager: the poll ran
    assert results.campaigns_poll_claim() == []
    sent.refresh_from_db()
    assert sent.polls == 1
    assert sent.sent > 0
    other.refresh_from_db()
    assert other.polls == 0


# --- reminders ------------------------------------------------------------------------------------


def _remind_records(sandbox) -> list[dict]:  # noqa: F811
    return sandbox_control(sandbox, "records/externalcontact/remind_groupmsg_send")["records"]


def test_a_task_is_reminded_at_most_three_times_a_day(sent, sandbox, alice, time_machine):  # noqa: F811
    task = tasks_of(sent)[0]
    actor = Actor(user=alice)
    with tenant_context(sent.tenant):
        for _ in range(3):
            task_remind(task=task, actor=actor)
        with pytest.raises(RemindLimitError, match="3 reminders"):
            task_remind(task=task, actor=actor)
    assert len(_remind_records(sandbox)) == 3  # the 4th never reached WeCom
    task = tasks_of(sent)[0]
    assert len(task.reminded_at) == 3

    time_machine.move_to(timezone.now() + dt.timedelta(hours=24, minutes=1), tick=True)
    with tenant_context(sent.tenant):
        task_remind(task=task, actor=actor)
    assert len(_remind_records(sandbox)) == 4


def test_a_sent_task_is_not_reminded(sent, sandbox, alice):  # noqa: F811
    task = tasks_of(sent)[0]
    confirm(sandbox, task)
    poll(sent)
    task = tasks_of(sent)[0]
    with tenant_context(sent.tenant), pytest.raises(Exception, match="already sent"):
        task_remind(task=task, actor=Actor(user=alice))
    assert _remind_records(sandbox) == []


def test_campaign_remind_reminds_each_member_once(
    synced,  # noqa: F811
    sandbox,  # noqa: F811
    alice,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    monkeypatch.setattr(plan, "SINGLE_CHUNK_SIZE", 30)  # members of 23 to 65 customers: 1 to 3 tasks
    synced.agent_id = "1000002"
    synced.save(update_fields=["agent_id"])
    campaign = dispatch(campaign_make(synced), django_capture_on_commit_callbacks)
    tasks = tasks_of(campaign)
    # A member with one task sends it: they are not reminded.
    confirmed = next(t for t in tasks if sum(1 for o in tasks if o.staff_id == t.staff_id) == 1)
    confirm(sandbox, confirmed)
    poll(campaign)
    waiting = {t.staff.userid for t in tasks if t.staff_id != confirmed.staff_id}
    assert len(tasks) > len(waiting) + 1  # some members have several chunks

    with tenant_context(synced):
        outcome = campaign_remind(campaign=campaign, actor=Actor(user=alice))

    assert outcome["members_reminded"] == len(waiting)
    reminded = [r["body"]["msgid"] for r in _remind_records(sandbox)]
    by_msgid = {t.msgid: t.staff.userid for t in tasks}
    assert sorted(by_msgid[m] for m in reminded) == sorted(waiting)  # one per member
    app_messages = sandbox_control(sandbox, "records/message/send")["records"]
    assert sorted(m["body"]["touser"] for m in app_messages) == sorted(waiting)  # one per member
    assert outcome["app_messages"] == len(waiting)
    # Three rounds use up each member's first chunk; the fourth reminds them through another chunk.
    with tenant_context(synced):
        for _ in range(3):
            campaign_remind(campaign=campaign, actor=Actor(user=alice))
    several = {t.staff.userid for t in tasks if t.chunk == 1 and t.staff.userid in waiting}
    assert len(_remind_records(sandbox)) == 3 * len(waiting) + len(several)


def test_members_at_the_limit_are_reported_not_reminded(sent, sandbox, alice):  # noqa: F811
    with tenant_context(sent.tenant):
        for _ in range(3):
            campaign_remind(campaign=sent, actor=Actor(user=alice))
        outcome = campaign_remind(campaign=sent, actor=Actor(user=alice))
    assert outcome["members_reminded"] == 0
    assert sorted(outcome["members_at_limit"]) == sorted(t.staff.userid for t in tasks_of(sent))
    assert len(_remind_records(sandbox)) == 3 * len(tasks_of(sent))
    assert outcome["app_messages"] == 0  # tenant A has no app (agent_id)


# --- cancelling -----------------------------------------------------------------------------------


def test_cancel_stops_what_was_not_sent(sent, sandbox, alice):  # noqa: F811
    tasks = tasks_of(sent)
    confirmed = tasks[0]
    counts = confirm(sandbox, confirmed)

    with tenant_context(sent.tenant):
        outcome = campaign_cancel(campaign=sent, actor=Actor(user=alice))

    sent.refresh_from_db()
    assert sent.status == CampaignStatus.CANCELLED
    assert outcome["errors"] == []
    cancelled = sandbox_control(sandbox, "records/externalcontact/cancel_groupmsg_send")["records"]
    # Every task not known to be sent: the confirmed one too (the poll had not seen it yet).
    assert sorted(r["body"]["msgid"] for r in cancelled) == sorted(t.msgid for t in tasks)
    # The next poll reads what was sent before the cancel, and nothing more.
    poll(sent)
    assert sent.sent == counts["sent"]
    assert {r.status for r in recipients_of(sent, task=confirmed)} <= {
        RecipientStatus.SENT,
        RecipientStatus.NOT_FRIEND,
        RecipientStatus.OVER_LIMIT,
    }
    assert next(t for t in tasks_of(sent) if t.pk == confirmed.pk).status == TaskStatus.CREATED
    others = [t for t in tasks_of(sent) if t.pk != confirmed.pk]
    assert {t.status for t in others} == {TaskStatus.CANCELLED}
    assert {r.status for t in others for r in recipients_of(sent, task=t)} == {RecipientStatus.CANCELLED}
    assert sent.next_poll_at is None  # nothing more can change
    with pytest.raises(Exception, match="cannot be cancelled"), tenant_context(sent.tenant):
        campaign_cancel(campaign=sent, actor=Actor(user=alice))


def test_cancelling_a_scheduled_campaign_calls_no_wecom(synced, sandbox, alice):  # noqa: F811
    campaign = campaign_make(
        synced, status=CampaignStatus.SCHEDULED, scheduled_at=timezone.now() + dt.timedelta(hours=1)
    )
    with tenant_context(synced):
        campaign_cancel(campaign=campaign, actor=Actor(user=alice))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    assert sandbox_control(sandbox, "records")["paths"].get("externalcontact/cancel_groupmsg_send") is None


def test_the_demo_campaign_is_made_once_with_results(synced, sandbox, django_capture_on_commit_callbacks):  # noqa: F811
    from campaigns.services.demo import demo_campaign_results, demo_campaign_seed

    with tenant_context(synced), django_capture_on_commit_callbacks(execute=True):
        campaign = demo_campaign_seed(tenant=synced)
    with tenant_context(synced):
        assert demo_campaign_results(tenant=synced, campaign=campaign)
        assert demo_campaign_seed(tenant=synced).pk == campaign.pk  # a restart makes no other
        assert Campaign.objects.count() == 1
    campaign.refresh_from_db()
    tasks = tasks_of(campaign)
    assert campaign.status == CampaignStatus.SENT
    assert campaign.confirmed_members == round(len(tasks) * 2 / 3)
    assert campaign.sent > 0
    assert len(_events(campaign)) == campaign.sent
    # The rest are left to remind.
    assert sum(1 for t in tasks if t.confirmed_at is None) == len(tasks) - campaign.confirmed_members


def test_a_group_campaign_is_sent_by_each_owner(synced, sandbox, django_capture_on_commit_callbacks):  # noqa: F811
    from tests.groups.conftest import run_groups_sync

    assert run_groups_sync(synced).status == "succeeded"
    campaign = dispatch(
        campaign_make(synced, chat_type="group", audience={}), django_capture_on_commit_callbacks
    )

    tasks = tasks_of(campaign)
    with sandbox.state.lock:
        owners = {g.owner for g in sandbox.state.groups.values() if not g.dismissed}
    assert sorted(t.staff.userid for t in tasks) == sorted(owners)  # one task per owner
    for task in tasks:
        confirm(sandbox, task)
    poll(campaign)

    assert campaign.sent == campaign.recipients > 0
    with sandbox.state.lock:
        assert {t.target for t in _touches(campaign)} <= set(sandbox.state.groups)
    assert len(_touches(campaign)) == campaign.sent
    assert _events(campaign) == []  # a group is not a customer: no timeline event
