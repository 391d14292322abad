"""The demo tenant's Moments: one corp post published through the local sandbox, with figures.

``seed_demo`` queues ``moments.demo_seed``, which calls ``demo_moments_seed`` until it answers True.
Once the first contacts sync brought members and customers, the first call composes one task (the
demo library's poster and a text) and publishes it through the real services; the worker submits it
and the beat tick reads its job. When the job gave a Moment, two thirds of the members publish it and
some of their customers like and comment on it, through the sandbox's control routes (as members and
customers would in WeChat); the members' own posts are read (the sandbox's corp has 90 days of them:
the calendar shows the last 30) and the post is polled, so /moments shows a task with figures at once.
The poll schedule reads what comes later.
"""

from __future__ import annotations

import json
import logging
import random
import urllib.error
import urllib.request
from typing import Any

from contacts.models import Follow, FollowStatus, SyncKind, SyncRun
from library.demo import POSTER, demo_library_seed
from scrm.durable import RunStatus
from scrm.tenancy.actors import SYSTEM
from scrm.tenancy.models import Tenant
from scrm.wecom.api import api_for
from scrm.wecom.sandbox_client import sandbox_base

from ..models import MomentTask, TaskStatus
from .compose import moment_task_create, moment_task_publish
from .tracking import member_moments_sync, moment_poll

logger = logging.getLogger(__name__)

DEMO_KEY = "demo-seed"
DEMO_TEXT = "🎄 圣诞限定礼盒到店啦！老客户到店出示本条朋友圈，再送精美小礼品一份，数量有限，先到先得～"
PUBLISH_SHARE = 2 / 3
CUSTOMERS_PER_COPY = 12  # customers of each publishing member who react (likes; a third also comment)
SIMULATE_TIMEOUT = 10
SEED = 16  # the same demo corp gets the same publishers and reactions


def demo_moments_seed(*, tenant: Tenant) -> bool:
    """One step of the demo's Moments; True once it is all there (or cannot be: the caller stops),
    False while it waits for the first sync or for WeCom's job (the caller tries again)."""
    task = MomentTask.objects.filter(idempotency_key=f"{SYSTEM.idempotency_scope()}:{DEMO_KEY}").first()
    if task is None:
        if not SyncRun.objects.filter(kind=SyncKind.CONTACTS, status=RunStatus.SUCCEEDED).exists():
            return False
        poster = demo_library_seed().get(POSTER)
        task = moment_task_create(
            actor=SYSTEM,
            data={"text": DEMO_TEXT, "attachments": [{"material_id": poster.pk}] if poster else []},
            idempotency_key=DEMO_KEY,
        )
        moment_task_publish(task=task)  # submitted by a worker once this commits
        return False
    if task.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        logger.warning("demo: the Moments task %s is %s: %s", task.pk, task.status, task.error)
        return True
    if task.moment is None:
        return False  # WeCom's job has not given the Moment yet (the beat tick reads it)
    base = sandbox_base(tenant)
    if base is not None:
        _act_out(tenant, base, task.moment.moment_id)
    member_moments_sync(tenant=tenant)
    moment_poll(moment=task.moment)
    return True


def _act_out(tenant: Tenant, base: str, moment_id: str) -> None:
    """Members publish and customers react through the sandbox. Safe to repeat: a member publishes once,
    a customer likes once, and comments only right after their first like."""
    api = api_for(tenant)
    senders: list[str] = []
    cursor = ""
    while True:
        page = api.get_moment_task(moment_id=moment_id, cursor=cursor)
        senders += [t["userid"] for t in page.get("task_list") or []]
        cursor = page.get("next_cursor") or ""
        if not cursor:
            break
    rng = random.Random(SEED)  # noqa: S311 -- demo data, not security
    publishers = rng.sample(sorted(senders), k=round(len(senders) * PUBLISH_SHARE))
    for userid in publishers:
        _simulate(base, "simulate/staff-publish-moment", {"userid": userid, "moment_id": moment_id})
    customers = _customers_by_userid(publishers)
    for userid in publishers:
        mine = customers.get(userid, [])
        for n, external_userid in enumerate(rng.sample(mine, k=min(len(mine), CUSTOMERS_PER_COPY))):
            reaction = {"moment_id": moment_id, "userid": userid, "external_userid": external_userid}
            if _simulate(base, "simulate/customer-like-moment", reaction) is not None and n % 3 == 0:
                _simulate(base, "simulate/customer-comment-moment", reaction)


def _customers_by_userid(userids: list[str]) -> dict[str, list[str]]:
    """The active customers of each member, by WeCom ids (one query)."""
    rows = (
        Follow.objects.filter(staff__userid__in=userids, status=FollowStatus.ACTIVE)
        .order_by("contact__external_userid")
        .values_list("staff__userid", "contact__external_userid")
    )
    customers: dict[str, list[str]] = {}
    for userid, external_userid in rows:
        customers.setdefault(userid, []).append(external_userid)
    return customers


def _simulate(base: str, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """POST to the tenant's own sandbox (loopback only: ``sandbox_base``); None when it refuses (already
    done, or not allowed)."""
    request = urllib.request.Request(f"{base}sandbox/{path}", data=json.dumps(body).encode(), method="POST")  # noqa: S310 -- loopback
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=SIMULATE_TIMEOUT) as answer:  # noqa: S310 -- loopback
            return json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        logger.info("demo: the sandbox refused %s %s: %s", path, body, exc.read()[:200])
        return None
