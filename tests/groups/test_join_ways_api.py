"""The group-code routes: CRUD through WeCom, stats, QR, demo scans — each with its roles (admins and
operators only) and tenant isolation (another tenant's codes answer 404)."""

from __future__ import annotations

import pytest

from groups.models import Group, GroupStatus, JoinWay
from scrm.tenancy.context import tenant_context
from tests.helpers import assert_problem
from tests.wecom.test_sandbox_join_ways import fill

URL = "/api/v1/group-codes/"


@pytest.fixture
def groups(synced) -> list[Group]:
    with tenant_context(synced):
        return list(
            Group.objects.exclude(status=GroupStatus.DISMISSED).filter(owner__isnull=False).order_by("pk")[:3]
        )


def new_code(client, groups, **extra) -> dict:
    body = {"name": "门店拉群", "group_ids": [g.pk for g in groups[:2]], "room_base_name": "福利群", **extra}
    response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_read_update_delete(synced, sandbox, alice_client, groups):
    created = new_code(alice_client, groups)
    assert created["state"].startswith("gc_")
    assert created["chat_ids"] == [g.chat_id for g in groups[:2]]
    assert created["groups"] == [
        {"id": g.pk, "chat_id": g.chat_id, "name": g.name, "member_count": g.member_count, "status": g.status}
        for g in groups[:2]
    ]
    assert (created["auto_create_room"], created["room_base_name"], created["room_base_id"]) == (
        True,
        "福利群",
        1,
    )
    assert (created["joins"], created["can_simulate"]) == (0, True)
    assert created["qr_code"].endswith(f"/sandbox/qr/join-way/{created['config_id']}.png")

    listed = alice_client.get(URL).json()
    assert [r["id"] for r in listed["results"]] == [created["id"]]
    assert alice_client.get(URL, {"q": "没有"}).json()["results"] == []

    one = f"{URL}{created['id']}/"
    changed = alice_client.patch(one, {"name": "新名字", "group_ids": [groups[2].pk]}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["room_base_name"] == "福利群"  # a partial update keeps what was not sent
    assert sandbox.state.join_ways[created["config_id"]]["chat_id_list"] == [groups[2].chat_id]

    assert alice_client.delete(one).status_code == 204
    assert created["config_id"] not in sandbox.state.join_ways
    assert_problem(alice_client.get(one), 404, "not_found")


def test_validation_errors_carry_field_paths(synced, sandbox, alice_client, groups, build_group, tenant_b):
    foreign = build_group(tenant=tenant_b, owner=None)
    for body, path in (
        ({"name": "x", "group_ids": [groups[0].pk, foreign.pk], "room_base_name": "群"}, "group_ids.1"),
        ({"name": "x", "group_ids": [groups[0].pk]}, "room_base_name"),
        ({"name": "x", "group_ids": [], "room_base_name": "群"}, "group_ids"),
        ({"name": "x" * 31, "group_ids": [groups[0].pk], "room_base_name": "群"}, "name"),
        (
            {"name": "x", "group_ids": [groups[0].pk], "room_base_name": "群", "room_base_id": 0},
            "room_base_id",
        ),
    ):
        problem = assert_problem(alice_client.post(URL, body, format="json"), 400, "validation_error")
        assert [e["path"] for e in problem["errors"]] == [path], body
    assert sandbox.records("externalcontact/groupchat/add_join_way") == []


def test_a_wecom_refusal_is_reported_and_nothing_is_kept(synced, sandbox, alice_client, groups):
    sandbox.set_faults({"apis": {"externalcontact/groupchat/add_join_way": {"errors": {"48002": 1.0}}}})
    body = {"name": "x", "group_ids": [groups[0].pk], "room_base_name": "群"}
    assert_problem(alice_client.post(URL, body, format="json"), 502, "wecom_error")
    with tenant_context(synced):
        assert not JoinWay.objects.exists()


def test_qr_png_and_download(synced, alice_client, groups):
    created = new_code(alice_client, groups)
    response = alice_client.get(f"{URL}{created['id']}/qr/")
    assert (response.status_code, response["Content-Type"]) == (200, "image/png")
    assert response.content.startswith(b"\x89PNG")
    download = alice_client.get(f"{URL}{created['id']}/qr/", {"download": "1"})
    assert download["Content-Disposition"] == f'attachment; filename="group-code-{created["id"]}.png"'
    # A code WeCom has given no QR image (yet) says so.
    with tenant_context(synced):
        JoinWay.objects.filter(pk=created["id"]).update(qr_code="")
    assert_problem(alice_client.get(f"{URL}{created['id']}/qr/"), 404, "not_found")


def test_stats_and_simulated_scans(synced, sandbox, alice_client, groups, refreshes_run):
    created = new_code(alice_client, groups[:1], room_base_id=5)
    one = f"{URL}{created['id']}/"
    first = alice_client.post(f"{one}simulate/")
    assert first.status_code == 200, first.content
    body = first.json()
    assert (body["chat_id"], body["created"]) == (groups[0].chat_id, False)
    assert body["group"] == {"id": groups[0].pk, "name": groups[0].name}

    fill(sandbox, groups[0].chat_id)
    second = alice_client.post(f"{one}simulate/").json()
    assert second["created"] is True
    assert second["group"] is None  # WeCom shows the group it opened a few seconds later
    refreshes_run(synced)
    with tenant_context(synced):
        second["group"] = {"id": Group.objects.get(chat_id=second["chat_id"]).pk}
    code = alice_client.get(one).json()
    assert code["chat_ids"] == [groups[0].chat_id, second["chat_id"]]
    assert code["groups"][1]["id"] == second["group"]["id"]
    assert (code["joins"], code["room_base_id"]) == (2, 6)

    stats = alice_client.get(f"{one}stats/").json()
    assert stats["total"] == 2
    assert stats["days"][-1]["joins"] == 2
    assert [(g["id"], g["joins"]) for g in stats["groups"]] == [(groups[0].pk, 1), (second["group"]["id"], 1)]
    for bad in ({"date_from": "2026-13-01"}, {"date_from": "2026-02-01", "date_to": "2026-01-01"}):
        assert_problem(alice_client.get(f"{one}stats/", bad), 400, "validation_error")

    # Auto-creation off and every group full: the sandbox's refusal comes back as a 400.
    changed = alice_client.patch(one, {"auto_create_room": False, "group_ids": [groups[0].pk]}, format="json")
    assert changed.status_code == 200, changed.content
    assert (changed.json()["auto_create_room"], changed.json()["chat_ids"]) == (False, [groups[0].chat_id])
    assert sandbox.state.join_ways[created["config_id"]]["auto_create_room"] == 0
    assert_problem(alice_client.post(f"{one}simulate/"), 400, "validation_error")

    synced.api_base = "https://qyapi.weixin.qq.com/cgi-bin/"
    synced.save()
    assert alice_client.get(URL).json()["results"][0]["can_simulate"] is False
    assert_problem(alice_client.post(f"{one}simulate/"), 409, "conflict")


def routes(code_id: int) -> list[tuple[str, str]]:
    one = f"{URL}{code_id}/"
    return [
        ("get", one),
        ("patch", one),
        ("delete", one),
        ("get", f"{one}stats/"),
        ("get", f"{one}qr/"),
        ("post", f"{one}simulate/"),
    ]


def test_sales_is_refused_everywhere(synced, bob_client, alice_client, groups):
    created = new_code(alice_client, groups)
    for method, url in [("get", URL), ("post", URL), *routes(created["id"])]:
        assert_problem(getattr(bob_client, method)(url, {}, format="json"), 403, "permission_denied")


def test_operators_manage_group_codes(synced, operator_client, groups):
    created = new_code(operator_client, groups)
    assert operator_client.get(f"{URL}{created['id']}/stats/").status_code == 200
    assert operator_client.delete(f"{URL}{created['id']}/").status_code == 204


def test_other_tenants_see_nothing(synced, alice_client, charlie_client, groups, tenant_b):
    created = new_code(alice_client, groups)
    assert charlie_client.get(URL).json()["results"] == []
    for method, url in routes(created["id"]):
        assert_problem(getattr(charlie_client, method)(url, {}, format="json"), 404, "not_found")
    with tenant_context(tenant_b):
        assert not JoinWay.objects.exists()
    # Nor can charlie put tenant A's groups on a code of his.
    body = {"name": "x", "group_ids": [groups[0].pk], "room_base_name": "群"}
    problem = assert_problem(charlie_client.post(URL, body, format="json"), 400, "validation_error")
    assert [e["path"] for e in problem["errors"]] == ["group_ids.0"]


# Session, user, membership; then the page of codes, their groups and their joins: one each.
LIST_QUERIES = 6


@pytest.mark.parametrize("codes", [1, 5])
def test_the_list_costs_the_same_queries_for_one_code_or_many(
    synced, alice_client, groups, django_assert_num_queries, codes
):
    for i in range(codes):
        new_code(alice_client, groups[i % 2 :][:2], name=f"code {i}")
    with django_assert_num_queries(LIST_QUERIES):
        assert len(alice_client.get(URL).json()["results"]) == codes


def test_the_qr_route_fetches_only_wecoms_images(synced, sandbox, alice_client, groups):
    """The QR URL comes from what answers as the tenant's WeCom (its admins set api_base): the server
    fetches only from WeCom's image hosts or the API base's own host, and serves only images."""
    created = new_code(alice_client, groups)
    qr = f"{URL}{created['id']}/qr/"
    for url in (
        "http://169.254.169.254/latest/meta-data/",  # anything else: refused without a fetch
        "https://example.com/qr.png",
        # The sandbox's image, but not on the API base's host as configured.
        f"{sandbox.base_url.replace('127.0.0.1', 'localhost')}/sandbox/qr/join-way/x.png",
    ):
        with tenant_context(synced):
            JoinWay.objects.filter(pk=created["id"]).update(qr_code=url)
        problem = assert_problem(alice_client.get(qr), 502, "wecom_error")
        assert "not WeCom's" in problem["detail"]
    # On the API base's host, but not an image (a control route answering JSON): not served.
    with tenant_context(synced):
        JoinWay.objects.filter(pk=created["id"]).update(qr_code=f"{sandbox.base_url}/sandbox/settings/groups")
    problem = assert_problem(alice_client.get(qr), 502, "wecom_error")
    assert "not a PNG or JPEG" in problem["detail"]
