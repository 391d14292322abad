"""The sandbox held to the WeCom reference where it used to be kinder (docs/wecom.md lists each):
groupchat/get settling late, the published frequency limits, 81017 on the statistics without an owner
filter, attachment lengths of mass messages, reminders per 24 hours, and the group simulations that
send change_name / change_notice / change_owner and multi-member del_member callbacks."""

from __future__ import annotations

import time

import pytest

from scrm.wecom.sandbox.endpoints_core import LINK_DESC_MAX_BYTES, MINIPROGRAM_TITLE_MAX_BYTES
from scrm.wecom.sandbox.faults import DEFAULT_RATE_LIMITS
from tests.wecom.test_sandbox_groups_marketing import control, customers_of, errcode, followers, settle

GET = "externalcontact/groupchat/get"


def a_chat(sandbox):
    return next(c for c in sandbox.state.groups.values() if not c.dismissed)


def read(wx, chat_id: str) -> dict:
    return wx.post(GET, data={"chat_id": chat_id, "need_name": 1})["group_chat"]


# --- groupchat/get settles late (wecom-api.md §4, §11) ---------------------------------------------


def test_groupchat_get_shows_a_change_only_after_the_lag(wx, sandbox, time_machine):
    time_machine.move_to(time.time(), tick=False)
    chat = a_chat(sandbox)
    before = read(wx, chat.chat_id)
    edited = control(
        sandbox, "simulate/group-edit", {"chat_id": chat.chat_id, "name": "改名了", "notice": "新公告"}
    )
    assert edited["changed"] == ["change_name", "change_notice"]
    assert [c["delivered"] for c in edited["callbacks"]] == [False, False]  # no callback URL: recorded only
    events = [r["body"] for r in sandbox.records("callbacks")[-2:]]
    assert [(e["ChangeType"], e["UpdateDetail"], e["ChatId"]) for e in events] == [
        ("update", "change_name", chat.chat_id),
        ("update", "change_notice", chat.chat_id),
    ]
    time_machine.shift(2.9)
    assert read(wx, chat.chat_id) == before  # the default lag is 3 s
    time_machine.shift(0.2)
    after = read(wx, chat.chat_id)
    assert (after["name"], after["notice"]) == ("改名了", "新公告")


def test_the_lag_is_a_setting_and_zero_shows_changes_at_once(wx, sandbox):
    assert control(sandbox, "settings/groups", {})["settings"]["get_lag_seconds"] == 3.0
    control(sandbox, "settings/groups", {"get_lag_seconds": 0})
    chat = a_chat(sandbox)
    joined = control(sandbox, "simulate/group-join", {"chat_id": chat.chat_id})
    assert read(wx, chat.chat_id)["member_version"] == joined["member_version"]
    control(sandbox, "settings/groups", {"get_lag_seconds": -1}, status=400)


def test_changes_in_a_row_show_one_by_one_as_each_settles(wx, sandbox, time_machine):
    time_machine.move_to(time.time(), tick=False)
    chat = a_chat(sandbox)
    first = control(sandbox, "simulate/group-join", {"chat_id": chat.chat_id})
    time_machine.shift(2)
    second = control(sandbox, "simulate/group-join", {"chat_id": chat.chat_id})
    time_machine.shift(1.5)  # the first is 3.5 s old, the second 1.5 s
    assert read(wx, chat.chat_id)["member_version"] == first["member_version"]
    time_machine.shift(2)
    assert read(wx, chat.chat_id)["member_version"] == second["member_version"]


def test_an_owner_change_names_a_staff_member_of_the_group(wx, sandbox, time_machine):
    chat = a_chat(sandbox)
    colleague = next((m.userid for m in chat.members if m.type == 1 and m.userid != chat.owner), None)
    customer = next(m.userid for m in chat.members if m.type == 2)
    control(sandbox, "simulate/group-edit", {"chat_id": chat.chat_id, "owner": customer}, status=400)
    control(sandbox, "simulate/group-edit", {"chat_id": chat.chat_id}, status=400)
    if colleague is None:
        return
    control(sandbox, "simulate/group-edit", {"chat_id": chat.chat_id, "owner": colleague})
    settle(sandbox, time_machine)
    assert read(wx, chat.chat_id)["owner"] == colleague


def test_members_removed_together_come_in_one_del_member_event(wx, sandbox, time_machine):
    chat = a_chat(sandbox)
    removed = [m.userid for m in chat.members if m.type == 2][:2]
    answer = control(sandbox, "simulate/group-remove", {"chat_id": chat.chat_id, "userids": removed})
    event = sandbox.records("callbacks")[-1]["body"]
    assert (event["UpdateDetail"], event["QuitScene"], event["MemChangeCnt"], event["MemChangeList"]) == (
        "del_member",
        1,
        2,
        removed,
    )
    assert event["CurMemVer"] == answer["member_version"]
    settle(sandbox, time_machine)
    assert not set(removed) & {m["userid"] for m in read(wx, chat.chat_id)["member_list"]}
    control(sandbox, "simulate/group-remove", {"chat_id": chat.chat_id, "userids": removed}, status=400)
    control(sandbox, "simulate/group-remove", {"chat_id": chat.chat_id, "userids": [chat.owner]}, status=400)


# --- frequency limits (wecom-api.md §12) ------------------------------------------------------------


def test_calls_past_an_apis_limit_get_45009_until_the_window_ends(wx, sandbox, time_machine):
    assert (
        sandbox.describe_faults()["rate_limits"]
        == DEFAULT_RATE_LIMITS
        == {
            "per_minute": 10_000,
            "per_hour": 150_000,
        }
    )
    time_machine.move_to(time.time() // 60 * 60 + 1, tick=False)  # the start of a clock minute
    sandbox.set_faults({"rate_limits": {"per_minute": 3}})
    chat_id = a_chat(sandbox).chat_id
    for _ in range(3):
        read(wx, chat_id)
    assert errcode(lambda: read(wx, chat_id)) == 45009
    assert errcode(lambda: read(wx, chat_id)) == 45009  # blocked for the rest of the window
    wx.post("externalcontact/groupchat/list", data={"limit": 10})  # per API: the others go on
    time_machine.shift(60)
    read(wx, chat_id)
    with pytest.raises(ValueError, match="rate_limits"):
        sandbox.set_faults({"rate_limits": {"per_second": 1}})
    sandbox.set_faults({"reset": True})
    assert sandbox.describe_faults()["rate_limits"] == DEFAULT_RATE_LIMITS


# --- statistics without an owner filter (wecom-api.md §9) -------------------------------------------


def test_group_statistics_without_an_owner_filter_are_refused_over_the_visible_range(wx, sandbox):
    yesterday = int(time.time()) - 86_400
    control(sandbox, "settings/groups", {"visible_range_limit": 2})
    stat = "externalcontact/groupchat/statistic"
    by_day = "externalcontact/groupchat/statistic_group_by_day"
    assert errcode(lambda: wx.post(stat, data={"day_begin_time": yesterday})) == 81017
    assert errcode(lambda: wx.post(by_day, data={"day_begin_time": yesterday})) == 81017
    owner = a_chat(sandbox).owner
    filtered = {"day_begin_time": yesterday, "owner_filter": {"userid_list": [owner]}}
    assert [i["owner"] for i in wx.post(stat, data=filtered)["items"]] == [owner]
    assert len(wx.post(by_day, data=filtered)["items"]) == 1


# --- mass messages (wecom-api.md §7) -----------------------------------------------------------------


def test_mass_message_attachment_lengths_are_counted_in_bytes(wx, sandbox):
    sender = followers(sandbox)[0]
    body = {
        "sender": sender,
        "external_userid": customers_of(sandbox, sender)[:1],
        "text": {"content": "上新"},
    }
    link = {"title": "新品", "url": "https://example.com/n"}

    def add(attachment: dict) -> dict:
        return wx.post("externalcontact/add_msg_template", data={**body, "attachments": [attachment]})

    desc = "新" * (LINK_DESC_MAX_BYTES // 3)  # 3 bytes each in UTF-8
    add({"msgtype": "link", "link": {**link, "desc": desc}})
    assert errcode(lambda: add({"msgtype": "link", "link": {**link, "desc": desc + "新"}})) == 45002
    from tests.wecom.test_sandbox_groups_marketing import PNG

    cover = wx.post("media/upload", params={"type": "image"}, files={"media": ("c.png", PNG)})["media_id"]
    app = {"pic_media_id": cover, "appid": "wx0", "page": "/index"}
    title = "品" * (MINIPROGRAM_TITLE_MAX_BYTES // 3)
    add({"msgtype": "miniprogram", "miniprogram": {**app, "title": title}})
    too_long = {**app, "title": title + "品"}
    assert errcode(lambda: add({"msgtype": "miniprogram", "miniprogram": too_long})) == 45002


def test_a_mass_message_is_reminded_at_most_three_times_in_24_hours(wx, sandbox, time_machine):
    time_machine.move_to(time.time(), tick=False)
    sender = followers(sandbox)[0]
    body = {
        "sender": sender,
        "external_userid": customers_of(sandbox, sender)[:2],
        "text": {"content": "提醒"},
    }
    msgid = wx.post("externalcontact/add_msg_template", data=body)["msgid"]
    remind = "externalcontact/remind_groupmsg_send"
    for _ in range(3):
        wx.post(remind, data={"msgid": msgid})
        time_machine.shift(3600)
    assert errcode(lambda: wx.post(remind, data={"msgid": msgid})) == 45009
    time_machine.shift(86_400 - 3 * 3600 + 1)  # the first reminder is over 24 hours old
    wx.post(remind, data={"msgid": msgid})


# --- media ids live 3 days (wecom-api.md §9a) ---------------------------------------------------------


def test_a_moments_attachment_uploaded_more_than_3_days_ago_is_refused(wx, sandbox, time_machine):
    from tests.wecom.test_sandbox_groups_marketing import PNG, upload

    time_machine.move_to(time.time(), tick=False)
    media_id = upload(wx, PNG)["media_id"]
    body = {
        "text": {"content": "新品"},
        "attachments": [{"msgtype": "image", "image": {"media_id": media_id}}],
    }
    time_machine.shift(3 * 86_400)
    wx.post("externalcontact/add_moment_task", data=body)  # still within its 3 days
    time_machine.shift(1)
    assert errcode(lambda: wx.post("externalcontact/add_moment_task", data=body)) == 40007
