"""The management commands integrators and operators script against: their output is an interface."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from contacts.models import Stage, SyncRun
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Membership, Tenant
from scrm.wecom.management.commands.wecom_sandbox import DEMO_SEED, DEMO_STAFF
from scrm.wecom.sandbox import Sandbox


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_create_tenant_prints_one_json_object_and_encrypts_secrets(settings):
    out = run(
        "create_tenant", "--slug", "acme", "--name", "Acme", "--corp-id", "wwacme", "--secret", "s3cr3t",
        "--agent-id", "1000002", "--token", "tok", "--aes-key", "k" * 43, "--api-base", "http://127.0.0.1:9/",
    )  # fmt: skip
    data = json.loads(out)
    tenant = Tenant.objects.get(slug="acme")
    assert data == {
        "id": tenant.id,
        "slug": "acme",
        "callback_url": f"{settings.PUBLIC_URL}/wecom/callback/acme/",
    }
    assert (tenant.corp_id, tenant.corp_secret, tenant.agent_id) == ("wwacme", "s3cr3t", "1000002")
    assert tenant.api_base == "http://127.0.0.1:9/"


@pytest.mark.django_db
def test_create_tenant_refuses_a_duplicate_or_invalid_slug():
    run("create_tenant", "--slug", "acme", "--name", "Acme")
    with pytest.raises(CommandError, match="slug"):
        run("create_tenant", "--slug", "acme", "--name", "Again")
    with pytest.raises(CommandError, match="slug"):
        run("create_tenant", "--slug", "not a slug!", "--name", "Bad")


@pytest.mark.django_db
def test_create_user_makes_a_member_who_can_log_in(tenant_a):
    out = run(
        "create_user", "--username", "dora", "--password", "Long-enough-9", "--tenant", "tenant-a",
        "--role", "sales", "--userid", "dora",
    )  # fmt: skip
    assert "dora" in out
    with tenant_context(tenant_a):
        membership = Membership.objects.get(user__username="dora")
    assert (membership.role, membership.data_scope, membership.wecom_userid) == ("sales", "self", "dora")
    response = APIClient().post(
        "/api/v1/auth/login/", {"username": "dora", "password": "Long-enough-9"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["role"] == "sales"


@pytest.mark.django_db
def test_create_user_errors_are_readable(tenant_a):
    base = ["create_user", "--username", "x", "--password", "Long-enough-9"]
    with pytest.raises(CommandError, match="No tenant"):
        run(*base, "--tenant", "nope", "--role", "admin")
    with pytest.raises(CommandError, match="wecom_userid"):
        run(*base, "--tenant", "tenant-a", "--role", "sales")


@pytest.mark.django_db
def test_create_api_key_prints_the_key_alone_and_it_works(tenant_a, alice):
    out = run("create_api_key", "--tenant", "tenant-a", "--role", "admin", "--name", "erp")
    key = out.strip()
    assert out.count("\n") <= 1
    assert " " not in key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = client.get("/api/v1/members/")
    assert response.status_code == 200
    assert [m["username"] for m in response.json()["results"]] == ["alice"]


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_its_printed_logins_work(settings, tmp_path):
    settings.VAR_DIR = settings.MEDIA_ROOT = tmp_path  # the demo's library keeps a poster
    first = run("seed_demo")
    second = run("seed_demo")
    # The first start queues the demo's first contacts sync; later starts leave syncing to the admin.
    first_sync = "Its customers are synced from the sandbox in the background on this first start.\n"
    assert first_sync in first
    assert first.replace(first_sync, "") == second
    assert "DEMO ONLY" in first
    logins = {}
    for line in first.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] == "/":
            logins[parts[1]] = (parts[0], parts[3])
    assert set(logins) == {"demo-admin", "demo-sales"}
    for username, (role, password) in logins.items():
        response = APIClient().post(
            "/api/v1/auth/login/", {"username": username, "password": password}, format="json"
        )
        assert response.status_code == 200, username
        assert response.json()["role"] == role
        assert response.json()["active_tenant"]["slug"] == "demo"
    # The demo tenant is connected to the local WeCom sandbox with generated, demo-only credentials.
    tenant = Tenant.objects.get(slug="demo")
    assert tenant.api_base == f"http://127.0.0.1:{settings.WECOM_SANDBOX_PORT}/cgi-bin/"
    assert tenant.corp_id.startswith("wwdemo")
    assert len(tenant.encoding_aes_key) == 43
    assert tenant.corp_secret
    assert tenant.callback_token
    assert f"sandbox at http://127.0.0.1:{settings.WECOM_SANDBOX_PORT}/" in first
    with tenant_context(tenant):
        # The demo's first syncs, of contacts and of customer groups, wait in the queue for the worker.
        assert list(SyncRun.objects.order_by("kind").values_list("kind", "trigger", "status")) == [
            ("contacts", "seed", "queued"),
            ("groups", "seed", "queued"),
        ]
        assert list(Stage.objects.values_list("name", flat=True)) == [
            "新客户",
            "意向客户",
            "已成交",
            "复购客户",
        ]
    # demo-sales is a real salesperson of the demo corp the sandbox serves, so it has customers.
    with tenant_context(tenant):
        userid = Membership.objects.get(user__username="demo-sales").wecom_userid
    corp = Sandbox(seed=DEMO_SEED, staff=DEMO_STAFF, contacts=300, groups=0).state
    assert corp.staff[userid].has_contact_permission
    assert any(userid in c.follows for c in corp.contacts.values())
    # Losing the credentials file resets the demo passwords instead of printing stale ones.
    (tmp_path / "demo-credentials.json").unlink()
    third = run("seed_demo")
    assert third != first
    assert Tenant.objects.filter(slug="demo").count() == 1
    # A groups run is not a contacts one: without a contacts run, the next start queues it again.
    with tenant_context(tenant):
        SyncRun.objects.filter(kind="contacts").delete()
    assert first_sync in run("seed_demo")
    with tenant_context(tenant):
        assert sorted(SyncRun.objects.values_list("kind", flat=True)) == ["contacts", "groups"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--aes-key", "k" * 42),  # WeCom's keys are exactly 43 characters
        ("--aes-key", "k" * 44),
        ("--aes-key", "k" * 42 + "-"),  # the URL-safe alphabet is not WeCom's
        ("--token", "tok en"),
    ],
)
def test_create_tenant_refuses_callback_keys_wecom_would_not_accept(option, value):
    field = {"--aes-key": "encoding_aes_key", "--token": "callback_token"}[option]
    with pytest.raises(CommandError, match=field):
        run("create_tenant", "--slug", "acme", "--name", "Acme", option, value)
    assert not Tenant.objects.filter(slug="acme").exists()


@pytest.mark.django_db
def test_create_tenant_refuses_an_api_base_the_deployment_does_not_allow(settings):
    settings.WECOM_SANDBOX_ALLOWED = False
    with pytest.raises(CommandError, match="api_base"):
        run("create_tenant", "--slug", "acme", "--name", "Acme", "--api-base", "http://127.0.0.1:9/")
    assert not Tenant.objects.filter(slug="acme").exists()
