"""The last places where the sandbox was kinder than WeCom (docs/wecom.md lists each), and the
gateway's hourly budget: tags only their creator app may change, welcome attachments' byte limits
and media ids, app messages past a member's per-minute and per-hour limits, callbacks sent again
when the app does not answer 200 in time, and 150,000 calls an hour per API."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from rest_framework.exceptions import ValidationError

from library import services as library
from library.models import Material
from scrm.tenancy.context import tenant_context
from scrm.wecom.api import WeComAPI, api_for
from scrm.wecom.client import WeComClient
from scrm.wecom.errors import WeComRateLimitedError
from scrm.wecom.ratelimit import get_limiter
from scrm.wecom.sandbox.endpoints_core import DROPPED_MESSAGES, MESSAGES_PER_HOUR, NOT_APP_TAG
from tests.helpers import connect_tenant
from tests.wecom.test_sandbox_groups_marketing import PNG, control, errcode, upload

DEL, EDIT = "externalcontact/del_corp_tag", "externalcontact/edit_corp_tag"


def tag_groups(sandbox) -> dict[str, object]:
    return {g.group_name: g for g in sandbox.state.tag_groups.values() if not g.deleted}


def tag_named(sandbox, group_name: str, name: str) -> str:
    group = tag_groups(sandbox)[group_name]
    return next(t for t in group.tag_ids if sandbox.state.tags[t].name == name)


# --- §3 only the tags an app created may be edited or deleted by it --------------------------------


def test_the_demo_corp_has_admin_made_and_app_made_tags(sandbox):
    groups = tag_groups(sandbox)
    assert not groups["客户等级"].app_created
    assert groups["生命周期"].app_created
    state = sandbox.state
    assert {state.tags[t].name for t in groups["客户来源"].tag_ids if state.tags[t].app_created} == {"抖音"}


def test_an_app_may_not_edit_or_delete_an_admins_tags(wx, sandbox):
    admin_group = tag_groups(sandbox)["客户等级"]
    admin_tag = admin_group.tag_ids[0]
    assert errcode(lambda: wx.post(EDIT, data={"id": admin_tag, "name": "改名"})) == NOT_APP_TAG
    assert errcode(lambda: wx.post(EDIT, data={"id": admin_group.group_id, "order": 9})) == NOT_APP_TAG
    assert errcode(lambda: wx.post(DEL, data={"tag_id": [admin_tag]})) == NOT_APP_TAG
    assert errcode(lambda: wx.post(DEL, data={"group_id": [admin_group.group_id]})) == NOT_APP_TAG
    # An admin's group holding the app's tag: the tag is the app's, the group is not.
    source = tag_groups(sandbox)["客户来源"]
    assert errcode(lambda: wx.post(DEL, data={"group_id": [source.group_id]})) == NOT_APP_TAG
    wx.post(EDIT, data={"id": tag_named(sandbox, "客户来源", "抖音"), "name": "抖音号"})
    wx.post(DEL, data={"tag_id": [tag_named(sandbox, "客户来源", "抖音号")]})
    # Nothing the refusals touched changed; an unknown id is still 40068 first.
    assert sandbox.state.tags[admin_tag].name == "重要客户"
    assert not admin_group.deleted
    assert errcode(lambda: wx.post(EDIT, data={"id": "etUNKNOWN", "name": "x"})) == 40068
    # Tagging a customer with an admin's tag stays allowed.
    userid, contact = next(
        (u, c)
        for c in sandbox.state.contacts.values()
        for u in c.follows
        if admin_tag not in c.follows[u].tag_ids
    )
    wx.post("externalcontact/mark_tag", data={"userid": userid, "external_userid": contact.external_userid,
                                              "add_tag": [admin_tag]})  # fmt: skip
    assert admin_tag in contact.follows[userid].tag_ids


def test_an_app_changes_its_own_tags_but_not_an_admins_tag_in_its_group(wx, sandbox):
    made = wx.post("externalcontact/add_corp_tag", data={"group_name": "活动", "tag": [{"name": "双十一"}]})
    group_id = made["tag_group"]["group_id"]
    wx.post(EDIT, data={"id": group_id, "name": "大促"})
    wx.post(EDIT, data={"id": made["tag_group"]["tag"][0]["id"], "order": 3})
    control(sandbox, "simulate/tag-change",
            {"change_type": "create", "tag_type": "tag", "group_id": group_id, "name": "618"})  # fmt: skip
    # Deleting the group would delete the admin's 618 with it.
    assert errcode(lambda: wx.post(DEL, data={"group_id": [group_id]})) == NOT_APP_TAG
    wx.post(DEL, data={"tag_id": [made["tag_group"]["tag"][0]["id"]]})
    assert not sandbox.state.tag_groups[group_id].deleted  # 618 is left in it


# --- §6 welcome messages and group welcome templates: byte limits and media ids -------------------


def a_welcome_code(sandbox) -> str:
    userid = next(s.userid for s in sandbox.state.staff.values() if s.has_contact_permission)
    return control(sandbox, "simulate/customer-add", {"userid": userid})["welcome_code"]


def link(desc: str) -> dict:
    return {"msgtype": "link", "link": {"title": "t", "url": "https://example.com", "desc": desc}}


def miniprogram(title: str, media_id: str) -> dict:
    return {"msgtype": "miniprogram",
            "miniprogram": {"title": title, "pic_media_id": media_id, "appid": "wx0123456789abcdef",
                            "page": "pages/index.html"}}  # fmt: skip


def test_welcome_attachment_lengths_are_counted_in_bytes(wx, sandbox):
    media_id = upload(wx, PNG)["media_id"]
    send = "externalcontact/send_welcome_msg"
    code = a_welcome_code(sandbox)
    too_long = [link("描" * 170 + "xyz"), miniprogram("标" * 21 + "xy", media_id)]  # 513 and 65 bytes
    for attachment in too_long:
        assert (
            errcode(lambda a=attachment: wx.post(send, data={"welcome_code": code, "attachments": [a]}))
            == 45002
        )
        template = {"text": {"content": "hi"}, attachment["msgtype"]: attachment[attachment["msgtype"]]}
        assert (
            errcode(lambda t=template: wx.post("externalcontact/group_welcome_template/add", data=t)) == 45002
        )
    # At the limits they pass (the code is still unused: the refusals above did not spend it).
    fits = [link("描" * 170 + "xy"), miniprogram("标" * 21 + "x", media_id)]
    wx.post(send, data={"welcome_code": code, "attachments": fits})
    template = {"text": {"content": "hi"}, "link": fits[0]["link"]}
    assert wx.post("externalcontact/group_welcome_template/add", data=template)["template_id"]


def test_welcome_media_ids_must_be_uploaded_of_their_type_and_under_3_days_old(wx, sandbox, time_machine):
    time_machine.move_to(time.time(), tick=False)
    image = upload(wx, PNG)["media_id"]
    video = upload(wx, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 32, media_type="video")["media_id"]
    send = "externalcontact/send_welcome_msg"
    add_template = "externalcontact/group_welcome_template/add"
    code = a_welcome_code(sandbox)
    for attachment in (
        {"msgtype": "image", "image": {"media_id": "never-uploaded"}},
        {"msgtype": "image", "image": {"media_id": video}},
        miniprogram("小程序", "never-uploaded"),
        {"msgtype": "video", "video": {"media_id": image}},
        {"msgtype": "file", "file": {"media_id": image}},
    ):
        assert (
            errcode(lambda a=attachment: wx.post(send, data={"welcome_code": code, "attachments": [a]}))
            == 40007
        )
        part = {attachment["msgtype"]: attachment[attachment["msgtype"]]}
        assert errcode(lambda p=part: wx.post(add_template, data=p)) == 40007
    template_id = wx.post(add_template, data={"image": {"media_id": image}})["template_id"]
    time_machine.shift(3 * 86400 + 1)  # WeCom forgets a media id after 3 days
    expired = {"msgtype": "image", "image": {"media_id": image}}
    assert (
        errcode(
            lambda: wx.post(send, data={"welcome_code": a_welcome_code(sandbox), "attachments": [expired]})
        )
        == 40007
    )
    edit = {"template_id": template_id, "image": {"media_id": image}}
    assert errcode(lambda: wx.post("externalcontact/group_welcome_template/edit", data=edit)) == 40007
    fresh = upload(wx, PNG)["media_id"]
    fresh_image = {"msgtype": "image", "image": {"media_id": fresh}}
    wx.post(send, data={"welcome_code": a_welcome_code(sandbox), "attachments": [fresh_image]})
    # A picture by URL (media/uploadimg) is not a media id: not checked.
    by_url = {"msgtype": "image", "image": {"pic_url": "https://wework.qpic.cn/a.png"}}
    wx.post(send, data={"welcome_code": a_welcome_code(sandbox), "attachments": [by_url]})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "data", "field"),
    [
        ("link", {"title": "t", "url": "https://x.cn", "description": "描" * 171}, "description"),
        ("miniprogram", {"appid": "wx0123456789abcdef", "page": "p.html", "title": "标" * 22}, "title"),
    ],
)
def test_siyu_refuses_these_lengths_before_wecom_with_the_field(tenant_a, kind, data, field):
    """The content library's own validation names the field (no WeCom call): welcome messages and group
    templates attach its materials only."""
    with tenant_context(tenant_a), pytest.raises(ValidationError) as caught:
        library.material_create(kind=kind, data=data)
    assert caught.value.detail[field].code == "too_many_bytes"


def test_siyu_uploads_a_welcome_image_again_once_its_media_id_is_2_5_days_old(
    tenant_a, sandbox, time_machine, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    connect_tenant(tenant_a, sandbox)
    connected = tenant_a
    start = dt.datetime(2031, 3, 4, 10, 0, tzinfo=dt.UTC)
    time_machine.move_to(start, tick=False)
    with tenant_context(connected):
        poster = library.material_create_from_bytes(kind="image", filename="poster.png", content=PNG)
        refs = [{"material_id": poster.pk}]

        def media_id() -> str:
            [sent] = library.attachments_for_wecom(api=api_for(connected), attachments=refs)
            return sent["image"]["media_id"]

        first = media_id()
        time_machine.move_to(start + dt.timedelta(days=2, hours=11), tick=False)
        assert media_id() == first
        time_machine.move_to(start + dt.timedelta(days=2, hours=12, seconds=1), tick=False)
        second = media_id()
        assert second != first
        assert Material.objects.get(pk=poster.pk).media_id == second
    assert len(sandbox.records("media/upload")) == 2


# --- §9a app messages: 30 a minute and 1,000 an hour per member, the rest dropped silently ----------


def send_message(wx, sandbox, touser: str, content: str = "提醒") -> dict:
    return wx.post("message/send", data={"touser": touser, "msgtype": "text", "agentid": sandbox.agent_id,
                                         "text": {"content": content}})  # fmt: skip


def test_messages_past_30_a_minute_to_a_member_are_dropped_silently(wx, sandbox, time_machine):
    time_machine.move_to(time.time(), tick=False)
    busy, other = [s.userid for s in sandbox.state.staff.values() if s.status == 1][:2]
    for i in range(30):
        send_message(wx, sandbox, busy, f"#{i}")
    answer = send_message(wx, sandbox, f"{busy}|{other}", "#30")
    assert (answer["errcode"], answer["invaliduser"]) == (0, "")  # WeCom says nothing
    dropped = sandbox.records(DROPPED_MESSAGES)
    assert [(d["userid"], d["body"]["text"]["content"]) for d in dropped] == [(busy, "#30")]
    time_machine.shift(60)
    send_message(wx, sandbox, busy, "#31")
    assert len(sandbox.records(DROPPED_MESSAGES)) == 1
    assert len(sandbox.records("message/send")) == 32  # what the app sent, delivered or not


def test_messages_past_1000_an_hour_to_a_member_are_dropped(wx, sandbox, time_machine):
    time_machine.move_to(time.time(), tick=False)
    member = next(s.userid for s in sandbox.state.staff.values() if s.status == 1)
    now = time.time()
    # 1,000 received in the last hour, none in the last minute (sending them all would take a while).
    with sandbox.state.lock:
        sandbox.state.ext["message_send"] = {member: [now - 3540 + i * 3.5 for i in range(MESSAGES_PER_HOUR)]}
    send_message(wx, sandbox, member)
    assert [d["userid"] for d in sandbox.records(DROPPED_MESSAGES)] == [member]
    time_machine.shift(61)  # the oldest ones leave the hour
    send_message(wx, sandbox, member)
    assert len(sandbox.records(DROPPED_MESSAGES)) == 1


# --- §11 callbacks are sent again when the app does not answer 200 in time -------------------------


def wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def customer_add(sandbox) -> dict:
    userid = next(s.userid for s in sandbox.state.staff.values() if s.has_contact_permission)
    return control(sandbox, "simulate/customer-add", {"userid": userid})


def test_a_callback_answered_with_an_error_is_sent_three_more_times(sandbox_factory, callback_receiver):
    receiver = callback_receiver(status=500)
    sandbox = sandbox_factory(callback_url=receiver.url)
    assert control(sandbox, "settings/callbacks", {"interval": 0.05})["settings"] == {
        "timeout": 5.0,
        "retries": 3,
        "interval": 0.05,
    }
    assert customer_add(sandbox)["callback"]["status"] == 500
    record = sandbox.records("callbacks")[-1]
    wait_for(lambda: len(record["retries"]) == 3)
    assert [r["status"] for r in record["retries"]] == [500, 500, 500]
    time.sleep(0.2)
    posts = [r for r in receiver.requests if r["method"] == "POST"]
    assert len(posts) == 4  # the delivery and three retries, then WeCom gives up
    assert len({(p["body"], p["query"]["msg_signature"]) for p in posts}) == 1  # the same request
    assert len(receiver.events()) == 4


def test_a_slow_answer_is_retried_until_answered_in_time(sandbox_factory, callback_receiver):
    receiver = callback_receiver()
    receiver.delay = 0.5
    sandbox = sandbox_factory(callback_url=receiver.url)
    control(sandbox, "settings/callbacks", {"timeout": 0.2, "interval": 0.05})
    first = customer_add(sandbox)["callback"]
    assert (first["delivered"], first["status"]) == (False, None)
    receiver.delay = 0
    record = sandbox.records("callbacks")[-1]
    wait_for(lambda: any(r["delivered"] for r in record["retries"]))
    assert record["retries"][-1] == {"delivered": True, "status": 200, "error": None}
    assert len(record["retries"]) <= 2  # stopped once answered


def test_an_answered_callback_is_not_sent_again_and_retries_can_be_turned_off(
    sandbox_factory, callback_receiver
):
    receiver = callback_receiver()
    sandbox = sandbox_factory(callback_url=receiver.url)
    control(sandbox, "settings/callbacks", {"interval": 0.01})
    customer_add(sandbox)
    time.sleep(0.1)
    assert sandbox.records("callbacks")[-1]["retries"] == []
    assert len(receiver.requests) == 1
    receiver.status = 503
    control(sandbox, "settings/callbacks", {"retries": 0})
    customer_add(sandbox)
    time.sleep(0.1)
    assert sandbox.records("callbacks")[-1]["retries"] == []
    assert len(receiver.requests) == 2
    for bad in ({"retries": -1}, {"retries": 1.5}, {"timeout": 0}, {"interval": "5"}, {"tries": 3}):
        control(sandbox, "settings/callbacks", bad, status=400)


# --- §12 the gateway keeps each API under 150,000 calls an hour ------------------------------------


@pytest.mark.django_db
def test_the_gateway_paces_an_api_under_its_hourly_budget_instead_of_meeting_45009(
    sandbox, settings, time_machine
):
    # A clock hour no other test uses: the budget is counted per corp, API and hour.
    time_machine.move_to(dt.datetime(2031, 3, 4, 10, 59, 30, tzinfo=dt.UTC), tick=False)
    settings.WECOM_REQUESTS_PER_HOUR = 4
    control(sandbox, "faults", {"rate_limits": {"per_hour": 5}})  # WeCom's own limit, just above ours
    api = WeComAPI(
        WeComClient(corp_id=sandbox.corp_id, secret=sandbox.secret, api_base=f"{sandbox.base_url}/cgi-bin/",
                    timeout=5, limiter=get_limiter())
    )  # fmt: skip
    for _ in range(4):
        api.get_follow_user_list()
    with pytest.raises(WeComRateLimitedError) as caught:
        api.get_follow_user_list()
    assert caught.value.errcode is None  # our budget, not WeCom's 45009
    assert caught.value.retry_after == 30  # until the next clock hour
    assert sandbox.calls["externalcontact/get_follow_user_list"] == 4
    api.get_corp_tag_list()  # other APIs have budgets of their own
    time_machine.move_to(dt.datetime(2031, 3, 4, 11, 0, 1, tzinfo=dt.UTC), tick=False)
    assert api.get_follow_user_list()["follow_user"]
