"""The campaigns routes: drafts, validation, the preview, send / schedule / cancel, tasks, recipients
and their export, the settings — with their roles (admins and operators run campaigns, sales members
see their own share, admins set the limits), tenant isolation (charlie gets 404 on every object
route), and API keys as well as sessions.

The clock is pinned (this module is in CLOCK_MODULES): scheduled times and the caps' periods depend on it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    CampaignTask,
    Dispatch,
    DoNotDisturb,
    RecipientStatus,
    TaskStatus,
)
from campaigns.services.plan import campaign_plan_write
from library.models import Material, MaterialUse
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import ApiKey, AuditEntry, Role
from tests.campaigns.conftest import at
from tests.helpers import assert_problem

pytestmark = pytest.mark.django_db
URL = "/api/v1/campaigns/"
NOW = at("2026-11-30 10:00")
BODY = {"name": "双十二预热", "chat_type": "single", "audience": {"filters": {}}, "text": "12.12 全场 8 折"}


@pytest.fixture(autouse=True)
def _pinned(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def book(tenant_a, build_a):
    """Two members: "bob" (the sales member's WeCom identity) with 3 customers, zoe with 2."""
    bob, zoe = build_a.staff("bob", "Bob"), build_a.staff("zoe", "Zoe")
    return {
        "bob": bob,
        "zoe": zoe,
        "bobs": [build_a.contact(f"B{i}", staff=bob) for i in range(3)],
        "zoes": [build_a.contact(f"=Z{i}", staff=zoe) for i in range(2)],
    }


def create(client, **changes) -> dict:
    response = client.post(URL, {**BODY, **changes}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def sent_campaign(tenant, name: str = "已发送") -> Campaign:
    """A campaign planned and sent (its tasks created in WeCom, as the dispatch leaves them)."""
    with tenant_context(tenant):
        campaign = Campaign.objects.create(name=name, audience={"filters": {}}, text="hi")
        campaign_plan_write(campaign=campaign)
        for task in CampaignTask.objects.filter(campaign=campaign):
            CampaignTask.objects.filter(pk=task.pk).update(status=TaskStatus.CREATED, msgid=f"msg{task.pk}")
        Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENT, dispatched_at=NOW)
        campaign.refresh_from_db()
    return campaign


# -- drafts ---------------------------------------------------------------------------------------


def test_create_read_change_delete_a_draft(alice_client, alice, book, tenant_a):
    created = create(alice_client)
    assert (created["status"], created["chat_type"], created["audience"]) == (
        "draft",
        "single",
        {"filters": {}},
    )
    assert created["created_by"] == {"type": "member", "id": alice.pk, "name": "alice"}
    assert (created["can_edit"], created["can_delete"], created["plan"], created["dispatch"]) == (
        True,
        True,
        None,
        None,
    )
    one = f"{URL}{created['id']}/"
    changed = alice_client.patch(one, {"name": "双十二", "text": "  全场 7 折  "}, format="json")
    assert changed.status_code == 200, changed.content
    assert (changed.json()["name"], changed.json()["text"]) == ("双十二", "全场 7 折")
    assert alice_client.get(one).json()["text"] == "全场 7 折"
    assert alice_client.delete(one).status_code == 204
    assert_problem(alice_client.get(one), 404, "not_found")


def test_attachments_come_from_the_library_and_their_use_is_recorded(alice_client, tenant_a, book):
    with tenant_context(tenant_a):
        link = Material.objects.create(kind="link", title="新品", url="https://example.com/new")
        text = Material.objects.create(kind="text", title="话术", text="hello")
    created = create(alice_client, text="", attachments=[{"material_id": link.pk}])
    with tenant_context(tenant_a):
        assert list(
            MaterialUse.objects.filter(owner_type="campaign").values_list("owner_id", "material_id")
        ) == [(created["id"], link.pk)]
    problem = assert_problem(
        alice_client.patch(
            f"{URL}{created['id']}/", {"attachments": [{"material_id": text.pk}]}, format="json"
        ),
        400,
        "validation_error",
    )
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [
        ("attachments.0.material_id", "wrong_kind")
    ]
    assert alice_client.delete(f"{URL}{created['id']}/").status_code == 204
    with tenant_context(tenant_a):
        assert not MaterialUse.objects.filter(owner_type="campaign").exists()


@pytest.mark.parametrize(
    ("changes", "path", "code"),
    [
        ({"name": "  "}, "name", "blank"),
        ({"text": ""}, "text", "invalid"),
        ({"text": "{customer_name}，您好"}, "text", "placeholder"),
        ({"text": "好" * 1334}, "text", "too_many_bytes"),
        ({"attachments": [{"material_id": 999999}]}, "attachments.0.material_id", "does_not_exist"),
        ({"chat_type": "broadcast"}, "chat_type", "invalid_choice"),
        ({"audience": {"segment_id": 999999}}, "audience.segment_id", "does_not_exist"),
        ({"audience": {"filters": {"stage": "999999"}}}, "audience.filters.stage", "does_not_exist"),
        ({"audience": {"owner_ids": [1]}}, "audience.owner_ids", "invalid"),
        ({"chat_type": "group", "audience": {"tag_ids": [999999]}}, "audience.tag_ids.0", "does_not_exist"),
        ({"scheduled_at": "2026-11-30T09:59:00+08:00"}, "scheduled_at", "in_the_past"),
        ({"scheduled_at": "2027-01-05T10:00:00+08:00"}, "scheduled_at", "too_far_ahead"),
    ],
)
def test_invalid_campaigns_are_refused_with_the_field(alice_client, tenant_a, changes, path, code):
    problem = assert_problem(
        alice_client.post(URL, {**BODY, **changes}, format="json"), 400, "validation_error"
    )
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [(path, code)]
    with tenant_context(tenant_a):
        assert not Campaign.objects.exists()


def test_placeholders_are_refused_with_why(alice_client):
    problem = assert_problem(
        alice_client.post(URL, {**BODY, "text": "Hi {name}"}, format="json"), 400, "validation_error"
    )
    assert "cannot fill in a name" in problem["errors"][0]["message"]


def test_a_time_without_offset_is_in_the_tenant_zone(alice_client, operator_client):
    alice_client.patch("/api/v1/campaign-settings/", {"time_zone": "America/New_York"}, format="json")
    created = create(operator_client, scheduled_at="2026-12-01T09:00:00")
    assert dt.datetime.fromisoformat(created["scheduled_at"]) == dt.datetime(
        2026, 12, 1, 14, 0, tzinfo=dt.UTC
    )


def test_idempotency_key_is_the_callers_own(alice_client, operator_client, tenant_a):
    headers = {"HTTP_IDEMPOTENCY_KEY": "wizard-1"}
    first = alice_client.post(URL, BODY, format="json", **headers)
    again = alice_client.post(URL, {**BODY, "name": "another"}, format="json", **headers)
    other = operator_client.post(URL, BODY, format="json", **headers)
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert again.json()["id"] == first.json()["id"]
    assert other.json()["id"] != first.json()["id"]
    with tenant_context(tenant_a):
        assert Campaign.objects.count() == 2


def test_an_api_key_is_an_actor(tenant_a, key_client_for, book):
    client = key_client_for(tenant_a, Role.OPERATOR)
    created = create(client)
    key = ApiKey.unscoped.get(tenant=tenant_a, name="operator key")
    assert created["created_by"] == {"type": "api_key", "id": key.pk, "name": "operator key"}
    listed = client.get(URL).json()  # cursor pagination for keys
    assert [c["id"] for c in listed["results"]] == [created["id"]]


# -- the preview ----------------------------------------------------------------------------------


def test_the_preview_states_who_will_and_will_not_receive_it_and_writes_nothing(alice_client, tenant_a, book):
    with tenant_context(tenant_a):
        DoNotDisturb.objects.create(contact=book["zoes"][0])
    response = alice_client.post(
        f"{URL}preview/", {"chat_type": "single", "audience": {"filters": {}}}, format="json"
    )
    assert response.status_code == 200, response.content
    plan = response.json()
    assert (plan["audience_total"], plan["will_receive"], plan["members"], plan["tasks"]) == (5, 4, 2, 2)
    assert plan["skipped"] == {"dnd": 1, "no_sender": 0, "receive_limit": 0, "marketing_cap": 0}
    assert plan["skipped_sample"] == [
        {
            "target": book["zoes"][0].external_userid,
            "contact_id": book["zoes"][0].pk,
            "group_id": None,
            "name": "=Z0",
            "reason": "dnd",
        }
    ]
    assert plan["rules"]["limit"] == 30  # November
    assert [(m["staff"]["userid"], m["recipients"]) for m in plan["per_member"]] == [("bob", 3), ("zoe", 1)]
    with tenant_context(tenant_a):
        assert not Campaign.objects.exists()
        assert not CampaignRecipient.objects.exists()


def test_the_preview_of_a_later_send_uses_that_periods_limit(alice_client, book):
    body = {"chat_type": "single", "audience": {"filters": {}}, "scheduled_at": "2026-12-02T09:00:00"}
    plan = alice_client.post(f"{URL}preview/", body, format="json").json()
    assert (plan["rules"]["limit"], plan["rules"]["period_start"]) == (31, "2026-12-01T00:00:00+08:00")


# -- sending --------------------------------------------------------------------------------------


def test_schedule_then_send_now(alice_client, alice, tenant_a, book, django_capture_on_commit_callbacks):
    created = create(alice_client)
    send = f"{URL}{created['id']}/send/"
    scheduled = alice_client.post(send, {"scheduled_at": "2026-12-01T09:00:00+08:00"}, format="json")
    assert scheduled.status_code == 200, scheduled.content
    assert (scheduled.json()["status"], scheduled.json()["scheduled_at"]) == (
        "scheduled",
        "2026-12-01T09:00:00+08:00",
    )
    # Still editable until due; the tick starts it then.
    assert alice_client.patch(f"{URL}{created['id']}/", {"text": "改"}, format="json").status_code == 200
    assert_problem(alice_client.delete(f"{URL}{created['id']}/"), 409, "conflict")

    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        now = alice_client.post(send, {}, format="json")
    assert now.status_code == 200, now.content
    assert (now.json()["status"], now.json()["scheduled_at"]) == ("dispatching", None)
    assert len(enqueued) == 1  # the dispatch run, on commit
    with tenant_context(tenant_a):
        assert Dispatch.objects.filter(campaign_id=created["id"]).count() == 1
        assert AuditEntry.objects.filter(action="campaigns.send", actor_user=alice).count() == 2

    assert_problem(alice_client.post(send, {}, format="json"), 409, "conflict")
    assert_problem(
        alice_client.patch(f"{URL}{created['id']}/", {"text": "x"}, format="json"), 409, "conflict"
    )


def test_send_checks_the_content_again(alice_client, tenant_a, book):
    with tenant_context(tenant_a):
        image = Material.objects.create(kind="link", title="图", url="https://example.com/")
    created = create(alice_client, text="", attachments=[{"material_id": image.pk}])
    with tenant_context(tenant_a):
        Material.objects.filter(pk=image.pk).update(deleted_at=NOW)
    problem = assert_problem(
        alice_client.post(f"{URL}{created['id']}/send/", {}, format="json"), 400, "validation_error"
    )
    assert problem["errors"][0]["path"] == "attachments.0.material_id"
    assert alice_client.get(f"{URL}{created['id']}/").json()["status"] == "draft"


def test_cancel_a_scheduled_campaign(alice_client, book):
    created = create(alice_client, scheduled_at="2026-12-01T09:00:00+08:00")
    alice_client.post(
        f"{URL}{created['id']}/send/", {"scheduled_at": "2026-12-01T09:00:00+08:00"}, format="json"
    )
    cancelled = alice_client.post(f"{URL}{created['id']}/cancel/")
    assert cancelled.status_code == 200, cancelled.content
    assert (cancelled.json()["campaign"]["status"], cancelled.json()["tasks_cancelled"]) == ("cancelled", 0)
    assert_problem(alice_client.post(f"{URL}{created['id']}/cancel/"), 409, "conflict")
    assert_problem(alice_client.post(f"{URL}{created['id']}/send/", {}, format="json"), 409, "conflict")


def test_remind_and_refresh_need_a_sent_campaign(alice_client, book):
    created = create(alice_client)
    assert_problem(alice_client.post(f"{URL}{created['id']}/remind/"), 409, "conflict")
    assert_problem(alice_client.post(f"{URL}{created['id']}/refresh/"), 409, "conflict")


# -- tasks, recipients, export; what sales members see ----------------------------------------------


def test_tasks_and_recipients(alice_client, tenant_a, book):
    campaign = sent_campaign(tenant_a)
    tasks = alice_client.get(f"{URL}{campaign.pk}/tasks/").json()["results"]
    assert [
        (t["staff"]["userid"], t["recipients"], t["status"], t["can_remind"], t["reminders_left"])
        for t in tasks
    ] == [
        ("bob", 3, "created", True, 3),
        ("zoe", 2, "created", True, 3),
    ]
    detail = alice_client.get(f"{URL}{campaign.pk}/").json()
    assert (detail["plan"]["will_receive"], detail["recipients"], detail["members"]) == (5, 5, 2)

    rows = alice_client.get(f"{URL}{campaign.pk}/recipients/", {"staff": book["zoe"].pk}).json()["results"]
    assert sorted(r["contact"]["name"] for r in rows) == ["=Z0", "=Z1"]
    assert {r["staff"]["userid"] for r in rows} == {"zoe"}
    with tenant_context(tenant_a):
        CampaignRecipient.objects.filter(contact=book["zoes"][0]).update(
            status=RecipientStatus.SENT, sent_at=NOW
        )
    sent = alice_client.get(f"{URL}{campaign.pk}/recipients/", {"status": "sent"}).json()["results"]
    assert [r["target"] for r in sent] == [book["zoes"][0].external_userid]
    assert_problem(
        alice_client.get(f"{URL}{campaign.pk}/recipients/", {"status": "lost"}), 400, "validation_error"
    )


def test_the_export_is_a_csv_excel_reads(alice_client, tenant_a, book):
    campaign = sent_campaign(tenant_a)
    with tenant_context(tenant_a):
        CampaignRecipient.objects.filter(contact=book["zoes"][0]).update(
            status=RecipientStatus.SENT, sent_at=NOW
        )
    response = alice_client.get(f"{URL}{campaign.pk}/recipients/export/", {"staff": book["zoe"].pk})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0] == ["target", "name", "status", "staff_userid", "staff_name", "chunk", "sent_at"]
    assert sorted(rows[1:]) == [
        [book["zoes"][0].external_userid, "'=Z0", "sent", "zoe", "Zoe", "0", "2026-11-30 10:00:00"],
        [book["zoes"][1].external_userid, "'=Z1", "planned", "zoe", "Zoe", "0", ""],
    ]


def test_sales_members_see_their_own_share_and_change_nothing(
    bob_client, alice_client, tenant_a, book, build_a
):
    mine = sent_campaign(tenant_a)
    with tenant_context(tenant_a):
        other = Campaign.objects.create(name="not mine", audience={"filters": {"staff": "zoe"}}, text="hi")
        campaign_plan_write(campaign=other)
    assert [c["id"] for c in bob_client.get(URL).json()["results"]] == [mine.pk]
    detail = bob_client.get(f"{URL}{mine.pk}/").json()
    assert (detail["plan"], detail["can_edit"], detail["can_cancel"]) == (None, False, False)
    tasks = bob_client.get(f"{URL}{mine.pk}/tasks/").json()["results"]
    assert [(t["staff"]["userid"], t["can_remind"]) for t in tasks] == [("bob", False)]
    rows = bob_client.get(f"{URL}{mine.pk}/recipients/").json()["results"]
    assert sorted(r["contact"]["name"] for r in rows) == ["B0", "B1", "B2"]
    exported = b"".join(bob_client.get(f"{URL}{mine.pk}/recipients/export/").streaming_content).decode()
    assert "=Z0" not in exported
    assert "B1" in exported
    assert_problem(bob_client.get(f"{URL}{other.pk}/"), 404, "not_found")
    bob_task = CampaignTask.unscoped.get(campaign=mine, staff=book["bob"])
    for method, path, body in (
        ("post", URL, BODY),
        ("post", f"{URL}preview/", {"chat_type": "single", "audience": {"filters": {}}}),
        ("patch", f"{URL}{mine.pk}/", {"name": "x"}),
        ("delete", f"{URL}{mine.pk}/", None),
        ("post", f"{URL}{mine.pk}/send/", {}),
        ("post", f"{URL}{mine.pk}/cancel/", None),
        ("post", f"{URL}{mine.pk}/remind/", None),
        ("post", f"{URL}{mine.pk}/refresh/", None),
        ("post", f"{URL}{mine.pk}/tasks/{bob_task.pk}/remind/", None),
    ):
        assert_problem(getattr(bob_client, method)(path, body, format="json"), 403, "permission_denied")


def test_a_sales_api_key_sees_no_campaign(tenant_a, key_client_for, book):
    sent_campaign(tenant_a)
    client = key_client_for(tenant_a, Role.SALES)
    assert client.get(URL).json()["results"] == []


def test_another_tenant_gets_404_on_every_campaign_route(charlie_client, tenant_a, book):
    campaign = sent_campaign(tenant_a)
    task = CampaignTask.unscoped.filter(campaign=campaign).first()
    base = f"{URL}{campaign.pk}/"
    for method, path in (
        ("get", base),
        ("patch", base),
        ("delete", base),
        ("post", f"{base}send/"),
        ("post", f"{base}cancel/"),
        ("post", f"{base}remind/"),
        ("post", f"{base}refresh/"),
        ("get", f"{base}tasks/"),
        ("post", f"{base}tasks/{task.pk}/remind/"),
        ("get", f"{base}recipients/"),
        ("get", f"{base}recipients/export/"),
    ):
        assert_problem(getattr(charlie_client, method)(path, {}, format="json"), 404, "not_found")
    assert charlie_client.get(URL).json()["results"] == []


def test_a_task_of_another_campaign_is_404(alice_client, tenant_a, book):
    first, second = sent_campaign(tenant_a, "一"), sent_campaign(tenant_a, "二")
    task = CampaignTask.unscoped.filter(campaign=second).first()
    assert_problem(alice_client.post(f"{URL}{first.pk}/tasks/{task.pk}/remind/"), 404, "not_found")


def test_a_confirmed_task_cannot_be_reminded(alice_client, tenant_a, book):
    campaign = sent_campaign(tenant_a)
    task = CampaignTask.unscoped.filter(campaign=campaign, staff=book["bob"]).first()
    CampaignTask.unscoped.filter(pk=task.pk).update(confirmed_at=NOW)
    row = next(
        t for t in alice_client.get(f"{URL}{campaign.pk}/tasks/").json()["results"] if t["id"] == task.pk
    )
    assert row["can_remind"] is False
    assert_problem(alice_client.post(f"{URL}{campaign.pk}/tasks/{task.pk}/remind/"), 409, "conflict")


# -- the list ---------------------------------------------------------------------------------------


def test_the_list_filters_and_reads_a_page_in_constant_queries(alice_client, tenant_a, book):
    sent_campaign(tenant_a, "春节 sent")
    draft = create(alice_client, name="春节 draft")
    create(alice_client, name="group", chat_type="group", audience={})

    def names(**params) -> list[str]:
        return [c["name"] for c in alice_client.get(URL, params).json()["results"]]

    assert names() == ["group", "春节 draft", "春节 sent"]
    assert names(status="draft") == ["group", "春节 draft"]
    assert names(status=["sent", "closed"]) == ["春节 sent"]
    assert names(chat_type="group") == ["group"]
    assert names(search="春节") == ["春节 draft", "春节 sent"]
    assert_problem(alice_client.get(URL, {"status": "gone"}), 400, "validation_error")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert alice_client.get(URL).status_code == 200
        return len(queries)

    few = count()
    for i in range(4):
        create(alice_client, name=f"more {i}")
    sent_campaign(tenant_a, "another sent")
    assert count() == few
    assert draft["id"]


# -- settings ---------------------------------------------------------------------------------------


def test_settings_are_read_by_all_and_changed_by_admins(
    alice_client, bob_client, operator_client, charlie_client
):
    url = "/api/v1/campaign-settings/"
    got = bob_client.get(url).json()
    assert {k: got[k] for k in ("receive_limit", "sender_rule", "marketing_cap_per_week", "time_zone")} == {
        "receive_limit": "month",
        "sender_rule": "first",
        "marketing_cap_per_week": None,
        "time_zone": "Asia/Shanghai",
    }
    assert got["current_period"] == {
        "limit": 30,
        "start": "2026-11-01T00:00:00+08:00",
        "end": "2026-12-01T00:00:00+08:00",
    }
    for client in (bob_client, operator_client):
        assert_problem(client.patch(url, {"receive_limit": "day"}, format="json"), 403, "permission_denied")
    changed = alice_client.patch(
        url, {"receive_limit": "week", "marketing_cap_per_week": 3}, format="json"
    ).json()
    assert (
        changed["receive_limit"],
        changed["marketing_cap_per_week"],
        changed["current_period"]["limit"],
    ) == (
        "week",
        3,
        7,
    )
    problem = assert_problem(
        alice_client.patch(url, {"time_zone": "Mars/Olympus"}, format="json"), 400, "validation_error"
    )
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [("time_zone", "does_not_exist")]
    assert_problem(
        alice_client.patch(url, {"marketing_cap_per_week": 0}, format="json"), 400, "validation_error"
    )
    # Another tenant has its own.
    assert charlie_client.get(url).json()["receive_limit"] == "month"
