"""Edge cases found in review: inputs that must be 400s, keys that are per caller, jobs that a slow
worker lost, transfers WeCom did not answer, syncs that hit an unexpected error."""

from __future__ import annotations

import pytest
from django.utils import timezone

from contacts import sync
from contacts.models import Job, JobKind, Note, SyncRun
from contacts.services import jobs
from scrm.durable import STALE_AFTER, RunStatus, WorkLostError, work_heartbeat
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import ApiKey, Role
from scrm.tenancy.principal import Principal
from tests.contacts.builders import run_sync
from tests.helpers import assert_problem

CONTACTS = "/api/v1/contacts/"


@pytest.fixture
def customer(build_a):
    return build_a.contact("王芳", staff=build_a.staff("bob"))


def test_an_api_key_can_write_a_note_as_itself(tenant_a, key_client_for, customer):
    response = key_client_for(tenant_a, Role.OPERATOR).post(
        f"{CONTACTS}{customer.pk}/notes/", {"content": "电话回访，下周到店"}, format="json"
    )
    assert response.status_code == 201, response.content
    with tenant_context(tenant_a):
        note = Note.objects.get()
        key = ApiKey.objects.get()
    assert (note.content, note.author, note.author_api_key) == ("电话回访，下周到店", None, key)
    assert response.json()["author"] == {"type": "api_key", "id": key.pk, "name": "operator key"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"added_before": "9999-12-31"}, "added_before"),
        ({"department": "1.5"}, "department"),
        ({"stage": "x"}, "stage"),
    ],
)
def test_out_of_range_and_malformed_filters_are_400s_naming_the_parameter(
    alice_client, customer, query, field
):
    body = assert_problem(alice_client.get(CONTACTS, query), 400, "validation_error")
    assert [e["path"] for e in body["errors"]] == [field]


def test_lost_list_end_of_calendar_is_a_400(alice_client, customer):
    body = assert_problem(
        alice_client.get(f"{CONTACTS}lost/", {"ended_before": "9999-12-31"}), 400, "validation_error"
    )
    assert [e["path"] for e in body["errors"]] == ["ended_before"]


def test_an_idempotency_key_is_the_callers_own(tenant_a, alice, bob, alice_client, bob_client, customer):
    first = alice_client.post(f"{CONTACTS}export/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = alice_client.post(f"{CONTACTS}export/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    bobs = bob_client.post(f"{CONTACTS}export/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert (first.status_code, again.status_code, bobs.status_code) == (202, 200, 202)
    assert again.json()["id"] == first.json()["id"]
    assert bobs.json()["id"] != first.json()["id"]
    assert bobs.json()["params"]["scope"]["role"] == "sales"


def test_a_worker_that_lost_its_job_writes_nothing_more(tenant_a, alice):
    principal = Principal(tenant=tenant_a, role=Role.ADMIN, user=alice)
    with tenant_context(tenant_a):
        job, _ = jobs.job_create(principal=principal, kind=JobKind.TAG, params={"tags": []})
        slow = jobs.job_claim(job.pk)
        # The sweep presumed the slow worker dead and another worker claimed the job.
        Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - STALE_AFTER * 2)
        other = jobs.job_claim(job.pk)
        assert other is not None
        with pytest.raises(WorkLostError):
            jobs.job_progress(slow, done=5, checkpoint={"last_contact_id": 99})
        with pytest.raises(WorkLostError):
            work_heartbeat(slow)
        jobs.job_progress(other, done=1, checkpoint={"last_contact_id": 7})
        job.refresh_from_db()
    assert (job.done, job.checkpoint) == (1, {"last_contact_id": 7})


def test_a_sync_stopped_by_an_unexpected_error_fails_and_says_why(connected, monkeypatch):
    def broken(state):
        raise ValueError("a page WeCom never sends")

    monkeypatch.setattr(sync, "_walk", broken)
    run = run_sync(connected)
    with tenant_context(connected):
        assert SyncRun.objects.get(pk=run.pk).status == RunStatus.FAILED
    [error] = run.errors
    assert "a page WeCom never sends" in error["errmsg"]
    assert error["hint"] == sync.UNEXPECTED_HINT


def test_a_sync_executor_that_lost_its_run_stops_before_writing(connected):
    with tenant_context(connected):
        run = sync.sync_run_start(tenant=connected, trigger="manual", enqueue=False)
        slow = sync.sync_run_claim(run.pk)
        SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - STALE_AFTER * 2)
        assert sync.sync_run_claim(run.pk) is not None  # the sweep's worker took it over
        with pytest.raises(WorkLostError):
            sync.sync_run_execute(slow)
        assert SyncRun.objects.get(pk=run.pk).status == RunStatus.RUNNING  # left to its new executor
