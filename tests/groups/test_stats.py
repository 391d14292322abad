"""Daily group statistics: WeCom's per-owner figures for the days not stored yet (30 days back at
first, then the day that passed) and the days stored before they were final (the nightly sync's
03:00 fetch of yesterday), fetched by the daily beat task and at the end of a groups sync."""

from __future__ import annotations

import datetime as dt

import pytest

from contacts.models import Staff
from groups.models import Group, GroupStatDay
from groups.services import stats
from groups.tasks import sync as group_tasks
from scrm.tenancy.context import tenant_context
from scrm.wecom.api import api_for
from scrm.wecom.errors import WeComError, WeComRateLimitedError


@pytest.fixture
def owners(synced, sandbox) -> dict[str, int]:
    """Synced (the sync fetched the statistics), then the statistics forgotten: userid → Staff id."""
    with tenant_context(synced):
        GroupStatDay.objects.all().delete()
        ids = set(Group.objects.values_list("owner_id", flat=True))
        return dict(Staff.objects.filter(id__in=ids).values_list("userid", "id"))


class Recording:
    """The WeCom API, keeping the bodies of the statistics calls made through it."""

    def __init__(self, api):
        self.api, self.bodies = api, []

    def groupchat_statistic_group_by_day(self, body):
        self.bodies.append(body)
        return self.api.groupchat_statistic_group_by_day(body)


def stat_requests(sandbox, since: int = 0) -> int:
    return sandbox.calls["externalcontact/groupchat/statistic_group_by_day"] - since


def china(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=stats.WECOM_DAY_ZONE)


def fetched_at(hour: int, day: dt.date | None = None) -> dt.datetime:
    """A fetch time today (China time) at ``hour``: the stored figures are as a fetch then left them."""
    return china(day or stats.wecom_today(), hour)


def test_a_first_fetch_stores_30_days_per_owner_up_to_yesterday_as_wecom_says(synced, sandbox, owners):
    today = stats.wecom_today()
    before = stat_requests(sandbox)
    with tenant_context(synced):
        assert stats.group_stats_fetch(api=api_for(synced)) == 30 * len(owners)
        rows = list(GroupStatDay.objects.select_related("owner"))
        api = api_for(synced)
    assert stat_requests(sandbox, before) == len(owners)
    days = sorted({row.day for row in rows})
    assert days == [today - dt.timedelta(days=n) for n in range(30, 0, -1)]
    # The stored figures are WeCom's, day by day (a China day: its midnight is the stat_time).
    userid, owner_id = sorted(owners.items())[0]
    yesterday = today - dt.timedelta(days=1)
    midnight = int(dt.datetime.combine(yesterday, dt.time(), tzinfo=stats.WECOM_DAY_ZONE).timestamp())
    [item] = api.groupchat_statistic_group_by_day(
        {"day_begin_time": midnight, "day_end_time": midnight, "owner_filter": {"userid_list": [userid]}}
    )["items"]
    stored = next(row for row in rows if row.owner_id == owner_id and row.day == yesterday)
    assert {name: getattr(stored, name) for name in stats.STAT_FIELDS} == item["data"]
    assert item["data"]["chat_total"] == sum(
        1 for c in sandbox.state.groups.values() if c.owner == userid and not c.dismissed
    )


def test_a_second_fetch_the_same_day_asks_and_writes_nothing(synced, sandbox, owners):
    with tenant_context(synced):
        stats.group_stats_fetch(api=api_for(synced))
        # Fetched at 06:15, as the beat does: yesterday's figures are final (at 03:00 they were not,
        # see below), whatever the hour this test runs at.
        GroupStatDay.objects.update(fetched_at=fetched_at(6, stats.wecom_today()) + dt.timedelta(minutes=15))
        fetched = dict(GroupStatDay.objects.values_list("id", "fetched_at"))
        before = stat_requests(sandbox)
        assert stats.group_stats_fetch(api=api_for(synced)) == 0
        assert dict(GroupStatDay.objects.values_list("id", "fetched_at")) == fetched
    assert stat_requests(sandbox, before) == 0


def test_yesterday_stored_by_the_nightly_sync_is_fetched_again_and_completed(synced, sandbox, owners):
    """The nightly sync stores yesterday's figures early (03:00), before WeCom has completed them; the
    daily task at 06:15 asks for that day again and overwrites them."""
    today = stats.wecom_today()
    yesterday = today - dt.timedelta(days=1)
    with tenant_context(synced):
        stats.group_stats_fetch(api=api_for(synced))
        GroupStatDay.objects.update(fetched_at=fetched_at(7))  # every day final…
        early = fetched_at(0)  # …but yesterday's, fetched as it ended (before now, whatever the hour)
        GroupStatDay.objects.filter(day=yesterday).update(
            fetched_at=early, **dict.fromkeys(stats.STAT_FIELDS, 0)
        )
        others = dict(GroupStatDay.objects.exclude(day=yesterday).values_list("id", "fetched_at"))
        api = Recording(api_for(synced))
        assert stats.group_stats_fetch(api=api) == len(owners)
        completed = {row.owner_id: row for row in GroupStatDay.objects.filter(day=yesterday)}
        assert dict(GroupStatDay.objects.exclude(day=yesterday).values_list("id", "fetched_at")) == others
    # One call per owner, for yesterday alone, and WeCom's figures stored in place of the early ones.
    midnight = stats._day_start(yesterday)
    assert sorted(b["owner_filter"]["userid_list"][0] for b in api.bodies) == sorted(owners)
    assert {(b["day_begin_time"], b["day_end_time"]) for b in api.bodies} == {(midnight, midnight)}
    assert set(completed) == set(owners.values())
    for userid, owner_id in owners.items():
        [item] = api.api.groupchat_statistic_group_by_day(
            {"day_begin_time": midnight, "day_end_time": midnight, "owner_filter": {"userid_list": [userid]}}
        )["items"]
        row = completed[owner_id]
        assert {name: getattr(row, name) for name in stats.STAT_FIELDS} == item["data"]
        assert row.fetched_at > early
    assert any(row.chat_total for row in completed.values())  # not the zeros stored early


def test_a_day_is_final_once_fetched_six_hours_after_it_ended():
    day = dt.date(2026, 5, 1)
    assert stats._final_from(day) == china(dt.date(2026, 5, 2), 6)


def test_the_next_day_fetches_only_the_day_that_passed(synced, sandbox, owners):
    today = stats.wecom_today()
    with tenant_context(synced):
        # As if the last fetch was the day before yesterday's: only yesterday is missing.
        GroupStatDay.objects.all().delete()
        stats.group_stats_fetch(api=api_for(synced), today=today - dt.timedelta(days=1))
        api = Recording(api_for(synced))
        assert stats.group_stats_fetch(api=api) == len(owners)
        assert GroupStatDay.objects.filter(day=today - dt.timedelta(days=1)).count() == len(owners)
        assert GroupStatDay.objects.count() == 31 * len(owners)
    # One call per owner, each for yesterday alone.
    assert sorted(b["owner_filter"]["userid_list"][0] for b in api.bodies) == sorted(owners)
    assert all(b["day_begin_time"] == b["day_end_time"] for b in api.bodies)


def test_a_long_gap_goes_back_30_days_only(synced, sandbox, owners):
    today = stats.wecom_today()
    with tenant_context(synced):
        stats.group_stats_fetch(api=api_for(synced), today=today - dt.timedelta(days=100))
        assert stats.group_stats_fetch(api=api_for(synced)) == 30 * len(owners)
        recent = GroupStatDay.objects.filter(day__gte=today - dt.timedelta(days=30))
        assert recent.count() == 30 * len(owners)


def test_the_daily_task_fetches_for_every_connected_tenant(synced, tenant_b, sandbox, owners, monkeypatch):
    queued = []
    monkeypatch.setattr(group_tasks.stats_fetch, "delay", lambda tenant_id: queued.append(tenant_id))
    with tenant_context(tenant_b):
        tenant_b.corp_id = ""  # not connected to WeCom
        tenant_b.save()
    assert group_tasks.stats_daily() == 1
    assert queued == [synced.pk]
    assert group_tasks.stats_fetch.run(synced.pk) == 30 * len(owners)
    with tenant_context(synced):
        assert GroupStatDay.objects.count() == 30 * len(owners)


def test_a_rate_limited_fetch_is_retried_after_the_window(synced, sandbox, owners, monkeypatch):
    retried = []
    monkeypatch.setattr(group_tasks.stats_fetch, "apply_async", lambda *a, **k: retried.append((a, k)))

    def limited(**kwargs):
        raise WeComRateLimitedError(
            "externalcontact/groupchat/statistic_group_by_day", 45009, "", retry_after=42
        )

    monkeypatch.setattr(group_tasks, "group_stats_fetch", limited)
    assert group_tasks.stats_fetch.run(synced.pk) == 0
    assert retried == [(((synced.pk, 2),), {"countdown": 42})]


@pytest.mark.parametrize("errcode", [-1, None])
def test_transient_failures_are_retried_with_a_bounded_backoff(synced, owners, monkeypatch, errcode):
    """WeCom busy (-1, after the client's own retries) or not answering: tried again later, waiting
    longer each time, at most RETRY_ATTEMPTS times and never past RETRY_MAX_WAIT."""
    retried = []
    monkeypatch.setattr(group_tasks.stats_fetch, "apply_async", lambda *a, **k: retried.append((a, k)))

    def busy(**kwargs):
        raise WeComError("externalcontact/groupchat/statistic_group_by_day", errcode, "busy")

    monkeypatch.setattr(group_tasks, "group_stats_fetch", busy)
    for attempt in range(1, group_tasks.RETRY_ATTEMPTS):
        assert group_tasks.stats_fetch.run(synced.pk, attempt) == 0
    assert [args for (args,), _ in retried] == [
        (synced.pk, attempt + 1) for attempt in range(1, group_tasks.RETRY_ATTEMPTS)
    ]
    waits = [options["countdown"] for _, options in retried]
    assert waits == sorted(waits)
    assert waits[0] == group_tasks.RETRY_BACKOFF
    assert max(waits) <= group_tasks.RETRY_MAX_WAIT
    with pytest.raises(WeComError):  # the last attempt: the next day's fetch will ask again
        group_tasks.stats_fetch.run(synced.pk, group_tasks.RETRY_ATTEMPTS)
    assert len(retried) == group_tasks.RETRY_ATTEMPTS - 1


def test_retry_waits_stay_under_the_visibility_timeout(settings):
    limited = WeComRateLimitedError("x", 45009, "", retry_after=3 * 3600)
    assert group_tasks.retry_delay(limited, 1) == group_tasks.RETRY_MAX_WAIT
    assert group_tasks.retry_delay(WeComError("x", -1, ""), 4) == group_tasks.RETRY_BACKOFF * 8
    assert group_tasks.retry_delay(WeComError("x", 48002, ""), 1) is None  # not transient: no retry
    assert group_tasks.retry_delay(WeComError("x", None, ""), group_tasks.RETRY_ATTEMPTS) is None
    visibility = (getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}).get(
        "visibility_timeout", 3600
    )
    assert visibility > group_tasks.RETRY_MAX_WAIT


def test_the_beat_runs_the_daily_task_in_the_early_morning(settings):
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "groups.stats_daily")
    [hour] = entry["schedule"].hour
    assert 0 < hour < 9  # China time: after WeCom has yesterday's figures, before the working day


def test_an_owner_wecom_refuses_does_not_cost_the_others_their_figures(synced, sandbox, owners, caplog):
    refused_userid = sorted(owners)[0]

    class RefusesOne(Recording):
        def groupchat_statistic_group_by_day(self, body):
            if body["owner_filter"]["userid_list"] == [refused_userid]:
                raise WeComError("externalcontact/groupchat/statistic_group_by_day", 60111, "invalid userid")
            return super().groupchat_statistic_group_by_day(body)

    with tenant_context(synced):
        # Logged, not raised: one owner is not the tenant's problem.
        assert stats.group_stats_fetch(api=RefusesOne(api_for(synced))) == 30 * (len(owners) - 1)
        stored = set(GroupStatDay.objects.values_list("owner_id", flat=True))
    assert stored == set(owners.values()) - {owners[refused_userid]}
    assert any(refused_userid in record.getMessage() for record in caplog.records)


def test_every_owner_refused_is_raised(synced, sandbox, owners):
    sandbox.set_faults(
        {"apis": {"externalcontact/groupchat/statistic_group_by_day": {"errors": {"48002": 1.0}}}}
    )
    with tenant_context(synced), pytest.raises(WeComError) as refused:
        stats.group_stats_fetch(api=api_for(synced))
    assert refused.value.errcode == 48002


def test_staff_who_left_are_not_asked(synced, sandbox, owners):
    """WeCom refuses a resigned owner's statistics: they are not asked for (their stored days stay)."""
    gone = sorted(owners)[0]
    with tenant_context(synced):
        Staff.objects.filter(userid=gone).update(is_active=False)
        api = Recording(api_for(synced))
        assert stats.group_stats_fetch(api=api) == 30 * (len(owners) - 1)
    assert gone not in {b["owner_filter"]["userid_list"][0] for b in api.bodies}
    assert len(api.bodies) == len(owners) - 1


def test_progress_is_reported_every_few_owners(synced, sandbox, owners, monkeypatch):
    monkeypatch.setattr(stats, "PROGRESS_EVERY", 2)
    beats = []
    with tenant_context(synced):
        stats.group_stats_fetch(api=api_for(synced), progress=lambda: beats.append(1))
    assert len(owners) >= 2
    assert len(beats) == len(owners) // 2
