"""Every write operation of the OpenAPI schema, by a session admin and by an admin API key.

A key is an actor like a member (DESIGN.md §8): each POST, PUT, PATCH and DELETE the schema lists is
sent once per actor, on tenant A connected to the in-process WeCom sandbox and synced (contacts and
groups), with a plausible body built from the request schema: its required properties, with real ids
of existing objects for path parameters and id fields, plus the few optional fields that make the
call do something (``PLAUSIBLE``). No answer may be a 5xx; every operation succeeds but for the
refusals listed in ``REFUSED`` with their reason; and what a create records as its author (the row's
``created_by``-style fields, the events it wrote, the audit log) is the actor that sent it.

Objects made by a collection's POST are the ones its PATCH, PUT, actions and DELETE then work on,
so operations run in phases: creates, then changes and actions, then deletes, then the session routes.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db.models import Count, Q
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from campaigns.models import Campaign, CampaignStatus, CampaignTask, DoNotDisturb
from campaigns.services.campaigns import campaign_send
from contacts.models import (
    Contact,
    ContactEvent,
    ContactWay,
    EventType,
    Follow,
    FollowStatus,
    Job,
    Note,
    Notification,
    Segment,
    Staff,
    Stage,
    SyncRun,
    Tag,
    TagGroup,
)
from groups.models import Group, GroupStatus, GroupTag, GroupTransfer, GroupWelcomeTemplate, JoinWay
from library.models import Material
from moments.models import CreateType, Moment, MomentPublication, MomentTask, TaskStatus
from scrm.tenancy import services
from scrm.tenancy.actors import SYSTEM, Actor, actor_display
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import ApiKey, AuditEntry, Invitation, Membership, Role
from scrm.wecom.models import CallbackEvent
from sop.models import Sop, SopEnrolment, SopStatus, SopStepRun, SopTask, SopVersion
from tests.contacts.builders import run_sync
from tests.groups.conftest import run_groups_sync
from tests.helpers import PASSWORD, connect_tenant
from tests.wecom.conftest import sandbox, sandbox_factory  # noqa: F401 -- fixtures reused here
from value.models import PointsEntry, ProfileField

WRITE_METHODS = ("post", "put", "patch", "delete")

# (method, path, actor) → (status, why). Everything else must succeed (2xx).
REFUSED: dict[tuple[str, str, str], tuple[int, str]] = {
    ("POST", "/api/v1/auth/switch-tenant/", "key"): (403, "a key belongs to one tenant: nothing to switch"),
    ("POST", "/api/v1/auth/logout/", "key"): (403, "a key has no session to end"),
    ("POST", "/api/v1/notifications/{id}/read/", "key"): (403, "notifications are a member's inbox"),
    ("POST", "/api/v1/notifications/read-all/", "key"): (403, "notifications are a member's inbox"),
    ("POST", "/api/v1/auth/invitations/{id}/accept/", "key"): (403, "invitations are to people, not keys"),
    ("POST", "/api/v1/auth/invitations/{id}/decline/", "key"): (403, "invitations are to people, not keys"),
}

# Operations of the schema this test does not send, with the reason. (None today: keep it that way.)
NOT_EXERCISED: dict[tuple[str, str], str] = {}


@dataclass
class World:
    """Tenant A after a sync, the objects the bodies and paths refer to, and the acting client."""

    tenant: Any
    client: Any
    actor: Actor
    label: str
    ids: dict[str, Any]  # request property → the id(s) (or userid) it takes
    existing: dict[str, int]  # collection (or operation) path → an id of a synced or prepared object
    created: dict[str, int] = field(default_factory=dict)  # collection path → the id its POST made
    names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def name(self) -> str:
        return f"{self.label}{next(self.names)}"


# Optional fields that make an operation do something (a code with a member, a tag actually added).
PLAUSIBLE: dict[tuple[str, str], Callable[[World], dict]] = {
    ("POST", "/api/v1/auth/login/"): lambda w: {"username": "alice", "password": PASSWORD},
    ("POST", "/api/v1/auth/switch-tenant/"): lambda w: {"tenant": w.tenant.slug},
    ("POST", "/api/v1/channels/"): lambda w: {"user_ids": [w.ids["staff"]]},
    ("POST", "/api/v1/contacts/{id}/tags/"): lambda w: {"add": [w.ids["new_tag"]]},
    ("POST", "/api/v1/contacts/bulk-tag/"): lambda w: {"contacts": w.ids["contacts"]},
    ("PATCH", "/api/v1/follows/{id}/"): lambda w: {"remark": f"回访 {w.name()}"},
    ("POST", "/api/v1/group-codes/"): lambda w: {"room_base_name": "新群"},
    ("POST", "/api/v1/groups/bulk-tag/"): lambda w: {"add": w.ids["tag_ids"]},
    ("POST", "/api/v1/group-welcome-templates/"): lambda w: {"text": "欢迎 %NICKNAME% 入群"},
    # The schema makes content optional in a PATCH; the route wants it (the only field a note has).
    ("PATCH", "/api/v1/notes/{id}/"): lambda w: {"content": "已回访"},
    ("POST", "/api/v1/invitations/"): lambda w: {"password": PASSWORD, "role": Role.OPERATOR},
    ("POST", "/api/v1/transfers/"): lambda w: {"kind": "transfer", "contacts": w.ids["contacts"]},
    # A request shape per chat type (oneOf): a campaign to every customer.
    ("POST", "/api/v1/campaigns/"): lambda w: {
        "name": w.name(),
        "chat_type": "single",
        "audience": {"filters": {}},
        "text": "双十二全场 8 折",
    },
    ("POST", "/api/v1/campaigns/preview/"): lambda w: {"chat_type": "single", "audience": {"filters": {}}},
    ("PATCH", "/api/v1/tenant/"): lambda w: {"name": "Tenant A"},
    ("POST", "/api/v1/moments/tasks/"): lambda w: {
        "text": f"新品上市 {w.name()}",
        "staff_ids": [w.ids["staff"]],
    },
    ("POST", "/api/v1/moments/tasks/preview/"): lambda w: {"staff_ids": [w.ids["staff"]]},
    ("PATCH", "/api/v1/moments/settings/"): lambda w: {"remind_after_hours": 12},
    # The schema's first request shape is JSON (a text, a link or a mini program): a text.
    ("POST", "/api/v1/materials/"): lambda w: {"kind": "text", "text": f"双十一预告 {w.name()}"},
    ("PATCH", "/api/v1/materials/{id}/"): lambda w: {"title": f"预告 {w.name()}"},
    # An order and a custom event for a customer the tenant has.
    ("POST", "/api/v1/events/"): lambda w: {
        "events": [
            {
                "type": "custom",
                "source": "app",
                "external_id": w.name(),
                "customer": {"id": w.existing["/api/v1/contacts/"]},
                "name": "viewed_product",
                "occurred_at": timezone.now().isoformat(),
            },
            {
                "type": "order",
                "source": "shop",
                "external_id": w.name(),
                "customer": {"id": w.existing["/api/v1/contacts/"]},
                "amount": "99.00",
                "currency": "CNY",
                "occurred_at": timezone.now().isoformat(),
            },
        ]
    },
    ("POST", "/api/v1/points/grant/"): lambda w: {"contact": w.ids["contacts"][0], "points": 100},
    ("POST", "/api/v1/points/redeem/"): lambda w: {"contact": w.ids["contacts"][0], "points": 1},
    # SOPs: customers to enrol, a time to postpone a task to.
    ("POST", "/api/v1/sops/{id}/enrol/"): lambda w: {"contact_ids": w.ids["contacts"]},
    ("POST", "/api/v1/sop-tasks/{id}/postpone/"): lambda w: {
        "until": (timezone.now() + dt.timedelta(hours=2)).isoformat(),
        "reason": "客户在开会",
    },
    # A value for the (text) profile field the walk's POST /profile-fields/ made.
    ("PATCH", "/api/v1/contacts/{id}/profile/"): lambda w: {
        "profile": {
            ProfileField.unscoped.get(pk=w.created["/api/v1/profile-fields/"]).key: f"上海 {w.name()}"
        }
    },
}


# --- what a create records --------------------------------------------------------------------------


def _recorded(obj: Any, prefix: str = "created_by") -> Actor:
    return Actor.creator_of(obj, prefix)


def _audited(action: str, **data: Any) -> list[Actor]:
    entries = AuditEntry.objects.filter(action=action, **{f"data__{k}": v for k, v in data.items()})
    return [Actor(user=e.actor_user, api_key=e.actor_api_key) for e in entries]


def _events(*where: Q, **lookup: Any) -> list[Actor]:
    return [_recorded(e, "actor") for e in ContactEvent.objects.filter(*where, **lookup)]


# (method, path) → who the thing it made records, from the answer: [actor, ...] (each must be ours).
RECORDS: dict[tuple[str, str], Callable[[World, dict], list[Actor]]] = {
    ("POST", "/api/v1/events/"): lambda w, b: _events(type__in=[EventType.CUSTOM, EventType.PURCHASED]),
    ("POST", "/api/v1/points/grant/"): lambda w, b: [
        _recorded(PointsEntry.objects.get(pk=b["entry"]["id"]), "actor")
    ],
    ("POST", "/api/v1/points/redeem/"): lambda w, b: [
        _recorded(PointsEntry.objects.get(pk=b["entry"]["id"]), "actor")
    ],
    ("POST", "/api/v1/api-keys/"): lambda w, b: [_recorded(ApiKey.objects.get(pk=b["id"]))],
    ("POST", "/api/v1/channels/"): lambda w, b: [_recorded(ContactWay.objects.get(pk=b["id"]))],
    ("POST", "/api/v1/contacts/{id}/notes/"): lambda w, b: [
        _recorded(Note.objects.get(pk=b["id"]), "author"),
        *_events(type=EventType.NOTE, payload__note_id=b["id"]),
    ],
    ("POST", "/api/v1/contacts/{id}/stage/"): lambda w, b: _events(
        type=EventType.STAGE_CHANGED, contact_id=b["id"]
    ),
    ("POST", "/api/v1/contacts/{id}/tags/"): lambda w, b: _events(
        Q(type=EventType.TAGGED, contact_id=w.existing["/api/v1/contacts/"]) & ~Q(payload__has_key="job")
    ),
    ("POST", "/api/v1/contacts/bulk-tag/"): lambda w, b: [
        _recorded(Job.objects.get(pk=b["id"])),
        *_events(type=EventType.TAGGED, payload__job=b["id"]),
    ],
    ("POST", "/api/v1/contacts/export/"): lambda w, b: [
        _recorded(Job.objects.get(pk=b["id"])),
        *_audited("contacts.export", job=b["id"]),
    ],
    ("PATCH", "/api/v1/contacts/{id}/profile/"): lambda w, b: _events(
        type=EventType.PROFILE_CHANGED, contact_id=w.existing["/api/v1/contacts/"]
    ),
    ("PATCH", "/api/v1/follows/{id}/"): lambda w, b: _events(
        type=EventType.REMARK_CHANGED, contact_id=w.existing["/api/v1/contacts/"]
    ),
    ("POST", "/api/v1/group-codes/"): lambda w, b: [_recorded(JoinWay.objects.get(pk=b["id"]))],
    ("POST", "/api/v1/group-transfers/"): lambda w, b: [
        _recorded(GroupTransfer.objects.get(pk=b["id"])),
        *_audited("groups.transfer", transfer=b["id"]),
    ],
    ("POST", "/api/v1/group-welcome-templates/"): lambda w, b: [
        _recorded(GroupWelcomeTemplate.objects.get(pk=b["id"]))
    ],
    ("POST", "/api/v1/invitations/"): lambda w, b: [_recorded(Invitation.objects.get(pk=b["id"]))],
    ("POST", "/api/v1/materials/"): lambda w, b: [_recorded(Material.objects.get(pk=b["id"]))],
    ("POST", "/api/v1/segments/"): lambda w, b: [_recorded(Segment.objects.get(pk=b["id"]))],
    ("POST", "/api/v1/campaigns/"): lambda w, b: [_recorded(Campaign.objects.get(pk=b["id"]))],
    ("POST", "/api/v1/campaigns/{id}/send/"): lambda w, b: _audited("campaigns.send", campaign=b["id"]),
    ("POST", "/api/v1/moments/tasks/"): lambda w, b: [_recorded(MomentTask.objects.get(pk=b["id"]))],
    ("POST", "/api/v1/moments/tasks/{id}/publish/"): lambda w, b: _audited("moments.publish", task=b["id"]),
    ("POST", "/api/v1/sops/"): lambda w, b: [_recorded(Sop.objects.get(pk=b["id"]))],
    ("POST", "/api/v1/sops/{id}/publish/"): lambda w, b: [
        _recorded(SopVersion.objects.get(sop_id=b["id"], number=b["live_version"]["number"]), "published_by"),
        *_audited("sop.publish", sop=b["id"]),
    ],
    ("POST", "/api/v1/sops/{id}/stop/"): lambda w, b: _audited("sop.stop", sop=b["sop"]["id"]),
    ("POST", "/api/v1/sops/{id}/enrol/"): lambda w, b: _audited(
        "sop.enrol", sop=w.existing["/api/v1/sops/{id}/enrol/"]
    ),
    ("POST", "/api/v1/do-not-disturb/"): lambda w, b: [
        _recorded(DoNotDisturb.objects.get(pk=e["id"])) for e in b["entries"]
    ],
    ("POST", "/api/v1/sync-runs/"): lambda w, b: [_recorded(SyncRun.objects.get(pk=b["id"]))],
    ("POST", "/api/v1/transfers/"): lambda w, b: [
        _recorded(Job.objects.get(pk=b["id"])),
        *_audited("contacts.transfer", job=b["id"]),
    ],
}


# --- the schema ---------------------------------------------------------------------------------------


@functools.cache
def _schema() -> dict[str, Any]:
    # The project's own routes: the test server also serves test-only ones (tests/urls.py).
    return SchemaGenerator(urlconf="scrm.urls").get_schema(request=None, public=True)


def _resolve(node: dict) -> dict:
    components = _schema()["components"]["schemas"]
    while "$ref" in node:
        node = components[node["$ref"].rsplit("/", 1)[-1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolve(node["allOf"][0])
    return node


def write_operations() -> list[tuple[str, str, dict]]:
    return [
        (method.upper(), path, operation)
        for path, item in _schema()["paths"].items()
        for method, operation in item.items()
        if method in WRITE_METHODS
    ]


def _phase(method: str, path: str) -> int:
    """Creates first, then what works on their objects, then deletes; the session routes last."""
    if path.startswith("/api/v1/auth/"):
        return 3 + ("logout" in path)  # logging out ends the session the other routes use
    if method == "DELETE":
        return 2
    return 1 if "{id}" in path else 0


# --- bodies and paths -------------------------------------------------------------------------------


def _value(world: World, name: str, schema: dict) -> Any:
    schema = _resolve(schema)
    items = _resolve(schema.get("items", {})) if schema.get("type") == "array" else None
    if name in world.ids and not (items and items.get("type") == "object"):
        return world.ids[name]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "string":
        return world.name()
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "array":
        return [_value(world, "", items or {}) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind == "object" and "properties" in schema:
        return {key: _value(world, key, schema["properties"][key]) for key in schema.get("required", [])}
    return {}


def _body(world: World, method: str, path: str, operation: dict) -> tuple[dict | None, str]:
    content = operation.get("requestBody", {}).get("content", {})
    if not content:
        return None, "json"
    media, spec = next(iter(content.items()))
    schema = _resolve(spec["schema"])
    body = {name: _value(world, name, schema["properties"][name]) for name in schema.get("required", [])}
    body.update(PLAUSIBLE.get((method, path), lambda w: {})(world))
    return body, "multipart" if media == "multipart/form-data" else "json"


def _url(world: World, path: str) -> str | None:
    """The path with the id of the object to work on: one prepared for this very operation (a campaign
    in the state the action needs), else the one its collection's POST made, else a synced one; None
    when there is none (the create failed). Other path ids (``{task_id}``) come from ``world.ids``."""
    if "{id}" not in path:
        return path
    collection = path[: path.index("{id}")]
    known = world.existing.get(path) or world.created.get(collection) or world.existing.get(collection)
    for name, value in world.ids.items():
        path = path.replace(f"{{{name}}}", str(value))
    return path.replace("{id}", str(known)) if known is not None else None


def _created_collection(method: str, path: str) -> str | None:
    """The collection whose objects a POST makes (a note is made under its contact)."""
    if method != "POST":
        return None
    if path == "/api/v1/contacts/{id}/notes/":
        return "/api/v1/notes/"
    if path == "/api/v1/points/rules/":
        return path
    return path if "{id}" not in path and path.count("/") == 4 else None


# --- the tenant -------------------------------------------------------------------------------------


@pytest.fixture
def synced_a(tenant_a, alice, sandbox):  # noqa: F811 -- the imported fixture
    connect_tenant(tenant_a, sandbox)
    assert run_sync(tenant_a).status == "succeeded"
    assert run_groups_sync(tenant_a).status == "succeeded"
    return tenant_a


def _invitation_for(username: str, slug: str) -> int:
    """An invitation of another tenant for ``username``, to accept or decline."""
    tenant = services.tenant_create(slug=slug, name=slug.title())
    with tenant_context(tenant):
        return services.invitation_create(
            tenant=tenant, actor=SYSTEM, username=username, role=Role.OPERATOR
        ).pk


def _world(tenant, *, alice, olga, label: str, client, actor: Actor) -> World:
    accept, decline = _invitation_for("alice", "tenant-b"), _invitation_for("alice", "tenant-c")
    with tenant_context(tenant):
        spare = Membership.objects.get(user=olga)  # for PATCH and DELETE /members/{id}/
        staff = Staff.objects.filter(is_active=True, has_contact_permission=True)
        counted = staff.annotate(n=Count("follows", filter=Q(follows__status=FollowStatus.ACTIVE)))
        handover, takeover = counted.order_by("-n", "id")[:2]
        follow = Follow.objects.filter(staff=handover, status=FollowStatus.ACTIVE).order_by("id").first()
        contact = follow.contact
        held = set(follow.tag_ids)
        new_tag, bulk_tag = Tag.objects.filter(deleted=False).exclude(wecom_id__in=held).order_by("id")[:2]
        group = Group.objects.filter(status=GroupStatus.NORMAL, owner__isnull=False).order_by("id").first()
        new_owner = staff.exclude(pk=group.owner_id).order_by("id").first()
        group_tag = GroupTag.objects.create(name=f"{label}-标签")
        stage = Stage.objects.create(name=f"{label}-阶段")
        notification = Notification.objects.create(recipient=alice, kind="churn", title="流失提醒")
        event = CallbackEvent.objects.create(
            dedupe_key=f"walk-{label}",
            event="change_external_contact",
            change_type="edit_external_contact",
            payload={"UserID": handover.userid, "ExternalUserID": contact.external_userid},
        )
        return World(
            tenant=tenant,
            client=client,
            actor=actor,
            label=label,
            ids={
                "staff": handover.pk,
                "contacts": [contact.pk],
                "new_tag": new_tag.pk,
                "tags": [bulk_tag.pk],
                "stage": stage.pk,
                "group": TagGroup.objects.filter(deleted=False).order_by("id").first().pk,
                "group_ids": [group.pk],
                "new_owner_id": new_owner.pk,
                "handover": handover.userid,
                "takeover": takeover.userid,
                "tag_ids": [group_tag.pk],
                "filters": {},
                "welcome": {},
            },
            existing={
                "/api/v1/contacts/": contact.pk,
                "/api/v1/follows/": follow.pk,
                "/api/v1/groups/": group.pk,
                "/api/v1/notifications/": notification.pk,
                "/api/v1/wecom/events/": event.pk,
                "/api/v1/members/": spare.pk,
                "/api/v1/auth/invitations/{id}/accept/": accept,
                "/api/v1/auth/invitations/{id}/decline/": decline,
            },
        )


def _campaigns(world: World, capture) -> None:
    """Campaigns in the states the campaign actions need: a draft to send, a scheduled one to cancel,
    one sent (its tasks made in the sandbox) to remind and refresh; a do-not-disturb entry to remove."""
    with tenant_context(world.tenant):

        def make(name: str, **fields: Any) -> Campaign:
            return Campaign.objects.create(
                name=f"{world.label}-{name}", audience={"filters": {}}, text="上新了", **fields
            )

        sent = make("sent")
        with capture(execute=True):
            campaign_send(campaign=sent, actor=SYSTEM)
        tomorrow = timezone.now() + dt.timedelta(days=1)
        scheduled = make("scheduled", status=CampaignStatus.SCHEDULED, scheduled_at=tomorrow)
        other = Contact.objects.exclude(pk__in=world.ids["contacts"]).order_by("id").first()
        quiet = DoNotDisturb.objects.create(contact=other, reason="walk")
        world.ids["task_id"] = CampaignTask.objects.filter(campaign=sent).order_by("id").first().pk
        world.existing.update(
            {
                "/api/v1/campaigns/{id}/send/": make("draft").pk,
                "/api/v1/campaigns/{id}/cancel/": scheduled.pk,
                "/api/v1/campaigns/{id}/remind/": sent.pk,
                "/api/v1/campaigns/{id}/refresh/": sent.pk,
                "/api/v1/campaigns/{id}/tasks/{task_id}/remind/": sent.pk,
                "/api/v1/do-not-disturb/": quiet.pk,
            }
        )


def _moments(world: World) -> None:
    """Moments tasks in the states the task actions need: a draft to publish, a scheduled one to cancel,
    one members are publishing (its Moment and the member's copy) to remind and refresh. The tenant has
    a WeCom app, which reminders are sent through."""
    world.tenant.agent_id = "1000002"
    world.tenant.save(update_fields=["agent_id"])
    with tenant_context(world.tenant):
        staff = Staff.objects.get(pk=world.ids["staff"])
        moment = Moment.objects.create(
            moment_id=f"mom-{world.label}", create_type=CreateType.CORP, created_at_wecom=timezone.now()
        )
        MomentPublication.objects.create(moment=moment, staff=staff)
        publishing = MomentTask.objects.create(
            text="上新了", staff_ids=[staff.pk], status=TaskStatus.PUBLISHING, moment=moment
        )
        tomorrow = timezone.now() + dt.timedelta(days=1)
        scheduled = MomentTask.objects.create(
            text="上新了", status=TaskStatus.SCHEDULED, scheduled_at=tomorrow
        )
        draft = MomentTask.objects.create(text="上新了", staff_ids=[staff.pk])
        # The collection is two levels deep: its PATCH and DELETE work on a draft made here.
        spare = MomentTask.objects.create(text="草稿")
        world.existing.update(
            {
                "/api/v1/moments/tasks/": spare.pk,
                "/api/v1/moments/tasks/{id}/publish/": draft.pk,
                "/api/v1/moments/tasks/{id}/cancel/": scheduled.pk,
                "/api/v1/moments/tasks/{id}/remind/": publishing.pk,
                "/api/v1/moments/tasks/{id}/refresh/": publishing.pk,
            }
        )


def _sops(world: World) -> None:
    """SOPs in the states the SOP actions need (a valid draft to publish, live ones to pause, stop and
    enrol into, a paused one to resume) and a member's open tasks to do, postpone and skip."""
    definition = {
        "trigger": {"type": "manual"},
        "steps": [{"id": "r1", "type": "action", "action": "remind", "text": "跟进一下"}],
    }
    with tenant_context(world.tenant):

        def make(name: str, status: str = SopStatus.LIVE) -> Sop:
            sop = Sop.objects.create(name=f"{world.label}-{name}", draft=definition, status=status)
            if status != SopStatus.DRAFT:
                sop.live_version = SopVersion.objects.create(sop=sop, number=1, definition=definition)
                sop.save(update_fields=["live_version"])
            return sop

        running = make("tasks")
        enrolment = SopEnrolment.objects.create(
            sop=running,
            version=running.live_version,
            contact_id=world.ids["contacts"][0],
            subject=f"c{world.ids['contacts'][0]}",
            staff_id=world.ids["staff"],
            enrolled_at=timezone.now(),
        )
        tasks = {}
        for action in ("done", "postpone", "skip"):
            run = SopStepRun.objects.create(
                enrolment=enrolment,
                sop=running,
                version=running.live_version,
                step_id=f"r-{action}",
                status="done",
                due_at=timezone.now(),
            )
            tasks[action] = SopTask.objects.create(
                step_run=run,
                sop=running,
                staff_id=world.ids["staff"],
                contact_id=world.ids["contacts"][0],
                title="跟进",
                content={"text": "跟进一下", "attachments": []},
                due_at=timezone.now(),
            ).pk
        world.existing.update(
            {
                "/api/v1/sops/{id}/publish/": make("to-publish", SopStatus.DRAFT).pk,
                "/api/v1/sops/{id}/pause/": make("to-pause").pk,
                "/api/v1/sops/{id}/resume/": make("to-resume", SopStatus.PAUSED).pk,
                "/api/v1/sops/{id}/stop/": make("to-stop").pk,
                "/api/v1/sops/{id}/enrol/": make("to-enrol").pk,
                **{f"/api/v1/sop-tasks/{{id}}/{action}/": pk for action, pk in tasks.items()},
            }
        )


@pytest.fixture(params=["session", "key"])
def world(
    request, synced_a, alice, operator, client_for, key_client_for, django_capture_on_commit_callbacks
) -> World:
    if request.param == "session":
        client, actor = client_for(alice), Actor(user=alice)
    else:
        client = key_client_for(synced_a, Role.ADMIN)
        actor = Actor(api_key=ApiKey.unscoped.get(tenant=synced_a, name="admin key"))
    # A crash is a 500 answer to collect with the others, not an exception that ends the walk.
    client.raise_request_exception = False
    world = _world(synced_a, alice=alice, olga=operator, label=request.param, client=client, actor=actor)
    _campaigns(world, django_capture_on_commit_callbacks)
    _moments(world)
    _sops(world)
    return world


# --- the walk ---------------------------------------------------------------------------------------


def test_the_lists_name_real_operations():
    operations = {(method, path) for method, path, _ in write_operations()}
    listed = {*PLAUSIBLE, *RECORDS, *NOT_EXERCISED, *((m, p) for m, p, _ in REFUSED)}
    assert listed <= operations, sorted(listed - operations)


def test_every_write_operation_works_for_members_and_keys_alike(world, django_capture_on_commit_callbacks):
    operations = sorted(
        (op for op in write_operations() if op[:2] not in NOT_EXERCISED),
        key=lambda op: (_phase(op[0], op[1]), op[1], op[0]),
    )
    problems: list[str] = []
    recorded: dict[tuple[str, str], list[Actor]] = {}
    for method, path, operation in operations:
        body, form = _body(world, method, path, operation)
        url = _url(world, path)
        if url is None:
            problems.append(f"{method} {path}: no object to work on")
            continue
        # Background work (jobs, syncs, transfers) runs eagerly on commit, as part of the request.
        with django_capture_on_commit_callbacks(execute=True):
            send = getattr(world.client, method.lower())
            response = send(url, body, format=form) if body is not None else send(url)
        answer = response.json() if response.get("Content-Type", "").startswith("application/json") else {}
        refused = REFUSED.get((method, path, world.label))
        wanted = f"{refused[0]}" if refused else "2xx"
        ok = response.status_code == refused[0] if refused else 200 <= response.status_code < 300
        if not ok:
            problems.append(f"{method} {url} → {response.status_code} (wanted {wanted}): {str(answer)[:300]}")
            continue
        collection = _created_collection(method, path)
        if collection and "id" in answer:
            world.created[collection] = answer["id"]
        if (method, path) in RECORDS:
            with tenant_context(world.tenant):
                recorded[(method, path)] = RECORDS[(method, path)](world, answer)
        shown = actor_display(user=world.actor.user, api_key=world.actor.api_key)
        if collection and answer.get("created_by", shown) != shown:
            problems.append(f"{method} {url} shows created_by {answer['created_by']}, not {shown}")

    assert not problems, "\n".join(problems)
    assert set(recorded) == set(RECORDS)
    for operation, actors in recorded.items():
        assert actors, f"{operation} recorded nothing"
        assert all(actor == world.actor for actor in actors), (operation, actors, world.actor)
