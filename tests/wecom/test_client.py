"""The gateway client's bounded retry policy, against a scripted WeCom that answers what a test says."""

from __future__ import annotations

import pytest

from scrm.wecom import client as client_module
from scrm.wecom.api import WeComAPI
from scrm.wecom.client import WeComClient
from scrm.wecom.errors import WeComError, WeComRateLimitedError
from scrm.wecom.ratelimit import get_limiter
from tests.wecom.scripted import scripted_wecom


@pytest.fixture
def wecom(monkeypatch):
    monkeypatch.setattr(client_module, "backoff", lambda attempt: 0)  # the counts matter, not the waits
    with scripted_wecom() as server:
        yield server


@pytest.fixture
def api(wecom, db):
    return WeComAPI(
        WeComClient(corp_id="wwtest", secret="s", api_base=wecom.base, timeout=5, limiter=get_limiter())
    )


def test_busy_is_retried_three_times_then_reported(wecom, api):
    wecom.script["externalcontact/get_follow_user_list"] = [{"errcode": -1, "errmsg": "system busy"}]
    with pytest.raises(WeComError) as exc:
        api.get_follow_user_list()
    assert exc.value.errcode == -1
    assert len(wecom.calls["externalcontact/get_follow_user_list"]) == 4  # the call and 3 retries


def test_busy_then_success_returns_the_answer(wecom, api):
    wecom.script["externalcontact/get_follow_user_list"] = [
        {"errcode": -1, "errmsg": "busy"},
        {"errcode": 0, "errmsg": "ok", "follow_user": ["zhangsan"]},
    ]
    assert api.get_follow_user_list()["follow_user"] == ["zhangsan"]


def test_an_expired_token_is_refetched_once_and_the_call_succeeds(wecom, api):
    api.get_access_token()  # T1 cached
    wecom.tokens_issued += 1  # WeCom expired it: only T2 is valid now
    wecom.script["externalcontact/get_follow_user_list"] = [{"errcode": "token-check"}]
    assert api.get_follow_user_list()["errcode"] == 0
    calls = wecom.calls["externalcontact/get_follow_user_list"]
    assert [c["access_token"] for c in calls] == ["T1", "T3"]


def test_a_token_error_that_persists_is_bounded(wecom, api):
    wecom.script["externalcontact/list"] = [{"errcode": 42001, "errmsg": "access_token expired"}]
    with pytest.raises(WeComError) as exc:
        api.list_external_contacts("zhangsan")  # wechatpy's auto_retry would recurse until RecursionError
    assert exc.value.errcode == 42001
    assert len(wecom.calls["externalcontact/list"]) == 2
    assert wecom.tokens_issued == 2


def test_rate_limit_raises_with_the_wait_and_blocks_the_api_for_every_caller(wecom, api):
    wecom.script["externalcontact/mark_tag"] = [{"errcode": 45009, "errmsg": "api freq out of limit"}]
    with pytest.raises(WeComRateLimitedError) as exc:
        api.mark_tag(userid="u", external_userid="wm1", add_tag=["et1"])
    assert exc.value.retry_after == 60
    with pytest.raises(WeComRateLimitedError):
        api.mark_tag(userid="u", external_userid="wm1", add_tag=["et1"])
    assert len(wecom.calls["externalcontact/mark_tag"]) == 1  # the second call never left
    assert api.get_follow_user_list()["errcode"] == 0  # other APIs are not blocked


def test_concurrency_error_lowers_the_cap_and_retries(wecom, api, settings):
    wecom.script["externalcontact/remark"] = [
        {"errcode": 45033, "errmsg": "api concurrent out of limit"},
        {"errcode": 0, "errmsg": "ok"},
    ]
    limiter = api.client.limiter
    assert (
        limiter.cap("wwtest", "externalcontact/remark")
        == settings.WECOM_CONCURRENCY_OVERRIDES["externalcontact/remark"]
    )
    api.remark(userid="u", external_userid="wm1", remark="VIP")
    assert len(wecom.calls["externalcontact/remark"]) == 2
    assert (
        limiter.cap("wwtest", "externalcontact/remark")
        < settings.WECOM_CONCURRENCY_OVERRIDES["externalcontact/remark"]
    )


def test_business_errors_carry_the_api_and_a_hint(wecom, api):
    wecom.script["externalcontact/mark_tag"] = [{"errcode": 84061, "errmsg": "not external contact"}]
    with pytest.raises(WeComError) as exc:
        api.mark_tag(userid="u", external_userid="wm1", add_tag=["et1"])
    assert exc.value.as_dict() == {
        "api": "externalcontact/mark_tag",
        "errcode": 84061,
        "errmsg": "not external contact",
        "hint": "The customer is not (or no longer) a contact of this staff member.",
    }


def test_an_unreachable_wecom_is_a_wecom_error_not_a_hang(db, monkeypatch):
    monkeypatch.setattr(client_module, "backoff", lambda attempt: 0)
    api = WeComAPI(
        WeComClient(
            corp_id="ww", secret="s", api_base="http://127.0.0.1:1/cgi-bin/", timeout=2, limiter=get_limiter()
        )
    )
    with pytest.raises(WeComError) as exc:
        api.get_follow_user_list()
    assert (exc.value.api, exc.value.errcode) == ("gettoken", None)


def test_token_is_shared_between_clients_of_the_same_corp(wecom, api, db):
    other = WeComClient(corp_id="wwtest", secret="s", api_base=wecom.base, timeout=5, limiter=get_limiter())
    assert api.get_access_token() == other.access_token == "T1"
    assert wecom.tokens_issued == 1


def test_requests_carry_the_configured_base_and_no_content_type_issue(wecom, api):
    api.batch_get_by_user(["a", "b"], cursor="", limit=100)
    assert wecom.calls["externalcontact/batch/get_by_user"][0]["access_token"] == "T1"


def test_without_redis_every_event_queues_its_drain():
    """The embedded default has no shared state: a flag set in the web process would never be
    cleared by the worker's drain, and events would wait for it to expire."""
    from scrm.wecom.ratelimit import LocalBackend

    backend = LocalBackend()
    assert backend.add_flag("wecom:drain-queued:1", 30) is True
    assert backend.add_flag("wecom:drain-queued:1", 30) is True


def test_with_redis_a_flag_is_taken_once_until_cleared(db):
    backend = get_limiter().backend
    assert backend.add_flag("wecom:drain-queued:1", 30) is True
    assert backend.add_flag("wecom:drain-queued:1", 30) is False
    backend.delete("wecom:drain-queued:1")
    assert backend.add_flag("wecom:drain-queued:1", 30) is True


@pytest.mark.parametrize(
    "answer",
    [
        {"errcode": 0, "errmsg": "ok", "expires_in": 7200},
        {"errcode": 0, "errmsg": "ok", "access_token": None},
        {"errcode": 0, "errmsg": "ok", "access_token": "T", "expires_in": "soon"},
        ["not", "an", "object"],
    ],
    ids=["no-token", "null-token", "bad-expiry", "not-an-object"],
)
def test_a_gettoken_answer_without_a_usable_token_is_a_wecom_error(wecom, api, answer):
    wecom.script["gettoken"] = [answer]
    with pytest.raises(WeComError) as exc:
        api.get_follow_user_list()
    assert (exc.value.api, exc.value.errcode) == ("gettoken", None)
    assert "externalcontact/get_follow_user_list" not in wecom.calls


def test_a_base_the_deployment_does_not_allow_is_never_called(wecom, api, settings):
    settings.WECOM_SANDBOX_ALLOWED = False
    with pytest.raises(WeComError):
        api.get_follow_user_list()
    assert wecom.tokens_issued == 0
    assert wecom.calls == {}
