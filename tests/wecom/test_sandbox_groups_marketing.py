"""The sandbox's groups, mass messages, Moments, staff behaviour and transfer APIs, driven by wechatpy.

wechatpy's own methods are used where 1.8.18 has them (groupchat list/get/statistic, add_msg_template,
get_user_behavior_data, get_unassigned_list) to prove the shapes fit a real client; the rest go through
``wx.post``/``wx.get`` exactly as the gateway sends them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from wechatpy.exceptions import WeChatClientException

from scrm.wecom.sandbox import Sandbox
from scrm.wecom.sandbox.endpoint_helpers import day_start, setting
from scrm.wecom.sandbox.endpoints_groups import SETTINGS as GROUP_SETTINGS
from scrm.wecom.sandbox.generator import DAY

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64


def control(sandbox: Sandbox, path: str, body: dict[str, Any] | None = None, *, status: int = 200) -> dict:
    """POST to the sandbox's control API and check the HTTP status."""
    session = requests.Session()
    session.trust_env = False
    response = session.post(f"{sandbox.base_url}/sandbox/{path}", json=body or {}, timeout=10)
    assert response.status_code == status, response.text
    return response.json()


def settle(sandbox: Sandbox, time_machine) -> None:
    """Move the clock (not sleep) past the lag of groupchat/get: the changes so far show in it."""
    lag = setting(sandbox.state, GROUP_SETTINGS, "get_lag_seconds")
    time_machine.move_to(time.time() + lag + 1, tick=True)


def errcode(call: Callable[[], Any]) -> int:
    with pytest.raises(WeChatClientException) as caught:
        call()
    return caught.value.errcode


def followers(sandbox: Sandbox, minimum: int = 3) -> list[str]:
    """Active staff with customer contact permission and at least ``minimum`` customers, busiest first."""
    state = sandbox.state
    counts = {s.userid: 0 for s in state.staff.values() if s.status == 1 and s.has_contact_permission}
    for contact in state.contacts.values():
        for userid in contact.follows:
            if userid in counts:
                counts[userid] += 1
    return sorted((u for u, n in counts.items() if n >= minimum), key=lambda u: -counts[u])


def customers_of(sandbox: Sandbox, userid: str) -> list[str]:
    return [c.external_userid for c in sandbox.state.contacts.values() if userid in c.follows]


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


# --- 4. group chats ----------------------------------------------------------------------------


def test_groupchat_list_walks_every_group_exactly_once(wx, sandbox):
    chats = wx.external_contact_group_chat.list_all(limit=3)
    ids = [c["chat_id"] for c in chats]
    assert len(ids) == len(set(ids)) == 10
    assert all(c["status"] == 0 and c["chat_id"].startswith("wr") for c in chats)
    # Above 1,000 the limit is clamped: one page holds everything, and it says it is the last.
    page = wx.post("externalcontact/groupchat/list", data={"limit": 5000})
    assert [c["chat_id"] for c in page["group_chat_list"]] == ids
    assert page["next_cursor"] == ""


def test_groupchat_list_pages_stay_stable_while_groups_change(wx, sandbox):
    first = wx.post("externalcontact/groupchat/list", data={"limit": 4})
    seen = [c["chat_id"] for c in first["group_chat_list"]]
    control(sandbox, "simulate/group-dismiss", {"chat_id": seen[0]})
    created = control(sandbox, "simulate/group-create", {"owner": followers(sandbox)[0]})["chat_id"]
    cursor = first["next_cursor"]
    while cursor:
        page = wx.post("externalcontact/groupchat/list", data={"limit": 4, "cursor": cursor})
        seen += [c["chat_id"] for c in page["group_chat_list"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 11
    assert seen[-1] == created


@pytest.mark.parametrize("body", [{}, {"limit": 0}, {"limit": "many"}, {"limit": 10, "cursor": "###"}])
def test_groupchat_list_rejects_bad_paging(wx, body):
    assert errcode(lambda: wx.post("externalcontact/groupchat/list", data=body)) == 40058


def test_groupchat_list_over_the_visible_range_needs_owner_filter(wx, sandbox):
    settings = control(sandbox, "settings/groups", {"visible_range_limit": 5})["settings"]
    assert settings["visible_range_limit"] == 5
    assert errcode(lambda: wx.external_contact_group_chat.list(limit=100)) == 81017
    owners = sorted({g.owner for g in sandbox.state.groups.values()})[:2]
    chats = wx.external_contact_group_chat.list_all(owner_userid_list=owners, limit=100)
    assert {sandbox.state.groups[c["chat_id"]].owner for c in chats} == set(owners)
    assert len(chats) == sum(1 for g in sandbox.state.groups.values() if g.owner in owners)
    too_many = {"limit": 10, "owner_filter": {"userid_list": [f"u{i}" for i in range(101)]}}
    assert errcode(lambda: wx.post("externalcontact/groupchat/list", data=too_many)) == 40058
    control(sandbox, "settings/groups", {"visible_range_limit": "lots"}, status=400)


def test_groupchat_get_names_members_only_when_asked(wx, sandbox):
    chat_id = wx.external_contact_group_chat.list(limit=1)["group_chat_list"][0]["chat_id"]
    plain = wx.external_contact_group_chat.get(chat_id)["group_chat"]
    named = wx.post("externalcontact/groupchat/get", data={"chat_id": chat_id, "need_name": 1})["group_chat"]
    chat = sandbox.state.groups[chat_id]
    assert plain["chat_id"] == chat_id
    assert plain["owner"] == chat.owner
    assert set(plain) == {
        "chat_id",
        "name",
        "owner",
        "create_time",
        "notice",
        "member_list",
        "admin_list",
        "member_version",
    }
    assert re.fullmatch(r"[0-9a-f]{32}", plain["member_version"])
    assert not any("name" in m for m in plain["member_list"])
    assert all(m["name"] for m in named["member_list"])
    assert 3 <= len(plain["member_list"]) <= 200
    owner = plain["member_list"][0]
    assert owner["userid"] == chat.owner
    assert owner["type"] == 1
    assert "invitor" not in owner
    for member in plain["member_list"]:
        assert member["type"] in (1, 2)
        assert member["join_scene"] in (1, 2, 3)
        assert member["join_time"] >= plain["create_time"]
        if member["type"] == 2:  # customers of the owner
            assert chat.owner in sandbox.state.contacts[member["userid"]].follows
        if member["join_scene"] == 3:
            assert "invitor" not in member


def test_a_dismissed_group_disappears(wx, sandbox, callback_receiver, time_machine):
    receiver = callback_receiver()
    control(sandbox, "callback-url", {"callback_url": receiver.url})
    chat_id = wx.external_contact_group_chat.list(limit=1)["group_chat_list"][0]["chat_id"]
    answer = control(sandbox, "simulate/group-dismiss", {"chat_id": chat_id})
    assert answer["callbacks"][0]["delivered"] is True
    assert receiver.events()[0] | {"CreateTime": None} == {
        "ToUserName": sandbox.corp_id,
        "FromUserName": "sys",
        "CreateTime": None,
        "MsgType": "event",
        "Event": "change_external_chat",
        "ChangeType": "dismiss",
        "ChatId": chat_id,
    }
    assert chat_id not in [c["chat_id"] for c in wx.external_contact_group_chat.list_all(limit=100)]
    assert wx.external_contact_group_chat.get(chat_id)["group_chat"]["chat_id"] == chat_id  # not settled yet
    settle(sandbox, time_machine)
    assert errcode(lambda: wx.external_contact_group_chat.get(chat_id)) == 40050
    assert errcode(lambda: wx.external_contact_group_chat.get("wrNoSuchGroup")) == 40050
    control(sandbox, "simulate/group-dismiss", {"chat_id": chat_id}, status=400)


def test_group_statistics_follow_the_span_rules(wx, sandbox):
    today = day_start(int(time.time()))
    stat = wx.external_contact_group_chat.statistic
    assert errcode(lambda: stat(today)) == 40058  # today is not over yet
    assert errcode(lambda: stat(today - 40 * DAY, today - DAY)) == 40058  # longer than 30 days
    assert errcode(lambda: stat(today - 181 * DAY, today - 170 * DAY)) == 40058  # older than 180 days
    assert errcode(lambda: stat(today - 2 * DAY, today - 3 * DAY)) == 40058  # ends before it begins
    by_owner = stat(today - 30 * DAY, today - DAY)
    owners = {g.owner for g in sandbox.state.groups.values()}
    assert by_owner["total"] == len(owners) == by_owner["next_offset"]
    assert {i["owner"] for i in by_owner["items"]} == owners
    totals = [i["data"]["new_chat_cnt"] for i in by_owner["items"]]
    assert totals == sorted(totals, reverse=True)  # order_by 1, descending by default
    for item in by_owner["items"]:
        data = item["data"]
        assert data["chat_has_msg"] <= data["chat_total"]
        assert data["member_has_msg"] <= data["member_total"]
    by_day = wx.post(
        "externalcontact/groupchat/statistic_group_by_day",
        data={"day_begin_time": today - 3 * DAY + 3600, "day_end_time": today - DAY},
    )["items"]
    assert [d["stat_time"] for d in by_day] == [today - 3 * DAY, today - 2 * DAY, today - DAY]
    yesterday = stat(today - DAY)["items"]
    assert sum(i["data"]["member_total"] for i in yesterday) == by_day[-1]["data"]["member_total"]
    assert by_day[-1]["data"]["chat_total"] == len(sandbox.state.groups)
    paged = stat(today - DAY, order_by=4, order_asc=1, offset=1, limit=2)
    assert paged["next_offset"] == 3
    assert len(paged["items"]) == 2
    assert stat(today - DAY) == stat(today - DAY)  # seeded, not random per call


def test_group_owner_transfers(wx, sandbox, time_machine):
    state = sandbox.state
    chat_id = next(iter(state.groups))
    owner = state.groups[chat_id].owner
    new_owner = next(u for u in followers(sandbox, 1) if u != owner)
    body = {"chat_id_list": [chat_id, "wrNoSuchGroup"], "new_owner": new_owner}
    failed = wx.post("externalcontact/groupchat/onjob_transfer", data=body)["failed_chat_list"]
    assert failed == [{"chat_id": "wrNoSuchGroup", "errcode": 40050, "errmsg": "chatid not found"}]
    assert wx.external_contact_group_chat.get(chat_id)["group_chat"]["owner"] == owner  # settles later
    settle(sandbox, time_machine)
    chat = wx.external_contact_group_chat.get(chat_id)["group_chat"]
    assert chat["owner"] == new_owner
    assert new_owner in [m["userid"] for m in chat["member_list"]]
    again = wx.post(
        "externalcontact/groupchat/onjob_transfer", data={"chat_id_list": [chat_id], "new_owner": new_owner}
    )
    assert again["failed_chat_list"][0]["errcode"] == 90504
    resigned = {"chat_id_list": [chat_id], "new_owner": owner}
    assert (
        wx.post("externalcontact/groupchat/transfer", data=resigned)["failed_chat_list"][0]["errcode"]
        == 90500
    )
    assert (
        errcode(lambda: wx.post("externalcontact/groupchat/transfer", data={"chat_id_list": [chat_id]}))
        == 46004
    )
    assert errcode(lambda: wx.post("externalcontact/groupchat/transfer", data={"new_owner": owner})) == 40058

    control(sandbox, "simulate/staff-resign", {"userid": new_owner})
    assert [c["chat_id"] for c in wx.external_contact_group_chat.list_all(status_filter=1)] == [
        g.chat_id for g in state.groups.values() if g.owner == new_owner
    ]
    onjob = wx.post(
        "externalcontact/groupchat/onjob_transfer", data={"chat_id_list": [chat_id], "new_owner": owner}
    )
    assert onjob["failed_chat_list"][0]["errcode"] == 90502
    assert wx.post("externalcontact/groupchat/transfer", data=resigned)["failed_chat_list"] == []
    assert wx.external_contact_group_chat.list_all(status_filter=3) == [{"chat_id": chat_id, "status": 3}]
    assert (
        wx.post("externalcontact/groupchat/transfer", data=resigned)["failed_chat_list"][0]["errcode"]
        == 90508
    )


def test_group_transfers_are_limited_per_new_owner_per_day(wx, sandbox):
    control(sandbox, "settings/groups", {"group_transfer_daily_limit": 1})
    new_owner = followers(sandbox, 1)[0]
    chat_ids = [g.chat_id for g in sandbox.state.groups.values() if g.owner != new_owner][:2]
    body = {"chat_id_list": chat_ids, "new_owner": new_owner}
    failed = wx.post("externalcontact/groupchat/onjob_transfer", data=body)["failed_chat_list"]
    assert [(f["chat_id"], f["errcode"]) for f in failed] == [(chat_ids[1], 45009)]


def test_group_join_ways(wx, sandbox):
    chat_ids = list(sandbox.state.groups)[:2]
    body = {
        "scene": 2,
        "remark": "门店拉群",
        "auto_create_room": 1,
        "room_base_name": "福利群",
        "room_base_id": 10,
        "chat_id_list": chat_ids,
        "state": "store_qr",
    }
    config_id = wx.post("externalcontact/groupchat/add_join_way", data=body)["config_id"]
    way = wx.post("externalcontact/groupchat/get_join_way", data={"config_id": config_id})["join_way"]
    assert way | {"qr_code": None} == {**body, "config_id": config_id, "qr_code": None}
    assert way["qr_code"] == f"{sandbox.base_url}/sandbox/qr/join-way/{config_id}.png"
    update = {"config_id": config_id, "scene": 1, "auto_create_room": 0, "chat_id_list": chat_ids[:1]}
    wx.post("externalcontact/groupchat/update_join_way", data=update)
    way = wx.post("externalcontact/groupchat/get_join_way", data={"config_id": config_id})["join_way"]
    assert (way["scene"], way["qr_code"], way["chat_id_list"], way["state"]) == (1, "", chat_ids[:1], "")
    add = "externalcontact/groupchat/add_join_way"
    assert (
        errcode(lambda: wx.post(add, data={**body, "chat_id_list": list(sandbox.state.groups)[:6]})) == 40058
    )
    assert errcode(lambda: wx.post(add, data={**body, "state": "s" * 31})) == 40058
    assert errcode(lambda: wx.post(add, data={**body, "chat_id_list": ["wrNoSuchGroup"]})) == 40050
    assert errcode(lambda: wx.post(add, data={**body, "room_base_name": ""})) == 40058
    wx.post("externalcontact/groupchat/del_join_way", data={"config_id": config_id})
    get = "externalcontact/groupchat/get_join_way"
    assert errcode(lambda: wx.post(get, data={"config_id": config_id})) == 41044


def test_customers_join_and_leave_with_callbacks(wx, sandbox, callback_receiver, time_machine):
    receiver = callback_receiver()
    control(sandbox, "callback-url", {"callback_url": receiver.url})
    chat_id = next(iter(sandbox.state.groups))
    before = wx.external_contact_group_chat.get(chat_id)["group_chat"]

    joined = control(sandbox, "simulate/group-join", {"chat_id": chat_id})
    newcomer = joined["external_userid"]
    assert wx.external_contact_group_chat.get(chat_id)["group_chat"] == before  # WeCom settles it later
    settle(sandbox, time_machine)
    after = wx.external_contact_group_chat.get(chat_id)["group_chat"]
    member = after["member_list"][-1]
    assert (member["userid"], member["type"], member["join_scene"]) == (newcomer, 2, 3)
    assert after["member_version"] == joined["member_version"] != before["member_version"]
    event = receiver.events()[-1]
    assert event["Event"] == "change_external_chat"
    assert event["ChangeType"] == "update"
    assert event["ChatId"] == chat_id
    assert event["UpdateDetail"] == "add_member"
    assert (event["JoinScene"], event["MemChangeCnt"]) == ("3", "1")
    assert event["MemChangeList"] == {"Item": newcomer}
    assert (event["LastMemVer"], event["CurMemVer"]) == (before["member_version"], after["member_version"])

    existing = next(
        c
        for c in customers_of(sandbox, after["owner"])
        if c not in {m["userid"] for m in after["member_list"]}
    )
    control(sandbox, "simulate/group-join", {"chat_id": chat_id, "external_userid": existing})
    control(sandbox, "simulate/group-join", {"chat_id": chat_id, "external_userid": existing}, status=400)

    left = control(sandbox, "simulate/group-leave", {"chat_id": chat_id, "external_userid": newcomer})
    event = receiver.events()[-1]
    assert (event["UpdateDetail"], event["QuitScene"], event["MemChangeList"]) == (
        "del_member",
        "0",
        {"Item": newcomer},
    )
    assert event["CurMemVer"] == left["member_version"] != event["LastMemVer"]
    settle(sandbox, time_machine)
    assert newcomer not in [
        m["userid"] for m in wx.external_contact_group_chat.get(chat_id)["group_chat"]["member_list"]
    ]
    control(sandbox, "simulate/group-leave", {"chat_id": chat_id, "external_userid": newcomer}, status=400)


def test_a_staff_member_creates_a_group(wx, sandbox, callback_receiver, time_machine):
    receiver = callback_receiver()
    control(sandbox, "callback-url", {"callback_url": receiver.url})
    owner = followers(sandbox)[0]
    chat_id = control(sandbox, "simulate/group-create", {"owner": owner, "name": "新品体验群"})["chat_id"]
    event = receiver.events()[-1]
    assert (event["ChangeType"], event["ChatId"]) == ("create", chat_id)
    assert errcode(lambda: wx.external_contact_group_chat.get(chat_id)) == 40050  # not visible yet
    settle(sandbox, time_machine)
    chat = wx.external_contact_group_chat.get(chat_id)["group_chat"]
    assert (chat["name"], chat["owner"], len(chat["member_list"])) == ("新品体验群", owner, 3)
    control(sandbox, "simulate/group-create", {"owner": "nobody"}, status=400)


# --- 7. mass messages --------------------------------------------------------------------------


def test_mass_message_flow(wx, sandbox):
    sender = followers(sandbox)[0]
    mine = customers_of(sandbox, sender)[:3]
    stranger = next(c.external_userid for c in sandbox.state.contacts.values() if sender not in c.follows)
    template = {
        "sender": sender,
        "external_userid": [*mine, stranger],
        "text": {"content": "春季上新，会员九折"},
        "attachments": [{"msgtype": "link", "link": {"title": "新品", "url": "https://example.com/n"}}],
    }
    added = wx.external_contact.add_msg_template(template)
    msgid = added["msgid"]
    assert added["fail_list"] == [stranger]
    assert msgid.startswith("msg")
    assert sandbox.records("externalcontact/add_msg_template")[-1]["body"] == template

    tasks = wx.post("externalcontact/get_groupmsg_task", data={"msgid": msgid, "limit": 1000})
    assert tasks == {
        "errcode": 0,
        "errmsg": "ok",
        "task_list": [{"userid": sender, "status": 0}],
        "next_cursor": "",
    }
    result_body = {"msgid": msgid, "userid": sender, "limit": 2}
    unsent = wx.post("externalcontact/get_groupmsg_send_result", data=result_body)
    assert [r["status"] for r in unsent["send_list"]] == [0, 0]
    assert unsent["next_cursor"]

    confirmed = control(sandbox, "simulate/staff-confirm-msg", {"msgid": msgid, "userid": sender})
    assert confirmed["sent"] == 3
    task = wx.post("externalcontact/get_groupmsg_task", data={"msgid": msgid})["task_list"][0]
    assert task["status"] == 2
    assert task["send_time"] > 0
    sent, cursor = [], ""
    while True:
        page = wx.post("externalcontact/get_groupmsg_send_result", data={**result_body, "cursor": cursor})
        sent += page["send_list"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [(r["external_userid"], r["userid"], r["status"]) for r in sent] == [(c, sender, 1) for c in mine]
    assert all(r["send_time"] >= task["send_time"] for r in sent)
    control(sandbox, "simulate/staff-confirm-msg", {"msgid": msgid, "userid": sender}, status=400)

    # Under the "1 a day" rule, the same customers again today are over it: status 3.
    control(sandbox, "settings/marketing", {"mass_msg_receive_rule": "day"})
    second = wx.external_contact.add_msg_template(
        {"sender": sender, "external_userid": mine, "text": {"content": "再来"}}
    )
    control(sandbox, "simulate/staff-confirm-msg", {"msgid": second["msgid"], "userid": sender})
    results = wx.post(
        "externalcontact/get_groupmsg_send_result", data={"msgid": second["msgid"], "userid": sender}
    )
    assert {r["status"] for r in results["send_list"]} == {3}

    now = int(time.time())
    listed = wx.post(
        "externalcontact/get_groupmsg_list_v2",
        data={"chat_type": "single", "start_time": now - DAY, "end_time": now + 60},
    )
    assert {m["msgid"] for m in listed["group_msg_list"]} == {second["msgid"], msgid}
    times = [m["create_time"] for m in listed["group_msg_list"]]
    assert times == sorted(times, reverse=True)  # newest first
    first = next(m for m in listed["group_msg_list"] if m["msgid"] == msgid)
    assert (first["creator"], first["create_type"], first["text"]) == (sender, 0, template["text"])
    assert first["attachments"] == template["attachments"]
    group_list = {"chat_type": "group", "start_time": now - DAY, "end_time": now + 60}
    assert wx.post("externalcontact/get_groupmsg_list_v2", data=group_list)["group_msg_list"] == []
    too_long = {"chat_type": "single", "start_time": now - 40 * DAY, "end_time": now}
    assert errcode(lambda: wx.post("externalcontact/get_groupmsg_list_v2", data=too_long)) == 40058


def test_mass_message_to_groups_counts_the_receive_rule_per_group(wx, sandbox):
    owner = sandbox.state.groups[next(iter(sandbox.state.groups))].owner
    owned = [g.chat_id for g in sandbox.state.groups.values() if g.owner == owner]
    body = {
        "chat_type": "group",
        "sender": owner,
        "chat_id_list": [*owned, "wrNoSuchGroup"],
        "text": {"content": "群发"},
    }
    added = wx.external_contact.add_msg_template(body)
    assert added["fail_list"] == ["wrNoSuchGroup"]
    control(sandbox, "simulate/staff-confirm-msg", {"msgid": added["msgid"], "userid": owner})
    results = wx.post(
        "externalcontact/get_groupmsg_send_result", data={"msgid": added["msgid"], "userid": owner}
    )
    assert [(r["chat_id"], r["status"]) for r in results["send_list"]] == [(c, 1) for c in owned]
    assert errcode(lambda: wx.external_contact.add_msg_template({**body, "sender": ""})) == 40058

    # Each group is counted on its own: under "1 a day", the first group again is over it, a group
    # left out of the first message is not.
    control(sandbox, "settings/marketing", {"mass_msg_receive_rule": "day"})
    again = wx.external_contact.add_msg_template({**body, "chat_id_list": owned[:1]})
    control(sandbox, "simulate/staff-confirm-msg", {"msgid": again["msgid"], "userid": owner})
    results = wx.post(
        "externalcontact/get_groupmsg_send_result", data={"msgid": again["msgid"], "userid": owner}
    )
    assert [(r["chat_id"], r["status"]) for r in results["send_list"]] == [(owned[0], 3)]


def test_mass_message_errors(wx, sandbox):
    sender = followers(sandbox)[0]
    stranger = next(c.external_userid for c in sandbox.state.contacts.values() if sender not in c.follows)
    add = wx.external_contact.add_msg_template
    assert (
        errcode(lambda: add({"sender": sender, "external_userid": [stranger], "text": {"content": "x"}}))
        == 41048
    )
    assert errcode(lambda: add({"sender": sender, "external_userid": ["wm1"]})) == 44004
    assert errcode(lambda: add({"text": {"content": "x"}})) == 40058
    assert (
        errcode(lambda: add({"external_userid": [f"wm{i}" for i in range(10_001)], "text": {"content": "x"}}))
        == 40058
    )
    nine = [{"msgtype": "image", "image": {"media_id": "m"}}] * 10
    assert errcode(lambda: add({"sender": sender, "text": {"content": "x"}, "attachments": nine})) == 40058
    assert errcode(lambda: add({"sender": sender, "text": {"content": "字" * 1400}})) == 45002
    assert errcode(lambda: add({"sender": "nobody", "text": {"content": "x"}})) == 60111
    tags = {"group_list": [{"tag_list": ["etNoSuchTag"]}]}
    assert errcode(lambda: add({"sender": sender, "text": {"content": "x"}, "tag_filter": tags})) == 40068

    task = "externalcontact/get_groupmsg_task"
    assert errcode(lambda: wx.post(task, data={})) == 41046
    assert errcode(lambda: wx.post(task, data={"msgid": "msgNoSuchMessage"})) == 41047
    control(sandbox, "settings/marketing", {"mass_msg_dispatch_seconds": 60})
    msgid = add({"sender": sender, "text": {"content": "全部客户"}})["msgid"]
    assert errcode(lambda: wx.post(task, data={"msgid": msgid})) == 41063
    control(sandbox, "settings/marketing", {"mass_msg_dispatch_seconds": 0})
    results = wx.post("externalcontact/get_groupmsg_send_result", data={"msgid": msgid, "userid": sender})
    assert len(results["send_list"]) == len(customers_of(sandbox, sender))

    for _ in range(3):  # at most 3 reminders in 24 hours
        wx.post("externalcontact/remind_groupmsg_send", data={"msgid": msgid})
    assert errcode(lambda: wx.post("externalcontact/remind_groupmsg_send", data={"msgid": msgid})) == 45009
    wx.post("externalcontact/cancel_groupmsg_send", data={"msgid": msgid})
    control(sandbox, "simulate/staff-confirm-msg", {"msgid": msgid, "userid": sender}, status=400)


def test_mass_message_tag_filter_picks_customers_carrying_the_tags(wx, sandbox):
    sender = followers(sandbox)[0]
    contacts = [c for c in sandbox.state.contacts.values() if sender in c.follows]
    tag_id = next(t for c in contacts for t in c.follows[sender].tag_ids)
    expected = [c.external_userid for c in contacts if tag_id in c.follows[sender].tag_ids]
    body = {
        "sender": sender,
        "text": {"content": "标签群发"},
        "tag_filter": {"group_list": [{"tag_list": [tag_id]}]},
    }
    msgid = wx.external_contact.add_msg_template(body)["msgid"]
    results = wx.post(
        "externalcontact/get_groupmsg_send_result", data={"msgid": msgid, "userid": sender, "limit": 1000}
    )
    assert [r["external_userid"] for r in results["send_list"]] == expected


# --- 8. Moments --------------------------------------------------------------------------------


def upload(wx, content: bytes, media_type: str = "image", attachment_type: int = 1) -> dict:
    return wx.post(
        "media/upload_attachment",
        params={"media_type": media_type, "attachment_type": attachment_type},
        files={"media": (f"a.{media_type}", content)},
    )


def poll_job(wx, jobid: str) -> list[dict]:
    answers = []
    while not answers or answers[-1]["status"] != 3:
        answers.append(wx.get("externalcontact/get_moment_task_result", params={"jobid": jobid}))
        assert len(answers) <= 3
    return answers


def test_moments_flow(wx, sandbox):
    media = upload(wx, PNG)
    assert media["type"] == "image"
    assert media["media_id"]
    assert media["created_at"].isdigit()
    staff = followers(sandbox)[:2]
    body = {
        "text": {"content": "新品上市"},
        "attachments": [{"msgtype": "image", "image": {"media_id": media["media_id"]}}],
        "visible_range": {
            "sender_list": {"user_list": [*staff, "nobody"], "department_list": [999]},
            "external_contact_list": {"tag_list": ["etNoSuchTag"]},
        },
    }
    jobid = wx.post("externalcontact/add_moment_task", data=body)["jobid"]
    answers = poll_job(wx, jobid)
    assert [a["status"] for a in answers] == [1, 2, 3]
    assert answers[-1]["type"] == "add_moment_task"
    result = answers[-1]["result"]
    assert result["invalid_sender_list"] == {"user_list": ["nobody"], "department_list": [999]}
    assert result["invalid_external_contact_list"] == {"tag_list": ["etNoSuchTag"]}
    moment_id = result["moment_id"]
    assert wx.get("externalcontact/get_moment_task_result", params={"jobid": jobid})["result"] == result

    now = int(time.time())
    listed = wx.post(
        "externalcontact/get_moment_list",
        data={"start_time": now - 60, "end_time": now + 60, "filter_type": 0},
    )
    assert listed["moment_list"][0] == {
        "moment_id": moment_id,
        "create_time": listed["moment_list"][0]["create_time"],
        "create_type": 0,
        "visible_type": 1,
        "text": {"content": "新品上市"},
        "image": [{"media_id": media["media_id"]}],
    }
    tasks = wx.post("externalcontact/get_moment_task", data={"moment_id": moment_id})["task_list"]
    assert tasks == [{"userid": u, "publish_status": 0} for u in sandbox.state.staff if u in staff]

    userid = staff[0]
    visible = wx.post(
        "externalcontact/get_moment_customer_list",
        data={"moment_id": moment_id, "userid": userid, "limit": 1000},
    )
    assert [c["external_userid"] for c in visible["customer_list"]] == customers_of(sandbox, userid)
    assert all(c["userid"] == userid for c in visible["customer_list"])
    send_result = {"moment_id": moment_id, "userid": userid}
    assert wx.post("externalcontact/get_moment_send_result", data=send_result)["customer_list"] == []
    control(sandbox, "simulate/staff-publish-moment", {"userid": userid, "moment_id": moment_id})
    tasks = wx.post("externalcontact/get_moment_task", data={"moment_id": moment_id})["task_list"]
    assert {t["userid"]: t["publish_status"] for t in tasks} == {staff[0]: 1, staff[1]: 0}
    reached = wx.post("externalcontact/get_moment_send_result", data=send_result)["customer_list"]
    assert [c["external_userid"] for c in reached] == customers_of(sandbox, userid)
    comments = wx.post("externalcontact/get_moment_comments", data=send_result)
    assert comments == {"errcode": 0, "errmsg": "ok", "comment_list": [], "like_list": []}

    wx.post("externalcontact/cancel_moment_task", data={"moment_id": moment_id})
    control(
        sandbox, "simulate/staff-publish-moment", {"userid": staff[1], "moment_id": moment_id}, status=400
    )


def test_moments_jobs_finish_by_time_and_expire(wx, sandbox):
    control(sandbox, "settings/marketing", {"moment_job_seconds": 0})
    jobid = wx.post("externalcontact/add_moment_task", data={"text": {"content": "只有文字"}})["jobid"]
    result = wx.get("externalcontact/get_moment_task_result", params={"jobid": jobid})
    assert result["status"] == 3
    assert result["result"]["invalid_sender_list"] == {
        "user_list": [],
        "department_list": [],
    }
    moment_id = result["result"]["moment_id"]
    tasks = wx.post("externalcontact/get_moment_task", data={"moment_id": moment_id, "limit": 1})
    assert len(tasks["task_list"]) == 1
    assert tasks["next_cursor"]
    everyone = [s.userid for s in sandbox.state.staff.values() if s.status == 1 and s.has_contact_permission]
    assert sandbox.state.ext["marketing"].moments[moment_id].senders == everyone
    assert (
        errcode(lambda: wx.get("externalcontact/get_moment_task_result", params={"jobid": "nojob"})) == 40088
    )
    sandbox.state.ext["marketing"].jobs[jobid].created_at -= 2 * DAY
    assert errcode(lambda: wx.get("externalcontact/get_moment_task_result", params={"jobid": jobid})) == 40089


def test_moments_errors(wx, sandbox):
    assert errcode(lambda: upload(wx, b"plain text, not a picture")) == 40004
    assert errcode(lambda: upload(wx, PNG, media_type="voice")) == 40004
    assert errcode(lambda: upload(wx, PNG, attachment_type=3)) == 40058
    assert errcode(lambda: upload(wx, b"")) == 44001
    video = upload(wx, MP4, media_type="video")["media_id"]
    image = upload(wx, PNG)["media_id"]
    album = upload(wx, PNG, attachment_type=2)["media_id"]
    add = "externalcontact/add_moment_task"

    def attach(*items: tuple[str, str]) -> dict:
        return {"attachments": [{"msgtype": kind, kind: {"media_id": media_id}} for kind, media_id in items]}

    assert errcode(lambda: wx.post(add, data={})) == 44004
    assert errcode(lambda: wx.post(add, data={"text": {"content": "长" * 2001}})) == 45002
    assert errcode(lambda: wx.post(add, data=attach(*[("image", image)] * 10))) == 40058
    assert errcode(lambda: wx.post(add, data=attach(("image", image), ("video", video)))) == 40058
    assert errcode(lambda: wx.post(add, data=attach(("video", video), ("video", video)))) == 40058
    assert errcode(lambda: wx.post(add, data=attach(("video", image)))) == 40007
    assert errcode(lambda: wx.post(add, data=attach(("image", album)))) == 40007
    assert errcode(lambda: wx.post(add, data=attach(("image", "3NoSuchMedia")))) == 40007
    assert errcode(lambda: wx.post(add, data={"attachments": [{"msgtype": "file", "file": {}}]})) == 40008
    link = {
        "attachments": [
            {"msgtype": "link", "link": {"title": "t", "url": "https://example.com", "media_id": image}}
        ]
    }
    assert wx.post(add, data=link)["jobid"]
    assert wx.post(add, data=attach(*[("image", image)] * 9))["jobid"]

    control(sandbox, "settings/marketing", {"moment_tasks_per_minute": 3})
    wx.post(add, data=attach(("video", video)))
    assert errcode(lambda: wx.post(add, data={"text": {"content": "第四条"}})) == 45009

    userid = followers(sandbox)[0]
    for n in range(21):
        control(sandbox, "simulate/staff-publish-moment", {"userid": userid, "text": f"第{n}条"})
    now = int(time.time())
    moment_list = "externalcontact/get_moment_list"
    assert (
        errcode(lambda: wx.post(moment_list, data={"start_time": now - 31 * DAY, "end_time": now})) == 40058
    )
    page = wx.post(moment_list, data={"start_time": now - 60, "end_time": now + 60, "limit": 500})
    assert len(page["moment_list"]) == 20
    assert page["next_cursor"]
    assert errcode(lambda: wx.post("externalcontact/get_moment_task", data={"moment_id": "momNo"})) == 40058


def test_moments_history_and_personal_posts(wx, sandbox):
    now = int(time.time())
    moments, start = [], now - 90 * DAY
    while start < now:
        cursor = ""
        while True:
            page = wx.post(
                "externalcontact/get_moment_list",
                data={"start_time": start, "end_time": min(start + 30 * DAY, now), "cursor": cursor},
            )
            moments += page["moment_list"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        start += 30 * DAY + 1
    assert (
        len({m["moment_id"] for m in moments}) == len(moments) == len(sandbox.state.ext["marketing"].moments)
    )
    assert {m["create_type"] for m in moments} == {0, 1}
    interactions = 0
    for moment in moments[:15]:
        publishers = [moment["creator"]] if moment.get("creator") else followers(sandbox, 1)
        for userid in publishers:
            data = wx.post(
                "externalcontact/get_moment_comments",
                data={"moment_id": moment["moment_id"], "userid": userid},
            )
            for item in data["comment_list"] + data["like_list"]:
                assert item["create_time"] >= moment["create_time"]
                assert set(item) in ({"external_userid", "create_time"}, {"userid", "create_time"})
                interactions += 1
    assert interactions > 0

    userid = followers(sandbox)[0]
    posted = control(
        sandbox, "simulate/staff-publish-moment", {"userid": userid, "text": "今天到店的朋友有小礼物"}
    )
    assert posted["visible_customers"] == len(customers_of(sandbox, userid))
    mine = wx.post(
        "externalcontact/get_moment_list",
        data={"start_time": now - 60, "end_time": now + 60, "creator": userid, "filter_type": 1},
    )
    assert [(m["moment_id"], m["create_type"]) for m in mine["moment_list"]] == [(posted["moment_id"], 1)]
    control(sandbox, "simulate/staff-publish-moment", {"userid": userid}, status=400)


# --- 9. staff behaviour ------------------------------------------------------------------------


def test_user_behavior_data_is_seeded_and_counts_real_follows(wx, sandbox, sandbox_factory, wx_for):
    today = day_start(int(time.time()))
    userid = followers(sandbox)[0]
    start, end = today - 29 * DAY, today
    data = wx.external_contact.get_user_behavior_data([userid], start, end)["behavior_data"]
    assert [d["stat_time"] for d in data] == list(range(start, end + DAY, DAY))
    added = {}
    for contact in sandbox.state.contacts.values():
        follow = contact.follows.get(userid)
        if follow and start <= follow.createtime < end + DAY:
            added[day_start(follow.createtime)] = added.get(day_start(follow.createtime), 0) + 1
    for day in data:
        assert day["new_contact_cnt"] == added.get(day["stat_time"], 0) <= day["new_apply_cnt"]
        assert day["message_cnt"] >= day["chat_cnt"]
        assert ("reply_percentage" in day) == (day["chat_cnt"] > 0)
    twin = wx_for(sandbox_factory())
    assert twin.external_contact.get_user_behavior_data([userid], start, end)["behavior_data"] == data

    department = sandbox.state.staff[userid].department[0]
    by_party = wx.post(
        "externalcontact/get_user_behavior_data",
        data={"partyid": [department], "start_time": start, "end_time": end},
    )
    assert by_party["behavior_data"][0]["chat_cnt"] >= data[0]["chat_cnt"]

    behavior = wx.external_contact.get_user_behavior_data
    assert errcode(lambda: behavior([userid], today - 31 * DAY, today)) == 40058
    assert errcode(lambda: behavior([userid], today - 181 * DAY, today - 170 * DAY)) == 40058
    assert errcode(lambda: behavior([f"u{i}" for i in range(101)], start, end)) == 40058
    assert errcode(lambda: behavior(["nobody"], start, end)) == 60111
    assert errcode(lambda: behavior([], start, end)) == 40058


# --- 10. customer transfer ---------------------------------------------------------------------


def test_transfer_flow_with_callbacks(wx, sandbox, callback_receiver):
    receiver = callback_receiver()
    control(sandbox, "callback-url", {"callback_url": receiver.url})
    handover, takeover = followers(sandbox)[:2]
    first, second = [c for c in customers_of(sandbox, handover) if c not in customers_of(sandbox, takeover)][
        :2
    ]
    stranger = next(c.external_userid for c in sandbox.state.contacts.values() if handover not in c.follows)
    body = {
        "handover_userid": handover,
        "takeover_userid": takeover,
        "transfer_success_msg": "您好，我接替为您服务",
        "external_userid": [first, second, stranger, "wmNoSuchCustomer"],
    }
    answer = wx.post("externalcontact/transfer_customer", data=body)
    assert answer["customer"] == [
        {"external_userid": first, "errcode": 0},
        {"external_userid": second, "errcode": 0},
        {"external_userid": stranger, "errcode": 84061},
        {"external_userid": "wmNoSuchCustomer", "errcode": 40096},
    ]
    again = wx.post("externalcontact/transfer_customer", data={**body, "external_userid": [first]})
    assert again["customer"] == [{"external_userid": first, "errcode": 40100}]
    pair = {"handover_userid": handover, "takeover_userid": takeover}
    waiting = wx.post("externalcontact/transfer_result", data=pair)
    assert waiting["customer"] == [
        {"external_userid": first, "status": 2},
        {"external_userid": second, "status": 2},
    ]
    assert waiting["next_cursor"] == ""

    done = control(sandbox, "simulate/transfer-complete", {"refuse": [second]})
    assert (done["completed"], done["refused"]) == (1, 1)
    result = wx.post("externalcontact/transfer_result", data=pair)["customer"]
    assert [(c["external_userid"], c["status"]) for c in result] == [(first, 1), (second, 3)]
    assert result[0]["takeover_time"] > 0
    assert "takeover_time" not in result[1]
    follows = {f["userid"] for f in wx.external_contact.get(first)["follow_user"]}
    assert takeover in follows
    assert handover not in follows
    assert handover in {f["userid"] for f in wx.external_contact.get(second)["follow_user"]}
    events = [
        (e["ChangeType"], e["UserID"], e["ExternalUserID"], e.get("Source"), e.get("FailReason"))
        for e in receiver.events()
    ]
    assert events == [
        ("del_external_contact", handover, first, "DELETE_BY_TRANSFER", None),
        ("add_external_contact", takeover, first, None, None),
        ("transfer_fail", takeover, second, None, "customer_refused"),
    ]


def test_transfers_complete_after_the_delay_and_obey_limits(wx, sandbox, callback_receiver):
    receiver = callback_receiver()
    control(sandbox, "callback-url", {"callback_url": receiver.url})
    control(sandbox, "settings/transfer", {"transfer_delay_seconds": 0, "transfers_per_customer_90_days": 1})
    handover, takeover = followers(sandbox)[:2]
    customer = next(c for c in customers_of(sandbox, handover) if c not in customers_of(sandbox, takeover))
    pair = {"handover_userid": handover, "takeover_userid": takeover}
    wx.post("externalcontact/transfer_customer", data={**pair, "external_userid": [customer]})
    result = wx.post("externalcontact/transfer_result", data=pair)["customer"]  # due: settled on this call
    assert result[0]["status"] == 1
    wait_for(lambda: len(receiver.events()) == 2)
    back = {"handover_userid": takeover, "takeover_userid": handover, "external_userid": [customer]}
    assert wx.post("externalcontact/transfer_customer", data=back)["customer"][0]["errcode"] == 40128

    control(sandbox, "settings/transfer", {"takeover_customer_limit": 1})
    other = customers_of(sandbox, handover)[0]
    assert wx.post("externalcontact/transfer_customer", data={**pair, "external_userid": [other]})[
        "customer"
    ] == [{"external_userid": other, "errcode": 40099}]
    transfer = "externalcontact/transfer_customer"
    assert (
        errcode(
            lambda: wx.post(transfer, data={**pair, "takeover_userid": handover, "external_userid": [other]})
        )
        == 40130
    )
    assert errcode(lambda: wx.post(transfer, data={**pair, "external_userid": []})) == 41035
    assert (
        errcode(lambda: wx.post(transfer, data={**pair, "external_userid": [f"wm{i}" for i in range(101)]}))
        == 40058
    )
    assert (
        errcode(
            lambda: wx.post(transfer, data={**pair, "takeover_userid": "nobody", "external_userid": [other]})
        )
        == 60111
    )
    resigned = "externalcontact/resigned/transfer_customer"
    assert errcode(lambda: wx.post(resigned, data={**pair, "external_userid": [other]})) == 40097


def test_resigned_staff_customers_are_unassigned_until_reassigned(wx, sandbox):
    leaver, heir = followers(sandbox)[:2]
    theirs = [c for c in customers_of(sandbox, leaver) if c not in customers_of(sandbox, heir)]
    resigned = control(sandbox, "simulate/staff-resign", {"userid": leaver})
    assert resigned["unassigned_customers"] == len(customers_of(sandbox, leaver))
    control(sandbox, "simulate/staff-resign", {"userid": leaver}, status=400)

    listed = wx.external_contact.get_unassigned_list(0, 1000)
    assert listed["is_last"] is True
    assert listed["next_cursor"] == ""
    assert [i["external_userid"] for i in listed["info"]] == customers_of(sandbox, leaver)
    assert {(i["handover_userid"], i["dimission_time"]) for i in listed["info"]} == {
        (leaver, resigned["dimission_time"])
    }
    walked, cursor = [], ""
    while True:
        page = wx.post("externalcontact/get_unassigned_list", data={"page_size": 5, "cursor": cursor})
        walked += [i["external_userid"] for i in page["info"]]
        if page["is_last"]:
            break
        cursor = page["next_cursor"]
    assert walked == customers_of(sandbox, leaver)
    assert [i["external_userid"] for i in wx.external_contact.get_unassigned_list(1, 5)["info"]] == walked[
        5:10
    ]

    pair = {"handover_userid": leaver, "takeover_userid": heir}
    assert (
        errcode(
            lambda: wx.post("externalcontact/transfer_customer", data={**pair, "external_userid": theirs[:1]})
        )
        == 40058
    )
    answer = wx.post(
        "externalcontact/resigned/transfer_customer", data={**pair, "external_userid": theirs[:2]}
    )
    assert [c["errcode"] for c in answer["customer"]] == [0, 0]
    remaining = wx.external_contact.get_unassigned_list(0, 1000)["info"]
    assert theirs[0] not in [i["external_userid"] for i in remaining]
    result = wx.post("externalcontact/resigned/transfer_result", data=pair)["customer"]
    assert [c["status"] for c in result] == [2, 2]
    assert (
        wx.post("externalcontact/transfer_result", data=pair)["customer"] == []
    )  # on-job results are separate
    control(sandbox, "simulate/transfer-complete")
    result = wx.post("externalcontact/resigned/transfer_result", data=pair)["customer"]
    assert [c["status"] for c in result] == [1, 1]
    assert heir in {f["userid"] for f in wx.external_contact.get(theirs[0])["follow_user"]}
    control(sandbox, "simulate/staff-resign", {"userid": "nobody"}, status=400)
