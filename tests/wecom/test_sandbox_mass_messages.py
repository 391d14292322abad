"""The sandbox's mass messages (群发, wecom-api.md §7) as WeCom has them: the receive rule's three modes at
their China-time boundaries, add_msg_template's checks and media ids from media/upload (§9a), the demo's
auto-confirm, member-made messages, paging with cursors, remind and cancel, and the records route a
benchmark counts WeCom tasks with.

The clock is pinned with time_machine wherever a period or an age matters (this module is in
CLOCK_MODULES).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from wechatpy.exceptions import WeChatClientException

from scrm.wecom.sandbox import Sandbox

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64
SEND_RESULT = "externalcontact/get_groupmsg_send_result"
TASKS = "externalcontact/get_groupmsg_task"
LIST = "externalcontact/get_groupmsg_list_v2"


def control(sandbox: Sandbox, path: str, body: dict[str, Any] | None = None, *, status: int = 200) -> dict:
    session = requests.Session()
    session.trust_env = False
    response = session.post(f"{sandbox.base_url}/sandbox/{path}", json=body or {}, timeout=10)
    assert response.status_code == status, response.text
    return response.json()


def control_get(sandbox: Sandbox, path: str, **params: Any) -> dict:
    session = requests.Session()
    session.trust_env = False
    response = session.get(f"{sandbox.base_url}/sandbox/{path}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def errcode(call: Callable[[], Any]) -> int:
    with pytest.raises(WeChatClientException) as caught:
        call()
    return caught.value.errcode


def china(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso).replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))


def books(sandbox: Sandbox) -> dict[str, list[str]]:
    """Each active member with customer-contact permission and their customers, busiest first."""
    state = sandbox.state
    found: dict[str, list[str]] = {
        s.userid: [] for s in state.staff.values() if s.status == 1 and s.has_contact_permission
    }
    for contact in state.contacts.values():
        for userid in contact.follows:
            if userid in found:
                found[userid].append(contact.external_userid)
    return dict(sorted(found.items(), key=lambda item: -len(item[1])))


def busiest(sandbox: Sandbox) -> tuple[str, list[str]]:
    return next(iter(books(sandbox).items()))


def send_to(wx, sender: str, targets: list[str], text: str = "上新") -> str:
    return wx.external_contact.add_msg_template(
        {"sender": sender, "external_userid": targets, "text": {"content": text}}
    )["msgid"]


def results(wx, msgid: str, userid: str) -> dict[str, int]:
    """Every target's status in one member's share (all pages)."""
    found, cursor = {}, ""
    while True:
        page = wx.post(SEND_RESULT, data={"msgid": msgid, "userid": userid, "limit": 1000, "cursor": cursor})
        found.update({r.get("external_userid") or r["chat_id"]: r["status"] for r in page["send_list"]})
        cursor = page["next_cursor"]
        if not cursor:
            return found


def confirmed_status(wx, sandbox: Sandbox, sender: str, customer: str) -> int:
    """A corp mass message to one customer, confirmed at once: that customer's send status."""
    msgid = send_to(wx, sender, [customer])
    control(sandbox, "simulate/staff-confirm-msg", {"msgid": msgid, "userid": sender})
    return results(wx, msgid, sender)[customer]


def upload(wx, content: bytes, media_type: str = "image", filename: str = "a.png") -> dict:
    return wx.post("media/upload", params={"type": media_type}, files={"media": (filename, content)})


# --- the receive rule --------------------------------------------------------------------------------


def test_the_month_rule_allows_as_many_as_the_month_has_days_corp_and_member_made_together(
    wx, sandbox, time_machine
):
    """February 2026 has 28 days: the 29th message to a customer in February is over the rule, until
    March begins in China (16:00 UTC the day before)."""
    assert control(sandbox, "settings/marketing")["settings"]["mass_msg_receive_rule"] == "month"
    sender, customers = busiest(sandbox)
    customer, other = customers[:2]
    time_machine.move_to(china("2026-02-10T10:00:00"), tick=False)
    for _ in range(27):  # the member's own mass messages count too
        control(
            sandbox,
            "simulate/member-mass-msg",
            {"userid": sender, "external_userid": [customer], "text": "早"},
        )
    assert confirmed_status(wx, sandbox, sender, customer) == 1  # the 28th
    msgid = send_to(wx, sender, [customer, other])  # the 29th for customer, the first for other
    control(sandbox, "simulate/staff-confirm-msg", {"msgid": msgid, "userid": sender})
    assert results(wx, msgid, sender) == {customer: 3, other: 1}
    time_machine.move_to(china("2026-02-28T23:59:59"), tick=False)
    assert confirmed_status(wx, sandbox, sender, customer) == 3
    time_machine.move_to(china("2026-03-01T00:00:00"), tick=False)
    assert confirmed_status(wx, sandbox, sender, customer) == 1


def test_the_week_rule_allows_seven_from_monday_to_sunday(wx, sandbox, time_machine):
    control(sandbox, "settings/marketing", {"mass_msg_receive_rule": "week"})
    sender, customers = busiest(sandbox)
    customer = customers[0]
    time_machine.move_to(china("2026-11-23T10:00:00"), tick=False)  # a Monday
    statuses = [confirmed_status(wx, sandbox, sender, customer) for _ in range(8)]
    assert statuses == [1] * 7 + [3]
    time_machine.move_to(china("2026-11-29T23:59:59"), tick=False)  # Sunday night, the same week
    assert confirmed_status(wx, sandbox, sender, customer) == 3
    time_machine.move_to(china("2026-11-30T00:00:00"), tick=False)  # the next Monday
    assert confirmed_status(wx, sandbox, sender, customer) == 1


def test_the_day_rule_allows_one_a_china_day(wx, sandbox, time_machine):
    control(sandbox, "settings/marketing", {"mass_msg_receive_rule": "day"})
    sender, customers = busiest(sandbox)
    customer = customers[0]
    time_machine.move_to(china("2026-11-23T23:30:00"), tick=False)
    assert confirmed_status(wx, sandbox, sender, customer) == 1
    time_machine.move_to(china("2026-11-23T23:59:59"), tick=False)
    assert confirmed_status(wx, sandbox, sender, customer) == 3
    # Midnight in China is 16:00 UTC: still the same UTC day, but a new day for the rule.
    time_machine.move_to(china("2026-11-24T00:00:00"), tick=False)
    assert confirmed_status(wx, sandbox, sender, customer) == 1


def test_the_receive_rule_setting_is_checked(sandbox):
    assert (
        "mass_msg_receive_rule must be one of"
        in control(sandbox, "settings/marketing", {"mass_msg_receive_rule": "year"}, status=400)["error"]
    )
    control(
        sandbox, "settings/marketing", {"mass_msg_receive_limit": 2}, status=400
    )  # the old setting is gone
    control(sandbox, "settings/marketing", {"mass_msg_never_confirm_percent": 101}, status=400)


# --- add_msg_template's checks and media/upload ------------------------------------------------------


def test_media_upload_issues_ids_that_mass_messages_take_for_three_days(wx, sandbox, time_machine):
    time_machine.move_to(china("2026-11-23T10:00:00"), tick=False)
    image = upload(wx, PNG)
    assert (image["type"], image["created_at"]) == ("image", str(int(time.time())))
    jpg = upload(wx, JPG, filename="b.jpg")["media_id"]
    video = upload(wx, MP4, "video", "v.mp4")["media_id"]
    document = upload(wx, b"%PDF-1.7 price list", "file", "price.pdf")["media_id"]
    moments_image = wx.post(
        "media/upload_attachment",
        params={"media_type": "image", "attachment_type": 1},
        files={"media": ("m.png", PNG)},
    )["media_id"]
    sender, customers = busiest(sandbox)
    body = {"sender": sender, "external_userid": customers[:2], "text": {"content": "新品"}}
    attachments = [
        {"msgtype": "image", "image": {"media_id": image["media_id"]}},
        {"msgtype": "image", "image": {"pic_url": "https://wework.qpic.cn/wwpic/abc/0"}},
        {"msgtype": "video", "video": {"media_id": video}},
        {"msgtype": "file", "file": {"media_id": document}},
        {
            "msgtype": "miniprogram",
            "miniprogram": {"title": "商城", "pic_media_id": jpg, "appid": "wx123", "page": "/index.html"},
        },
    ]
    add = wx.external_contact.add_msg_template
    assert add({**body, "attachments": attachments})["msgid"]

    def invalid(attachment: dict) -> int:
        return errcode(lambda: add({**body, "attachments": [attachment]}))

    assert invalid({"msgtype": "image", "image": {"media_id": moments_image}}) == 40007  # a Moments id
    assert invalid({"msgtype": "image", "image": {"media_id": "3NoSuchMedia"}}) == 40007
    assert invalid({"msgtype": "video", "video": {"media_id": image["media_id"]}}) == 40007  # not a video
    assert invalid({"msgtype": "file", "file": {"media_id": video}}) == 40007

    time_machine.move_to(china("2026-11-26T10:00:00"), tick=False)  # exactly 3 days: still usable
    assert add({**body, "attachments": attachments[:1]})["msgid"]
    time_machine.move_to(china("2026-11-26T10:00:01"), tick=False)
    for attachment in (attachments[0], attachments[2], attachments[3], attachments[4]):
        assert invalid(attachment) == 40007
    assert add({**body, "attachments": [attachments[1]]})["msgid"]  # a pic_url does not expire


@pytest.mark.parametrize(
    ("media_type", "content", "expected"),
    [
        ("gif", PNG, 40005),  # not a type media/upload knows
        ("image", b"", 44001),
        ("file", b"12345", 40006),  # five bytes or fewer
        ("image", b"GIF89a" + b"\x00" * 64, 40004),  # images are JPG or PNG
        ("video", PNG, 40004),  # videos are MP4
        ("image", PNG + b"\x00" * (10 * 1024 * 1024), 40009),
        ("video", MP4 + b"\x00" * (10 * 1024 * 1024), 40011),
        ("file", b"\x00" * (20 * 1024 * 1024 + 1), 40006),
    ],
)
def test_media_upload_refuses_what_wecom_refuses(wx, media_type, content, expected):
    assert errcode(lambda: upload(wx, content, media_type)) == expected


def test_media_upload_takes_a_file_of_exactly_20_mb(wx, sandbox):
    answer = upload(wx, b"\x00" * (20 * 1024 * 1024), "file", "big.bin")
    assert sandbox.state.ext["marketing"].media[answer["media_id"]].size == 20 * 1024 * 1024


def test_uploadimg_gives_a_permanent_url_within_its_quotas(wx, sandbox, time_machine):
    time_machine.move_to(china("2026-11-23T10:00:00"), tick=False)

    def uploadimg(content: bytes) -> dict:
        return wx.post("media/uploadimg", files={"media": ("cover.jpg", content)})

    url = uploadimg(JPG)["url"]
    assert url.startswith("https://wework.qpic.cn/wwpic/")
    assert uploadimg(JPG)["url"] != url
    assert errcode(lambda: uploadimg(b"")) == 44001
    assert errcode(lambda: uploadimg(PNG + b"\x00" * (2 * 1024 * 1024))) == 40009
    assert errcode(lambda: uploadimg(b"GIF89a" + b"\x00" * 64)) == 40004
    with sandbox.state.lock:  # 997 more today: the 1,000th goes through, the 1,001st does not
        sandbox.state.ext["marketing"].uploadimg_times += [int(time.time())] * 997
    uploadimg(PNG)
    assert errcode(lambda: uploadimg(PNG)) == 45009
    time_machine.move_to(china("2026-11-24T00:00:00"), tick=False)  # a new China day
    uploadimg(PNG)


def test_add_msg_template_checks_targets_sizes_and_the_sender(wx, sandbox):
    sender, customers = busiest(sandbox)
    stranger = next(c for c in sandbox.state.contacts if sender not in sandbox.state.contacts[c].follows)
    add = wx.external_contact.add_msg_template
    text = {"content": "x"}
    # Customers the sender does not follow (or nobody knows) go to fail_list, in the order given.
    answer = add(
        {"sender": sender, "external_userid": [stranger, customers[0], "wmNoSuchCustomer"], "text": text}
    )
    assert answer["fail_list"] == [stranger, "wmNoSuchCustomer"]
    assert errcode(lambda: add({"sender": sender, "external_userid": [stranger], "text": text})) == 41048
    owner = next(iter(sandbox.state.groups.values())).owner
    group = {"chat_type": "group", "sender": owner, "text": text}
    assert errcode(lambda: add({**group, "chat_id_list": ["wrNoSuchGroup"]})) == 41048
    assert errcode(lambda: add({**group, "chat_id_list": [f"wr{i}" for i in range(2001)]})) == 40058
    assert errcode(lambda: add({**group, "sender": ""})) == 40058  # a group message needs its sender
    many = [f"wm{i}" for i in range(10_001)]
    assert errcode(lambda: add({"sender": sender, "external_userid": many, "text": text})) == 40058
    assert add({"sender": sender, "external_userid": customers[:1], "text": {"content": "字" * 1333}})[
        "msgid"
    ]
    assert errcode(lambda: add({"sender": sender, "text": {"content": "字" * 1333 + "ab"}})) == 45002
    link = {"msgtype": "link", "link": {"title": "t", "url": "https://example.com"}}
    assert errcode(lambda: add({"sender": sender, "text": text, "attachments": [link] * 10})) == 40058
    with sandbox.state.lock:
        no_permission = next(s for s in sandbox.state.staff.values() if s.userid != sender)
        no_permission.has_contact_permission = False
    assert errcode(lambda: add({"sender": no_permission.userid, "text": text})) == 84074
    with sandbox.state.lock:
        sandbox.state.staff[sender].status = 5  # left the corp
    assert errcode(lambda: add({"sender": sender, "external_userid": customers[:1], "text": text})) == 60111


# --- confirmation: by hand and the demo's auto-confirm -----------------------------------------------


def test_auto_confirm_sends_each_task_by_itself_and_the_same_way_whenever_it_is_read(
    sandbox_factory, wx_for, time_machine
):
    """Two identical corps; one is read along the way, the other only at the end: the same results."""
    time_machine.move_to(china("2026-11-23T10:00:00"), tick=False)
    corps = [sandbox_factory(), sandbox_factory()]
    msgids = []
    for corp in corps:
        control(
            corp,
            "settings/marketing",
            {"mass_msg_auto_confirm_seconds": 60, "mass_msg_never_confirm_percent": 0},
        )
        everyone = [c for customers in books(corp).values() for c in customers]
        # Without a sender, each customer's message goes to one of their members: a task per member.
        msgids.append(
            wx_for(corp).external_contact.add_msg_template(
                {"external_userid": everyone, "text": {"content": "周末活动"}}
            )["msgid"]
        )
    assert msgids[0] == msgids[1]
    msgid = msgids[0]
    wx = wx_for(corps[0])
    tasks = wx.post(TASKS, data={"msgid": msgid})["task_list"]
    assert len(tasks) > 2
    assert {t["status"] for t in tasks} == {0}
    time_machine.move_to(china("2026-11-23T10:00:59"), tick=False)
    assert {t["status"] for t in wx.post(TASKS, data={"msgid": msgid})["task_list"]} == {0}
    time_machine.move_to(china("2026-11-23T10:01:30"), tick=False)  # some members confirmed, some not yet
    midway = {t["userid"]: t for t in wx.post(TASKS, data={"msgid": msgid})["task_list"]}
    assert {t["status"] for t in midway.values()} == {0, 2}
    time_machine.move_to(china("2026-11-23T10:02:00"), tick=False)  # everyone confirmed within 2 × 60 s
    final = [wx_for(corp).post(TASKS, data={"msgid": msgid})["task_list"] for corp in corps]
    assert final[0] == final[1]
    start = int(china("2026-11-23T10:00:00").timestamp())
    assert all(t["status"] == 2 and start + 60 <= t["send_time"] <= start + 120 for t in final[0])
    for task in final[0]:
        assert set(results(wx, msgid, task["userid"]).values()) == {1}
        if midway[task["userid"]]["status"] == 2:  # read midway or not, the same moment
            assert midway[task["userid"]]["send_time"] == task["send_time"]


def test_some_members_never_confirm_by_themselves_and_need_the_tap(wx, sandbox, time_machine):
    time_machine.move_to(china("2026-11-23T10:00:00"), tick=False)
    control(
        sandbox,
        "settings/marketing",
        {"mass_msg_auto_confirm_seconds": 60, "mass_msg_never_confirm_percent": 50},
    )
    members = books(sandbox)
    everyone = [c for customers in members.values() for c in customers]

    def sent_by_themselves() -> tuple[set[str], set[str], str]:
        msgid = wx.external_contact.add_msg_template({"external_userid": everyone, "text": {"content": "x"}})[
            "msgid"
        ]
        time_machine.shift(86_400)
        tasks = wx.post(TASKS, data={"msgid": msgid})["task_list"]
        return {t["userid"] for t in tasks if t["status"] == 2}, {t["userid"] for t in tasks}, msgid

    confirmed, assigned, msgid = sent_by_themselves()
    assert confirmed
    assert confirmed != assigned
    assert sent_by_themselves()[0] == confirmed  # the same members every time
    lazy = sorted(assigned - confirmed)[0]
    control(sandbox, "simulate/staff-confirm-msg", {"msgid": msgid, "userid": lazy})
    assert set(results(wx, msgid, lazy).values()) <= {1, 3}


def test_auto_confirm_is_off_by_default(wx, sandbox, time_machine):
    time_machine.move_to(china("2026-11-23T10:00:00"), tick=False)
    sender, customers = busiest(sandbox)
    msgid = send_to(wx, sender, customers[:3])
    time_machine.shift(30 * 86_400)
    assert wx.post(TASKS, data={"msgid": msgid})["task_list"] == [{"userid": sender, "status": 0}]


# --- member-made mass messages -----------------------------------------------------------------------


def test_member_made_mass_messages_read_back_and_count_against_the_rule(wx, sandbox, time_machine):
    time_machine.move_to(china("2026-11-23T10:00:00"), tick=False)
    control(sandbox, "settings/marketing", {"mass_msg_receive_rule": "day"})
    sender, customers = busiest(sandbox)
    made = control(
        sandbox,
        "simulate/member-mass-msg",
        {"userid": sender, "external_userid": customers[:2], "text": "今晚直播"},
    )
    assert (made["sent"], made["over_limit"]) == (2, 0)
    now = int(time.time())
    span = {"chat_type": "single", "start_time": now - 3600, "end_time": now + 3600}
    listed = wx.post(LIST, data={**span, "filter_type": 1})["group_msg_list"]
    assert listed == [
        {
            "msgid": made["msgid"],
            "creator": sender,
            "create_time": now,
            "create_type": 1,
            "text": {"content": "今晚直播"},
        }
    ]
    assert wx.post(LIST, data={**span, "filter_type": 0})["group_msg_list"] == []
    assert wx.post(TASKS, data={"msgid": made["msgid"]})["task_list"] == [
        {"userid": sender, "status": 2, "send_time": now}
    ]
    assert results(wx, made["msgid"], sender) == {customers[0]: 1, customers[1]: 1}
    control(sandbox, "simulate/staff-confirm-msg", {"msgid": made["msgid"], "userid": sender}, status=400)
    # The member's message used today's one: the corp's, to both and one more, reaches only the third.
    msgid = send_to(wx, sender, customers[:3])
    control(sandbox, "simulate/staff-confirm-msg", {"msgid": msgid, "userid": sender})
    assert results(wx, msgid, sender) == {customers[0]: 3, customers[1]: 3, customers[2]: 1}
    # Without targets, all the member's customers; to groups, the groups they own.
    everyone = control(sandbox, "simulate/member-mass-msg", {"userid": sender, "text": "全部"})
    assert everyone["sent"] + everyone["over_limit"] == len(customers)
    owner = next(iter(sandbox.state.groups.values())).owner
    groups = control(
        sandbox, "simulate/member-mass-msg", {"userid": owner, "chat_type": "group", "text": "群"}
    )
    assert results(wx, groups["msgid"], owner)
    group_list = {**span, "chat_type": "group", "filter_type": 1}
    assert [m["msgid"] for m in wx.post(LIST, data=group_list)["group_msg_list"]] == [groups["msgid"]]


def test_a_member_made_mass_message_goes_only_to_the_members_own(sandbox):
    sender, customers = busiest(sandbox)
    stranger = next(c for c in sandbox.state.contacts if sender not in sandbox.state.contacts[c].follows)
    body = {"userid": sender, "external_userid": [customers[0], stranger], "text": "x"}
    assert stranger in control(sandbox, "simulate/member-mass-msg", body, status=400)["error"]
    control(
        sandbox,
        "simulate/member-mass-msg",
        {**body, "external_userid": [customers[0]], "text": ""},
        status=400,
    )
    control(sandbox, "simulate/member-mass-msg", {**body, "userid": "nobody"}, status=400)


# --- paging, remind, cancel ----------------------------------------------------------------------------


def test_the_message_list_pages_newest_first_without_repeats_while_messages_are_added(
    wx, sandbox, time_machine
):
    time_machine.move_to(china("2026-11-23T10:00:00"), tick=True)
    sender, customers = busiest(sandbox)
    made = [send_to(wx, sender, customers[:1], f"第{i}条") for i in range(5)]
    now = int(time.time())
    span = {"chat_type": "single", "start_time": now - 3600, "end_time": now + 3600, "limit": 2}
    first = wx.post(LIST, data=span)
    later = [send_to(wx, sender, customers[:1], "新") for _ in range(2)]  # newer than every page
    second = wx.post(LIST, data={**span, "cursor": first["next_cursor"]})
    third = wx.post(LIST, data={**span, "cursor": second["next_cursor"]})
    assert third["next_cursor"] == ""
    paged = [m["msgid"] for p in (first, second, third) for m in p["group_msg_list"]]
    assert paged == made[::-1]
    assert [m["msgid"] for m in wx.post(LIST, data={**span, "limit": 100})["group_msg_list"]] == later[
        ::-1
    ] + made[::-1]
    assert errcode(lambda: wx.post(LIST, data={**span, "cursor": "not-a-cursor"})) == 40058


def test_list_limits_over_the_maximum_take_the_default(wx, sandbox, time_machine):
    time_machine.move_to(china("2026-11-23T10:00:00"), tick=False)
    sender, customers = busiest(sandbox)
    for _ in range(55):
        control(
            sandbox,
            "simulate/member-mass-msg",
            {"userid": sender, "external_userid": customers[:1], "text": "x"},
        )
    now = int(time.time())
    span = {"chat_type": "single", "start_time": now - 60, "end_time": now + 60}
    assert len(wx.post(LIST, data={**span, "limit": 100})["group_msg_list"]) == 55
    assert len(wx.post(LIST, data={**span, "limit": 101})["group_msg_list"]) == 50  # 超过最大值时取默认值
    assert len(wx.post(LIST, data=span)["group_msg_list"]) == 50


def test_task_pages_stay_complete_while_members_send(wx, sandbox):
    everyone = [c for customers in books(sandbox).values() for c in customers]
    msgid = wx.external_contact.add_msg_template({"external_userid": everyone, "text": {"content": "x"}})[
        "msgid"
    ]
    first = wx.post(TASKS, data={"msgid": msgid, "limit": 2})
    control(
        sandbox, "simulate/staff-confirm-msg", {"msgid": msgid, "userid": first["task_list"][0]["userid"]}
    )
    paged, cursor = list(first["task_list"]), first["next_cursor"]
    while cursor:
        page = wx.post(TASKS, data={"msgid": msgid, "limit": 2, "cursor": cursor})
        paged += page["task_list"]
        cursor = page["next_cursor"]
    userids = [t["userid"] for t in paged]
    assert len(userids) == len(set(userids)) > 2
    assert userids == [t["userid"] for t in wx.post(TASKS, data={"msgid": msgid, "limit": 1000})["task_list"]]
    assert errcode(lambda: wx.post(TASKS, data={"msgid": msgid, "cursor": "bad!"})) == 40058


def test_result_pages_stay_complete_while_the_member_sends(sandbox_factory, wx_for):
    # One member follows every customer: a share of 1,200, more than a page of 1,000.
    sandbox = sandbox_factory(staff=3, followers=1, contacts=1200)
    wx = wx_for(sandbox)
    sender, customers = busiest(sandbox)
    assert len(books(sandbox)) == 1
    assert len(customers) == 1200
    msgid = wx.external_contact.add_msg_template({"sender": sender, "text": {"content": "全部客户"}})["msgid"]
    body = {"msgid": msgid, "userid": sender, "limit": 400}
    first = wx.post(SEND_RESULT, data=body)
    control(sandbox, "simulate/staff-confirm-msg", {"msgid": msgid, "userid": sender})
    rest, cursor = [], first["next_cursor"]
    while cursor:
        page = wx.post(SEND_RESULT, data={**body, "cursor": cursor})
        rest += page["send_list"]
        cursor = page["next_cursor"]
    assert [r["external_userid"] for r in first["send_list"] + rest] == customers  # each once, in order
    assert {r["status"] for r in first["send_list"]} == {0}  # read before the member sent
    assert {r["status"] for r in rest} == {1}
    assert len(wx.post(SEND_RESULT, data={**body, "limit": 1000})["send_list"]) == 1000
    assert len(wx.post(SEND_RESULT, data={**body, "limit": 1001})["send_list"]) == 500  # the default
    assert len(wx.post(SEND_RESULT, data={"msgid": msgid, "userid": sender})["send_list"]) == 500


def test_reminders_are_limited_per_message(wx, sandbox, time_machine):
    time_machine.move_to(china("2026-11-23T10:00:00"), tick=False)
    sender, customers = busiest(sandbox)
    first, second = send_to(wx, sender, customers[:1]), send_to(wx, sender, customers[1:2])
    remind = "externalcontact/remind_groupmsg_send"
    for _ in range(3):
        wx.post(remind, data={"msgid": first})
    assert errcode(lambda: wx.post(remind, data={"msgid": first})) == 45009
    wx.post(remind, data={"msgid": second})  # another message has reminders of its own
    time_machine.move_to(china("2026-11-24T10:00:00"), tick=False)  # 24 hours after the first three
    wx.post(remind, data={"msgid": first})
    wx.post("externalcontact/cancel_groupmsg_send", data={"msgid": second})
    assert errcode(lambda: wx.post(remind, data={"msgid": second})) == 41047
    assert errcode(lambda: wx.post(remind, data={"msgid": "msgNoSuchMessage"})) == 41047
    assert errcode(lambda: wx.post(remind, data={})) == 41046


def test_cancel_stops_what_was_not_sent_and_keeps_what_was(wx, sandbox, time_machine):
    time_machine.move_to(china("2026-11-23T10:00:00"), tick=False)
    control(
        sandbox,
        "settings/marketing",
        {"mass_msg_auto_confirm_seconds": 60, "mass_msg_never_confirm_percent": 0},
    )
    everyone = [c for customers in books(sandbox).values() for c in customers]
    msgid = wx.external_contact.add_msg_template({"external_userid": everyone, "text": {"content": "x"}})[
        "msgid"
    ]
    tasks = wx.post(TASKS, data={"msgid": msgid})["task_list"]
    early = tasks[0]["userid"]
    control(sandbox, "simulate/staff-confirm-msg", {"msgid": msgid, "userid": early})
    wx.post("externalcontact/cancel_groupmsg_send", data={"msgid": msgid})
    late = tasks[1]["userid"]
    error = control(sandbox, "simulate/staff-confirm-msg", {"msgid": msgid, "userid": late}, status=400)
    assert error["errcode"] == 41047
    time_machine.shift(86_400)  # auto-confirm does not send a cancelled message either
    after = {t["userid"]: t["status"] for t in wx.post(TASKS, data={"msgid": msgid})["task_list"]}
    assert after[early] == 2
    assert all(after[t["userid"]] == 0 for t in tasks[1:])
    assert set(results(wx, msgid, early).values()) <= {1, 3}
    assert set(results(wx, msgid, late).values()) == {0}


# --- records for benchmarks ----------------------------------------------------------------------------


def test_the_records_route_lists_every_mass_message_with_fingerprints(wx, sandbox, time_machine):
    time_machine.move_to(china("2026-11-23T10:00:00"), tick=False)
    sender, customers = busiest(sandbox)
    chunks = [customers[:3], customers[3:5]]
    made = [send_to(wx, sender, chunk, "双十二") for chunk in chunks]
    time_machine.move_to(china("2026-11-23T11:00:00"), tick=False)
    member = control(
        sandbox,
        "simulate/member-mass-msg",
        {"userid": sender, "external_userid": customers[:1], "text": "hi"},
    )

    def fingerprint(targets: list[str]) -> str:
        return hashlib.sha256("\n".join(sorted(targets)).encode()).hexdigest()

    listed = control_get(sandbox, "records/mass-messages")["mass_messages"]
    assert [m["msgid"] for m in listed] == [*made, member["msgid"]]  # oldest first
    first = listed[0]
    assert first == {
        "msgid": made[0],
        "creator": sender,
        "chat_type": "single",
        "create_type": 0,
        "create_time": int(china("2026-11-23T10:00:00").timestamp()),
        "text_sha256": hashlib.sha256("双十二".encode()).hexdigest(),
        "attachments": 0,
        "targets": 3,
        "targets_sha256": fingerprint(chunks[0]),
        "fail_list": 0,
        "cancelled": False,
        "tasks": [{"userid": sender, "status": 0, "targets": 3, "targets_sha256": fingerprint(chunks[0])}],
    }
    assert (listed[1]["targets"], listed[1]["targets_sha256"]) == (2, fingerprint(chunks[1]))
    assert listed[2]["create_type"] == 1
    assert listed[2]["tasks"][0]["status"] == 2
    since = int(china("2026-11-23T10:30:00").timestamp())
    assert [
        m["msgid"] for m in control_get(sandbox, "records/mass-messages", since=since)["mass_messages"]
    ] == [member["msgid"]]
    assert control_get(sandbox, "records/mass-messages", creator="nobody")["mass_messages"] == []
    # The API records stay what they were: one add_msg_template call per message made.
    assert len(sandbox.records("externalcontact/add_msg_template")) == 2


# --- the corp ------------------------------------------------------------------------------------------


def test_followers_fixes_how_many_members_have_customers_and_changes_nothing_else():
    plain = Sandbox(seed=3, staff=12, contacts=400, groups=0)
    fixed = Sandbox(seed=3, staff=12, contacts=400, groups=0, followers=10)
    assert [s.name for s in plain.state.staff.values()] == [s.name for s in fixed.state.staff.values()]
    permitted = [s.userid for s in fixed.state.staff.values() if s.has_contact_permission]
    assert permitted == list(fixed.state.staff)[:10]
    assert {u for c in fixed.state.contacts.values() for u in c.follows} == set(permitted)
    assert fixed.summary()["meta"]["followers"] == 10
    with pytest.raises(ValueError, match="followers must be between 1 and the number of staff"):
        Sandbox(seed=3, staff=12, contacts=0, groups=0, followers=13)
