"""Editing a follow's remark through externalcontact/remark: WeCom first, then the local follow and event."""

from __future__ import annotations

import pytest

from contacts.models import Contact, ContactEvent, EventType, Follow
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Membership
from tests.contacts.test_tags import mirror
from tests.helpers import assert_problem


def url(follow_id: int) -> str:
    return f"/api/v1/follows/{follow_id}/"


@pytest.fixture
def corp(connected, sandbox):
    contacts = mirror(sandbox, connected, contacts=20)
    with tenant_context(connected):
        shared = next(c for c in contacts if c.follows.count() >= 2)
        mine, theirs = list(shared.follows.select_related("staff").order_by("id"))[:2]
    return {"tenant": connected, "shared": shared, "mine": mine, "theirs": theirs}


@pytest.fixture
def bob_in_corp(bob, corp):
    Membership.unscoped.filter(user=bob, tenant=corp["tenant"]).update(wecom_userid=corp["mine"].staff.userid)
    return bob


def sandbox_follow(sandbox, follow: Follow):
    with sandbox.state.lock:
        return sandbox.state.contacts[follow.contact.external_userid].follows[follow.staff.userid]


def test_remark_goes_to_wecom_then_locally_with_an_event(corp, alice_client, sandbox):
    tenant, follow = corp["tenant"], corp["mine"]
    body = {
        "remark": "王总-老客户",
        "description": "每月复购",
        "remark_mobiles": ["13800000001", "13800000002"],
        "remark_corp_name": "思域科技",
    }
    response = alice_client.patch(url(follow.pk), body, format="json")
    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in body} == body
    wecom = sandbox_follow(sandbox, follow)
    assert (wecom.remark, wecom.description, wecom.remark_mobiles, wecom.remark_corp_name) == (
        "王总-老客户",
        "每月复购",
        ["13800000001", "13800000002"],
        "思域科技",
    )
    [record] = sandbox.records("externalcontact/remark")
    assert record["body"]["remark_company"] == "思域科技"
    with tenant_context(tenant):
        follow.refresh_from_db()
        assert follow.remark == "王总-老客户"
        [event] = ContactEvent.objects.filter(contact_id=follow.contact_id, type=EventType.REMARK_CHANGED)
        assert event.payload["changes"]["remark"]["to"] == "王总-老客户"
        assert event.staff_id == follow.staff_id
        # The new remark and number are searchable.
        assert "13800000001" in Contact.objects.get(pk=follow.contact_id).search_text

    # Only changed fields are sent; an unchanged edit calls nobody.
    assert alice_client.patch(url(follow.pk), {"remark": "王总-老客户"}, format="json").status_code == 200
    assert len(sandbox.records("externalcontact/remark")) == 1


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"remark": "x" * 21}, "remark"),
        ({"description": "x" * 151}, "description"),
        ({"remark_mobiles": ["1", "2", "3", "4", "5", "6"]}, "remark_mobiles"),
    ],
)
def test_limits_are_checked_before_wecom(corp, alice_client, sandbox, body, path):
    problem = assert_problem(
        alice_client.patch(url(corp["mine"].pk), body, format="json"), 400, "validation_error"
    )
    assert [e["path"] for e in problem["errors"]] == [path]
    assert sandbox.records("externalcontact/remark") == []


def test_wecom_refusal_changes_nothing(corp, alice_client, sandbox):
    tenant, follow = corp["tenant"], corp["mine"]
    sandbox.set_faults({"apis": {"externalcontact/remark": {"errors": {"84061": 1.0}}}})
    problem = assert_problem(
        alice_client.patch(url(follow.pk), {"remark": "新"}, format="json"), 400, "wecom_error"
    )
    assert problem["errors"][0]["code"] == "wecom_84061"
    with tenant_context(tenant):
        assert Follow.objects.get(pk=follow.pk).remark == follow.remark
        assert not ContactEvent.objects.filter(type=EventType.REMARK_CHANGED).exists()


def test_sales_edits_only_its_own_follow(corp, bob_in_corp, bob_client, sandbox):
    assert bob_client.patch(url(corp["mine"].pk), {"remark": "我的"}, format="json").status_code == 200
    assert_problem(
        bob_client.patch(url(corp["theirs"].pk), {"remark": "不是我的"}, format="json"),
        403,
        "permission_denied",
    )
    with tenant_context(corp["tenant"]):
        stranger = Follow.objects.exclude(contact__facets__has_key=f"s:{corp['mine'].staff.userid}").first()
    assert_problem(bob_client.patch(url(stranger.pk), {"remark": "x"}, format="json"), 404, "not_found")
    assert [r["body"]["userid"] for r in sandbox.records("externalcontact/remark")] == [
        corp["mine"].staff.userid
    ]


def test_other_tenant_gets_404(corp, charlie_client, sandbox):
    assert_problem(charlie_client.get(url(corp["mine"].pk)), 404, "not_found")
    assert_problem(
        charlie_client.patch(url(corp["mine"].pk), {"remark": "x"}, format="json"), 404, "not_found"
    )
    assert sandbox.records("externalcontact/remark") == []
