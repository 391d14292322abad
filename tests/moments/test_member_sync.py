"""The daily read of Moments made in WeCom (members' own posts, corp posts from the admin console)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.models import Staff
from moments.models import CreateType, MemberSync, Moment, MomentPublication
from moments.services import tracking
from moments.services.tracking import member_moments_sync
from scrm.tenancy.context import tenant_context
from scrm.wecom.api import WeComAPI
from scrm.wecom.errors import WeComError
from scrm.wecom.sandbox.endpoints_marketing import book
from tests.helpers import sandbox_control
from tests.moments.test_tracking import data_writes, members, table

pytestmark = pytest.mark.django_db


def sync(tenant, now: dt.datetime | None = None) -> MemberSync:
    with tenant_context(tenant):
        return member_moments_sync(tenant=tenant, now=now)


def in_sandbox(sandbox, start: dt.datetime, end: dt.datetime) -> dict[str, object]:
    """The sandbox's Moments made between ``start`` and ``end``, by moment_id."""
    low, high = int(start.timestamp()), int(end.timestamp())
    return {m.moment_id: m for m in book(sandbox.state).moments.values() if low <= m.create_time <= high}


@pytest.fixture
def list_calls(monkeypatch) -> list[dict]:
    """The bodies of the get_moment_list calls made."""
    calls: list[dict] = []
    original = WeComAPI.get_moment_list

    def spy(self, body):
        calls.append(dict(body))
        return original(self, body)

    monkeypatch.setattr(WeComAPI, "get_moment_list", spy)
    return calls


def test_the_first_run_reads_the_last_30_days(synced, sandbox, list_calls):
    now = timezone.now()
    expected = in_sandbox(sandbox, now - dt.timedelta(days=30), now)
    assert any(m.create_type == 1 for m in expected.values())
    assert any(m.create_type == 0 for m in expected.values())

    state = sync(synced, now)

    assert state.synced_until == now
    assert (state.moments_read, state.error) == (len(expected), {})
    assert state.api_calls == len(list_calls) == -(-len(expected) // tracking.LIST_PAGE)
    assert {(c["start_time"], c["end_time"], c["filter_type"]) for c in list_calls} == {
        (int((now - dt.timedelta(days=30)).timestamp()), int(now.timestamp()), 2)
    }
    with tenant_context(synced):
        moments = {m.moment_id: m for m in Moment.objects.select_related("creator")}
        copies = {p.moment.moment_id: p for p in MomentPublication.objects.select_related("moment", "staff")}
    assert set(moments) == set(expected)
    for moment_id, moment in moments.items():
        made = expected[moment_id]
        assert moment.create_type == made.create_type
        assert moment.created_at_wecom == dt.datetime.fromtimestamp(made.create_time, dt.UTC)
        assert moment.text == made.text
        assert moment.next_poll_at == now  # due: the tick polls each once at least
        if made.create_type == CreateType.MEMBER:
            assert moment.creator.userid == made.creator
            assert (moment.members, moment.published) == (1, 1)
            copy = copies[moment_id]
            assert (copy.staff.userid, copy.published, copy.published_at) == (
                made.creator,
                True,
                moment.created_at_wecom,
            )
        else:
            assert moment.creator is None
            assert moment_id not in copies
    with_images = next(m for m in moments.values() if expected[m.moment_id].images)
    assert len(with_images.content["image"]) == len(expected[with_images.moment_id].images)


def test_a_run_with_nothing_new_writes_nothing(synced, sandbox):
    now = timezone.now()
    sync(synced, now)

    with CaptureQueriesContext(connection) as queries:
        state = sync(synced, now + dt.timedelta(hours=1))

    # Only the sync's own row (where it got to) is written.
    assert {table(sql) for sql in data_writes(queries)} == {"moments_membersync"}
    assert state.synced_until == now + dt.timedelta(hours=1)


def test_later_runs_read_from_a_day_before_where_the_last_one_got_to(synced, sandbox, list_calls):
    first = timezone.now()
    sync(synced, first)
    with tenant_context(synced):
        before = set(Moment.objects.values_list("moment_id", flat=True))
    (member,) = members(sandbox, 1)

    later = first + dt.timedelta(days=2)
    with time_machine.travel(later - dt.timedelta(hours=1), tick=False):
        posted = sandbox_control(
            sandbox, "simulate/staff-publish-moment", {"userid": member, "text": "新品到店"}
        )
    list_calls.clear()
    with time_machine.travel(later, tick=False):
        state = sync(synced, later)

    assert {(c["start_time"], c["end_time"]) for c in list_calls} == {
        (int((first - dt.timedelta(days=1)).timestamp()), int(later.timestamp()))
    }
    with tenant_context(synced):
        new = Moment.objects.exclude(moment_id__in=before)
        (moment,) = new
        copy = MomentPublication.objects.get(moment=moment)
    assert moment.moment_id == posted["moment_id"]
    assert (moment.create_type, moment.creator.userid, moment.text) == (CreateType.MEMBER, member, "新品到店")
    assert moment.next_poll_at == later
    assert (copy.staff.userid, copy.published) == (member, True)
    assert state.synced_until == later


def test_a_long_pause_is_read_30_days_at_a_time(synced, sandbox, list_calls):
    now = timezone.now()
    with tenant_context(synced):
        MemberSync.objects.create(synced_until=now - dt.timedelta(days=45))

    sync(synced, now)

    spans = sorted({(c["start_time"], c["end_time"]) for c in list_calls})
    assert spans == [
        (int((now - dt.timedelta(days=46)).timestamp()), int((now - dt.timedelta(days=16)).timestamp())),
        (int((now - dt.timedelta(days=16)).timestamp()), int(now.timestamp())),
    ]


def test_a_moment_siyu_already_has_is_left_alone(synced, sandbox):
    now = timezone.now()
    corp = next(
        m
        for m in in_sandbox(sandbox, now - dt.timedelta(days=30), now).values()
        if m.create_type == CreateType.CORP
    )
    with tenant_context(synced):
        ours = Moment.objects.create(
            moment_id=corp.moment_id, create_type=CreateType.CORP, text="ours", created_at_wecom=now
        )

    sync(synced, now)

    ours_after = Moment.unscoped.get(pk=ours.pk)
    assert (ours_after.text, ours_after.created_at_wecom, ours_after.next_poll_at) == ("ours", now, None)
    assert Moment.unscoped.filter(moment_id=corp.moment_id).count() == 1


def test_a_creator_siyu_does_not_know_yet_is_kept_by_userid(synced, sandbox):
    now = timezone.now()
    own = next(
        m for m in in_sandbox(sandbox, now - dt.timedelta(days=30), now).values() if m.create_type == 1
    )
    with tenant_context(synced):
        Staff.objects.filter(userid=own.creator).update(userid="renamed")

    sync(synced, now)

    moment = Moment.unscoped.get(moment_id=own.moment_id)
    assert (moment.creator_id, moment.creator_userid, moment.members) == (None, own.creator, 0)
    assert not MomentPublication.unscoped.filter(moment=moment).exists()


def test_a_wecom_error_is_kept_and_the_next_run_starts_from_the_same_place(synced, sandbox):
    now = timezone.now()
    sync(synced, now)
    sandbox_control(
        sandbox, "faults", {"apis": {"externalcontact/get_moment_list": {"errors": {"48002": 1.0}}}}
    )

    with pytest.raises(WeComError):
        sync(synced, now + dt.timedelta(days=1))

    with tenant_context(synced):
        state = MemberSync.objects.get()
    assert state.synced_until == now
    assert state.error["errcode"] == 48002
    sandbox_control(sandbox, "faults", {"reset": True})
    assert sync(synced, now + dt.timedelta(days=1)).error == {}
