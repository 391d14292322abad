"""CSV exports: POST /api/v1/contacts/export/ queues a job; the worker writes the whole filter as CSV.

The job is run through the real task (Celery runs eagerly in tests) once the request's transaction
commits; the file is read back from storage as a user downloading it would.
"""

from __future__ import annotations

import csv
import io

import pytest

from contacts.models import Job, JobKind
from contacts.services.exports import EXPORT_COLUMNS
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import AuditEntry, Role
from tests.helpers import assert_problem

EXPORT = "/api/v1/contacts/export/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def world(build_a, alice, bob):
    b = build_a
    ann, bob_staff = b.staff("ann", "安娜"), b.staff("bob", "鲍勃")
    vip, cold = b.tag("VIP"), b.tag("沉睡")
    won = b.stage("成交")
    b.contact(
        "王芳", staff=ann, tags=[vip], remark="王总", mobiles=["13800000001"], state="ch_fair", gender=2,
        corp_name="思语科技", stage=won,
    )  # fmt: skip
    b.contact("李雷", staff=bob_staff, tags=[vip, cold], remark="李", state="ch_web", gender=1)
    b.contact("韩梅梅", staff=[ann, bob_staff], tags=[cold])
    return {"tenant": b.tenant, "vip": vip, "cold": cold}


def export(client, django_capture_on_commit_callbacks, body=None, key=""):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(EXPORT, body or {}, format="json", **headers)
    return response


def rows_of(job_id: int, tenant) -> list[dict]:
    with tenant_context(tenant):
        job = Job.objects.get(pk=job_id)
        assert job.status == "succeeded", (job.status, job.errors)
        raw = job.result_file.open("rb").read()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with a BOM, for Excel"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def test_export_writes_the_filter_as_csv(alice_client, world, django_capture_on_commit_callbacks):
    response = export(alice_client, django_capture_on_commit_callbacks, {"tags_all": str(world["vip"].pk)})
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["kind"] == "export"
    assert job["params"]["filters"] == {"tags_all": str(world["vip"].pk)}
    rows = rows_of(job["id"], world["tenant"])
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert [r["name"] for r in rows] == ["王芳", "李雷"]  # id order
    wang = rows[0]
    assert wang["staff"] == "安娜(ann)"
    assert wang["remarks"] == "王总"
    assert wang["mobiles"] == "13800000001"
    assert wang["tags"] == "VIP"
    assert wang["channels"] == "ch_fair"
    assert wang["gender"] == "女"
    assert wang["corp_name"] == "思语科技"
    assert wang["stage"] == "成交"
    assert wang["status"] == "active"
    assert wang["external_userid"].startswith("wm")
    assert sorted(rows[1]["tags"].split("; ")) == ["VIP", "沉睡"]
    with tenant_context(world["tenant"]):
        done = Job.objects.get(pk=job["id"])
        assert (done.total, done.done) == (2, 2)


def test_export_of_a_segment_with_chosen_columns(alice_client, world, django_capture_on_commit_callbacks):
    segment = alice_client.post(
        "/api/v1/segments/", {"name": "沉睡", "filters": {"tags_any": str(world["cold"].pk)}}, format="json"
    ).json()
    response = export(
        alice_client,
        django_capture_on_commit_callbacks,
        {"segment": segment["id"], "columns": ["name", "staff"]},
    )
    assert response.status_code == 202, response.content
    rows = rows_of(response.json()["id"], world["tenant"])
    assert rows == [
        {"name": "李雷", "staff": "鲍勃(bob)"},
        {"name": "韩梅梅", "staff": "安娜(ann); 鲍勃(bob)"},
    ]


def test_export_streams_in_chunks(
    alice_client, world, build_a, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("contacts.services.exports.CHUNK", 2)
    for i in range(5):
        build_a.contact(f"客户{i}")
    rows = rows_of(export(alice_client, django_capture_on_commit_callbacks).json()["id"], world["tenant"])
    assert len(rows) == 8
    assert len({r["external_userid"] for r in rows}) == 8


def test_sales_export_contains_only_his_customers(bob_client, world, django_capture_on_commit_callbacks):
    response = export(bob_client, django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.content
    assert [r["name"] for r in rows_of(response.json()["id"], world["tenant"])] == ["李雷", "韩梅梅"]


def test_same_idempotency_key_returns_the_same_job(alice_client, world, django_capture_on_commit_callbacks):
    first = export(alice_client, django_capture_on_commit_callbacks, {"status": "active"}, key="exp-1")
    again = export(alice_client, django_capture_on_commit_callbacks, {"status": "active"}, key="exp-1")
    other = export(alice_client, django_capture_on_commit_callbacks, {"status": "active"}, key="exp-2")
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert other.json()["id"] != first.json()["id"]
    with tenant_context(world["tenant"]):
        assert Job.objects.filter(kind=JobKind.EXPORT).count() == 2


def test_exports_are_audit_logged_with_who_and_what(alice_client, world, django_capture_on_commit_callbacks):
    job = export(alice_client, django_capture_on_commit_callbacks, {"search": "王"}).json()
    with tenant_context(world["tenant"]):
        (entry,) = AuditEntry.objects.filter(action="contacts.export")
    assert entry.actor_user.username == "alice"
    assert entry.data["filters"] == {"search": "王"}
    assert entry.data["job"] == job["id"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"tags_all": "999999"}, "tags_all"),
        ({"added_after": "2025-02-30"}, "added_after"),
        ({"staff": "nobody"}, "staff"),
        ({"segment": 999999}, "segment"),
        ({"columns": ["name", "password"]}, "columns.1"),
    ],
)
def test_bad_export_requests_are_400_and_queue_nothing(alice_client, world, body, path):
    body_ = assert_problem(alice_client.post(EXPORT, body, format="json"), 400, "validation_error")
    assert path in [e["path"] for e in body_["errors"]], body_
    with tenant_context(world["tenant"]):
        assert not Job.objects.exists()


def test_other_tenant_cannot_export_a_segment_it_does_not_own(alice_client, charlie_client, world):
    segment = alice_client.post("/api/v1/segments/", {"name": "全部", "filters": {}}, format="json").json()
    response = charlie_client.post(EXPORT, {"segment": segment["id"]}, format="json")
    assert_problem(response, 400, "validation_error")


def test_a_sales_api_key_exports_nothing(key_client_for, tenant_a, world, django_capture_on_commit_callbacks):
    client = key_client_for(tenant_a, Role.SALES)
    response = export(client, django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.content
    assert rows_of(response.json()["id"], world["tenant"]) == []


def test_customer_text_that_a_spreadsheet_would_run_is_written_as_text(
    alice_client, build_a, alice, django_capture_on_commit_callbacks
):
    """A customer controls their name and the remarks staff copy from them: =HYPERLINK(...) in a name
    must open as text in Excel, not as a formula (CSV injection)."""
    b = build_a
    ann = b.staff("ann", "安娜")
    hostile = {
        '=HYPERLINK("http://evil.example","点我")': "+SUM(1,2)",
        "@cmd": "-2+3",
        "\tTAB": "\rCR",
    }
    for name, remark in hostile.items():
        b.contact(name, staff=ann, remark=remark, mobiles=["+8613800000001"])
    b.contact("王芳 = 客户", staff=ann, remark="a-b")
    response = export(alice_client, django_capture_on_commit_callbacks)
    rows = {row["external_userid"]: row for row in rows_of(response.json()["id"], b.tenant)}
    by_name = {row["name"].lstrip("'"): row for row in rows.values()}
    for name, remark in hostile.items():
        row = by_name[name]
        assert row["name"] == f"'{name}"
        assert row["remarks"] == f"'{remark}"
        assert row["mobiles"] == "'+8613800000001"
    assert by_name["王芳 = 客户"]["name"] == "王芳 = 客户"  # only a leading character counts
    assert by_name["王芳 = 客户"]["remarks"] == "a-b"
