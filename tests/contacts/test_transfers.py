"""Customer transfers and resigned inheritance as jobs: WeCom's per-customer answers, polling to the end,
and the follows moved locally as WeCom moved them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from contacts.models import ContactEvent, EventType, Follow, FollowStatus, Job, Staff, TransferItem
from contacts.services import transfers
from contacts.tasks.transfers import poll_transfers
from scrm.durable import RunStatus
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import AuditEntry
from tests.contacts.test_tags import mirror
from tests.helpers import assert_problem, sandbox_control

URL = "/api/v1/transfers/"


def items_url(job_id: int) -> str:
    return f"{URL}{job_id}/items/"


@pytest.fixture
def corp(connected, sandbox):
    """Tenant A mirroring 60 customers; ``handover`` follows at least four of them, ``takeover`` is
    another active member with customer contact."""
    mirror(sandbox, connected, contacts=60)
    with tenant_context(connected):
        counts = {}
        for follow in Follow.objects.select_related("staff"):
            counts.setdefault(follow.staff.userid, []).append(follow.contact_id)
        handover = max(counts, key=lambda u: len(counts[u]))
        takeover = (
            Staff.objects.filter(is_active=True, has_contact_permission=True).exclude(userid=handover).first()
        )
        theirs = sorted(counts[handover])
    assert len(theirs) >= 4
    return {"tenant": connected, "handover": handover, "takeover": takeover.userid, "contacts": theirs}


def post(client, body, django_capture_on_commit_callbacks, **headers):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(URL, body, format="json", headers=headers)


def items(client, job_id) -> dict[int, dict]:
    response = client.get(items_url(job_id), {"page_size": 200})
    assert response.status_code == 200, response.content
    return {i["contact"]: i for i in response.json()["results"]}


def test_transfer_with_per_customer_results_polled_to_completion(
    corp, alice_client, sandbox, monkeypatch, django_capture_on_commit_callbacks
):
    tenant, handover, takeover = corp["tenant"], corp["handover"], corp["takeover"]
    monkeypatch.setattr(transfers, "CHUNK", 2)
    chosen = corp["contacts"][:5]
    with tenant_context(tenant):
        externals = {
            f.contact_id: f.contact.external_userid
            for f in Follow.objects.filter(contact_id__in=chosen, staff__userid=handover).select_related(
                "contact"
            )
        }
        tags_before = {
            f.contact_id: f.tag_ids
            for f in Follow.objects.filter(contact_id__in=chosen, staff__userid=handover)
        }
    # The handover already lost one customer in WeCom: it answers 84061 for that one.
    gone, refusing = chosen[0], chosen[1]
    sandbox_control(
        sandbox, "simulate/customer-delete", {"userid": handover, "external_userid": externals[gone]}
    )

    response = post(
        alice_client,
        {"handover": handover, "takeover": takeover, "contacts": chosen, "message": "您好，我来接手"},
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    calls = sandbox.records("externalcontact/transfer_customer")
    assert [len(c["body"]["external_userid"]) for c in calls] == [2, 2, 1]  # chunks of CHUNK
    assert calls[0]["body"]["transfer_success_msg"] == "您好，我来接手"
    sent = items(alice_client, job_id)
    assert sent[gone]["status"] == "failed"
    assert sent[gone]["errcode"] == 84061
    assert sent[gone]["detail"]
    assert {sent[c]["status"] for c in chosen[1:]} == {"waiting"}
    job = alice_client.get(f"/api/v1/jobs/{job_id}/").json()
    assert (job["total"], job["done"], job["failed"]) == (5, 0, 1)
    assert job["errors"][0]["errcode"] == 84061

    # The customer refuses; the others' 24 hours are up. Beat's poll settles the items.
    sandbox_control(sandbox, "simulate/transfer-complete", {"refuse": [externals[refusing]]})
    poll_transfers()
    done = items(alice_client, job_id)
    assert done[refusing]["status"] == "refused"
    moved = chosen[2:]
    assert {done[c]["status"] for c in moved} == {"succeeded"}
    assert all(done[c]["takeover_at"] for c in moved)
    job = alice_client.get(f"/api/v1/jobs/{job_id}/").json()
    assert (job["status"], job["done"], job["failed"]) == (RunStatus.PARTIAL, 3, 2)
    with tenant_context(tenant):
        for contact_id in moved:
            old = Follow.objects.get(contact_id=contact_id, staff__userid=handover)
            new = Follow.objects.get(contact_id=contact_id, staff__userid=takeover)
            assert (old.status, new.status) == (FollowStatus.TRANSFERRED, FollowStatus.ACTIVE)
            assert old.ended_at is not None
            assert (new.add_way, new.oper_userid, new.tag_ids) == (202, handover, tags_before[contact_id])
            with sandbox.state.lock:
                assert set(sandbox.state.contacts[externals[contact_id]].follows) >= {takeover}
        assert ContactEvent.objects.filter(type=EventType.TRANSFERRED, contact_id__in=moved).count() == 3
        assert ContactEvent.objects.filter(type=EventType.TRANSFER_FAILED, contact_id=refusing).exists()
        assert Follow.objects.get(contact_id=refusing, staff__userid=handover).status == FollowStatus.ACTIVE
    # Polling again changes nothing.
    with tenant_context(tenant):
        assert transfers.transfers_poll_tenant(tenant=tenant) == 0
        assert ContactEvent.objects.filter(type=EventType.TRANSFERRED).count() == 3


def test_transfer_all_and_idempotency(corp, alice_client, sandbox, django_capture_on_commit_callbacks):
    body = {"handover": corp["handover"], "takeover": corp["takeover"], "all": True}
    first = post(alice_client, body, django_capture_on_commit_callbacks, **{"Idempotency-Key": "t-1"})
    again = post(alice_client, body, django_capture_on_commit_callbacks, **{"Idempotency-Key": "t-1"})
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["total"] == len(corp["contacts"])
    [call] = sandbox.records("externalcontact/transfer_customer")
    assert len(call["body"]["external_userid"]) == len(corp["contacts"])
    with tenant_context(corp["tenant"]):
        [entry] = AuditEntry.objects.filter(action="contacts.transfer")
    assert entry.actor_user.username == "alice"
    assert (entry.data["job"], entry.data["handover"], entry.data["all"]) == (
        first.json()["id"],
        corp["handover"],
        True,
    )


def test_bad_transfers_are_refused_before_wecom(corp, alice_client, sandbox):
    tenant, handover, takeover = corp["tenant"], corp["handover"], corp["takeover"]
    with tenant_context(tenant):
        not_theirs = Follow.objects.exclude(contact_id__in=corp["contacts"]).first().contact_id

    def path_of(body):
        return [
            e["path"]
            for e in assert_problem(alice_client.post(URL, body, format="json"), 400, "validation_error")[
                "errors"
            ]
        ]

    assert path_of({"handover": "nobody", "takeover": takeover, "all": True}) == ["handover"]
    assert path_of({"handover": handover, "takeover": "nobody", "all": True}) == ["takeover"]
    assert path_of({"handover": handover, "takeover": handover, "all": True}) == ["takeover"]
    assert path_of({"handover": handover, "takeover": takeover}) == ["contacts"]
    assert path_of({"handover": handover, "takeover": takeover, "contacts": [999999]}) == ["contacts"]
    assert path_of({"handover": handover, "takeover": takeover, "contacts": [not_theirs]}) == ["contacts"]
    assert path_of({"kind": "inherit", "handover": handover, "takeover": takeover, "all": True}) == [
        "handover"
    ]
    with tenant_context(tenant):
        assert not Job.objects.exists()
    assert sandbox.records("externalcontact/transfer_customer") == []


def test_resigned_inheritance(
    corp, alice_client, sandbox, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    tenant, handover, takeover = corp["tenant"], corp["handover"], corp["takeover"]
    sandbox_control(sandbox, "simulate/staff-resign", {"userid": handover})
    with tenant_context(tenant):
        Staff.objects.filter(userid=handover).update(is_active=False)

    with django_assert_max_num_queries(8):
        response = alice_client.get(f"{URL}unassigned/", {"page_size": 1000})
    assert response.status_code == 200, response.content
    page = response.json()
    mine = [r for r in page["results"] if r["handover"] == handover]
    ours = {r["contact"]["id"] for r in mine if r["contact"]}
    assert ours == set(corp["contacts"])
    assert all(r["dimission_time"] for r in mine)
    assert page["next_cursor"] == ""
    small = alice_client.get(f"{URL}unassigned/", {"page_size": 2}).json()
    assert len(small["results"]) == 2
    assert small["next_cursor"]
    following = alice_client.get(f"{URL}unassigned/", {"page_size": 2, "cursor": small["next_cursor"]}).json()
    assert following["results"][0] != small["results"][0]
    assert_problem(alice_client.get(f"{URL}unassigned/", {"page_size": 0}), 400, "validation_error")

    # An on-job transfer of a resigned member is refused; inheritance is the way.
    refused = alice_client.post(URL, {"handover": handover, "takeover": takeover, "all": True}, format="json")
    assert_problem(refused, 400, "validation_error")
    response = post(
        alice_client,
        {"kind": "inherit", "handover": handover, "takeover": takeover, "all": True},
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    assert response.json()["kind"] == "inherit"
    assert len(sandbox.records("externalcontact/resigned/transfer_customer")) == 1
    assert {i["status"] for i in items(alice_client, job_id).values()} == {"waiting"}
    after = alice_client.get(f"{URL}unassigned/", {"page_size": 1000}).json()
    # Customers being handed over are no longer unassigned (the handover has others we did not mirror).
    assert not [r for r in after["results"] if r["contact"] and r["contact"]["id"] in ours]

    sandbox_control(sandbox, "simulate/transfer-complete", {})
    poll_transfers()
    assert {i["status"] for i in items(alice_client, job_id).values()} == {"succeeded"}
    assert alice_client.get(f"/api/v1/jobs/{job_id}/").json()["status"] == RunStatus.SUCCEEDED
    with tenant_context(tenant):
        assert Follow.objects.filter(
            staff__userid=takeover, contact_id__in=corp["contacts"], status="active"
        ).count() == len(corp["contacts"])


def test_items_list_query_count_and_status_filter(
    corp, alice_client, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    job_id = post(
        alice_client,
        {"handover": corp["handover"], "takeover": corp["takeover"], "all": True},
        django_capture_on_commit_callbacks,
    ).json()["id"]
    with django_assert_max_num_queries(6):
        response = alice_client.get(items_url(job_id))
    assert len(response.json()["results"]) == len(corp["contacts"])
    assert alice_client.get(items_url(job_id), {"status": "succeeded"}).json()["results"] == []
    assert_problem(alice_client.get(items_url(job_id), {"status": "nope"}), 400, "validation_error")


def test_admin_only_and_tenant_isolation(
    corp, alice_client, bob_client, charlie_client, sandbox, django_capture_on_commit_callbacks
):
    body = {"handover": corp["handover"], "takeover": corp["takeover"], "all": True}
    assert_problem(bob_client.post(URL, body, format="json"), 403, "permission_denied")
    assert_problem(bob_client.get(f"{URL}unassigned/"), 403, "permission_denied")
    job_id = post(alice_client, body, django_capture_on_commit_callbacks).json()["id"]
    assert_problem(bob_client.get(items_url(job_id)), 403, "permission_denied")
    assert_problem(charlie_client.get(items_url(job_id)), 404, "not_found")
    # In tenant B the handover and takeover are unknown members.
    assert_problem(charlie_client.post(URL, body, format="json"), 400, "validation_error")
    with tenant_context(corp["tenant"]):
        assert TransferItem.objects.filter(job_id=job_id).count() == len(corp["contacts"])


def test_customers_wecom_did_not_answer_for_stay_pending_and_are_sent_again(
    corp, alice_client, monkeypatch, django_capture_on_commit_callbacks
):
    from scrm.wecom.api import WeComAPI
    from scrm.wecom.errors import WeComError

    real = WeComAPI.transfer_customer
    answers = iter([WeComError("externalcontact/transfer_customer", None, "read timed out")])

    def flaky(self, **body):
        failure = next(answers, None)
        if failure is not None:
            raise failure  # the request may or may not have reached WeCom
        return real(self, **body)

    monkeypatch.setattr(WeComAPI, "transfer_customer", flaky)
    chosen = corp["contacts"][:2]
    body = {"handover": corp["handover"], "takeover": corp["takeover"], "contacts": chosen}
    job_id = post(alice_client, body, django_capture_on_commit_callbacks).json()["id"]
    assert {i["status"] for i in items(alice_client, job_id).values()} == {"pending"}  # not "failed"
    assert alice_client.get(f"/api/v1/jobs/{job_id}/").json()["status"] == "running"

    # The stale-job sweep delivers the job again; this time WeCom answers.
    with tenant_context(corp["tenant"]):
        Job.objects.filter(pk=job_id).update(heartbeat_at=timezone.now() - dt.timedelta(hours=1))
    from contacts.tasks.jobs import run_job

    run_job(corp["tenant"].pk, job_id)
    assert {i["status"] for i in items(alice_client, job_id).values()} == {"waiting"}
