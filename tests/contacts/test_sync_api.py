"""The sync runs API: admins start a sync (one at a time), members watch it, other tenants see nothing."""

from __future__ import annotations

from contacts.models import Contact, SyncRun
from scrm.durable import RunStatus
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Role
from tests.helpers import assert_problem


def test_an_admin_starts_a_sync_and_watches_it_finish(
    connected, alice_client, sandbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/api/v1/sync-runs/")
    assert response.status_code == 202, response.content
    started = response.json()
    assert started["status"] == "queued"
    assert started["created_by"]["type"] == "member"
    assert started["created_by"]["name"] == "alice"

    body = alice_client.get(f"/api/v1/sync-runs/{started['id']}/").json()
    assert body["status"] == "succeeded", body
    follows = sum(len(c.follows) for c in sandbox.state.contacts.values())
    assert (body["created"], body["updated"], body["unchanged"], body["closed"]) == (follows, 0, 0, 0)
    assert body["progress_done"] == body["progress_total"] == follows
    assert body["api_calls"] > 0
    assert body["errors"] == []
    assert "checkpoint" not in body
    with tenant_context(connected):
        assert Contact.objects.count() == len(sandbox.state.contacts)


def test_starting_while_a_run_is_active_returns_that_run(
    connected, alice_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = alice_client.post("/api/v1/sync-runs/")
        second = alice_client.post("/api/v1/sync-runs/")
    assert second.status_code == 202
    assert second.json()["id"] == first.json()["id"]
    assert len(callbacks) == 1  # enqueued once


def test_a_wecom_error_shows_on_the_run_with_its_hint(
    connected, alice_client, sandbox, django_capture_on_commit_callbacks
):
    sandbox.set_faults({"apis": {"externalcontact/get_corp_tag_list": {"errors": {"48002": 1.0}}}})
    with django_capture_on_commit_callbacks(execute=True):
        run_id = alice_client.post("/api/v1/sync-runs/").json()["id"]
    body = alice_client.get(f"/api/v1/sync-runs/{run_id}/").json()
    assert body["status"] == "failed"
    [error] = body["errors"]
    assert error["errcode"] == 48002
    assert error["hint"]


def test_list_is_newest_first_with_constant_queries(
    tenant_a, alice_client, django_assert_max_num_queries, alice
):
    with tenant_context(tenant_a):
        for status in (RunStatus.FAILED, RunStatus.SUCCEEDED, RunStatus.SUCCEEDED):
            SyncRun.objects.create(status=status, created_by=alice)
    with django_assert_max_num_queries(6):
        response = alice_client.get("/api/v1/sync-runs/")
    assert response.status_code == 200
    ids = [row["id"] for row in response.json()["results"]]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == 3
    with tenant_context(tenant_a):
        for _ in range(10):
            SyncRun.objects.create(status=RunStatus.SUCCEEDED, created_by=alice)
    with django_assert_max_num_queries(6):
        assert len(alice_client.get("/api/v1/sync-runs/").json()["results"]) == 13


def test_sales_may_watch_but_not_start(tenant_a, bob_client):
    with tenant_context(tenant_a):
        run = SyncRun.objects.create(status=RunStatus.SUCCEEDED)
    assert bob_client.get(f"/api/v1/sync-runs/{run.pk}/").status_code == 200
    assert_problem(bob_client.post("/api/v1/sync-runs/"), 403, "permission_denied")
    with tenant_context(tenant_a):
        assert SyncRun.objects.count() == 1


def test_an_admin_api_key_may_start_one(connected, key_client_for, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = key_client_for(connected, Role.ADMIN).post("/api/v1/sync-runs/")
    assert response.status_code == 202
    assert response.json()["created_by"]["type"] == "api_key"
    assert response.json()["created_by"]["name"] == "admin key"


def test_other_tenants_runs_are_invisible(tenant_a, charlie_client):
    with tenant_context(tenant_a):
        run = SyncRun.objects.create(status=RunStatus.SUCCEEDED)
    assert_problem(charlie_client.get(f"/api/v1/sync-runs/{run.pk}/"), 404, "not_found")
    assert charlie_client.get("/api/v1/sync-runs/").json()["results"] == []


def test_anonymous_is_refused(client):
    assert_problem(client.get("/api/v1/sync-runs/"), 401, "not_authenticated")


def test_a_groups_sync_runs_beside_a_contacts_sync_and_lists_by_kind(
    tenant_a, alice_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        contacts = alice_client.post("/api/v1/sync-runs/")
        groups = alice_client.post("/api/v1/sync-runs/", {"kind": "groups"}, format="json")
        again = alice_client.post("/api/v1/sync-runs/", {"kind": "groups"}, format="json")
    assert contacts.status_code == groups.status_code == 202
    assert (contacts.json()["kind"], groups.json()["kind"]) == ("contacts", "groups")
    assert contacts.json()["id"] != groups.json()["id"]  # one active run per kind, not per tenant
    assert again.json()["id"] == groups.json()["id"]
    assert len(callbacks) == 2

    listed = alice_client.get("/api/v1/sync-runs/", {"kind": "groups"}).json()["results"]
    assert [row["id"] for row in listed] == [groups.json()["id"]]
    assert_problem(
        alice_client.post("/api/v1/sync-runs/", {"kind": "moments"}, format="json"), 400, "validation_error"
    )
