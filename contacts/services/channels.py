"""Channel codes (渠道活码): WeCom 「联系我」 codes that attribute, greet and tag the customers they bring.

Create, update and delete go to WeCom first (``add/update/del_contact_way``, wecom-api.md §5) and
nothing local changes when WeCom refuses. Which members a code hands customers to can change over
the day: a schedule (weekdays × time of day) picks the members, a daily cap takes a member off the
code once they have had that many customers from it today, and backup members step in when everyone
is capped. ``channel_apply`` works out who should be on the code now and updates WeCom when that
changed; beat runs it every minute, and an add that reaches a cap runs it at once.

A new customer (``customer_arrived``, from the add_external_contact handler) is attributed by the
event's ``State``, greeted with the code's welcome (or the tenant's default) through the event's
``WelcomeCode`` — which lives 20 seconds and is usable once — and tagged with the code's auto-tags.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from scrm.tenancy.actors import SYSTEM, Actor
from scrm.tenancy.context import require_current_tenant
from scrm.tenancy.models import Tenant
from scrm.wecom.api import WeComAPI, api_for
from scrm.wecom.errors import WeComError, WeComRateLimitedError

from ..models import ContactWay, EventType, Follow, Staff, Tag, Welcome, WelcomeStatus
from ..selectors import department_subtree, staff_ids_in_departments
from .events import event_build, events_record
from .welcome import (
    CHANNEL_CODE,
    welcome_attachments,
    welcome_default_get,
    welcome_text,
    welcome_usage_set,
    welcome_validate,
)

logger = logging.getLogger(__name__)

STATE_PREFIX = "cw_"
MAX_MEMBERS = 100  # users + departments on one multi-member code (wecom-api.md §5)
REMARK_MAX = 30
WELCOME_EXPIRED, WELCOME_USED = 41050, 41051
WELCOME_CODE_LIFE = 20  # seconds (wecom-api.md §6)
# WeCom answers these when the contact way is already gone: deleting it again is done, not an error.
GONE_CONFIG = (40001, 41040, 41044)
TIME_RE_HELP = "HH:MM, 24-hour clock"
_TOO_MANY_OPENED = (
    "With a daily cap the departments' {n} members go on the code one by one, and WeCom takes at "
    "most {max}: choose fewer, or drop the cap."
)


# --- validation ----------------------------------------------------------------------------------


def _ids(value: Any, field: str) -> list[int]:
    if value in (None, ""):
        return []
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ValidationError({field: "A list of ids."})
    return list(dict.fromkeys(value))  # unique, order kept


def _staff_ids(value: Any, field: str) -> list[int]:
    ids = _ids(value, field)
    found = dict(Staff.objects.filter(pk__in=ids).values_list("pk", "has_contact_permission"))
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError({field: f"No such staff member: {missing[0]}."})
    without = [i for i in ids if not found[i]]
    if without:
        name = Staff.objects.get(pk=without[0]).name
        raise ValidationError({field: f"{name} has no customer-contact permission in WeCom."})
    return ids


def _minutes(value: Any, field: str) -> int:
    try:
        hours, minutes = (int(p) for p in str(value).split(":"))
    except ValueError:
        raise ValidationError({field: TIME_RE_HELP}) from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or hours * 60 + minutes > 24 * 60:
        raise ValidationError({field: TIME_RE_HELP})
    return hours * 60 + minutes


def _schedule(value: Any, *, multi: bool) -> list[dict]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise ValidationError({"schedule": "A list of rules."})
    rules = []
    for i, rule in enumerate(value):
        field = f"schedule.{i}"
        if not isinstance(rule, dict):
            raise ValidationError({field: "A rule: weekdays, start, end and user_ids."})
        weekdays = rule.get("weekdays")
        if (
            not isinstance(weekdays, list)
            or not weekdays
            or not all(isinstance(d, int) and 1 <= d <= 7 for d in weekdays)
        ):
            raise ValidationError({f"{field}.weekdays": "Days of the week, 1 (Monday) to 7 (Sunday)."})
        start, end = _minutes(rule.get("start"), f"{field}.start"), _minutes(rule.get("end"), f"{field}.end")
        if start >= end:
            raise ValidationError({f"{field}.end": "The end comes after the start (same day)."})
        users = _staff_ids(rule.get("user_ids"), f"{field}.user_ids")
        if not users:
            raise ValidationError({f"{field}.user_ids": "Choose who takes customers at these times."})
        if not multi and len(users) != 1:
            raise ValidationError({f"{field}.user_ids": "A single-member code takes exactly one member."})
        rules.append(
            {"weekdays": sorted(set(weekdays)), "start": rule["start"], "end": rule["end"], "user_ids": users}
        )
    return rules


def _departments(value: Any) -> list[int]:
    from ..models import Department

    ids = _ids(value, "department_ids")
    known = set(Department.objects.filter(wecom_id__in=ids).values_list("wecom_id", flat=True))
    missing = [i for i in ids if i not in known]
    if missing:
        raise ValidationError({"department_ids": f"No such department: {missing[0]}."})
    return ids


def _tags(value: Any) -> list[int]:
    ids = _ids(value, "tag_ids")
    live = set(Tag.objects.filter(pk__in=ids, deleted=False).values_list("pk", flat=True))
    missing = [i for i in ids if i not in live]
    if missing:
        raise ValidationError({"tag_ids": f"No such tag (or deleted in WeCom): {missing[0]}."})
    return ids


def _clean(data: dict[str, Any], *, way: ContactWay | None) -> dict[str, Any]:
    """The fields of ``data`` validated, merged over ``way``'s (an update) for the checks across them."""
    current = way or ContactWay()
    out: dict[str, Any] = {}
    if "name" in data or way is None:
        name = (data.get("name") or "").strip()
        if not name:
            raise ValidationError({"name": "Give the code a name."})
        if len(name) > 60:
            raise ValidationError({"name": "At most 60 characters."})
        taken = ContactWay.objects.filter(name=name).exclude(pk=current.pk).exists()
        if taken:
            raise ValidationError({"name": "Another channel code has this name."})
        out["name"] = name
    if "multi" in data and way is not None and bool(data["multi"]) != way.multi:
        raise ValidationError(
            {"multi": "WeCom cannot change a code between one and several members: create a new code."}
        )
    multi = bool(data.get("multi", current.multi))
    out["multi"] = multi
    for field, clean in (
        ("user_ids", lambda v: _staff_ids(v, "user_ids")),
        ("backup_user_ids", lambda v: _staff_ids(v, "backup_user_ids")),
        ("department_ids", _departments),
        ("tag_ids", _tags),
    ):
        if field in data:
            out[field] = clean(data[field])
    if "schedule" in data:
        out["schedule"] = _schedule(data["schedule"], multi=multi)
    if "welcome" in data:
        out["welcome"] = welcome_validate(data["welcome"])
    if "skip_verify" in data:
        out["skip_verify"] = bool(data["skip_verify"])
    if "daily_cap" in data:
        cap = data["daily_cap"]
        if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= 10_000):
            raise ValidationError(
                {"daily_cap": "Customers per member per day: 1 to 10,000, or empty for no cap."}
            )
        out["daily_cap"] = cap

    users = out.get("user_ids", current.user_ids)
    parties = out.get("department_ids", current.department_ids)
    if multi:
        if not users and not parties:
            raise ValidationError({"user_ids": "Choose the members (or departments) who take customers."})
        if len(users) + len(parties) > MAX_MEMBERS:
            raise ValidationError({"user_ids": f"WeCom takes at most {MAX_MEMBERS} members and departments."})
        # A cap is kept per member, so departments go on the code as their members: count those.
        if out.get("daily_cap", current.daily_cap) and parties:
            opened = set(users) | set(_department_members(parties))
            if len(opened) > MAX_MEMBERS:
                raise ValidationError(
                    {"department_ids": _TOO_MANY_OPENED.format(n=len(opened), max=MAX_MEMBERS)}
                )
    else:
        if len(users) != 1 or parties:
            raise ValidationError(
                {"user_ids": "A single-member code takes exactly one member and no department."}
            )
        if out.get("backup_user_ids", current.backup_user_ids) and len(out.get("backup_user_ids", [])) > 1:
            raise ValidationError({"backup_user_ids": "A single-member code has one backup member."})
    return out


# --- who is on the code now ----------------------------------------------------------------------


def _local_now(now: dt.datetime | None) -> dt.datetime:
    return timezone.localtime(now or timezone.now())


def _rule_now(way: ContactWay, now: dt.datetime) -> dict | None:
    minute = now.hour * 60 + now.minute
    for rule in way.schedule or ():
        if now.isoweekday() in rule["weekdays"] and _minutes(rule["start"], "") <= minute < _minutes(
            rule["end"], ""
        ):
            return rule
    return None


def _department_members(department_ids: list[int]) -> list[int]:
    """Staff ids of the active members with contact permission of these departments and of every
    department under them (WeCom puts a department's whole branch on a code)."""
    if not department_ids:
        return []
    branch = {d for root in department_ids for d in department_subtree(root)}
    return list(
        Staff.objects.filter(
            pk__in=staff_ids_in_departments(branch), is_active=True, has_contact_permission=True
        ).values_list("pk", flat=True)
    )


def adds_today(way: ContactWay, *, now: dt.datetime | None = None) -> dict[int, int]:
    """Staff id → customers this code brought them today (the tenant's day)."""
    midnight = _local_now(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return dict(
        Follow.objects.filter(state=way.state, added_at__gte=midnight)
        .values("staff_id")
        .annotate(n=Count("id"))
        .values_list("staff_id", "n")
    )


def channel_members_now(way: ContactWay, *, now: dt.datetime | None = None) -> tuple[list[int], list[int]]:
    """(staff ids, WeCom department ids) that should be on the code at ``now``."""
    local = _local_now(now)
    rule = _rule_now(way, local)
    users, parties = (list(rule["user_ids"]), []) if rule else (list(way.user_ids), list(way.department_ids))
    if way.daily_cap:
        # A cap is per member: departments are opened up into their members so each can be capped.
        users = list(dict.fromkeys(users + _department_members(parties)))
        parties = []
        counts = adds_today(way, now=local)
        users = [u for u in users if counts.get(u, 0) < way.daily_cap]
        if not users:
            users = [u for u in way.backup_user_ids if counts.get(u, 0) < way.daily_cap] or list(
                way.backup_user_ids
            )
        if not users:
            # Everyone is capped and nobody backs them up: a code must keep a member, so the
            # scheduled ones stay on it (over the cap) rather than the code refusing customers.
            users = list(rule["user_ids"]) if rule else list(way.user_ids)
            parties = [] if rule else list(way.department_ids)
    if not way.multi:
        users, parties = users[:1], []
    return users, parties


def _userids(staff_ids: list[int]) -> list[str]:
    by_pk = dict(Staff.objects.filter(pk__in=staff_ids).values_list("pk", "userid"))
    return [by_pk[pk] for pk in staff_ids if pk in by_pk]


def _wecom_body(way: ContactWay, userids: list[str], parties: list[int]) -> dict[str, Any]:
    return {
        "remark": way.name[:REMARK_MAX],
        "skip_verify": way.skip_verify,
        "state": way.state,
        "user": userids,
        "party": parties,
    }


def channel_apply(*, way: ContactWay, api: WeComAPI | None = None, now: dt.datetime | None = None) -> bool:
    """Put on the WeCom code the members it should have now; True if WeCom was updated.

    The row is locked meanwhile, so an edit and a refresh cannot record different members than WeCom has.
    """
    with transaction.atomic():
        way = ContactWay.objects.select_for_update().get(pk=way.pk)
        return _apply_locked(way, api=api, now=now)


def _apply_locked(way: ContactWay, *, api: WeComAPI | None, now: dt.datetime | None) -> bool:
    users, parties = channel_members_now(way, now=now)
    userids = _userids(users)
    if userids == list(way.applied_userids) and parties == list(way.applied_party):
        return False
    (api or api_for(way.tenant)).update_contact_way(
        {"config_id": way.config_id, "user": userids, "party": parties}
    )
    way.applied_userids, way.applied_party, way.applied_at = userids, parties, timezone.now()
    ContactWay.objects.filter(pk=way.pk).update(
        applied_userids=userids, applied_party=parties, applied_at=way.applied_at
    )
    return True


# --- create, update, delete ----------------------------------------------------------------------


def _new_state() -> str:
    # 3 + 22 characters: within WeCom's 30, random so that a deleted code's state is never reused.
    return STATE_PREFIX + secrets.token_urlsafe(16)[:22]


@transaction.atomic
def channel_create(
    *, name: str, user_ids: list[int], multi: bool = False, actor: Actor = SYSTEM, **fields
) -> ContactWay:
    """Create the code in WeCom, then here; a WeCom refusal raises WeComError and keeps nothing."""
    data = _clean({"name": name, "user_ids": user_ids, "multi": multi, **fields}, way=None)
    tenant = require_current_tenant()
    way = ContactWay(
        tenant=tenant,
        state=_new_state(),
        **actor.as_fields("created_by"),
        **data,
    )
    users, parties = channel_members_now(way)
    userids = _userids(users)
    answer = api_for(tenant).add_contact_way(
        {"type": 2 if way.multi else 1, "scene": 2, **_wecom_body(way, userids, parties)}
    )
    way.config_id, way.qr_code = answer["config_id"], answer.get("qr_code", "")
    way.applied_userids, way.applied_party, way.applied_at = userids, parties, timezone.now()
    try:
        with transaction.atomic():
            way.save()
    except IntegrityError:
        # The name was taken between the check and now: do not leave the new code behind in WeCom.
        api_for(tenant).del_contact_way(way.config_id)
        raise ValidationError({"name": "Another channel code has this name."}) from None
    welcome_usage_set(owner_type=CHANNEL_CODE, owner_id=way.pk, welcome=way.welcome)
    return way


@transaction.atomic
def channel_update(*, way: ContactWay, data: dict[str, Any]) -> ContactWay:
    """Change the code; WeCom's copy is updated when its name, members or verification changed."""
    way = ContactWay.objects.select_for_update().get(pk=way.pk)
    cleaned = _clean(data, way=way)
    before = (way.name, way.skip_verify)
    for field, value in cleaned.items():
        setattr(way, field, value)
    users, parties = channel_members_now(way)
    userids = _userids(users)
    if (way.name, way.skip_verify) != before or (userids, parties) != (
        way.applied_userids,
        way.applied_party,
    ):
        api_for(way.tenant).update_contact_way(
            {"config_id": way.config_id, **_wecom_body(way, userids, parties)}
        )
        way.applied_userids, way.applied_party, way.applied_at = userids, parties, timezone.now()
    try:
        with transaction.atomic():
            way.save()
    except IntegrityError:
        # Renamed to a name taken meanwhile; WeCom only holds the name as a remark, so saying so is enough.
        raise ValidationError({"name": "Another channel code has this name."}) from None
    if "welcome" in cleaned:
        welcome_usage_set(owner_type=CHANNEL_CODE, owner_id=way.pk, welcome=way.welcome)
    return way


def channel_delete(*, way: ContactWay) -> None:
    """Delete it in WeCom, then here. Its customers keep their attribution (their follows' state)."""
    try:
        api_for(way.tenant).del_contact_way(way.config_id)
    except WeComError as exc:
        if exc.errcode not in GONE_CONFIG:
            raise
    with transaction.atomic():
        welcome_usage_set(owner_type=CHANNEL_CODE, owner_id=way.pk, welcome={})
        way.delete()


# --- a customer arrives --------------------------------------------------------------------------


def customer_arrived(
    *, tenant: Tenant, api: WeComAPI, payload: dict, received_at: dt.datetime | None
) -> Welcome | None:
    """Greet and tag a customer who just added a staff member (the handler re-read them already).

    The handler runs this once the re-read is committed, outside any transaction: the greeting is
    claimed by its welcome_code (one ``Welcome`` row each, committed before WeCom is called), so a
    duplicate event — or a retry after a failure past the send — greets nobody twice and queues no
    second tagging. WeCom's refusals are recorded, never retried blindly: an expired (41050) or used
    (41051) code cannot succeed later.
    """
    external_userid, userid = payload["ExternalUserID"], payload["UserID"]
    follow = (
        Follow.objects.select_related("contact", "staff")
        .filter(contact__external_userid=external_userid, staff__userid=userid)
        .first()
    )
    if follow is None:
        return None  # WeCom no longer has this follow: the customer left before we got here
    state = payload.get("State") or follow.state or ""
    way = ContactWay.objects.filter(state=state).first() if state else None
    code = payload.get("WelcomeCode") or ""
    # Without a code (WeCom sends none when the member's own welcome is set in the WeCom app) there
    # is nothing to send, but the arrival is still claimed so that its auto-tags are queued once.
    key = code or f"none:{follow.pk}:{payload.get('CreateTime', '')}"
    welcome, created = Welcome.objects.get_or_create(
        welcome_code=key,
        defaults={
            "contact_id": follow.contact_id,
            "staff_id": follow.staff_id,
            "contact_way": way,
            "state": state,
            "received_at": received_at or timezone.now(),
        },
    )
    if not created:
        return welcome
    message = (way.welcome if way is not None else {}) or welcome_default_get(tenant=tenant)
    if not code or not message:
        welcome.status = WelcomeStatus.SKIPPED
        welcome.error = "no welcome_code in the event" if not code else "no welcome message configured"
        welcome.save(update_fields=["status", "error"])
    else:
        _send(api=api, welcome=welcome, follow=follow, message=message)
    if way is not None:
        tags = list(Tag.objects.filter(pk__in=way.tag_ids, deleted=False).values_list("wecom_id", flat=True))
        transaction.on_commit(lambda: _after_arrival(tenant.pk, follow.pk, way.pk, tags, bool(way.daily_cap)))
    return welcome


def _after_arrival(tenant_id: int, follow_id: int, way_id: int, tags: list[str], capped: bool) -> None:
    from ..tasks.channels import channel_autotag, channel_refresh

    if tags:
        channel_autotag.apply_async((tenant_id, follow_id, tags))
    if capped:
        channel_refresh.apply_async((tenant_id, way_id))


def _send(*, api: WeComAPI, welcome: Welcome, follow: Follow, message: dict) -> None:
    text = welcome_text(
        message.get("text", ""),
        customer_name=follow.contact.name or follow.remark or "",
        staff_name=follow.staff.name or follow.staff.userid,
    )
    while True:
        try:
            attachments = welcome_attachments(api=api, welcome=message)
            api.send_welcome_msg(welcome_code=welcome.welcome_code, text=text, attachments=attachments)
        except WeComRateLimitedError as exc:
            # Nothing was sent: waiting is worth it while the code still has time left.
            left = WELCOME_CODE_LIFE - (timezone.now() - welcome.received_at).total_seconds()
            if exc.retry_after < left - 1:
                time.sleep(exc.retry_after)
                continue
            _refused(welcome, exc)
        except WeComError as exc:
            _refused(welcome, exc)
        else:
            welcome.status = WelcomeStatus.SENT
        break
    with transaction.atomic():
        _record_send(welcome, follow)


def _refused(welcome: Welcome, exc: WeComError) -> None:
    welcome.errcode = exc.errcode
    welcome.error = (exc.errmsg or "")[:255]
    welcome.status = {WELCOME_EXPIRED: WelcomeStatus.EXPIRED, WELCOME_USED: WelcomeStatus.USED}.get(
        exc.errcode, WelcomeStatus.FAILED
    )


def _record_send(welcome: Welcome, follow: Follow) -> None:
    welcome.sent_at = timezone.now()
    welcome.latency_ms = max(0, int((welcome.sent_at - welcome.received_at).total_seconds() * 1000))
    welcome.save(update_fields=["status", "errcode", "error", "sent_at", "latency_ms"])
    payload: dict[str, Any] = {"status": welcome.status, "latency_ms": welcome.latency_ms}
    if welcome.contact_way_id:
        payload["contact_way"] = {"id": welcome.contact_way_id, "name": welcome.contact_way.name}
    if welcome.errcode is not None:
        payload["errcode"], payload["error"] = welcome.errcode, welcome.error
    events_record(
        [
            event_build(
                contact_id=follow.contact_id,
                type=EventType.WELCOMED if welcome.status == WelcomeStatus.SENT else EventType.WELCOME_FAILED,
                occurred_at=welcome.sent_at,
                staff_id=follow.staff_id,
                channel=welcome.state,
                payload=payload,
            )
        ]
    )
