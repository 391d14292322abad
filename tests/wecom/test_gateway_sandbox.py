"""The gateway (our client and typed methods) against the sandbox: every endpoint family, the retry
policy on real faults, the concurrency cap, the connection test, and callbacks end to end."""

from __future__ import annotations

import threading
import time
import zlib

import pytest

from contacts.models import Follow
from scrm.tenancy import services as tenancy_services
from scrm.tenancy.context import tenant_context
from scrm.wecom import client as client_module
from scrm.wecom.api import WeComAPI
from scrm.wecom.client import WeComClient
from scrm.wecom.errors import WeComError, WeComRateLimitedError
from scrm.wecom.models import CallbackEvent
from scrm.wecom.ratelimit import get_limiter
from tests.helpers import connect_tenant, sandbox_control


def png() -> bytes:
    """A real 1×1 PNG: the sandbox checks uploads are what they claim to be."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0\0\0\0"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def gw(sandbox, db, monkeypatch):
    monkeypatch.setattr(client_module, "backoff", lambda attempt: 0)
    client = WeComClient(
        corp_id=sandbox.corp_id,
        secret=sandbox.secret,
        api_base=f"{sandbox.base_url}/cgi-bin/",
        timeout=10,
        limiter=get_limiter(),
    )
    return WeComAPI(client)


def a_follow(sandbox) -> tuple[str, str]:
    """(staff userid, external_userid) of an existing follow."""
    contact = next(c for c in sandbox.state.contacts.values() if c.follows)
    return next(iter(contact.follows)), contact.external_userid


# --- every endpoint family through the typed methods -------------------------------------


def test_staff_and_departments(gw, sandbox):
    departments = gw.department_list()["department"]
    assert [d["id"] for d in gw.department_simplelist()["department_id"]] == [d["id"] for d in departments]
    # user/list answers one department's own members: the whole staff takes a walk of the tree.
    members = {u["userid"] for d in departments for u in gw.user_list(d["id"])["userlist"]}
    assert members == {userid for userid, s in sandbox.state.staff.items() if s.status != 5}
    userid = sorted(members)[0]
    assert gw.user_get(userid)["name"] == sandbox.state.staff[userid].name


def test_contacts_full_walk_with_batch_get_by_user(gw, sandbox):
    staff = gw.get_follow_user_list()["follow_user"]
    expected = sum(len([u for u in c.follows if u in staff]) for c in sandbox.state.contacts.values())
    seen, cursor, calls = set(), "", 0
    while True:
        page = gw.batch_get_by_user(staff, cursor=cursor, limit=100)
        calls += 1
        for item in page["external_contact_list"]:
            seen.add((item["follow_info"]["userid"], item["external_contact"]["external_userid"]))
        cursor = page.get("next_cursor", "")
        if not cursor:
            break
    assert len(seen) == expected
    assert calls == -(-expected // 100)  # ⌈follows / 100⌉: never one call per customer
    userid, external_userid = a_follow(sandbox)
    assert gw.get_external_contact(external_userid)["external_contact"]["external_userid"] == external_userid
    assert external_userid in gw.list_external_contacts(userid)["external_userid"]
    gw.remark(userid=userid, external_userid=external_userid, remark="VIP", description="met at the fair")
    assert sandbox.state.contacts[external_userid].follows[userid].remark == "VIP"


def test_corp_tags_round_trip(gw, sandbox):
    created = gw.add_corp_tag(group_name="网关测试", tags=[{"name": "甲"}, {"name": "乙"}])["tag_group"]
    tag_ids = [t["id"] for t in created["tag"]]
    gw.edit_corp_tag(id=tag_ids[0], name="甲一")
    groups = gw.get_corp_tag_list(group_id=[created["group_id"]])["tag_group"]
    assert [t["name"] for t in groups[0]["tag"]] == ["甲一", "乙"]
    userid, external_userid = a_follow(sandbox)
    gw.mark_tag(userid=userid, external_userid=external_userid, add_tag=tag_ids)
    assert set(tag_ids) <= set(sandbox.state.contacts[external_userid].follows[userid].tag_ids)
    gw.del_corp_tag(group_id=[created["group_id"]])
    assert created["group_id"] not in {g["group_id"] for g in gw.get_corp_tag_list()["tag_group"]}
    # Asked by its id, WeCom answers the deleted group flagged, with its tags flagged too.
    [gone] = gw.get_corp_tag_list(group_id=[created["group_id"]])["tag_group"]
    assert gone["deleted"] is True
    assert {(t["id"], t["deleted"]) for t in gone["tag"]} == {(t, True) for t in tag_ids}


def test_groups_and_join_ways(gw):
    chats = gw.groupchat_list(limit=1000)["group_chat_list"]
    detail = gw.groupchat_get(chats[0]["chat_id"], need_name=True)["group_chat"]
    assert detail["member_list"]
    way = gw.add_join_way(
        {"scene": 2, "chat_id_list": [chats[0]["chat_id"]], "state": "gw_join", "auto_create_room": 0}
    )
    assert gw.get_join_way(way["config_id"])["join_way"]["state"] == "gw_join"
    gw.del_join_way(way["config_id"])
    yesterday = int(time.time()) // 86400 * 86400 - 86400
    assert "items" in gw.groupchat_statistic_group_by_day(
        {
            "day_begin_time": yesterday - 6 * 86400,
            "day_end_time": yesterday,
            "owner_filter": {"userid_list": [detail["owner"]]},
        }
    )


def test_channel_codes_and_welcome_messages(gw, sandbox):
    userid, _ = a_follow(sandbox)
    way = gw.add_contact_way({"type": 1, "scene": 2, "user": [userid], "state": "gw_channel"})
    assert gw.get_contact_way(way["config_id"])["contact_way"]["state"] == "gw_channel"
    gw.update_contact_way({"config_id": way["config_id"], "remark": "updated"})
    assert way["config_id"] in [w["config_id"] for w in gw.list_contact_way()["contact_way"]]
    gw.del_contact_way(way["config_id"])
    added = sandbox_control(sandbox, "simulate/customer-add", {"userid": userid, "state": "gw_channel"})
    gw.send_welcome_msg(welcome_code=added["welcome_code"], text="你好")
    with pytest.raises(WeComError) as exc:
        gw.send_welcome_msg(welcome_code=added["welcome_code"], text="again")
    assert exc.value.errcode == 41051
    template = gw.group_welcome_template_add({"text": {"content": "欢迎 %NICKNAME%"}})["template_id"]
    assert gw.group_welcome_template_get(template)["text"]["content"] == "欢迎 %NICKNAME%"
    gw.group_welcome_template_del(template)


def test_mass_messages_moments_and_behaviour(gw, sandbox):
    userid, external_userid = a_follow(sandbox)
    msg = gw.add_msg_template({"chat_type": "single", "sender": userid, "external_userid": [external_userid],
                               "text": {"content": "双十一"}})  # fmt: skip
    assert msg["msgid"]
    assert gw.get_groupmsg_task(msgid=msg["msgid"])["task_list"]
    cover = gw.upload_media(media_type="image", filename="cover.png", content=png())
    assert cover["type"] == "image"
    image = {"msgtype": "image", "image": {"media_id": cover["media_id"]}}
    with_image = {
        "chat_type": "single",
        "sender": userid,
        "external_userid": [external_userid],
        "attachments": [image],
    }
    assert gw.add_msg_template(with_image)["msgid"]
    media = gw.upload_attachment(media_type="image", filename="a.png", content=png())["media_id"]
    job = gw.add_moment_task({"text": {"content": "新品"}, "attachments": [{"msgtype": "image",
                              "image": {"media_id": media}}]})["jobid"]  # fmt: skip
    assert gw.get_moment_task_result(job)["status"] in (1, 2, 3)
    now = int(time.time())
    assert "moment_list" in gw.get_moment_list({"start_time": now - 20 * 86400, "end_time": now})
    behaviour = gw.get_user_behavior_data(userid=[userid], start_time=now - 7 * 86400, end_time=now - 86400)
    assert behaviour["behavior_data"]


def test_customer_transfers(gw, sandbox):
    staff = gw.get_follow_user_list()["follow_user"]
    handover = next(u for u in staff if any(u in c.follows for c in sandbox.state.contacts.values()))
    takeover = next(u for u in staff if u != handover)
    customer = next(c.external_userid for c in sandbox.state.contacts.values() if handover in c.follows)
    result = gw.transfer_customer(
        handover_userid=handover, takeover_userid=takeover, external_userid=[customer]
    )
    assert result["customer"][0]["errcode"] == 0
    status = gw.transfer_result(handover_userid=handover, takeover_userid=takeover)["customer"]
    assert status[0]["status"] == 2  # waiting (WeCom completes transfers after 24 h)
    assert "info" in gw.get_unassigned_list()


# --- retry policy on the sandbox's faults ---------------------------------------------------


def test_token_expiry_mid_run_costs_one_refetch(gw, sandbox):
    gw.get_follow_user_list()
    tokens_before = sandbox.calls["gettoken"]
    sandbox.expire_tokens()
    assert gw.get_follow_user_list()["follow_user"]
    assert sandbox.calls["gettoken"] == tokens_before + 1


def test_busy_and_rate_limit_faults_are_bounded(gw, sandbox):
    sandbox.set_faults({"apis": {"externalcontact/get_follow_user_list": {"errors": {"-1": 1.0}}}})
    before = sandbox.calls["externalcontact/get_follow_user_list"]
    with pytest.raises(WeComError) as exc:
        gw.get_follow_user_list()
    assert exc.value.errcode == -1
    assert sandbox.calls["externalcontact/get_follow_user_list"] - before == 4
    sandbox.set_faults({"apis": {"externalcontact/get_corp_tag_list": {"errors": {"45009": 1.0}}}})
    with pytest.raises(WeComRateLimitedError):
        gw.get_corp_tag_list()
    with pytest.raises(WeComRateLimitedError):
        gw.get_corp_tag_list()
    assert sandbox.calls["externalcontact/get_corp_tag_list"] == 1


def _parallel_mark_tags(gw, sandbox, calls: int = 24) -> tuple[int, list]:
    """mark_tag from many threads at once; returns how many 45033 the sandbox answered, and the
    errors callers got (after the client's own retries)."""
    refused = []
    enter = sandbox.faults.enter

    def counting_enter(api, limit):
        admitted = enter(api, limit)
        if not admitted:
            refused.append(api)
        return admitted

    sandbox.faults.enter = counting_enter
    tag = next(iter(sandbox.state.tags))
    pairs = [(u, c.external_userid) for c in sandbox.state.contacts.values() for u in c.follows][:calls]
    errors = []
    # All threads call at the same instant: on a loaded machine, threads started one by one could
    # finish before the next starts, and the control experiment would see no overlap at all.
    start = threading.Barrier(len(pairs))

    def call(userid, external_userid):
        start.wait(timeout=30)
        try:
            gw.mark_tag(userid=userid, external_userid=external_userid, add_tag=[tag])
        except WeComError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(refused), errors


def test_the_concurrency_cap_keeps_wecom_from_answering_45033(gw, sandbox, settings):
    sandbox.set_faults({"apis": {"externalcontact/mark_tag": {"concurrency": 4, "latency_ms": 40}}})
    settings.WECOM_CONCURRENCY_OVERRIDES = {"externalcontact/mark_tag": 4}
    assert _parallel_mark_tags(gw, sandbox) == (0, [])


def test_without_the_cap_wecom_does_answer_45033(gw, sandbox, settings):
    """The control experiment: the previous test would fail if the cap did nothing."""
    # Each call holds its slot 0.4 s: even threads a loaded machine starts one by one overlap past 4.
    sandbox.set_faults({"apis": {"externalcontact/mark_tag": {"concurrency": 4, "latency_ms": 400}}})
    settings.WECOM_CONCURRENCY_OVERRIDES = {"externalcontact/mark_tag": 50}
    refused, _ = _parallel_mark_tags(gw, sandbox)
    assert refused > 0


# --- the product around it: connection test and callbacks, end to end --------------------


def test_connection_test_against_the_sandbox(alice_client, tenant_a, sandbox):
    connect_tenant(tenant_a, sandbox)
    body = alice_client.post("/api/v1/wecom/test-connection/").json()
    assert body["ok"] is True, body
    sandbox.set_faults({"apis": {"externalcontact/groupchat/list": {"errors": {"48002": 1.0}}}})
    body = alice_client.post("/api/v1/wecom/test-connection/").json()
    assert [c["check"] for c in body["checks"] if not c["ok"]] == ["groups"]


@pytest.mark.django_db(transaction=True)
def test_callbacks_from_the_sandbox_reach_the_inbox(live_server, sandbox):
    tenant = tenancy_services.tenant_create(slug="live", name="Live")
    connect_tenant(tenant, sandbox)
    sandbox.callback_url = f"{live_server.url}/wecom/callback/live/"
    assert sandbox.verify_callback_url()["verified"] is True
    userid, _ = a_follow(sandbox)
    added = sandbox_control(sandbox, "simulate/customer-add", {"userid": userid, "state": "ch_live"})
    assert added["callback"]["delivered"] is True
    with tenant_context(tenant):
        [event] = CallbackEvent.objects.all()
    assert event.payload["ExternalUserID"] == added["external_userid"]
    assert event.payload["State"] == "ch_live"
    assert event.payload["WelcomeCode"] == added["welcome_code"]
    assert event.status == "done", event.last_error  # contacts.handlers re-read the customer
    with tenant_context(tenant):
        follow = Follow.objects.select_related("contact", "staff").get(
            contact__external_userid=added["external_userid"]
        )
    assert (follow.staff.userid, follow.state) == (userid, "ch_live")
