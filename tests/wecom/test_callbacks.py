"""The callback receiver and the inbox: verify, decrypt, store once, answer; then process, retry, park."""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
import time_machine
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.enterprise.crypto import WeChatCrypto

from scrm.tenancy.context import tenant_context
from scrm.wecom import handlers, services
from scrm.wecom.models import CallbackEvent, EventStatus

TOKEN = "SiyuTestToken1"
AES_KEY = base64.b64encode(b"k" * 32).decode().rstrip("=")  # 43 characters
URL = "/wecom/callback/tenant-a/"

# WeCom's own sample from its WXBizMsgCrypt documentation (DOC 90968): an answer computed by WeCom,
# not by the code under test.
DOC_TOKEN, DOC_AES_KEY, DOC_CORP = (
    "QDG6eK",
    "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
    "wx5823bf96d3bd56c7",
)
DOC_ECHO = {
    "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "timestamp": "1409659589",
    "nonce": "263014780",
    "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
}
DOC_ECHO_PLAIN = "1616140317555161061"
DOC_MESSAGE_QUERY = {"msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6", "timestamp": "1409659813",
                     "nonce": "1372623149"}  # fmt: skip
DOC_MESSAGE = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo"
    "+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpG"
    "LYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izo"
    "un1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS"
    "9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
    "]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
)


class PlainWXBizMsgCrypt:
    """WeCom's scheme written from its documentation with raw AES, independent of wechatpy."""

    def __init__(self, token: str, aes_key: str, corp_id: str):
        self.token, self.corp_id = token, corp_id
        self.key = base64.b64decode(aes_key + "=")

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return hashlib.sha1("".join(sorted([self.token, timestamp, nonce, encrypt])).encode()).hexdigest()

    def encrypt(self, message: str) -> str:
        raw = (
            os.urandom(16)
            + struct.pack(">I", len(message.encode()))
            + message.encode()
            + self.corp_id.encode()
        )
        pad = 32 - len(raw) % 32
        raw += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(encryptor.update(raw) + encryptor.finalize()).decode()

    def decrypt(self, encrypt: str) -> tuple[str, str]:
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        raw = decryptor.update(base64.b64decode(encrypt)) + decryptor.finalize()
        raw = raw[: -raw[-1]]
        length = struct.unpack(">I", raw[16:20])[0]
        return raw[20 : 20 + length].decode(), raw[20 + length :].decode()


def event_xml(corp_id: str = "wwA", **fields) -> str:
    fields = {"Event": "change_external_contact", "ChangeType": "add_external_contact", **fields}
    body = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    return (
        f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>{body}</xml>"
    )


def envelope(plain: PlainWXBizMsgCrypt, message: str, *, corp_id: str = "wwA") -> tuple[str, bytes]:
    encrypt = plain.encrypt(message)
    timestamp, nonce = str(int(time.time())), "12345"
    query = {
        "msg_signature": plain.signature(timestamp, nonce, encrypt),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    body = f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><AgentID>1000002</AgentID>"
    body += f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return urlencode(query), body.encode()


@pytest.fixture
def configured(tenant_a):
    tenant_a.callback_token = TOKEN
    tenant_a.encoding_aes_key = AES_KEY
    tenant_a.save()
    return tenant_a


@pytest.fixture
def plain():
    return PlainWXBizMsgCrypt(TOKEN, AES_KEY, "wwA")


@pytest.fixture
def post(client):
    def send(query: str, body: bytes):
        return client.generic("POST", f"{URL}?{query}", body, content_type="text/xml")

    return send


@pytest.fixture
def recorded(monkeypatch):
    """A handler for add_external_contact that records what it was given (and can be told to fail)."""
    seen = []
    behaviour = {"fail": 0}

    def handler(*, tenant, event):
        seen.append((tenant.slug, event.payload["ExternalUserID"]))
        if behaviour["fail"]:
            behaviour["fail"] -= 1
            raise RuntimeError("handler failed")

    monkeypatch.setitem(handlers._handlers, ("change_external_contact", "add_external_contact"), handler)
    return seen, behaviour


def events(tenant):
    with tenant_context(tenant):
        return list(CallbackEvent.objects.order_by("id"))


# --- crypto ------------------------------------------------------------------------------


def test_wechatpy_matches_wecoms_documented_vectors():
    crypto = WeChatCrypto(DOC_TOKEN, DOC_AES_KEY, DOC_CORP)
    assert crypto.check_signature(*DOC_ECHO.values()) == DOC_ECHO_PLAIN
    message = crypto.decrypt_message(DOC_MESSAGE, *DOC_MESSAGE_QUERY.values())
    assert "<MsgId>4561255354251345929</MsgId>" in message
    # ...and so does the independent implementation used below.
    plain = PlainWXBizMsgCrypt(DOC_TOKEN, DOC_AES_KEY, DOC_CORP)
    assert plain.decrypt(DOC_ECHO["echostr"]) == (DOC_ECHO_PLAIN, DOC_CORP)


def test_crypto_interoperates_both_ways(plain):
    crypto = WeChatCrypto(TOKEN, AES_KEY, "wwA")
    query, body = envelope(plain, event_xml(ExternalUserID="wm1"))
    params = dict(pair.split("=") for pair in query.split("&"))
    assert "wm1" in crypto.decrypt_message(
        body.decode(), params["msg_signature"], params["timestamp"], "12345"
    )
    reply = crypto.encrypt_message("<xml>hello</xml>", "777", "1409659813")
    encrypt = reply.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    assert plain.decrypt(encrypt) == ("<xml>hello</xml>", "wwA")


# --- URL verification --------------------------------------------------------------------


def test_url_verification_answers_the_decrypted_echostr(client, configured, plain):
    encrypt = plain.encrypt("echo-4242")
    query = {
        "msg_signature": plain.signature("1", "2", encrypt),
        "timestamp": "1",
        "nonce": "2",
        "echostr": encrypt,
    }
    response = client.get(URL, query)
    assert response.status_code == 200
    assert response.content == b"echo-4242"
    assert response["Content-Type"].startswith("text/plain")


def test_url_verification_with_wecoms_documented_request(client, tenant_a):
    tenant_a.corp_id, tenant_a.callback_token, tenant_a.encoding_aes_key = DOC_CORP, DOC_TOKEN, DOC_AES_KEY
    tenant_a.save()
    response = client.get(URL, DOC_ECHO)
    assert (response.status_code, response.content.decode()) == (200, DOC_ECHO_PLAIN)


def test_url_verification_with_a_bad_signature_is_refused(client, configured, plain):
    encrypt = plain.encrypt("echo")
    response = client.get(
        URL, {"msg_signature": "0" * 40, "timestamp": "1", "nonce": "2", "echostr": encrypt}
    )
    assert response.status_code == 403
    assert b"echo" not in response.content


# --- receiving events --------------------------------------------------------------------


def test_event_is_stored_processed_and_answered(configured, plain, post, recorded):
    seen, _ = recorded
    response = post(*envelope(plain, event_xml(UserID="zhangsan", ExternalUserID="wm1", State="ch_1")))
    assert response.status_code == 200
    [event] = events(configured)
    assert (event.event, event.change_type, event.status) == (
        "change_external_contact",
        "add_external_contact",
        "done",
    )
    assert event.payload["State"] == "ch_1"
    assert seen == [("tenant-a", "wm1")]


def test_a_replayed_body_is_stored_and_handled_once(configured, plain, post, recorded):
    seen, _ = recorded
    message = event_xml(ExternalUserID="wm1")
    query, body = envelope(plain, message)
    assert post(query, body).status_code == 200
    assert post(query, body).status_code == 200
    # WeCom's retry of the same message, encrypted again (new random prefix): still the same event.
    assert post(*envelope(plain, message)).status_code == 200
    assert len(events(configured)) == 1
    assert seen == [("tenant-a", "wm1")]


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda q, b: (q.replace("msg_signature=", "msg_signature=0"), b), 403),
        (
            lambda q, b: (q, b.replace(b"<Encrypt>", b"<Encrypted>").replace(b"</Encrypt>", b"</Encrypted>")),
            400,
        ),
        (lambda q, b: (q, b"not xml at all"), 400),
        (lambda q, b: (q, b"<xml><Encrypt><![CDATA[!!!]]></Encrypt></xml>"), 403),
    ],
    ids=["bad-signature", "no-encrypt-element", "not-xml", "garbage-ciphertext"],
)
def test_bad_deliveries_get_a_4xx_and_store_nothing(configured, plain, post, mutate, status):
    query, body = mutate(*envelope(plain, event_xml(ExternalUserID="wm1")))
    assert post(query, body).status_code == status
    assert events(configured) == []


def test_a_message_for_another_corp_is_refused(configured, post):
    other = PlainWXBizMsgCrypt(TOKEN, AES_KEY, "wwOTHER")
    assert post(*envelope(other, event_xml(corp_id="wwOTHER"))).status_code == 403
    assert events(configured) == []


def test_a_signed_message_that_is_not_an_event_is_refused(configured, plain, post):
    query, body = envelope(plain, "<xml><ToUserName>wwA</ToUserName><MsgType>text</MsgType></xml>")
    assert post(query, body).status_code == 400
    assert events(configured) == []


def test_oversized_body_is_413(configured, plain, post, settings):
    settings.WECOM_CALLBACK_MAX_BYTES = 200
    query, body = envelope(plain, event_xml(ExternalUserID="x" * 300))
    assert post(query, body).status_code == 413
    assert events(configured) == []


def test_unknown_events_are_stored_and_ignored(configured, plain, post):
    # batch_job_result (an async contact-book import finished) is a real event Siyu does not handle.
    xml = event_xml(Event="batch_job_result", ChangeType="", JobId="job1")
    assert post(*envelope(plain, xml)).status_code == 200
    [event] = events(configured)
    assert event.status == EventStatus.IGNORED


# --- processing, retries, parking, replay --------------------------------------------------


def test_a_failing_event_is_retried_then_parked_and_can_be_replayed(
    configured, plain, post, recorded, settings, django_capture_on_commit_callbacks
):
    seen, behaviour = recorded
    settings.WECOM_EVENT_MAX_ATTEMPTS = 3
    behaviour["fail"] = 10
    assert post(*envelope(plain, event_xml(ExternalUserID="wm9"))).status_code == 200
    [event] = events(configured)
    # Eager Celery runs the retries at once: three attempts, then parked with the error kept.
    assert (event.status, event.attempts) == (EventStatus.PARKED, 3)
    assert "handler failed" in event.last_error
    assert len(seen) == 3

    behaviour["fail"] = 0
    with tenant_context(configured), django_capture_on_commit_callbacks(execute=True):
        services.callback_event_replay(event=event)
    [event] = events(configured)
    assert (event.status, event.attempts, event.last_error) == (EventStatus.DONE, 1, "")
    assert len(seen) == 4


def test_processing_claims_once(configured, plain, post, recorded):
    seen, _ = recorded
    post(*envelope(plain, event_xml(ExternalUserID="wm5")))
    [event] = events(configured)
    with tenant_context(configured):
        services.callback_event_process(tenant=configured, event_id=event.pk)  # a duplicate task delivery
    assert seen == [("tenant-a", "wm5")]


def test_out_of_order_events_all_reach_their_handlers(configured, plain, post, recorded, monkeypatch):
    """Handlers, not arrival order, decide the result: each event is stored and handled exactly once."""
    seen, _ = recorded
    later = event_xml(ChangeType="add_external_contact", ExternalUserID="wm2", CreateTime="200")
    earlier = event_xml(ChangeType="add_external_contact", ExternalUserID="wm1", CreateTime="100")
    post(*envelope(plain, later))
    post(*envelope(plain, earlier))
    assert sorted(seen) == [("tenant-a", "wm1"), ("tenant-a", "wm2")]
    assert {e.status for e in events(configured)} == {EventStatus.DONE}


def test_the_sweeper_requeues_events_left_pending(configured, plain, recorded, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    seen, _ = recorded
    fields = {
        "Event": "change_external_contact",
        "ChangeType": "add_external_contact",
        "ExternalUserID": "wm7",
    }
    with monkeypatch.context() as patch:
        patch.setattr(services, "_nudge_drain", lambda *args, **kwargs: None)  # the broker lost the message
        event_id = services.callback_event_receive(tenant=configured, plaintext="<xml>7</xml>", fields=fields)
    assert seen == []
    CallbackEvent.unscoped.filter(pk=event_id).update(received_at=timezone.now() - timedelta(minutes=5))
    assert services.callback_events_requeue_stale() == 1
    assert seen == [("tenant-a", "wm7")]


def test_a_changed_token_works_at_once_despite_the_key_cache(configured, plain, post, recorded):
    seen, _ = recorded
    assert post(*envelope(plain, event_xml(ExternalUserID="wm1"))).status_code == 200  # keys now cached
    configured.callback_token = "NewToken2"
    configured.save()
    fresh = PlainWXBizMsgCrypt("NewToken2", AES_KEY, "wwA")
    assert post(*envelope(fresh, event_xml(ExternalUserID="wm2"))).status_code == 200
    assert post(*envelope(plain, event_xml(ExternalUserID="wm3"))).status_code == 403  # the old token is dead
    assert [external for _, external in seen] == ["wm1", "wm2"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_drains_handle_each_event_once(tenant_a, monkeypatch):
    import threading
    import time

    from django.db import connection

    seen = []

    def slow_handler(*, tenant, event):
        time.sleep(0.002)  # long enough for the three drains to overlap
        seen.append(event.pk)

    monkeypatch.setitem(handlers._handlers, ("change_external_contact", "add_external_contact"), slow_handler)
    with tenant_context(tenant_a):
        for i in range(150):
            CallbackEvent.objects.create(
                dedupe_key=f"d{i}",
                event="change_external_contact",
                change_type="add_external_contact",
                payload={},
            )

    def drain():
        try:
            with tenant_context(tenant_a):
                services.callback_events_drain(tenant=tenant_a)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 150
    assert len(set(seen)) == 150
    assert set(CallbackEvent.unscoped.values_list("status", flat=True)) == {EventStatus.DONE}


def test_an_event_signed_for_one_tenant_is_refused_at_anothers_url(client, configured, tenant_b, plain):
    tenant_b.callback_token, tenant_b.encoding_aes_key = "TokenOfB", base64.b64encode(b"B" * 32).decode()[:43]
    tenant_b.save()
    query, body = envelope(plain, event_xml(ExternalUserID="wm1"))
    response = client.generic("POST", f"/wecom/callback/tenant-b/?{query}", body, content_type="text/xml")
    assert response.status_code == 403
    assert events(configured) == []
    assert events(tenant_b) == []


def test_a_drain_with_a_full_batch_queues_another_beside_it(tenant_a, monkeypatch):
    from scrm.wecom import tasks

    queued = []
    monkeypatch.setattr(tasks.drain_callback_events, "apply_async", lambda args: queued.append(args))
    with tenant_context(tenant_a):
        for i in range(services.DRAIN_BATCH + 5):
            CallbackEvent.objects.create(dedupe_key=f"f{i}", event="batch_job_result", payload={})
        assert services.callback_events_drain(tenant=tenant_a) == services.DRAIN_BATCH + 5
        assert set(CallbackEvent.objects.values_list("status", flat=True)) == {EventStatus.IGNORED}
    assert queued == [(tenant_a.id,)]  # after the full first batch, not after the partial second


# --- hostile but correctly signed input: always a 4xx, never stored (issues 14 and 20) ------------


def signed_query(plain: PlainWXBizMsgCrypt, encrypt: str, **extra: str) -> str:
    timestamp, nonce = str(int(time.time())), "12345"
    query = {
        "msg_signature": plain.signature(timestamp, nonce, encrypt),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    return urlencode({**query, **extra})


def aes_cbc(plain: PlainWXBizMsgCrypt, raw: bytes) -> str:
    """``raw`` encrypted as WeCom does, with no framing or padding added: the test builds those."""
    encryptor = Cipher(algorithms.AES(plain.key), modes.CBC(plain.key[:16])).encryptor()
    return base64.b64encode(encryptor.update(raw) + encryptor.finalize()).decode()


def framed(message: bytes, *, length: int | None = None, corp_id: bytes = b"wwA") -> bytes:
    raw = os.urandom(16) + struct.pack(">I", len(message) if length is None else length) + message + corp_id
    pad = 32 - len(raw) % 32
    return raw + bytes([pad]) * pad


def signed_body(plain: PlainWXBizMsgCrypt, encrypt: str) -> tuple[str, bytes]:
    body = f"<xml><ToUserName><![CDATA[wwA]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return signed_query(plain, encrypt), body.encode()


DTD_EVENT = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY who "wm-entity">]>'
    "<xml><ToUserName>wwA</ToUserName><Event>change_external_contact</Event>"
    "<ChangeType>add_external_contact</ChangeType><ExternalUserID>&who;</ExternalUserID></xml>"
)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\x00" * 32, id="garbage-plaintext"),  # struct.error in wechatpy: a 500
        pytest.param(framed(b"<xml/>", length=4000), id="length-past-the-end"),
        pytest.param(framed(b"<xml/>")[:-1] + b"\x00", id="bad-padding"),
        pytest.param(framed(DTD_EVENT.encode()), id="dtd-entity"),
        pytest.param(framed("<xml>\udcff</xml>".encode("utf-8", "surrogatepass")), id="not-utf8"),
    ],
)
def test_correctly_signed_malformed_ciphertext_is_400_and_stores_nothing(configured, plain, post, raw):
    response = post(*signed_body(plain, aes_cbc(plain, raw)))
    assert response.status_code == 400, response.content
    assert events(configured) == []


def test_correctly_signed_ciphertext_that_is_not_base64_is_400(configured, plain, post):
    assert post(*signed_body(plain, "not*base64!")).status_code == 400
    assert events(configured) == []


def test_a_dtd_in_the_envelope_is_400(configured, plain, post):
    query, body = envelope(plain, event_xml(ExternalUserID="wm1"))
    body = b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e "x">]>' + body
    assert post(query, body).status_code == 400
    assert events(configured) == []


@pytest.mark.parametrize("echostr", ["not*base64!", "!!!", "", base64.b64encode(b"\x01" * 32).decode()])
def test_a_correctly_signed_url_check_with_a_bad_echostr_is_400(client, configured, plain, echostr):
    response = client.get(f"{URL}?{signed_query(plain, echostr, echostr=echostr)}")
    assert response.status_code == 400, response.content


# --- replays: the timestamp is signed, and must be recent -----------------------------------


@pytest.mark.parametrize("age", [-3600, -301, 301, 86400])
def test_a_delivery_signed_outside_the_window_is_refused(configured, plain, post, recorded, age):
    seen, _ = recorded
    signed_at = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    with time_machine.travel(signed_at, tick=False):
        delivery = envelope(plain, event_xml(ExternalUserID="wm1"))
    with time_machine.travel(signed_at + timedelta(seconds=age), tick=False):
        assert post(*delivery).status_code == 403
    assert events(configured) == []
    assert seen == []


@pytest.mark.parametrize("age", [0, 20, 300, -300])
def test_a_delivery_signed_within_the_window_is_stored(configured, plain, post, recorded, age):
    seen, _ = recorded
    signed_at = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    with time_machine.travel(signed_at, tick=False):
        delivery = envelope(plain, event_xml(ExternalUserID="wm1"))
    with time_machine.travel(signed_at + timedelta(seconds=age), tick=False):
        assert post(*delivery).status_code == 200
    assert seen == [("tenant-a", "wm1")]


def test_a_timestamp_that_is_not_a_number_is_refused(configured, plain, post):
    encrypt = plain.encrypt(event_xml(ExternalUserID="wm1"))
    query = urlencode(
        {"msg_signature": plain.signature("soon", "1", encrypt), "timestamp": "soon", "nonce": "1"}
    )
    body = f"<xml><ToUserName>wwA</ToUserName><Encrypt>{encrypt}</Encrypt></xml>".encode()
    assert post(query, body).status_code == 400
    assert events(configured) == []


# --- nothing tells which tenants exist ------------------------------------------------------


def test_unknown_slug_unconfigured_tenant_and_bad_signature_answer_alike(client, configured, tenant_b, plain):
    query, body = envelope(plain, event_xml())
    forged = query.replace("msg_signature=", "msg_signature=0")
    answers = {
        (response.status_code, response.content)
        for response in (
            client.generic("POST", f"/wecom/callback/no-such-tenant/?{query}", body),
            client.generic("POST", f"/wecom/callback/tenant-b/?{query}", body),  # no callback keys
            client.generic("POST", f"{URL}?{forged}", body),
            client.get("/wecom/callback/no-such-tenant/", {"msg_signature": "0", "echostr": "x"}),
            client.get(URL, {"msg_signature": "0", "timestamp": "1", "nonce": "2", "echostr": "x"}),
        )
    }
    assert answers == {(403, b"signature check failed")}


def test_a_tenant_with_a_key_saved_before_it_was_checked_refuses_deliveries(client, tenant_a, plain):
    # 42 characters: refused by the settings now, but a row may hold one from before.
    tenant_a.callback_token, tenant_a.encoding_aes_key = TOKEN, AES_KEY[:-1]
    tenant_a.save()
    query, body = envelope(plain, event_xml(ExternalUserID="wm1"))
    response = client.generic("POST", f"{URL}?{query}", body, content_type="text/xml")
    assert (response.status_code, response.content) == (403, b"signature check failed")
    assert events(tenant_a) == []
