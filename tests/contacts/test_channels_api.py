"""The channel-code routes: CRUD through WeCom, stats, QR, greetings, demo scans, default welcome with
attachments from the library — each with its roles (admins and operators only) and tenant isolation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import TestCase
from django.utils import timezone

from contacts.models import ContactWay, Follow, FollowStatus, Staff, Tag, Welcome, WelcomeStatus
from scrm.tenancy.context import tenant_context
from tests.contacts.builders import run_sync
from tests.contacts.test_channels import _media_root, material  # noqa: F401 -- the fixture reused here
from tests.helpers import assert_problem, sandbox_control

URL = "/api/v1/channels/"


@pytest.fixture
def synced(connected, sandbox):
    run_sync(connected)
    return connected


@pytest.fixture
def sellers(synced):
    with tenant_context(synced):
        return list(Staff.objects.filter(has_contact_permission=True, is_active=True).order_by("pk")[:3])


def new_channel(client, sellers, **extra) -> dict:
    body = {"name": "门店海报", "multi": True, "user_ids": [s.pk for s in sellers[:2]], **extra}
    response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_read_update_delete(synced, sandbox, alice_client, sellers):
    with tenant_context(synced):
        tag = Tag.objects.filter(deleted=False).first()
    gift = material(synced)
    created = new_channel(
        alice_client,
        sellers,
        tag_ids=[tag.pk],
        welcome={"text": "Hi {customer_name}", "attachments": [{"material_id": gift}]},
    )
    assert created["state"].startswith("cw_")
    assert created["members"] == [{"id": s.pk, "name": s.name} for s in sellers[:2]]
    assert created["tags"] == [{"id": tag.pk, "name": tag.name}]
    assert created["welcome"]["attachments"] == [{"material_id": gift}]
    # The library counts the code as one of the material's users.
    used = alice_client.get(f"/api/v1/materials/{gift}/").json()
    assert used["used_by"] == [
        {"owner_type": "channel_code", "owner_id": created["id"], "label": "Channel code", "name": "门店海报"}
    ]
    assert created["config_id"] in sandbox.state.contact_ways

    listed = alice_client.get(URL).json()
    assert [r["id"] for r in listed["results"]] == [created["id"]]
    assert listed["results"][0]["stats"] == {"adds": 0, "losses": 0, "net": 0}

    changed = alice_client.patch(f"{URL}{created['id']}/", {"name": "门店海报 2"}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["tags"] == created["tags"]  # a partial update keeps what was not sent
    assert sandbox.state.contact_ways[created["config_id"]].remark == "门店海报 2"

    assert alice_client.delete(f"{URL}{created['id']}/").status_code == 204
    assert created["config_id"] not in sandbox.state.contact_ways
    assert_problem(alice_client.get(f"{URL}{created['id']}/"), 404, "not_found")


def test_validation_errors_name_the_field_and_keep_wecom_untouched(synced, sandbox, alice_client, sellers):
    calls = len(sandbox.records("externalcontact/add_contact_way"))
    body = {
        "name": "Bad link",
        "user_ids": [sellers[0].pk],
        "welcome": {"attachments": [{"material_id": 999_999}]},
    }
    problem = assert_problem(alice_client.post(URL, body, format="json"), 400, "validation_error")
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [
        ("welcome.attachments.0.material_id", "does_not_exist")
    ]
    assert len(sandbox.records("externalcontact/add_contact_way")) == calls


def test_a_wecom_refusal_is_reported_and_nothing_is_kept(synced, sandbox, alice_client, sellers):
    sandbox.set_faults({"apis": {"externalcontact/add_contact_way": {"errors": {"48002": 1.0}}}})
    response = alice_client.post(URL, {"name": "x", "user_ids": [sellers[0].pk]}, format="json")
    assert_problem(response, 502, "wecom_error")  # 48002: the app's permissions, not the input
    with tenant_context(synced):
        assert not ContactWay.objects.exists()


def test_stats_count_adds_losses_and_retention(synced, alice_client, sellers):
    created = new_channel(alice_client, sellers)
    a, b = sellers[:2]
    now = timezone.now()
    with tenant_context(synced):
        follows = list(Follow.objects.filter(staff__in=[a, b]).order_by("pk")[:4])
        # Two added 40 days ago (one lost on day 3), two added today (one lost today).
        for i, follow in enumerate(follows):
            follow.state = created["state"]
            follow.added_at = now - dt.timedelta(days=40) if i < 2 else now
            if i in (0, 2):
                follow.status = FollowStatus.DELETED_BY_CUSTOMER
                follow.ended_at = follow.added_at + dt.timedelta(days=3 if i == 0 else 0)
            follow.save()
    today = timezone.localdate()
    stats = alice_client.get(
        f"{URL}{created['id']}/stats/", {"from": str(today - dt.timedelta(days=59))}
    ).json()
    assert stats["totals"]["adds"] == 4
    assert stats["totals"]["losses"] == 2
    assert stats["totals"]["net"] == 2
    # Only the two 40-day-old follows count for retention; one of them left on day 3.
    assert stats["totals"]["retained_7d"] == 0.5
    assert stats["totals"]["retained_30d"] == 0.5
    assert len(stats["days"]) == 60
    assert stats["days"][-1]["adds"] == 2
    assert stats["days"][-1]["losses"] == 1
    assert sum(s["adds"] for s in stats["staff"]) == 4
    listed = alice_client.get(URL).json()["results"][0]["stats"]
    assert listed == {"adds": 2, "losses": 1, "net": 1}  # the last 30 days: the 37-day-old loss is out

    for bad in ({"from": "2026-13-01"}, {"from": "2026-02-01", "to": "2026-01-01"}, {"from": "2020-01-01"}):
        assert_problem(alice_client.get(f"{URL}{created['id']}/stats/", bad), 400, "validation_error")


def test_qr_png_and_download(synced, alice_client, sellers):
    created = new_channel(alice_client, sellers)
    response = alice_client.get(f"{URL}{created['id']}/qr/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")
    download = alice_client.get(f"{URL}{created['id']}/qr/", {"download": "1"})
    assert download["Content-Disposition"] == f'attachment; filename="channel-{created["id"]}.png"'


def test_greetings_of_a_channel(synced, sandbox, alice_client, sellers):
    created = new_channel(alice_client, sellers, welcome={"text": "hi"})
    answer = sandbox_control(
        sandbox, "simulate/customer-add", {"userid": sellers[0].userid, "state": created["state"]}
    )
    from tests.contacts.test_handlers import contact_event

    with TestCase.captureOnCommitCallbacks(execute=True):
        contact_event(
            synced,
            "add_external_contact",
            sellers[0].userid,
            answer["external_userid"],
            State=created["state"],
            WelcomeCode=answer["welcome_code"],
        )
    rows = alice_client.get(f"{URL}{created['id']}/welcomes/").json()["results"]
    assert [(r["external_userid"], r["status"], r["staff_name"]) for r in rows] == [
        (answer["external_userid"], WelcomeStatus.SENT, sellers[0].name)
    ]
    assert alice_client.get(f"{URL}{created['id']}/welcomes/", {"status": "expired"}).json()["results"] == []
    assert_problem(
        alice_client.get(f"{URL}{created['id']}/welcomes/", {"status": "nope"}), 400, "validation_error"
    )


def test_simulate_only_for_demo_tenants(synced, sandbox, alice_client, sellers, settings):
    created = new_channel(alice_client, sellers)
    assert created["can_simulate"] is True
    answer = alice_client.post(f"{URL}{created['id']}/simulate/")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["userid"] in {s.userid for s in sellers[:2]}
    assert body["external_userid"] in sandbox.state.contacts
    assert sandbox.state.contacts[body["external_userid"]].follows[body["userid"]].state == created["state"]

    synced.api_base = "https://qyapi.weixin.qq.com/cgi-bin/"
    synced.save()
    assert alice_client.get(f"{URL}{created['id']}/").json()["can_simulate"] is False
    assert_problem(alice_client.post(f"{URL}{created['id']}/simulate/"), 409, "conflict")


def test_default_welcome(synced, alice_client, operator_client):
    assert alice_client.get("/api/v1/welcome-default/").json() == {"welcome": {}}
    body = {"welcome": {"text": "欢迎 {customer_name}", "attachments": []}}
    saved = operator_client.put("/api/v1/welcome-default/", body, format="json")
    assert saved.status_code == 200, saved.content
    assert alice_client.get("/api/v1/welcome-default/").json() == body
    bad = operator_client.put("/api/v1/welcome-default/", {"welcome": {"text": "{x}"}}, format="json")
    assert [e["path"] for e in assert_problem(bad, 400, "validation_error")["errors"]] == ["welcome.text"]


def test_attachments_are_materials_of_the_library_by_id(synced, operator_client):
    image, note = material(synced, "image"), material(synced, "text", text="hi")
    body = {
        "welcome": {"attachments": [{"material_id": image}, {"material_id": note}, {}, {"material_id": "1"}]}
    }
    problem = assert_problem(
        operator_client.put("/api/v1/welcome-default/", body, format="json"), 400, "validation_error"
    )
    assert {(e["path"], e["code"]) for e in problem["errors"]} == {
        ("welcome.attachments.2.material_id", "required"),
        ("welcome.attachments.3.material_id", "invalid"),
    }
    body["welcome"]["attachments"] = body["welcome"]["attachments"][:2]
    problem = assert_problem(
        operator_client.put("/api/v1/welcome-default/", body, format="json"), 400, "validation_error"
    )
    # A text is no attachment (the dashboard puts it in the message's text instead).
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [
        ("welcome.attachments.1.material_id", "wrong_kind")
    ]
    only_image = {"welcome": {"attachments": [{"material_id": image}]}}
    saved = operator_client.put("/api/v1/welcome-default/", only_image, format="json")
    assert saved.json() == {"welcome": {"text": "", "attachments": [{"material_id": image}]}}
    assert operator_client.get(f"/api/v1/materials/{image}/").json()["usage"] == [
        {"owner_type": "welcome_default", "label": "Default welcome", "count": 1}
    ]


def test_roles_sales_is_refused_everywhere(synced, bob_client, alice_client, sellers):
    created = new_channel(alice_client, sellers)
    one = f"{URL}{created['id']}/"
    for method, url in (
        ("get", URL),
        ("post", URL),
        ("get", one),
        ("patch", one),
        ("delete", one),
        ("get", f"{one}stats/"),
        ("get", f"{one}qr/"),
        ("get", f"{one}welcomes/"),
        ("post", f"{one}simulate/"),
        ("get", "/api/v1/welcome-default/"),
        ("put", "/api/v1/welcome-default/"),
    ):
        assert_problem(getattr(bob_client, method)(url, {}, format="json"), 403, "permission_denied")


def test_operators_manage_channels(synced, operator_client, sellers):
    created = new_channel(operator_client, sellers)
    assert operator_client.get(f"{URL}{created['id']}/stats/").status_code == 200


def test_other_tenants_see_nothing(synced, alice_client, charlie_client, sellers, tenant_b):
    created = new_channel(alice_client, sellers)
    image = material(synced, "image")
    alice_client.put("/api/v1/welcome-default/", {"welcome": {"text": "alice's"}}, format="json")
    one = f"{URL}{created['id']}/"
    assert charlie_client.get(URL).json()["results"] == []
    for method, url in (
        ("get", one),
        ("patch", one),
        ("delete", one),
        ("get", f"{one}stats/"),
        ("get", f"{one}qr/"),
        ("get", f"{one}welcomes/"),
        ("post", f"{one}simulate/"),
    ):
        assert_problem(getattr(charlie_client, method)(url, {}, format="json"), 404, "not_found")
    assert charlie_client.get("/api/v1/welcome-default/").json() == {"welcome": {}}
    # A material of another tenant cannot be put in a welcome either.
    bad = charlie_client.put(
        "/api/v1/welcome-default/", {"welcome": {"attachments": [{"material_id": image}]}}, format="json"
    )
    assert [(e["path"], e["code"]) for e in assert_problem(bad, 400, "validation_error")["errors"]] == [
        ("welcome.attachments.0.material_id", "does_not_exist")
    ]
    with tenant_context(tenant_b):
        assert not ContactWay.objects.exists()
        assert not Welcome.objects.exists()


def test_another_tenants_staff_and_tags_are_refused_in_input(synced, alice_client, sellers, build_b):
    stranger = build_b.staff("stranger")
    foreign_tag = build_b.tag("foreign")
    for body, path in (
        ({"name": "x", "user_ids": [stranger.pk]}, "user_ids"),
        ({"name": "x", "user_ids": [sellers[0].pk], "backup_user_ids": [stranger.pk]}, "backup_user_ids"),
        ({"name": "x", "user_ids": [sellers[0].pk], "tag_ids": [foreign_tag.pk]}, "tag_ids"),
    ):
        problem = assert_problem(alice_client.post(URL, body, format="json"), 400, "validation_error")
        assert [e["path"] for e in problem["errors"]] == [path]


def test_the_list_costs_the_same_queries_for_one_code_or_many(
    synced, alice_client, sellers, django_assert_max_num_queries
):
    new_channel(alice_client, sellers, name="one")
    with django_assert_max_num_queries(50) as one:
        assert alice_client.get(URL).status_code == 200
    queries = len(one.captured_queries)  # read now: the next request resets Django's query log
    assert queries > 0
    for i in range(4):
        new_channel(alice_client, sellers, name=f"more {i}")
    with django_assert_max_num_queries(queries):
        assert len(alice_client.get(URL).json()["results"]) == 5
