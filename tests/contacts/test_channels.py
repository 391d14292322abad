"""Channel codes and the add flow: attribution by state, welcome messages, auto-tags, schedules, caps.

The sandbox acts the customer out (``simulate/customer-add``: a new customer with a State and a
live welcome_code); the add_external_contact handler then runs as the callback inbox runs it.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.test import TestCase
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from contacts.models import (
    ContactEvent,
    ContactWay,
    EventType,
    Follow,
    Staff,
    Tag,
    Welcome,
    WelcomeStatus,
)
from contacts.services import channels, welcome
from contacts.tasks.channels import (
    channel_autotag,
    channel_refresh,
    channels_refresh_all,
    demo_channels_seed,
)
from library import services as library
from library.models import Material, MaterialUse
from library.tasks import media_refresh
from scrm.tenancy.context import tenant_context
from tests.contacts.builders import run_sync
from tests.contacts.test_handlers import contact_event
from tests.helpers import sandbox_control

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def material(tenant, kind: str = "link", **data) -> int:
    """A material of the library (a link by default), by id."""
    with tenant_context(tenant):
        if kind == "image":
            return library.material_create_from_bytes(
                kind="image", filename="poster.png", content=PNG, data=data
            ).pk
        fields = {"title": "新人礼", "url": "https://example.com/gift"} if kind == "link" else {}
        return library.material_create(kind=kind, data={**fields, **data}).pk


@pytest.fixture
def synced(connected, sandbox):
    run_sync(connected)
    return connected


def sellers(tenant, count: int = 3) -> list[Staff]:
    with tenant_context(tenant):
        return list(Staff.objects.filter(has_contact_permission=True, is_active=True).order_by("pk")[:count])


def live_tags(tenant, count: int = 2) -> list[Tag]:
    with tenant_context(tenant):
        return list(Tag.objects.filter(deleted=False).order_by("pk")[:count])


def create(tenant, **kwargs) -> ContactWay:
    kwargs.setdefault("name", f"Code {time.monotonic_ns()}")
    with tenant_context(tenant):
        return channels.channel_create(**kwargs)


def scan(sandbox, tenant, userid: str, state: str = "", **extra) -> dict:
    """A new customer adds ``userid`` through the code with ``state``; the handler runs."""
    body = {"userid": userid, **({"state": state} if state else {})}
    answer = sandbox_control(sandbox, "simulate/customer-add", body)
    arrive(tenant, userid, answer["external_userid"], state, answer["welcome_code"], **extra)
    return answer


def arrive(tenant, userid, external_userid, state, code, **extra) -> None:
    """The handler, and what it queues on commit (auto-tags, cap refresh), run eagerly."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        contact_event(
            tenant,
            "add_external_contact",
            userid,
            external_userid,
            State=state,
            WelcomeCode=code,
            **extra,
        )


def welcomes_sent(sandbox) -> list[dict]:
    return [r["body"] for r in sandbox.records("externalcontact/send_welcome_msg")]


# --- create / update / delete ----------------------------------------------------------------------


def test_create_puts_the_code_in_wecom_with_a_unique_state(synced, sandbox):
    a, b, _ = sellers(synced)
    way = create(synced, name="门店海报", user_ids=[a.pk, b.pk], multi=True)
    other = create(synced, name="公众号菜单", user_ids=[a.pk])
    assert way.state.startswith("cw_")
    assert len(way.state) <= 30
    assert way.state != other.state
    wecom = sandbox.state.contact_ways[way.config_id]
    assert (wecom.type, wecom.state, wecom.user) == (2, way.state, [a.userid, b.userid])
    assert sandbox.state.contact_ways[other.config_id].type == 1
    assert way.qr_code
    assert way.applied_userids == [a.userid, b.userid]


def test_create_validates_before_calling_wecom(synced, sandbox):
    a, b, _ = sellers(synced)
    calls = len(sandbox.records("externalcontact/add_contact_way"))
    cases = [
        ({"name": "", "user_ids": [a.pk]}, "name"),
        ({"name": "x", "user_ids": [a.pk, b.pk]}, "user_ids"),  # single code, two members
        ({"name": "x", "user_ids": [], "multi": True}, "user_ids"),
        ({"name": "x", "user_ids": [999999]}, "user_ids"),
        ({"name": "x", "user_ids": [a.pk], "tag_ids": [999999]}, "tag_ids"),
        ({"name": "x", "user_ids": [a.pk], "daily_cap": 0}, "daily_cap"),
        (
            {
                "name": "x",
                "user_ids": [a.pk],
                "schedule": [{"weekdays": [8], "start": "09:00", "end": "18:00", "user_ids": [a.pk]}],
            },
            "schedule.0.weekdays",
        ),
        (
            {
                "name": "x",
                "user_ids": [a.pk],
                "schedule": [{"weekdays": [1], "start": "18:00", "end": "09:00", "user_ids": [a.pk]}],
            },
            "schedule.0.end",
        ),
        ({"name": "x", "user_ids": [a.pk], "welcome": {"text": "Hi {nickname}"}}, "welcome.text"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ValidationError) as raised:
            create(synced, **kwargs)
        assert field in raised.value.detail, (kwargs, raised.value.detail)
    assert len(sandbox.records("externalcontact/add_contact_way")) == calls
    create(synced, name="taken", user_ids=[a.pk])
    with pytest.raises(ValidationError) as raised:
        create(synced, name="taken", user_ids=[a.pk])
    assert "name" in raised.value.detail


def test_update_and_delete_go_to_wecom(synced, sandbox):
    a, b, c = sellers(synced)
    way = create(synced, name="Poster", user_ids=[a.pk, b.pk], multi=True)
    with tenant_context(synced):
        channels.channel_update(way=way, data={"user_ids": [c.pk], "name": "Poster v2"})
        with pytest.raises(ValidationError):
            channels.channel_update(way=way, data={"multi": False})
    wecom = sandbox.state.contact_ways[way.config_id]
    assert (wecom.user, wecom.remark) == ([c.userid], "Poster v2")
    with tenant_context(synced):
        channels.channel_delete(way=way)
        assert not ContactWay.objects.filter(pk=way.pk).exists()
    assert way.config_id not in sandbox.state.contact_ways


# --- the add flow ----------------------------------------------------------------------------------


def test_a_customer_is_attributed_greeted_and_tagged(synced, sandbox):
    a, b, _ = sellers(synced)
    tags = live_tags(synced)
    gift = material(synced)
    way = create(
        synced,
        name="Poster",
        user_ids=[a.pk, b.pk],
        multi=True,
        tag_ids=[t.pk for t in tags],
        welcome={"text": "您好 {customer_name}，我是{staff_name}", "attachments": [{"material_id": gift}]},
    )
    answer = scan(sandbox, synced, a.userid, way.state)
    with tenant_context(synced):
        follow = Follow.objects.select_related("contact").get(
            contact__external_userid=answer["external_userid"], staff=a
        )
        greeting = Welcome.objects.get(welcome_code=answer["welcome_code"])
        events = list(ContactEvent.objects.filter(contact=follow.contact).values_list("type", flat=True))
    assert follow.state == way.state
    assert (greeting.status, greeting.contact_way_id, greeting.staff_id) == (WelcomeStatus.SENT, way.pk, a.pk)
    assert greeting.latency_ms is not None
    [sent] = welcomes_sent(sandbox)
    assert sent["text"]["content"] == f"您好 {follow.contact.name}，我是{a.name}"
    assert sent["attachments"] == [
        {"msgtype": "link", "link": {"title": "新人礼", "url": "https://example.com/gift"}}
    ]
    # Auto-tags: in WeCom on this follow, and here, with their events.
    wecom_tags = sandbox.state.contacts[answer["external_userid"]].follows[a.userid].tag_ids
    assert {t.wecom_id for t in tags} <= set(wecom_tags)
    assert {t.wecom_id for t in tags} <= set(follow.tag_ids)
    assert EventType.WELCOMED in events
    assert EventType.TAGGED in events


def test_no_channel_gets_the_default_welcome_and_no_welcome_is_skipped(synced, sandbox):
    a, _, _ = sellers(synced)
    scan(sandbox, synced, a.userid)
    with tenant_context(synced):
        assert Welcome.objects.get().status == WelcomeStatus.SKIPPED
        welcome.welcome_default_set(tenant=synced, welcome={"text": "Welcome, {customer_name}!"})
    assert welcomes_sent(sandbox) == []
    answer = scan(sandbox, synced, a.userid)
    [sent] = welcomes_sent(sandbox)
    name = sandbox.state.contacts[answer["external_userid"]].name
    assert sent["text"]["content"] == f"Welcome, {name}!"
    # A channel without its own welcome falls back to the default as well.
    way = create(synced, name="No welcome", user_ids=[a.pk])
    scan(sandbox, synced, a.userid, way.state)
    assert len(welcomes_sent(sandbox)) == 2


def test_channel_deleted_between_scan_and_event(synced, sandbox):
    a, _, _ = sellers(synced)
    tag = live_tags(synced, 1)[0]
    way = create(synced, name="Gone", user_ids=[a.pk], tag_ids=[tag.pk], welcome={"text": "from the code"})
    with tenant_context(synced):
        welcome.welcome_default_set(tenant=synced, welcome={"text": "default"})
    answer = sandbox_control(sandbox, "simulate/customer-add", {"userid": a.userid, "state": way.state})
    with tenant_context(synced):
        channels.channel_delete(way=way)
    arrive(synced, a.userid, answer["external_userid"], way.state, answer["welcome_code"])
    [sent] = welcomes_sent(sandbox)
    assert sent["text"]["content"] == "default"
    with tenant_context(synced):
        greeting = Welcome.objects.get()
        follow = Follow.objects.get(contact__external_userid=answer["external_userid"], staff=a)
    assert (greeting.contact_way_id, greeting.state) == (None, way.state)
    assert follow.state == way.state  # the customer still counts for that channel
    assert tag.wecom_id not in follow.tag_ids
    assert sandbox.records("externalcontact/mark_tag") == []


def test_expired_and_used_codes_are_recorded_not_retried(synced, sandbox):
    a, _, _ = sellers(synced)
    way = create(synced, name="Late", user_ids=[a.pk], welcome={"text": "hi"})
    sandbox.welcome_code_ttl = 0.0
    late = scan(sandbox, synced, a.userid, way.state)
    sandbox.welcome_code_ttl = 20.0
    used = sandbox_control(sandbox, "simulate/customer-add", {"userid": a.userid, "state": way.state})
    sandbox.state.welcome_codes[used["welcome_code"]].used = True  # the staff member greeted them first
    arrive(synced, a.userid, used["external_userid"], way.state, used["welcome_code"])
    with tenant_context(synced):
        outcomes = dict(Welcome.objects.values_list("welcome_code", "status"))
        failed = ContactEvent.objects.filter(type=EventType.WELCOME_FAILED).order_by("id")
        errcodes = [e.payload["errcode"] for e in failed]
    assert outcomes == {late["welcome_code"]: WelcomeStatus.EXPIRED, used["welcome_code"]: WelcomeStatus.USED}
    assert errcodes == [41050, 41051]
    assert welcomes_sent(sandbox) == []


def test_a_duplicate_add_event_greets_and_tags_once(synced, sandbox):
    a, _, _ = sellers(synced)
    tag = live_tags(synced, 1)[0]
    way = create(synced, name="Dup", user_ids=[a.pk], tag_ids=[tag.pk], welcome={"text": "hi"})
    answer = scan(sandbox, synced, a.userid, way.state)
    arrive(synced, a.userid, answer["external_userid"], way.state, answer["welcome_code"], CreateTime="1")
    assert len(welcomes_sent(sandbox)) == 1
    assert len(sandbox.records("externalcontact/mark_tag")) == 1
    with tenant_context(synced):
        assert ContactEvent.objects.filter(type=EventType.TAGGED).count() == 1
        assert ContactEvent.objects.filter(type=EventType.WELCOMED).count() == 1


def test_an_auto_tag_failure_is_retried_without_tagging_twice(synced, sandbox, monkeypatch):
    a, _, _ = sellers(synced)
    tags = live_tags(synced)
    way = create(synced, name="Flaky", user_ids=[a.pk], tag_ids=[t.pk for t in tags], welcome={"text": "hi"})
    queued = []
    monkeypatch.setattr(
        channel_autotag, "apply_async", lambda args, countdown=None: queued.append((args, countdown))
    )
    monkeypatch.setattr("scrm.wecom.client.backoff", lambda attempt: 0)
    answer = scan(sandbox, synced, a.userid, way.state)
    [(first, _)] = queued
    queued.clear()
    sandbox.set_faults({"apis": {"externalcontact/mark_tag": {"errors": {"-1": 1.0}}}})
    channel_autotag(*first)
    [(retry, countdown)] = queued
    assert retry[-1] == 2
    assert countdown > 0
    with tenant_context(synced):
        assert not ContactEvent.objects.filter(type=EventType.TAGGED).exists()
    sandbox.set_faults({"reset": True})
    channel_autotag(*retry)
    channel_autotag(*retry)  # the retry delivered twice: nothing left to tag
    assert len(sandbox.records("externalcontact/mark_tag")) == 1
    with tenant_context(synced):
        follow = Follow.objects.get(contact__external_userid=answer["external_userid"], staff=a)
        assert ContactEvent.objects.filter(type=EventType.TAGGED).count() == 1
    assert {t.wecom_id for t in tags} <= set(follow.tag_ids)
    assert len(welcomes_sent(sandbox)) == 1  # the greeting was never at stake


def test_images_are_uploaded_once_and_sent_by_media_id(synced, sandbox, django_capture_on_commit_callbacks):
    a, _, _ = sellers(synced)
    image = material(synced, "image")
    program = material(
        synced, "miniprogram", appid="wx0123456789abcdef", page="pages/index.html", title="商城", cover=image
    )
    with django_capture_on_commit_callbacks(execute=True):
        way = create(
            synced,
            name="Pictures",
            user_ids=[a.pk],
            welcome={"text": "", "attachments": [{"material_id": image}, {"material_id": program}]},
        )
    # Uploaded as the welcome was saved, before its first customer (the library's media/upload).
    assert len(sandbox.records("media/upload")) == 1
    scan(sandbox, synced, a.userid, way.state)
    scan(sandbox, synced, a.userid, way.state)
    assert len(sandbox.records("media/upload")) == 1
    first, second = welcomes_sent(sandbox)
    with tenant_context(synced):
        media_id = Material.objects.get(pk=image).media_id
        assert set(
            MaterialUse.objects.filter(owner_type="channel_code").values_list("owner_id", "material_id")
        ) == {
            (way.pk, image),
            (way.pk, program),
        }
    assert first["attachments"][0] == {"msgtype": "image", "image": {"media_id": media_id}}
    assert first["attachments"][1]["miniprogram"]["pic_media_id"] == media_id
    assert "text" not in first
    assert second == first | {"welcome_code": second["welcome_code"]}


# --- welcome validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"text": "x" * 4001}, "welcome.text"),
        ({"text": "{customer_name}" * 20 + "x" * 3000}, "welcome.text"),
        ({"text": "hi {who}"}, "welcome.text"),
        ({"attachments": [{"type": "link", "title": "t", "url": "https://x.cn"}]},
         "welcome.attachments.0.material_id"),
        ({"attachments": [{"material_id": 999999}]}, "welcome.attachments.0.material_id"),
        ({"attachments": [{"material_id": "text"}]}, "welcome.attachments.0.material_id"),
        ({"attachments": [{"material_id": 1}] * 10}, "welcome.attachments"),
        ({"attachments": {"material_id": 1}}, "welcome.attachments"),
    ],
)  # fmt: skip
def test_welcome_validation_names_the_wrong_field(tenant_a, message, field):
    with tenant_context(tenant_a), pytest.raises(ValidationError) as raised:
        welcome.welcome_validate(message)
    assert field in raised.value.detail, raised.value.detail


def test_a_text_of_the_library_is_no_attachment(tenant_a):
    note = material(tenant_a, "text", text="hi")
    with tenant_context(tenant_a), pytest.raises(ValidationError) as raised:
        welcome.welcome_validate({"attachments": [{"material_id": note}]})
    assert raised.value.detail["welcome.attachments.0.material_id"].code == "wrong_kind"


def test_placeholders_are_filled_and_long_names_cut():
    text = welcome.welcome_text(
        "Hi {customer_name}, {staff_name} here", customer_name="李雷", staff_name="韩梅梅"
    )
    assert text == "Hi 李雷, 韩梅梅 here"
    long = welcome.welcome_text("x" * 3990 + "{customer_name}", customer_name="名" * 64, staff_name="")
    assert len(long.encode()) <= welcome.TEXT_MAX_BYTES
    assert welcome.welcome_validate({"text": "  ", "attachments": []}) == {}


# --- schedule and daily cap -----------------------------------------------------------------------


def test_the_schedule_switches_staff(synced, sandbox, time_machine):
    tz = timezone.get_current_timezone()
    monday_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=tz)
    # Created before Monday's shift starts: the code begins with its default staff, whatever the hour.
    time_machine.move_to(monday_10.replace(hour=8), tick=False)
    a, b, c = sellers(synced)
    way = create(
        synced,
        name="Shifts",
        user_ids=[a.pk],
        multi=True,
        schedule=[
            {"weekdays": [1, 2, 3, 4, 5], "start": "09:00", "end": "18:00", "user_ids": [b.pk]},
            {"weekdays": [6, 7], "start": "00:00", "end": "24:00", "user_ids": [c.pk]},
        ],
    )
    assert sandbox.state.contact_ways[way.config_id].user == [a.userid]
    monday_20 = monday_10.replace(hour=20)
    sunday = dt.datetime(2026, 11, 29, 3, 0, tzinfo=tz)
    with tenant_context(synced):
        assert channels.channel_apply(way=way, now=monday_10)
        assert sandbox.state.contact_ways[way.config_id].user == [b.userid]
        assert not channels.channel_apply(way=way, now=monday_10.replace(hour=11))  # no change, no call
        assert channels.channel_apply(way=way, now=monday_20)
        assert sandbox.state.contact_ways[way.config_id].user == [a.userid]
        assert channels.channel_apply(way=way, now=sunday)
        assert sandbox.state.contact_ways[way.config_id].user == [c.userid]
    assert len(sandbox.records("externalcontact/update_contact_way")) == 3


def test_the_daily_cap_falls_back_to_backup_staff(synced, sandbox):
    a, b, c = sellers(synced)
    way = create(
        synced, name="Capped", user_ids=[a.pk, b.pk], multi=True, daily_cap=1, backup_user_ids=[c.pk]
    )
    scan(sandbox, synced, a.userid, way.state)
    assert sandbox.state.contact_ways[way.config_id].user == [b.userid]  # a is full for today
    scan(sandbox, synced, b.userid, way.state)
    assert sandbox.state.contact_ways[way.config_id].user == [c.userid]  # everyone full: the backup
    with tenant_context(synced):
        tomorrow = timezone.now() + dt.timedelta(days=1)
        assert channels.channel_apply(way=ContactWay.objects.get(pk=way.pk), now=tomorrow)
    assert sandbox.state.contact_ways[way.config_id].user == [a.userid, b.userid]


# --- beat and the demo -----------------------------------------------------------------------------


def test_beat_refreshes_only_codes_with_a_schedule_or_a_cap(synced, sandbox, monkeypatch):
    a, b, _ = sellers(synced)
    create(synced, name="Plain", user_ids=[a.pk])
    capped = create(synced, name="Capped", user_ids=[a.pk, b.pk], multi=True, daily_cap=5)
    refreshed = []
    monkeypatch.setattr(channel_refresh, "apply_async", lambda args: refreshed.append(args))
    assert channels_refresh_all() == 1
    assert refreshed == [(synced.pk, capped.pk)]


def test_welcome_images_are_uploaded_again_before_wecom_forgets_them(synced, sandbox):
    a, _, _ = sellers(synced)
    image, poster = material(synced, "image"), material(synced, "image", title="default")
    create(synced, name="Pic", user_ids=[a.pk], welcome={"attachments": [{"material_id": image}]})
    with tenant_context(synced):
        welcome.welcome_default_set(tenant=synced, welcome={"attachments": [{"material_id": poster}]})
    assert media_refresh() == 2  # never uploaded (the eager upload-ahead waits for a commit)
    assert media_refresh() == 0  # fresh
    with tenant_context(synced):
        Material.objects.filter(pk=image).update(
            media_uploaded_at=timezone.now() - dt.timedelta(days=2, hours=23)
        )
    assert media_refresh() == 1
    assert len(sandbox.records("media/upload")) == 3


def test_a_deleted_code_no_longer_uses_its_materials(synced, sandbox):
    a, _, _ = sellers(synced)
    gift = material(synced)
    way = create(synced, name="Gift", user_ids=[a.pk], welcome={"attachments": [{"material_id": gift}]})
    with tenant_context(synced):
        with pytest.raises(library.MaterialInUseError) as caught:
            library.material_delete(material=Material.objects.get(pk=gift))
        assert caught.value.uses[0]["name"] == "Gift"
        channels.channel_update(way=way, data={"name": "Gift 2"})  # a change that leaves the welcome alone
        assert MaterialUse.objects.filter(owner_type="channel_code", owner_id=way.pk).count() == 1
        channels.channel_delete(way=way)
        assert not MaterialUse.objects.exists()
        library.material_delete(material=Material.objects.get(pk=gift))


def test_the_demo_gets_a_few_channels_once(synced, sandbox):
    assert demo_channels_seed(synced.pk) == 3
    assert demo_channels_seed(synced.pk) == 0
    with tenant_context(synced):
        ways = list(ContactWay.objects.all())
        assert welcome.welcome_default_get(tenant=synced)["text"]
    assert len(ways) == 3
    assert all(w.config_id in sandbox.state.contact_ways for w in ways)


def test_a_failure_after_the_send_never_greets_twice(synced, sandbox, monkeypatch):
    a, _, _ = sellers(synced)
    way = create(synced, name="Crash", user_ids=[a.pk], welcome={"text": "hi"})
    answer = sandbox_control(sandbox, "simulate/customer-add", {"userid": a.userid, "state": way.state})

    def crash(*args, **kwargs):
        raise RuntimeError("the database went away after WeCom accepted the welcome")

    monkeypatch.setattr(channels, "_record_send", crash)
    with pytest.raises(RuntimeError):
        arrive(synced, a.userid, answer["external_userid"], way.state, answer["welcome_code"])
    monkeypatch.undo()
    # The inbox retries the event: the greeting was claimed before the send, so it is not sent again
    # (WeCom would answer 41051 and the customer would be recorded as never greeted).
    arrive(synced, a.userid, answer["external_userid"], way.state, answer["welcome_code"])
    assert len(welcomes_sent(sandbox)) == 1
    with tenant_context(synced):
        assert Welcome.objects.count() == 1
        assert not ContactEvent.objects.filter(type=EventType.WELCOME_FAILED).exists()
