"""Tagging customers through WeCom's mark_tag: one contact at once, many as a background job.

Local follows change only for the calls WeCom (the sandbox) accepted; per-follow refusals are
reported, and a sales member's tagging touches its own follows only.
"""

from __future__ import annotations

import pytest

from contacts.models import Contact, ContactEvent, EventType, Follow, Job, Segment, Tag
from contacts.services import tagging
from scrm.durable import RunStatus
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Membership
from tests.contacts.test_tags import mirror
from tests.helpers import assert_problem

BULK_URL = "/api/v1/contacts/bulk-tag/"


def tags_url(contact_id: int) -> str:
    return f"/api/v1/contacts/{contact_id}/tags/"


def sandbox_tags(sandbox, external_userid: str) -> dict[str, set[str]]:
    """Staff userid → WeCom tag ids the sandbox holds on that follow."""
    with sandbox.state.lock:
        contact = sandbox.state.contacts[external_userid]
        return {userid: set(f.tag_ids) for userid, f in contact.follows.items()}


def local_tags(tenant, contact_id: int) -> dict[str, set[str]]:
    with tenant_context(tenant):
        return {
            f.staff.userid: set(f.tag_ids)
            for f in Follow.objects.filter(contact_id=contact_id).select_related("staff")
        }


@pytest.fixture
def corp(connected, sandbox):
    """Tenant A mirroring 40 of the sandbox's customers; ``shared`` has two or more followers."""
    contacts = mirror(sandbox, connected)
    with tenant_context(connected):
        shared = next(c for c in contacts if c.follows.count() >= 2)
        follows = list(shared.follows.select_related("staff").order_by("id"))
    bob, other = follows[0].staff.userid, follows[1].staff.userid
    return {"tenant": connected, "shared": shared, "bob": bob, "other": other}


@pytest.fixture
def bob_in_corp(bob, corp):
    """bob (sales, data scope self) is the WeCom member who follows ``shared`` first."""
    Membership.unscoped.filter(user=bob, tenant=corp["tenant"]).update(wecom_userid=corp["bob"])
    return bob


def a_tag_not_on(tenant, contact: Contact) -> Tag:
    with tenant_context(tenant):
        held = {t for f in contact.follows.all() for t in f.tag_ids}
        return Tag.objects.filter(deleted=False).exclude(wecom_id__in=held).order_by("id").first()


# --- one contact -------------------------------------------------------------------------------


def test_tag_and_untag_one_contact_on_every_follow(corp, alice_client, sandbox):
    tenant, shared = corp["tenant"], corp["shared"]
    with tenant_context(tenant):
        tag = a_tag_not_on(tenant, shared)
    response = alice_client.post(tags_url(shared.pk), {"add": [tag.pk]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert tag.pk in [t["id"] for t in body["tags"]]
    assert body["changed"] == len(body["follows"]) >= 2
    assert body["errors"] == []
    wecom = sandbox_tags(sandbox, shared.external_userid)
    assert all(tag.wecom_id in ids for ids in wecom.values())
    assert local_tags(tenant, shared.pk) == wecom
    with tenant_context(tenant):
        events = list(ContactEvent.objects.filter(contact=shared, type=EventType.TAGGED))
        assert f"t:{tag.pk}" in Contact.objects.get(pk=shared.pk).facets
    assert len(events) == len(wecom)
    assert {e.payload["staff"] for e in events} == set(wecom)
    assert all(e.payload["tags"] == [{"id": tag.pk, "name": tag.name}] for e in events)

    # Tagging again needs no call; untagging removes it everywhere.
    calls = len(sandbox.records("externalcontact/mark_tag"))
    again = alice_client.post(tags_url(shared.pk), {"add": [tag.pk]}, format="json").json()
    assert again["changed"] == 0
    assert again["unchanged"] == len(wecom)
    assert len(sandbox.records("externalcontact/mark_tag")) == calls
    assert alice_client.post(tags_url(shared.pk), {"remove": [tag.pk]}, format="json").status_code == 200
    assert all(tag.wecom_id not in ids for ids in sandbox_tags(sandbox, shared.external_userid).values())
    assert local_tags(tenant, shared.pk) == sandbox_tags(sandbox, shared.external_userid)
    with tenant_context(tenant):
        assert ContactEvent.objects.filter(contact=shared, type=EventType.UNTAGGED).count() == len(wecom)
        assert f"t:{tag.pk}" not in Contact.objects.get(pk=shared.pk).facets


def test_sales_tagging_touches_only_its_own_follow(corp, bob_in_corp, bob_client, sandbox):
    tenant, shared = corp["tenant"], corp["shared"]
    tag = a_tag_not_on(tenant, shared)
    response = bob_client.post(tags_url(shared.pk), {"add": [tag.pk]}, format="json")
    assert response.status_code == 200, response.content
    assert [f["staff"] for f in response.json()["follows"] if tag.pk in f["tags"]] == [corp["bob"]]
    wecom = sandbox_tags(sandbox, shared.external_userid)
    assert tag.wecom_id in wecom[corp["bob"]]
    assert tag.wecom_id not in wecom[corp["other"]]
    assert {r["body"]["userid"] for r in sandbox.records("externalcontact/mark_tag")} == {corp["bob"]}
    assert local_tags(tenant, shared.pk) == wecom

    other = bob_client.post(tags_url(shared.pk), {"add": [tag.pk], "staff": corp["other"]}, format="json")
    assert [e["path"] for e in assert_problem(other, 400, "validation_error")["errors"]] == ["staff"]
    with tenant_context(tenant):
        stranger = Contact.objects.exclude(facets__has_key=f"s:{corp['bob']}").first()
    assert_problem(bob_client.post(tags_url(stranger.pk), {"add": [tag.pk]}, format="json"), 404, "not_found")


def test_one_contact_bad_input(corp, alice_client, charlie_client, sandbox):
    tenant, shared = corp["tenant"], corp["shared"]
    tag = a_tag_not_on(tenant, shared)
    for body, path in (
        ({"add": [999999]}, "add"),
        ({"remove": ["x"]}, "remove"),
        ({}, "add"),
        ({"add": [tag.pk], "remove": [tag.pk]}, "remove"),
        ({"add": [tag.pk], "staff": "nobody"}, "staff"),
    ):
        problem = assert_problem(
            alice_client.post(tags_url(shared.pk), body, format="json"), 400, "validation_error"
        )
        assert path in [e["path"] for e in problem["errors"]], (body, problem)
    with tenant_context(tenant):
        Tag.objects.filter(pk=tag.pk).update(deleted=True)
    assert_problem(
        alice_client.post(tags_url(shared.pk), {"add": [tag.pk]}, format="json"), 400, "validation_error"
    )
    assert_problem(alice_client.post(tags_url(999999), {"add": [tag.pk]}, format="json"), 404, "not_found")
    assert_problem(
        charlie_client.post(tags_url(shared.pk), {"add": [tag.pk]}, format="json"), 404, "not_found"
    )
    assert sandbox.records("externalcontact/mark_tag") == []


def test_wecom_refusing_every_call_is_an_error_and_changes_nothing(corp, alice_client, sandbox):
    tenant, shared = corp["tenant"], corp["shared"]
    tag = a_tag_not_on(tenant, shared)
    before = local_tags(tenant, shared.pk)
    sandbox.set_faults({"apis": {"externalcontact/mark_tag": {"errors": {"48002": 1.0}}}})
    problem = assert_problem(
        alice_client.post(tags_url(shared.pk), {"add": [tag.pk]}, format="json"), 502, "wecom_error"
    )
    assert problem["errors"][0]["code"] == "wecom_48002"
    assert local_tags(tenant, shared.pk) == before
    with tenant_context(tenant):
        assert not ContactEvent.objects.filter(contact=shared, type=EventType.TAGGED).exists()


def test_follow_refused_by_wecom_is_reported_and_only_the_others_change(corp, alice_client, sandbox):
    tenant, shared = corp["tenant"], corp["shared"]
    tag = a_tag_not_on(tenant, shared)
    # The other member deleted the customer in WeCom; our copy has not heard yet: WeCom answers 84061.
    with sandbox.state.lock:
        del sandbox.state.contacts[shared.external_userid].follows[corp["other"]]
    response = alice_client.post(tags_url(shared.pk), {"add": [tag.pk]}, format="json")
    assert response.status_code == 200
    body = response.json()
    [error] = body["errors"]
    assert (error["staff"], error["errcode"], error["code"]) == (corp["other"], 84061, "wecom_84061")
    assert error["hint"]
    mine = local_tags(tenant, shared.pk)
    assert tag.wecom_id in mine[corp["bob"]]
    assert tag.wecom_id not in mine[corp["other"]]
    with tenant_context(tenant):
        assert [
            e.payload["staff"] for e in ContactEvent.objects.filter(contact=shared, type=EventType.TAGGED)
        ] == [corp["bob"]]


# --- many contacts: the job -------------------------------------------------------------------


def run_bulk(client, body, django_capture_on_commit_callbacks, **headers):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(BULK_URL, body, format="json", headers=headers)
    return response


def test_bulk_tag_over_a_filter_with_failures_ends_partial(
    corp, alice_client, sandbox, monkeypatch, django_capture_on_commit_callbacks
):
    tenant = corp["tenant"]
    monkeypatch.setattr(tagging, "CHUNK", 7)  # several chunks and checkpoints over 40 customers
    with tenant_context(tenant):
        tag = Tag.objects.filter(deleted=False).order_by("id").first()
        matched = set(Contact.objects.exclude(facets__has_key=f"t:{tag.pk}").values_list("id", flat=True))
        before = {c.pk: sandbox_tags(sandbox, c.external_userid) for c in Contact.objects.all()}
    assert 0 < len(matched) < len(before)
    sandbox.set_faults({"seed": 3, "apis": {"externalcontact/mark_tag": {"errors": {"60111": 0.3}}}})
    # "everyone without the tag": the filter depends on the tag the job adds.
    response = run_bulk(
        alice_client,
        {"action": "tag", "tags": [tag.pk], "filters": {"tags_none": str(tag.pk)}},
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    job = alice_client.get(f"/api/v1/jobs/{job_id}/").json()
    assert job["status"] == RunStatus.PARTIAL
    assert job["failed"] > 0
    assert job["done"] + job["failed"] == job["total"] > 0
    assert len(job["errors"]) == job["failed"]
    assert {e["errcode"] for e in job["errors"]} == {60111}
    assert all(e["staff"] and e["contact"] and e["message"] for e in job["errors"])
    accepted = sandbox.records("externalcontact/mark_tag")
    assert len(accepted) == job["done"]  # nobody had the tag, so every follow needed a call
    with tenant_context(tenant):
        contacts = list(Contact.objects.all())
    failed = {(e["contact"], e["staff"]) for e in job["errors"]}
    for contact in contacts:
        wecom = sandbox_tags(sandbox, contact.external_userid)
        assert local_tags(tenant, contact.pk) == wecom  # local changed exactly where WeCom did
        if contact.pk not in matched:
            assert wecom == before[contact.pk]  # outside the filter: untouched
            continue
        for userid, ids in wecom.items():
            assert (tag.wecom_id in ids) == ((contact.pk, userid) not in failed)
    with tenant_context(tenant):
        assert ContactEvent.objects.filter(type=EventType.TAGGED, payload__job=job_id).count() == job["done"]


def test_bulk_untag_by_ids_skips_follows_without_the_tag(
    corp, alice_client, sandbox, django_capture_on_commit_callbacks
):
    tenant = corp["tenant"]
    with tenant_context(tenant):
        follow = Follow.objects.exclude(tag_ids=[]).order_by("id").first()
        tag = Tag.objects.get(wecom_id=follow.tag_ids[0])
        ids = list(Contact.objects.order_by("id").values_list("id", flat=True)[:10])
        carrying = Follow.objects.filter(contact_id__in=ids)
        having = sum(1 for f in carrying if tag.wecom_id in f.tag_ids)
        total = carrying.count()
    response = run_bulk(
        alice_client,
        {"action": "untag", "tags": [tag.pk], "contacts": ids},
        django_capture_on_commit_callbacks,
    )
    job = alice_client.get(f"/api/v1/jobs/{response.json()['id']}/").json()
    assert (job["status"], job["total"], job["done"], job["failed"]) == (RunStatus.SUCCEEDED, total, total, 0)
    assert len(sandbox.records("externalcontact/mark_tag")) == having
    with tenant_context(tenant):
        assert not any(tag.wecom_id in f.tag_ids for f in Follow.objects.filter(contact_id__in=ids))


def test_bulk_idempotency_key_returns_the_first_job(
    corp, alice_client, sandbox, django_capture_on_commit_callbacks
):
    with tenant_context(corp["tenant"]):
        tag = Tag.objects.filter(deleted=False).order_by("-id").first()
    body = {"action": "tag", "tags": [tag.pk], "contacts": [corp["shared"].pk]}
    first = run_bulk(alice_client, body, django_capture_on_commit_callbacks, **{"Idempotency-Key": "k-1"})
    calls = len(sandbox.records("externalcontact/mark_tag"))
    second = run_bulk(alice_client, body, django_capture_on_commit_callbacks, **{"Idempotency-Key": "k-1"})
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["id"] == second.json()["id"]
    assert len(sandbox.records("externalcontact/mark_tag")) == calls
    with tenant_context(corp["tenant"]):
        assert Job.objects.count() == 1


def test_bulk_segment_and_bad_targets(corp, alice_client, bob_in_corp, bob_client, tenant_b, sandbox):
    tenant = corp["tenant"]
    with tenant_context(tenant):
        tag = Tag.objects.filter(deleted=False).first()
        segment = Segment.objects.create(name="bob's", filters={"staff": corp["bob"]})
        stranger = Contact.objects.exclude(facets__has_key=f"s:{corp['bob']}").first()
    other_segment = Segment.unscoped.create(tenant=tenant_b, name="b", filters={})

    def path_of(body, client=alice_client):
        return [
            e["path"]
            for e in assert_problem(client.post(BULK_URL, body, format="json"), 400, "validation_error")[
                "errors"
            ]
        ]

    assert path_of({"action": "tag", "tags": [999999], "contacts": [1]}) == ["tags"]
    assert path_of({"action": "tag", "tags": [], "contacts": [1]}) == ["tags"]
    assert path_of({"action": "paint", "tags": [tag.pk], "contacts": [1]}) == ["action"]
    assert path_of({"action": "tag", "tags": [tag.pk]}) == ["contacts"]
    assert path_of({"action": "tag", "tags": [tag.pk], "contacts": [1], "segment": segment.pk}) == [
        "contacts"
    ]
    assert path_of({"action": "tag", "tags": [tag.pk], "contacts": [999999]}) == ["contacts"]
    assert path_of({"action": "tag", "tags": [tag.pk], "filters": {"tagz_all": "1"}}) == ["filters"]
    assert path_of({"action": "tag", "tags": [tag.pk], "filters": {"tags_all": "999999"}}) == [
        "filters.tags_all"
    ]
    assert path_of({"action": "tag", "tags": [tag.pk], "segment": other_segment.pk}) == ["segment"]
    # Customers a sales member cannot see are unknown to it, as in every other route.
    assert path_of({"action": "tag", "tags": [tag.pk], "contacts": [stranger.pk]}, bob_client) == ["contacts"]
    with tenant_context(tenant):
        assert not Job.objects.exists()
    assert sandbox.records("externalcontact/mark_tag") == []

    response = alice_client.post(
        BULK_URL, {"action": "tag", "tags": [tag.pk], "segment": segment.pk}, format="json"
    )
    assert response.status_code == 202
    assert response.json()["params"]["filters"] == {"staff": corp["bob"]}


def test_bulk_job_of_a_sales_member_touches_only_its_follows(
    corp, bob_in_corp, bob_client, sandbox, django_capture_on_commit_callbacks
):
    tenant = corp["tenant"]
    tag = a_tag_not_on(tenant, corp["shared"])
    response = run_bulk(
        bob_client, {"action": "tag", "tags": [tag.pk], "filters": {}}, django_capture_on_commit_callbacks
    )
    assert response.status_code == 202
    job = bob_client.get(f"/api/v1/jobs/{response.json()['id']}/").json()
    assert job["status"] == RunStatus.SUCCEEDED
    with tenant_context(tenant):
        mine = Follow.objects.filter(staff__userid=corp["bob"], status="active").count()
    assert job["total"] == mine
    assert {r["body"]["userid"] for r in sandbox.records("externalcontact/mark_tag")} == {corp["bob"]}
    assert tag.wecom_id not in sandbox_tags(sandbox, corp["shared"].external_userid)[corp["other"]]


def test_resumed_job_continues_after_its_checkpoint(corp, alice):
    tenant = corp["tenant"]
    with tenant_context(tenant):
        tag = a_tag_not_on(tenant, corp["shared"])
        ids = list(Contact.objects.order_by("id").values_list("id", flat=True))
        job = Job.objects.create(
            kind="tag",
            status=RunStatus.RUNNING,
            params={
                "action": "tag",
                "tags": [tag.pk],
                "filters": {},
                "scope": {"role": "admin", "data_scope": "all", "wecom_userid": "", "department_ids": []},
            },
            total=5,
            checkpoint={"last_contact_id": ids[19]},
            created_by=alice,
        )
        tagging.run_tag_job(job)
        touched = set(ContactEvent.objects.filter(payload__job=job.pk).values_list("contact_id", flat=True))
        job.refresh_from_db()
    assert touched
    assert min(touched) > ids[19]
    assert job.total == 5  # a resumed job keeps its total
    assert job.checkpoint == {"last_contact_id": ids[-1]}


def test_rate_limited_calls_are_retried_then_reported(
    corp, alice_client, sandbox, monkeypatch, django_capture_on_commit_callbacks
):
    tenant, shared = corp["tenant"], corp["shared"]
    monkeypatch.setattr(tagging, "MAX_RATE_LIMIT_WAIT", 0)  # do not wait out WeCom's minute in a test
    tag = a_tag_not_on(tenant, shared)
    before = local_tags(tenant, shared.pk)
    sandbox.set_faults({"apis": {"externalcontact/mark_tag": {"errors": {"45009": 1.0}}}})
    response = run_bulk(
        alice_client,
        {"action": "tag", "tags": [tag.pk], "contacts": [shared.pk]},
        django_capture_on_commit_callbacks,
    )
    job = alice_client.get(f"/api/v1/jobs/{response.json()['id']}/").json()
    assert job["status"] == RunStatus.PARTIAL
    assert job["failed"] == len(before)
    assert {e["errcode"] for e in job["errors"]} == {45009}
    assert all(e["hint"] for e in job["errors"])
    assert local_tags(tenant, shared.pk) == before
