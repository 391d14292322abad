"""The jobs API: members see their own jobs (admins every job of the tenant), progress and errors,
and the download of a job's result file."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from contacts.models import Job, JobKind
from scrm.durable import RunStatus
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Role
from tests.helpers import assert_problem

URL = "/api/v1/jobs/"


@pytest.fixture
def jobs(tenant_a, tenant_b, alice, bob, charlie, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    with tenant_context(tenant_a):
        export = Job.objects.create(
            kind=JobKind.EXPORT, status=RunStatus.SUCCEEDED, created_by=alice, total=2, done=2
        )
        export.result_file.save("contacts-1.csv", ContentFile("name,remark\n王,老客户\n".encode()), save=True)
        tagging = Job.objects.create(
            kind=JobKind.TAG,
            status=RunStatus.PARTIAL,
            created_by=bob,
            total=3,
            done=2,
            failed=1,
            errors=[{"item": 1, "code": "wecom_84061", "message": "not a friend", "errcode": 84061}],
        )
        running = Job.objects.create(kind=JobKind.UNTAG, status=RunStatus.RUNNING, created_by=bob)
    with tenant_context(tenant_b):
        elsewhere = Job.objects.create(kind=JobKind.EXPORT, created_by=charlie)
    return {"export": export, "tagging": tagging, "running": running, "elsewhere": elsewhere}


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [j["id"] for j in response.json()["results"]]


def test_admin_sees_every_job_newest_first(jobs, alice_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        listed = ids(alice_client.get(URL))
    assert listed == [jobs["running"].pk, jobs["tagging"].pk, jobs["export"].pk]
    assert ids(alice_client.get(URL, {"kind": "tag"})) == [jobs["tagging"].pk]
    assert ids(alice_client.get(URL, {"status": "running"})) == [jobs["running"].pk]
    assert_problem(alice_client.get(URL, {"kind": "paint"}), 400, "validation_error")
    assert_problem(alice_client.get(URL, {"status": "sleeping"}), 400, "validation_error")


def test_query_count_does_not_grow(jobs, alice, alice_client, tenant_a, django_assert_max_num_queries):
    with tenant_context(tenant_a):
        Job.objects.bulk_create([Job(kind=JobKind.TAG, created_by=alice) for _ in range(30)])
    with django_assert_max_num_queries(6):
        assert len(ids(alice_client.get(URL, {"page_size": 100}))) == 33


def test_members_see_only_their_jobs(jobs, bob_client, key_client_for, tenant_a):
    assert ids(bob_client.get(URL)) == [jobs["running"].pk, jobs["tagging"].pk]
    assert_problem(bob_client.get(f"{URL}{jobs['export'].pk}/"), 404, "not_found")
    assert_problem(bob_client.get(f"{URL}{jobs['export'].pk}/download/"), 404, "not_found")
    operator_key = key_client_for(tenant_a, Role.OPERATOR)
    assert ids(operator_key.get(URL)) == []


def test_detail_shows_progress_and_errors(jobs, bob_client):
    body = bob_client.get(f"{URL}{jobs['tagging'].pk}/").json()
    assert (body["status"], body["total"], body["done"], body["failed"]) == ("partial", 3, 2, 1)
    assert body["errors"][0]["errcode"] == 84061
    assert body["download_url"] is None


def test_download_streams_the_file_to_its_creator_or_an_admin(jobs, alice_client):
    body = alice_client.get(f"{URL}{jobs['export'].pk}/").json()
    assert body["download_url"].endswith(f"/api/v1/jobs/{jobs['export'].pk}/download/")
    response = alice_client.get(body["download_url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "contacts-1.csv" in response["Content-Disposition"]
    assert b"".join(response.streaming_content).decode() == "name,remark\n王,老客户\n"
    assert_problem(alice_client.get(f"{URL}{jobs['tagging'].pk}/download/"), 404, "not_found")


def test_other_tenant_sees_none_of_them(jobs, charlie_client):
    assert ids(charlie_client.get(URL)) == [jobs["elsewhere"].pk]
    for job in ("export", "tagging"):
        assert_problem(charlie_client.get(f"{URL}{jobs[job].pk}/"), 404, "not_found")
        assert_problem(charlie_client.get(f"{URL}{jobs[job].pk}/download/"), 404, "not_found")
