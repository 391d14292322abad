"""Admin APIs of the gateway: the connection test and the callback inbox (list, filter, replay)."""

from __future__ import annotations

import pytest

from scrm.tenancy.context import tenant_context
from scrm.wecom import client as client_module
from scrm.wecom import handlers
from scrm.wecom.models import CallbackEvent, EventStatus
from tests.helpers import assert_problem
from tests.wecom.scripted import scripted_wecom

TEST_URL = "/api/v1/wecom/test-connection/"
EVENTS_URL = "/api/v1/wecom/events/"


@pytest.fixture
def wecom(tenant_a, monkeypatch):
    monkeypatch.setattr(client_module, "backoff", lambda attempt: 0)
    with scripted_wecom() as server:
        tenant_a.api_base = server.base
        tenant_a.save()
        yield server


def make_event(tenant, *, status=EventStatus.PARKED, change_type="add_external_contact", key="k1"):
    with tenant_context(tenant):
        return CallbackEvent.objects.create(
            dedupe_key=key,
            event="change_external_contact",
            change_type=change_type,
            payload={"ExternalUserID": "wm1"},
            status=status,
            attempts=5,
            last_error="RuntimeError('boom')",
        )


# --- connection test ---------------------------------------------------------------------


def test_connection_test_reports_every_permission(alice_client, wecom):
    response = alice_client.post(TEST_URL)
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert [c["check"] for c in body["checks"]] == ["token", "staff", "tags", "contact_ways", "groups"]
    assert all(c["ok"] and c["error"] is None for c in body["checks"])


def test_connection_test_names_what_fails_with_a_hint(alice_client, wecom):
    wecom.script["externalcontact/list_contact_way"] = [{"errcode": 48002, "errmsg": "api forbidden"}]
    wecom.script["externalcontact/groupchat/list"] = [
        {"errcode": 60020, "errmsg": "not allow to access from your ip"}
    ]
    body = alice_client.post(TEST_URL).json()
    assert body["ok"] is False
    failed = {c["check"]: c["error"] for c in body["checks"] if not c["ok"]}
    assert set(failed) == {"contact_ways", "groups"}
    assert failed["contact_ways"]["errcode"] == 48002
    assert "可调用接口的应用" in failed["contact_ways"]["hint"]
    assert "可信IP" in failed["groups"]["hint"]


def test_connection_test_with_a_wrong_secret_stops_at_the_token(alice_client, wecom):
    wecom.script["gettoken"] = [{"errcode": 40001, "errmsg": "invalid credential"}]
    body = alice_client.post(TEST_URL).json()
    assert [c["check"] for c in body["checks"]] == ["token"]
    assert body["checks"][0]["error"]["errcode"] == 40001
    assert "secret" in body["checks"][0]["error"]["hint"]


def test_connection_test_without_settings_says_so(alice_client, tenant_a):
    tenant_a.corp_secret = ""
    tenant_a.save()
    body = alice_client.post(TEST_URL).json()
    assert body["ok"] is False
    assert body["checks"][0]["error"]["errmsg"] == "not configured"


def test_connection_test_never_returns_the_secret(alice_client, wecom, tenant_a):
    assert tenant_a.corp_secret not in alice_client.post(TEST_URL).content.decode()


# --- inbox -------------------------------------------------------------------------------


def test_events_list_filters_by_status_and_type(alice_client, tenant_a):
    parked = make_event(tenant_a)
    make_event(tenant_a, status=EventStatus.DONE, change_type="del_follow_user", key="k2")
    body = alice_client.get(EVENTS_URL, {"status": "parked"}).json()
    assert [e["id"] for e in body["results"]] == [parked.id]
    assert body["results"][0]["last_error"] == "RuntimeError('boom')"
    body = alice_client.get(EVENTS_URL, {"change_type": "del_follow_user"}).json()
    assert [e["change_type"] for e in body["results"]] == ["del_follow_user"]
    assert_problem(alice_client.get(EVENTS_URL, {"status": "nonsense"}), 400, "validation_error")


def test_replay_runs_a_parked_event_again(
    alice_client, tenant_a, monkeypatch, django_capture_on_commit_callbacks
):
    seen = []
    monkeypatch.setitem(
        handlers._handlers,
        ("change_external_contact", "add_external_contact"),
        lambda *, tenant, event: seen.append(event.pk),
    )
    event = make_event(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"{EVENTS_URL}{event.id}/replay/")
    assert response.status_code == 202
    assert seen == [event.id]
    with tenant_context(tenant_a):
        event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == (EventStatus.DONE, 1, "")


def test_replaying_an_event_being_processed_is_refused(alice_client, tenant_a):
    event = make_event(tenant_a, status=EventStatus.PROCESSING)
    assert_problem(alice_client.post(f"{EVENTS_URL}{event.id}/replay/"), 400, "validation_error")


# --- roles and isolation -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", TEST_URL), ("get", EVENTS_URL), ("get", "{event}"), ("post", "{event}replay/")],
)
def test_only_admins_use_the_gateway_apis(bob_client, key_client_for, tenant_a, method, path):
    event = make_event(tenant_a)
    url = path.format(event=f"{EVENTS_URL}{event.id}/")
    assert_problem(getattr(bob_client, method)(url), 403, "permission_denied")
    assert_problem(getattr(key_client_for(tenant_a, "operator"), method)(url), 403, "permission_denied")


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("post", "replay/")])
def test_other_tenants_get_404_on_events(charlie_client, key_client_for, tenant_a, tenant_b, method, suffix):
    event = make_event(tenant_a)
    url = f"{EVENTS_URL}{event.id}/{suffix}"
    assert_problem(getattr(charlie_client, method)(url), 404, "not_found")
    assert_problem(getattr(key_client_for(tenant_b), method)(url), 404, "not_found")
    assert charlie_client.get(EVENTS_URL).json()["results"] == []
    with tenant_context(tenant_a):
        event.refresh_from_db()
    assert event.status == EventStatus.PARKED


def test_the_connection_test_uses_the_callers_tenant_only(charlie_client, wecom, tenant_b):
    """Tenant A is connected (to the scripted WeCom); tenant B is not: B's admin must not test A's."""
    tenant_b.corp_secret = ""
    tenant_b.save()
    body = charlie_client.post(TEST_URL).json()
    assert body["ok"] is False
    assert body["checks"][0]["error"]["errmsg"] == "not configured"
    assert wecom.tokens_issued == 0


# --- SSRF: the server calls only the API bases the deployment allows --------------------------


def test_the_connection_test_never_calls_a_base_the_deployment_does_not_allow(alice_client, wecom, settings):
    # Saved while the deployment allowed the loopback sandbox; it no longer does.
    settings.WECOM_SANDBOX_ALLOWED = False
    wecom.script["gettoken"] = [{"errcode": 40001, "errmsg": "internal secret: db password is hunter2"}]
    response = alice_client.post(TEST_URL)
    assert response.status_code == 200
    [check] = response.json()["checks"]
    assert (check["check"], check["ok"]) == ("token", False)
    assert "hunter2" not in response.content.decode()
    assert wecom.calls == {}
    assert wecom.script["gettoken"]  # never asked


def test_a_gettoken_answer_without_a_token_fails_the_check_cleanly(alice_client, wecom):
    wecom.script["gettoken"] = [{"errcode": 0, "errmsg": "ok", "expires_in": 7200}]
    response = alice_client.post(TEST_URL)
    assert response.status_code == 200
    [check] = response.json()["checks"]
    assert (check["check"], check["ok"], check["error"]["api"]) == ("token", False, "gettoken")
