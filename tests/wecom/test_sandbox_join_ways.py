"""The sandbox's join ways (群活码) acted out: scans land in the first group with room, a new group is
opened when all are full (or 86006), members carry the way's state, and the way's QR image is served."""

from __future__ import annotations

import pytest
import requests

from scrm.wecom.sandbox import Sandbox
from scrm.wecom.sandbox.endpoints_groups import MAX_MEMBERS, MEMBER_STATES
from scrm.wecom.sandbox.state import GroupMember
from tests.wecom.test_sandbox_groups_marketing import control, errcode, settle

ADD = "externalcontact/groupchat/add_join_way"
GET = "externalcontact/groupchat/get_join_way"


def fill(sandbox: Sandbox, chat_id: str, size: int = MAX_MEMBERS) -> None:
    """Fill a group up to ``size`` members with customers nobody follows (in the state directly)."""
    with sandbox.state.lock:
        chat = sandbox.state.groups[chat_id]
        n = 0
        while len(chat.members) < size:
            n += 1
            chat.members.append(GroupMember(userid=f"wmFILL{chat_id[-6:]}{n:05d}", type=2, join_time=1))


def add_way(wx, chat_ids: list[str], **extra) -> str:
    body = {
        "scene": 2,
        "remark": "门店拉群",
        "auto_create_room": 1,
        "room_base_name": "福利群",
        "room_base_id": 7,
        "chat_id_list": chat_ids,
        "state": "gc_test",
        **extra,
    }
    return wx.post(ADD, data=body)["config_id"]


@pytest.fixture
def members(wx, sandbox, time_machine):
    """``members(chat_id)``: the group's members as groupchat/get shows them once the changes so far
    have settled (the clock is moved past the sandbox's lag, not slept)."""

    def read(chat_id: str) -> dict[str, dict]:
        settle(sandbox, time_machine)
        return _members(wx, chat_id)

    return read


def _members(wx, chat_id: str) -> dict[str, dict]:
    chat = wx.post("externalcontact/groupchat/get", data={"chat_id": chat_id, "need_name": 1})["group_chat"]
    return {m["userid"]: m for m in chat["member_list"]}


def test_a_scan_lands_in_the_first_group_with_room_and_carries_the_state(wx, sandbox, members):
    first, second = list(sandbox.state.groups)[:2]
    config_id = add_way(wx, [first, second])
    fill(sandbox, first)
    joined = control(sandbox, "simulate/group-join", {"config_id": config_id})
    assert (joined["chat_id"], joined["created"], joined["state"]) == (second, False, "gc_test")
    newcomer = joined["external_userid"]
    assert members(second)[newcomer]["state"] == "gc_test"
    assert members(second)[newcomer]["join_scene"] == 3
    # Members who did not come through a join way have no state at all (WeCom leaves it out).
    assert all("state" not in m for u, m in members(second).items() if u != newcomer)

    # By state (no config_id), the same way; a plain join by chat_id carries no state.
    again = control(sandbox, "simulate/group-join", {"state": "gc_test"})
    assert again["chat_id"] == second
    plain = control(sandbox, "simulate/group-join", {"chat_id": second})
    assert "state" not in members(second)[plain["external_userid"]]

    # Leaving drops it: a later join by the group's own QR is not the code's.
    control(sandbox, "simulate/group-leave", {"chat_id": second, "external_userid": newcomer})
    control(sandbox, "simulate/group-join", {"chat_id": second, "external_userid": newcomer})
    assert "state" not in members(second)[newcomer]


def test_all_full_opens_a_new_group_owned_by_the_first_groups_owner(
    wx, sandbox, callback_receiver, time_machine
):
    receiver = callback_receiver()
    control(sandbox, "callback-url", {"callback_url": receiver.url})
    first, second = list(sandbox.state.groups)[:2]
    config_id = add_way(wx, [first, second])
    fill(sandbox, first)
    fill(sandbox, second)

    joined = control(sandbox, "simulate/group-join", {"config_id": config_id})
    assert joined["created"] is True
    new_chat = joined["chat_id"]
    assert new_chat not in (first, second)
    settle(sandbox, time_machine)
    chat = wx.post("externalcontact/groupchat/get", data={"chat_id": new_chat, "need_name": 1})["group_chat"]
    assert chat["name"] == "福利群7"
    assert chat["owner"] == sandbox.state.groups[first].owner
    assert [(m["userid"], m.get("state")) for m in chat["member_list"]] == [
        (chat["owner"], None),
        (joined["external_userid"], "gc_test"),
    ]
    way = wx.post(GET, data={"config_id": config_id})["join_way"]
    assert way["chat_id_list"] == [first, second, new_chat]
    assert way["room_base_id"] == 8

    create, update = receiver.events()[-2:]
    assert (create["ChangeType"], create["ChatId"]) == ("create", new_chat)
    assert (update["ChangeType"], update["UpdateDetail"], update["ChatId"]) == (
        "update",
        "add_member",
        new_chat,
    )
    assert update["MemChangeList"] == {"Item": joined["external_userid"]}
    assert update["CurMemVer"] == chat["member_version"] != update["LastMemVer"]

    # The new group has room: the next scan goes there, nothing more is created.
    nxt = control(sandbox, "simulate/group-join", {"config_id": config_id})
    assert (nxt["chat_id"], nxt["created"]) == (new_chat, False)


def test_a_full_list_of_five_makes_room_by_dropping_a_full_group(wx, sandbox):
    chat_ids = list(sandbox.state.groups)[:5]
    config_id = add_way(wx, chat_ids)
    for chat_id in chat_ids:
        fill(sandbox, chat_id)
    joined = control(sandbox, "simulate/group-join", {"config_id": config_id})
    assert wx.post(GET, data={"config_id": config_id})["join_way"]["chat_id_list"] == [
        *chat_ids[1:],
        joined["chat_id"],
    ]


def test_all_full_without_auto_create_is_refused(wx, sandbox):
    first = next(iter(sandbox.state.groups))
    config_id = add_way(wx, [first], auto_create_room=0)
    fill(sandbox, first)
    contacts_before = len(sandbox.state.contacts)
    refused = control(sandbox, "simulate/group-join", {"config_id": config_id}, status=400)
    assert refused["errcode"] == 86006
    assert len(sandbox.state.contacts) == contacts_before  # no stray WeChat user was made


def test_bad_scans_are_refused(wx, sandbox):
    first, second = list(sandbox.state.groups)[:2]
    config_id = add_way(wx, [first])
    add_way(wx, [second])  # a second way with the same state
    control(sandbox, "simulate/group-join", {"config_id": "nope"}, status=400)
    control(sandbox, "simulate/group-join", {"state": "gc_other"}, status=400)
    assert "2 join ways" in control(sandbox, "simulate/group-join", {"state": "gc_test"}, status=400)["error"]
    control(sandbox, "simulate/group-join", {"config_id": config_id, "state": "gc_other"}, status=400)
    control(sandbox, "simulate/group-join", {}, status=400)
    # A customer already in one of the way's groups cannot join through it again.
    member = next(m.userid for m in sandbox.state.groups[first].members if m.type == 2)
    control(sandbox, "simulate/group-join", {"config_id": config_id, "external_userid": member}, status=400)


def test_the_join_ways_qr_image_is_served(wx, sandbox):
    config_id = add_way(wx, [next(iter(sandbox.state.groups))])
    qr_code = wx.post(GET, data={"config_id": config_id})["join_way"]["qr_code"]
    assert qr_code == f"{sandbox.base_url}/sandbox/qr/join-way/{config_id}.png"
    session = requests.Session()
    session.trust_env = False
    image = session.get(qr_code, timeout=10)
    assert (image.status_code, image.headers["Content-Type"]) == (200, "image/png")
    assert image.content.startswith(b"\x89PNG")
    assert session.get(qr_code, timeout=10).content == image.content  # the same code, the same picture
    assert session.get(f"{sandbox.base_url}/sandbox/qr/join-way/nope.png", timeout=10).status_code == 404
    # The channel code QR route beside it still answers for channel codes only.
    assert session.get(f"{sandbox.base_url}/sandbox/qr/{config_id}.png", timeout=10).status_code == 404
    wx.post("externalcontact/groupchat/del_join_way", data={"config_id": config_id})
    assert session.get(qr_code, timeout=10).status_code == 404
    assert errcode(lambda: wx.post(GET, data={"config_id": config_id})) == 41044


def test_reading_a_group_writes_nothing(wx, sandbox, members):
    """groupchat/get is a read: it leaves the sandbox's state as it found it."""
    chat_id = next(iter(sandbox.state.groups))
    sandbox.state.ext.pop(MEMBER_STATES, None)
    members(chat_id)
    assert MEMBER_STATES not in sandbox.state.ext


def test_a_new_group_is_owned_by_the_first_live_groups_owner(wx, sandbox):
    """The way's first group was dismissed: the group WeCom opens is the next live one's owner's."""
    chats = sandbox.state.groups
    first = next(iter(chats))
    second = next(c for c in chats if chats[c].owner != chats[first].owner)
    config_id = add_way(wx, [first, second])
    fill(sandbox, second)
    control(sandbox, "simulate/group-dismiss", {"chat_id": first})
    joined = control(sandbox, "simulate/group-join", {"config_id": config_id})
    assert joined["created"] is True
    assert chats[joined["chat_id"]].owner == chats[second].owner


def test_a_way_whose_groups_were_all_dismissed_refuses_the_scan(wx, sandbox):
    first = next(iter(sandbox.state.groups))
    config_id = add_way(wx, [first])
    control(sandbox, "simulate/group-dismiss", {"chat_id": first})
    refused = control(sandbox, "simulate/group-join", {"config_id": config_id}, status=400)
    assert refused["errcode"] == 40050
    # A list emptied or naming a group the sandbox never had: the same answer, not a crash.
    for chat_ids in ([], ["wrNOSUCHCHAT"]):
        sandbox.state.join_ways[config_id]["chat_id_list"] = chat_ids
        assert (
            control(sandbox, "simulate/group-join", {"config_id": config_id}, status=400)["errcode"] == 40050
        )
