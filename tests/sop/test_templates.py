"""The SOP templates: each is a definition ``definition_clean`` accepts as it is (birthday care once the
tenant has its yearly date field ``birthday``), of the kind it says, and the API lists them and creates
SOPs from them that publish."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import ValidationError

from scrm.tenancy.context import tenant_context
from sop.models import Sop, SopKind
from sop.services.definition import definition_clean, definition_compile
from sop.templates import TEMPLATES
from value.models import ProfileField

pytestmark = pytest.mark.django_db


@pytest.fixture
def birthday_field(tenant_a):
    with tenant_context(tenant_a):
        return ProfileField.objects.create(key="birthday", label="生日", kind="date", yearly=True)


def test_there_are_the_four_templates_the_issue_names():
    assert sorted(TEMPLATES) == [
        "birthday_care",
        "group_daily_morning",
        "new_customer_nurture",
        "silent_win_back",
    ]
    assert TEMPLATES["group_daily_morning"].kind == SopKind.GROUP
    assert {t.kind for k, t in TEMPLATES.items() if k != "group_daily_morning"} == {SopKind.CUSTOMER}


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_each_template_is_a_valid_definition(tenant_a, birthday_field, key):
    template = TEMPLATES[key]
    with tenant_context(tenant_a):
        cleaned = definition_clean(kind=template.kind, definition=template.draft())
    plan = definition_compile(cleaned)
    assert plan.first is not None
    assert plan.kind == template.kind


def test_birthday_care_asks_for_the_tenants_date_field(tenant_a):
    with tenant_context(tenant_a), pytest.raises(ValidationError) as refused:
        definition_clean(kind=SopKind.CUSTOMER, definition=TEMPLATES["birthday_care"].draft())
    assert set(refused.value.detail) == {"trigger.field"}
    assert refused.value.detail["trigger.field"][0].code == "does_not_exist"


def test_a_template_hands_out_copies():
    draft = TEMPLATES["new_customer_nurture"].draft()
    draft["steps"].clear()
    assert TEMPLATES["new_customer_nurture"].draft()["steps"]


def test_the_templates_route(alice_client, operator_client, bob_client, key_client_for, tenant_a):
    rows = alice_client.get("/api/v1/sop-templates/").json()
    assert [row["key"] for row in rows] == list(TEMPLATES)
    assert rows[0]["draft"] == TEMPLATES[rows[0]["key"]].draft()
    assert set(rows[0]) == {"key", "name", "description", "kind", "draft"}
    assert operator_client.get("/api/v1/sop-templates/").status_code == 200
    assert key_client_for(tenant_a, "operator").get("/api/v1/sop-templates/").status_code == 200
    assert bob_client.get("/api/v1/sop-templates/").status_code == 403
    assert key_client_for(tenant_a, "sales").get("/api/v1/sop-templates/").status_code == 403


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_an_sop_made_from_each_template_publishes(alice_client, tenant_a, birthday_field, key):
    created = alice_client.post("/api/v1/sops/", {"name": "模板", "template": key}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["kind"], body["template"], body["draft_errors"]) == (TEMPLATES[key].kind, key, [])
    published = alice_client.post(f"/api/v1/sops/{body['id']}/publish/")
    assert published.status_code == 200, published.content
    assert published.json()["status"] == "live"
    with tenant_context(tenant_a):
        assert Sop.objects.get(pk=body["id"]).live_version.number == 1
