"""Local Moments data for the API and selector tests (no WeCom): two members in two departments, their
customers, a corp post made from a Siyu task (bob published it, zoe has not), likes and comments on
bob's copy by customers and a colleague, and zoe's own post. Rows are written as tracking writes them.

Import the fixture into a test module: ``from tests.moments.world import world_fixture  # noqa: F401``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from moments.models import (
    CreateType,
    InteractionKind,
    Moment,
    MomentInteraction,
    MomentPublication,
    MomentReach,
    MomentTask,
    TaskStatus,
)
from scrm.tenancy.context import tenant_context
from tests.campaigns.conftest import at

# Monday 2026-11-30 10:00 in Shanghai (the tenant's zone by default).
NOW = at("2026-11-30 10:00")
POSTED = at("2026-11-28 09:00")  # the corp post, two days before NOW


@dataclass
class World:
    tenant: Any
    bob: Any  # staff "bob": the sales member's WeCom identity, department 2 (华东)
    zoe: Any  # staff "zoe", department 3 (华南)
    east: Any
    south: Any
    bobs: list  # bob's customers
    zoes: list
    task: MomentTask
    corp: Moment  # the corp post the task became
    own: Moment  # zoe's own post

    def moment(self, **fields: Any) -> Moment:
        fields.setdefault("create_type", CreateType.CORP)
        fields.setdefault("created_at_wecom", POSTED)
        with tenant_context(self.tenant):
            fields.setdefault("moment_id", f"mom-{Moment.objects.count() + 1}")
            return Moment.objects.create(**fields)

    def publication(self, moment: Moment, staff, **fields: Any) -> MomentPublication:
        with tenant_context(self.tenant):
            return MomentPublication.objects.create(moment=moment, staff=staff, **fields)

    def interaction(self, moment: Moment, staff, kind: str, when: dt.datetime, *, contact=None, by: str = ""):
        with tenant_context(self.tenant):
            return MomentInteraction.objects.create(
                moment=moment,
                staff=staff,
                kind=kind,
                contact=contact,
                external_userid=contact.external_userid if contact else "",
                by_userid=by,
                occurred_at=when,
            )


@pytest.fixture(name="world")
def world_fixture(tenant_a, build_a) -> World:
    east, south = build_a.department(2, "华东"), build_a.department(3, "华南")
    bob, zoe = build_a.staff("bob", "Bob", departments=(2,)), build_a.staff("zoe", "Zoe", departments=(3,))
    bobs = [build_a.contact(f"B{i}", staff=bob) for i in range(3)]
    zoes = [build_a.contact(f"Z{i}", staff=zoe) for i in range(2)]
    with tenant_context(tenant_a):
        corp = Moment.objects.create(
            moment_id="mom-corp",
            create_type=CreateType.CORP,
            text="双十二新品上市",
            content={"image": [{"media_id": "m1"}]},
            created_at_wecom=POSTED,
            members=2,
            published=1,
            reach=3,
            likes=2,
            comments=1,
            engaged_customers=2,
            next_poll_at=NOW + dt.timedelta(hours=1),
        )
        task = MomentTask.objects.create(
            text="双十二新品上市",
            staff_ids=[bob.pk, zoe.pk],
            status=TaskStatus.PUBLISHING,
            moment=corp,
            invalid_senders={"user_list": ["zoe", "ghost"], "department_list": [3]},
            invalid_tags=["et-unknown"],
        )
        MomentPublication.objects.create(
            moment=corp,
            staff=bob,
            published=True,
            published_at=at("2026-11-28 12:00"),
            reach=3,
            likes=2,
            comments=1,
        )
        MomentPublication.objects.create(moment=corp, staff=zoe, published=False)
        MomentReach.objects.bulk_create(
            [MomentReach(moment=corp, staff=bob, external_userid=c.external_userid, contact=c) for c in bobs]
        )
        own = Moment.objects.create(
            moment_id="mom-own",
            create_type=CreateType.MEMBER,
            creator=zoe,
            creator_userid="zoe",
            text="周末去爬山",
            created_at_wecom=at("2026-11-29 20:00"),
            members=1,
            published=1,
            likes=1,
        )
        MomentPublication.objects.create(
            moment=own, staff=zoe, published=True, published_at=at("2026-11-29 20:00"), likes=1
        )
    w = World(tenant_a, bob, zoe, east, south, bobs, zoes, task, corp, own)
    # Bob's copy: two customers like it (one on the 28th, one late on the 29th), one comments on the 29th,
    # and zoe (a colleague) likes it. Zoe's own post: one of her customers likes it.
    w.interaction(corp, bob, InteractionKind.LIKE, at("2026-11-28 13:00"), contact=bobs[0])
    w.interaction(corp, bob, InteractionKind.LIKE, at("2026-11-29 23:30"), contact=bobs[1])
    w.interaction(corp, bob, InteractionKind.COMMENT, at("2026-11-29 08:00"), contact=bobs[0])
    w.interaction(corp, bob, InteractionKind.LIKE, at("2026-11-28 14:00"), by="zoe")
    w.interaction(own, zoe, InteractionKind.LIKE, at("2026-11-29 21:00"), contact=zoes[0])
    return w
