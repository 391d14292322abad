"""Seed the demo tenant with an admin and a sales member; print the URL and the demo logins.

Idempotent: the generated passwords are kept in var/demo-credentials.json (demo only, never in the
repository) and printed again on every start; if that file is lost, the demo passwords are reset.
The demo tenant is connected to the local WeCom sandbox (`make run` starts it with
``wecom_sandbox --tenant demo``) with WeCom credentials generated here, demo-only as well.
"""

import base64
import json
import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from scrm.tenancy import services
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import DataScope, Membership, Role, Tenant
from scrm.wecom.management.commands.wecom_sandbox import DEMO_SEED, DEMO_STAFF
from scrm.wecom.sandbox.generator import generate

DEMO_SLUG = "demo"
DEMO_SYNC_DELAY = 5  # seconds: the sandbox is serving well within this
DEMO_USERS = (
    # username, role, data scope, whether it is a WeCom member (a salesperson of the demo corp)
    ("demo-admin", Role.ADMIN, DataScope.ALL, False),
    ("demo-sales", Role.SALES, DataScope.SELF, True),
)


def demo_salesperson_userid() -> str:
    """A salesperson of the sandbox's demo corp (not a manager), so demo-sales sees their customers.

    The generator is deterministic and draws staff before anything else: generating the staff alone
    gives the same members the sandbox serves.
    """
    corp = generate(corp_id="demo", seed=DEMO_SEED, staff=DEMO_STAFF, contacts=0, groups=0)
    return next(
        s.userid
        for s in corp.staff.values()
        if s.has_contact_permission and not s.leader_in and 3 in s.department
    )


class Command(BaseCommand):
    help = "Create (or refresh) the demo tenant and its demo logins, and print them."

    @transaction.atomic
    def handle(self, *args, **opts):
        path = settings.VAR_DIR / "demo-credentials.json"
        stored = json.loads(path.read_text()) if path.exists() else {}
        tenant = Tenant.objects.filter(slug=DEMO_SLUG).first() or services.tenant_create(
            slug=DEMO_SLUG, name="演示企业 Demo Corp"
        )
        connect_to_sandbox(tenant)
        user_model = get_user_model()
        credentials = {}
        salesperson = demo_salesperson_userid()
        for username, role, scope, is_member in DEMO_USERS:
            userid = salesperson if is_member else ""
            password = stored.get(username) or secrets.token_urlsafe(12)
            user = user_model.objects.filter(username=username).first()
            if user is None:
                user, _ = services.user_get_or_create(username=username, password=password)
            elif username not in stored:
                services.user_set_password(user=user, password=password)
            with tenant_context(tenant):
                membership = Membership.objects.filter(user=user).first()
                if membership is None:
                    services.membership_add(
                        tenant=tenant, user=user, role=role, data_scope=scope, wecom_userid=userid
                    )
                elif membership.wecom_userid != userid:
                    services.membership_update(membership=membership, data={"wecom_userid": userid})
            credentials[username] = password
        seed_stages(tenant)
        seed_library(tenant)
        first_start = queue_first_sync(tenant)
        queue_first_groups_sync(tenant)
        queue_demo_channels(tenant)
        queue_demo_campaign(tenant)
        queue_demo_moments(tenant)
        queue_demo_value(tenant)
        queue_demo_sop(tenant)
        path.write_text(json.dumps(credentials, indent=2))
        path.chmod(0o600)
        self.stdout.write(
            f"\nSiyu is starting: open {settings.PUBLIC_URL}/ and log in "
            f"(API docs: {settings.PUBLIC_URL}/api/docs/)\n"
            f"Demo logins — DEMO ONLY, generated for this machine, kept in {path}:\n"
        )
        for username, role, _, _ in DEMO_USERS:
            self.stdout.write(f"  {role:<6} {username} / {credentials[username]}\n")
        self.stdout.write(
            f"The demo tenant's WeCom is the sandbox at {tenant.api_base.removesuffix('cgi-bin/')}\n"
        )
        if first_start:
            self.stdout.write(
                "Its customers are synced from the sandbox in the background on this first start.\n"
            )


# A typical retail pipeline, so the demo's stage filter and stage changes have something to show.
DEMO_STAGES = (("新客户", "#1677ff"), ("意向客户", "#faad14"), ("已成交", "#52c41a"), ("复购客户", "#722ed1"))


def seed_stages(tenant: Tenant) -> None:
    from contacts.models import Stage
    from contacts.services.stages import stage_create

    with tenant_context(tenant):
        if not Stage.objects.exists():
            for order, (name, color) in enumerate(DEMO_STAGES):
                stage_create(name=name, order=order, color=color)


def seed_library(tenant: Tenant) -> None:
    """A few materials in the content library: a poster, a link, a mini program and a text, in two
    folders (the demo's channel codes greet with the first two)."""
    from library.demo import demo_library_seed

    with tenant_context(tenant):
        demo_library_seed()


def queue_first_sync(tenant: Tenant) -> bool:
    """Queue the demo tenant's first contacts sync, so a newcomer finds customers; True if queued.

    It waits a few seconds in the queue: make run starts the sandbox beside the worker, not before it.
    """
    from contacts.models import SyncKind, SyncRun
    from contacts.sync import sync_run_start
    from contacts.tasks.sync import sync_full

    with tenant_context(tenant):
        if SyncRun.objects.filter(kind=SyncKind.CONTACTS).exists():  # a groups run is not a contacts one
            return False
        run = sync_run_start(tenant=tenant, trigger="seed", enqueue=False, kind=SyncKind.CONTACTS)
    transaction.on_commit(lambda: sync_full.apply_async((tenant.pk, run.pk), countdown=DEMO_SYNC_DELAY))
    return True


def queue_first_groups_sync(tenant: Tenant) -> bool:
    """Queue the demo tenant's first customer groups sync, after the contacts one; True if queued.

    Later than the contacts sync, so that the staff it brings own the groups (a groups sync that runs
    first still works: unknown owners get bare staff rows the contacts sync fills in).
    """
    from contacts.models import SyncKind, SyncRun
    from contacts.sync import sync_run_start
    from groups.tasks.sync import sync_full

    with tenant_context(tenant):
        if SyncRun.objects.filter(kind=SyncKind.GROUPS).exists():
            return False
        run = sync_run_start(tenant=tenant, trigger="seed", enqueue=False, kind=SyncKind.GROUPS)
    transaction.on_commit(lambda: sync_full.apply_async((tenant.pk, run.pk), countdown=DEMO_SYNC_DELAY * 2))
    return True


def queue_demo_channels(tenant: Tenant) -> None:
    """A few channel codes for the demo, made in the sandbox once the first sync brought the staff."""
    from contacts.tasks.channels import demo_channels_seed

    transaction.on_commit(lambda: demo_channels_seed.apply_async((tenant.pk,), countdown=DEMO_SYNC_DELAY * 3))


def queue_demo_campaign(tenant: Tenant) -> None:
    """One campaign sent through the sandbox, with results, once the first sync brought the customers
    (campaigns.services.demo; a tenant that has it keeps it)."""
    from campaigns.tasks import demo_seed

    transaction.on_commit(lambda: demo_seed.apply_async((tenant.pk,), countdown=DEMO_SYNC_DELAY * 4))


def queue_demo_moments(tenant: Tenant) -> None:
    """One Moments task published by members through the sandbox, with likes and comments, and the
    members' own posts, once the first sync brought them (moments.services.demo; kept once made)."""
    from moments.tasks import demo_seed

    transaction.on_commit(lambda: demo_seed.apply_async((tenant.pk,), countdown=DEMO_SYNC_DELAY * 4))


def queue_demo_value(tenant: Tenant) -> None:
    """Orders, refunds and custom events for part of the demo's customers, once they are synced
    (value.services.demo), so every tier, score and value figure shows something."""
    from value.tasks import demo_seed

    transaction.on_commit(lambda: demo_seed.apply_async((tenant.pk,), countdown=DEMO_SYNC_DELAY * 4))


def queue_demo_sop(tenant: Tenant) -> None:
    """A live new-customer nurture and a group morning post with the demo salesperson's recent
    customers inside, once they are synced (sop.services.demo); customers the sandbox adds enter too."""
    from sop.tasks import demo_seed

    transaction.on_commit(lambda: demo_seed.apply_async((tenant.pk,), countdown=DEMO_SYNC_DELAY * 4))


def connect_to_sandbox(tenant: Tenant) -> None:
    """Point the demo tenant at the local sandbox, generating its WeCom credentials the first time.

    A demo tenant that an evaluator connected to a real WeCom corp (any non-local API base) is left alone.
    """
    local = f"http://127.0.0.1:{settings.WECOM_SANDBOX_PORT}/cgi-bin/"
    if tenant.corp_id and urlsplit(tenant.api_base).hostname != "127.0.0.1":
        return
    if not tenant.corp_id:
        services.tenant_settings_update(
            tenant=tenant,
            data={
                "corp_id": f"wwdemo{secrets.token_hex(6)}",
                "agent_id": "1000002",
                "corp_secret": secrets.token_urlsafe(32),
                "callback_token": secrets.token_hex(8),
                "encoding_aes_key": base64.b64encode(secrets.token_bytes(32)).decode().rstrip("="),
                "api_base": local,
            },
        )
    elif tenant.api_base != local:
        services.tenant_settings_update(tenant=tenant, data={"api_base": local})
