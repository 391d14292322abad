"""Channel codes in the sandbox: the QR image behind ``qr_code``, and customers scanning a code
(``simulate/customer-add`` by ``config_id`` or ``state``: round robin over the code's members, the
code's State and a WelcomeCode in the callback) — wecom-api.md §5, §6."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from wechatpy.exceptions import WeChatClientException

from scrm.wecom.sandbox import Sandbox
from scrm.wecom.sandbox.endpoints_core import add_contact_way
from scrm.wecom.sandbox.registry import SandboxRequest
from tests.wecom.conftest import SMALL_CORP

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SALES_CENTRE = 2  # 销售中心, parent of 华东销售部 (3) and 华南销售部 (4) in every generated corp
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1, never a proxy


def fetch(request: str | urllib.request.Request) -> tuple[int, str, bytes]:
    """A plain request (a URL: GET): (HTTP status, Content-Type, body), 4xx included."""
    try:
        with _DIRECT.open(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read()


def control(sandbox: Sandbox, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST to the control API: (HTTP status, JSON answer), 4xx included."""
    request = urllib.request.Request(
        f"{sandbox.base_url}/sandbox/{path}", data=json.dumps(body).encode(), method="POST"
    )
    status, _, content = fetch(request)
    return status, json.loads(content)


def contact_users(sandbox: Sandbox) -> list[str]:
    return [s.userid for s in sandbox.state.staff.values() if s.has_contact_permission and s.status == 1]


def in_departments(sandbox: Sandbox, *department_ids: int) -> list[str]:
    return [u for u in contact_users(sandbox) if set(sandbox.state.staff[u].department) & set(department_ids)]


# -- the QR image ------------------------------------------------------------------------------------


def test_qr_code_is_a_png_the_sandbox_serves_until_the_code_is_deleted(sandbox, wx):
    ec = wx.external_contact
    added = ec.add_contact_way(2, 2, state="ch_qr", user=contact_users(sandbox)[:2])
    config_id = added["config_id"]
    assert added["qr_code"] == f"{sandbox.base_url}/sandbox/qr/{config_id}.png"
    assert ec.get_contact_way(config_id)["contact_way"]["qr_code"] == added["qr_code"]

    status, content_type, image = fetch(added["qr_code"])
    assert (status, content_type) == (200, "image/png")
    assert image.startswith(PNG_SIGNATURE)
    width, height = int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")  # IHDR
    assert width == height >= 200
    assert fetch(added["qr_code"])[2] == image  # the same code, the same picture

    other = ec.add_contact_way(2, 2, state="ch_other", user=contact_users(sandbox)[:1])
    assert fetch(other["qr_code"])[2] != image

    ec.del_contact_way(config_id)
    status, content_type, body = fetch(added["qr_code"])
    assert (status, content_type) == (404, "application/json; charset=utf-8")
    assert config_id in json.loads(body)["error"]


def test_no_qr_image_for_mini_program_codes_or_unknown_paths(sandbox, wx):
    mini = wx.external_contact.add_contact_way(1, 1, user=contact_users(sandbox)[:1])
    assert "qr_code" not in mini
    for path in (f"{mini['config_id']}.png", "0" * 32 + ".png", mini["config_id"], ""):
        assert fetch(f"{sandbox.base_url}/sandbox/qr/{path}")[0] == 404


def test_generated_codes_have_served_qr_images_too(sandbox, wx):
    config_id = next(iter(sandbox.state.contact_ways))
    qr_code = wx.external_contact.get_contact_way(config_id)["contact_way"]["qr_code"]
    assert qr_code.startswith(sandbox.base_url)
    assert fetch(qr_code)[0] == 200


def test_an_unserved_sandbox_answers_a_qpic_shaped_url():
    sandbox = Sandbox(**SMALL_CORP)
    request = SandboxRequest(
        "POST",
        "externalcontact/add_contact_way",
        {},
        {"type": 1, "scene": 2, "user": contact_users(sandbox)[:1]},
    )
    with sandbox.state.lock:
        answer = add_contact_way(sandbox, request)
    assert answer["qr_code"].startswith("https://wework.qpic.cn/wwpic/")


def test_qr_urls_and_the_round_robin_survive_a_reload(tmp_path, sandbox_factory, wx_for):
    data_file = tmp_path / "corp.pickle"
    first = sandbox_factory(data_file=data_file)
    users = contact_users(first)[:2]
    added = wx_for(first).external_contact.add_contact_way(2, 2, user=users)
    assert control(first, "simulate/customer-add", {"config_id": added["config_id"]})[1]["userid"] == users[0]
    first.shutdown()

    second = sandbox_factory(data_file=data_file)
    qr_code = wx_for(second).external_contact.get_contact_way(added["config_id"])["contact_way"]["qr_code"]
    assert qr_code == f"{second.base_url}/sandbox/qr/{added['config_id']}.png"
    status, content_type, image = fetch(qr_code)
    assert (status, content_type) == (200, "image/png")
    assert image.startswith(PNG_SIGNATURE)
    scan = control(second, "simulate/customer-add", {"config_id": added["config_id"]})[1]
    assert scan["userid"] == users[1]  # the round robin went on where it stood


# -- a customer scans a code -------------------------------------------------------------------------


def test_scans_by_config_id_go_round_robin_over_users_and_department_members(
    sandbox_factory, wx_for, callback_receiver
):
    receiver = callback_receiver()
    sandbox = sandbox_factory(callback_url=receiver.url)
    outsiders = [u for u in contact_users(sandbox) if u not in in_departments(sandbox, 2, 3, 4)]
    sales = in_departments(sandbox, 2, 3, 4)  # the sales centre and its sub-departments
    assert outsiders
    assert len(sales) >= 3
    users = [outsiders[0], sales[0]]  # a user also in the department is reached once per round
    added = wx_for(sandbox).external_contact.add_contact_way(
        2, 2, state="ch_round", user=users, party=[SALES_CENTRE]
    )
    with sandbox.state.lock:  # a member who lost the customer-contact permission is skipped
        sandbox.state.staff[sales[-1]].has_contact_permission = False
    members = [*users, *sales[1:-1]]

    picked = []
    for _ in range(2 * len(members)):
        status, scan = control(sandbox, "simulate/customer-add", {"config_id": added["config_id"]})
        assert status == 200
        assert scan["state"] == "ch_round"
        picked.append(scan["userid"])
    assert picked == members * 2
    assert set(picked) - set(users)  # department members took customers too

    events = receiver.events()
    assert [e["UserID"] for e in events] == picked
    assert {e["State"] for e in events} == {"ch_round"}
    assert all(e["ChangeType"] == "add_external_contact" and e["WelcomeCode"] for e in events)


def test_a_scan_by_state_carries_state_and_a_welcome_code_usable_once(
    sandbox_factory, wx_for, callback_receiver
):
    receiver = callback_receiver()
    sandbox = sandbox_factory(callback_url=receiver.url)
    wx = wx_for(sandbox)
    user = contact_users(sandbox)[0]
    wx.external_contact.add_contact_way(1, 2, state="ch_poster", user=[user])

    status, scan = control(sandbox, "simulate/customer-add", {"state": "ch_poster", "name": "扫码客户"})
    assert status == 200
    [event] = receiver.events()
    assert (event["UserID"], event["ExternalUserID"], event["State"]) == (
        user,
        scan["external_userid"],
        "ch_poster",
    )
    assert event["WelcomeCode"] == scan["welcome_code"]
    follow = wx.external_contact.get(scan["external_userid"])["follow_user"][0]
    assert (follow["userid"], follow["state"], follow["add_way"]) == (user, "ch_poster", 1)

    message = {"welcome_code": event["WelcomeCode"], "text": {"content": "你好，扫码客户"}}
    assert wx.external_contact.send_welcome_msg(message)["errcode"] == 0
    with pytest.raises(WeChatClientException) as used:
        wx.external_contact.send_welcome_msg(message)
    assert used.value.errcode == 41051


def test_a_scan_with_a_userid_lands_on_that_member_of_the_code(sandbox, wx):
    first, second, stranger = contact_users(sandbox)[:3]
    added = wx.external_contact.add_contact_way(2, 2, state="ch_pair", user=[first, second])
    status, scan = control(
        sandbox, "simulate/customer-add", {"config_id": added["config_id"], "userid": second}
    )
    assert (status, scan["userid"], scan["state"]) == (200, second, "ch_pair")
    # Explicit picks do not move the round robin.
    assert control(sandbox, "simulate/customer-add", {"config_id": added["config_id"]})[1]["userid"] == first

    status, answer = control(
        sandbox, "simulate/customer-add", {"config_id": added["config_id"], "userid": stranger}
    )
    assert status == 400
    assert "not among the members" in answer["error"]


def test_a_plain_add_with_userid_and_state_looks_no_code_up(sandbox):
    user = contact_users(sandbox)[0]
    status, added = control(sandbox, "simulate/customer-add", {"userid": user, "state": "no_such_code"})
    assert (status, added["userid"], added["state"]) == (200, user, "no_such_code")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"config_id": "0" * 32}, "unknown config_id"),
        ({"config_id": 7}, "unknown config_id"),
        ({"state": "no_such_code"}, "no channel code has state"),
        ({"config_id": "<the code>", "state": "another"}, "has state 'ch_twice'"),
        ({"state": "ch_twice"}, "2 channel codes have state"),
    ],
)
def test_scans_of_unknown_or_ambiguous_codes_are_refused(sandbox, wx, body, error):
    users = contact_users(sandbox)
    config_id = wx.external_contact.add_contact_way(1, 2, state="ch_twice", user=users[:1])["config_id"]
    wx.external_contact.add_contact_way(1, 2, state="ch_twice", user=users[1:2])
    if body.get("config_id") == "<the code>":
        body = {**body, "config_id": config_id}
    before = len(sandbox.state.contacts)
    status, answer = control(sandbox, "simulate/customer-add", body)
    assert status == 400
    assert error in answer["error"]
    assert len(sandbox.state.contacts) == before


def test_a_code_whose_members_all_left_refuses_scans(sandbox, wx):
    user = contact_users(sandbox)[0]
    config_id = wx.external_contact.add_contact_way(1, 2, user=[user])["config_id"]
    with sandbox.state.lock:
        sandbox.state.staff[user].status = 5
    status, answer = control(sandbox, "simulate/customer-add", {"config_id": config_id})
    assert status == 400
    assert "no member who can take customers" in answer["error"]
