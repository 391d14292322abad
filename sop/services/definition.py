"""An SOP's definition (the JSON in ``Sop.draft`` and ``SopVersion.definition``): checked, and compiled
into the ``Plan`` the engine walks.

``definition_clean`` checks a whole definition and returns its stored form (defaults filled in, unknown
keys refused), or raises a DRF ValidationError whose keys are paths from the definition's root
(``steps.2.then.0.days``, ``trigger.event``, ``exit.1.filters.stage``): the builder shows each error on
the step it names. Every error is reported at once, not the first one only. Ids are checked inside the
current tenant (an id of another tenant names nothing there: ``does_not_exist``); run it in the tenant's
context. Codes: required, invalid, does_not_exist, duplicate_id, not_allowed, too_many (and the content
library's own codes for attachments, such as wrong_kind).

A published version never changes, so its compiled plan is cached per version (``plan_for``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import ErrorDetail, ValidationError

from campaigns.models import ChatType
from campaigns.services.audience import audience_clean
from contacts.models import EventType, Segment, Staff, Stage, Tag
from groups.models import Group
from library.services import attachments_validate, moment_attachments_validate
from scrm.tenancy.context import require_current_tenant
from value.models import FieldKind, ProfileField, Tier

from ..models import SopKind, SopVersion

# -- limits and vocabularies (the API and the builder read these) ------------------------------------

NAME_MAX = 100
DEFINITION_MAX_BYTES = 64 * 1024
MAX_STEPS = 50
MAX_DEPTH = 5
TITLE_MAX = 100
TEXT_MAX_BYTES = 4_000
NOTE_MAX = 200
MAX_ATTACHMENTS = 9
MAX_TAG_IDS = 20
MAX_STAFF_IDS = 20
MAX_DATES = 100
POINTS_MAX = 100_000
OFFSET_DAYS_MAX = 30
WAIT_DAYS_MAX = 365
SPLIT_BRANCHES = (2, 5)

ID_RE = re.compile(r"^[a-z0-9_-]{1,32}$")
TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

REENROL = ("never", "after_exit", "always")
MATCH = ("all", "any")
# The event a customer SOP's event trigger listens to, and the condition key each one takes.
TRIGGER_EVENTS: dict[str, str | None] = {
    EventType.ADDED: "channel",
    EventType.TAGGED: "tag_ids",
    EventType.STAGE_CHANGED: "stage_id",
    EventType.TIER_CHANGED: "tier",
    EventType.PURCHASED: "min_amount",
    EventType.GROUP_JOINED: "group_id",
    EventType.CUSTOM: "name",
}
# An event criterion (exit, goal, branch) may name any event type.
CRITERION_EVENTS = tuple(EventType.values)
TRIGGER_TYPES = {SopKind.CUSTOMER: ("event", "date", "segment", "manual"), SopKind.GROUP: ("schedule",)}
SCHEDULE_EVERY = ("daily", "weekly", "dates")
FIRST_ADDED_AT = "first_added_at"  # the date trigger's built-in field: when the customer first added us
STEP_TYPES = ("wait", "wait_until", "wait_business_hours", "branch", "split", "action")
ACTIONS = {
    SopKind.CUSTOMER: (
        "remind",
        "mass_task",
        "moment_task",
        "tag_add",
        "tag_remove",
        "set_stage",
        "grant_points",
        "notify",
    ),
    SopKind.GROUP: ("remind", "group_send", "moment_task", "notify"),
}
# Actions that carry content for a person to send: {"text", "attachments"}.
CONTENT_ACTIONS = ("remind", "mass_task", "group_send", "moment_task")
DEFAULT_BUSINESS_HOURS = {"weekdays": [1, 2, 3, 4, 5], "start": "09:00", "end": "18:00"}

REQUIRED, INVALID, DOES_NOT_EXIST = "required", "invalid", "does_not_exist"
DUPLICATE_ID, NOT_ALLOWED, TOO_MANY = "duplicate_id", "not_allowed", "too_many"

# What an id names, in the tenant in context: the kinds of reference a definition holds.
_KNOWN: dict[str, Callable[[], QuerySet]] = {
    "tag": lambda: Tag.objects.filter(deleted=False),
    "stage": lambda: Stage.objects.all(),
    "staff member": lambda: Staff.objects.all(),
    "segment": lambda: Segment.objects.all(),
    "group": lambda: Group.objects.all(),
}


# -- the compiled plan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    id: str
    type: str  # wait | wait_until | wait_business_hours | branch | split | action
    params: dict  # the step's JSON minus id/type/then/else/branches (action: includes "action")
    next: str | None  # the step after this one (None: the end)
    then: str | None = None  # branch: first step of "then" (None when the list is empty → next)
    otherwise: str | None = None  # branch: first step of "else" (None → next)
    # split: (branch id, percent, first step or None → next)
    branches: tuple[tuple[str, int, str | None], ...] = ()


@dataclass(frozen=True)
class Plan:
    kind: str
    first: str | None
    steps: dict[str, Step]
    trigger: dict
    exit: list[dict]
    goal: list[dict]
    reenrol: str
    quiet_hours: dict | None
    business_hours: dict
    respect_caps: bool


# -- checking --------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_id(value: Any) -> bool:
    return _is_int(value) and value >= 1


def errors_flat(detail: Any) -> dict[str, list]:
    """A (nested) DRF error detail as ``{"a.b.c": [messages]}``, the paths the builder shows."""
    flat: dict[str, list] = {}
    _flatten(detail, "", flat)
    return flat


def _flatten(detail: Any, path: str, into: dict[str, list]) -> None:
    """A (nested) DRF error detail as flat path → messages (``trigger.filters`` + ``stage``)."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            _flatten(value, f"{path}.{key}" if path else str(key), into)
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        for index, value in enumerate(detail):
            _flatten(value, f"{path}.{index}", into)
    else:
        into.setdefault(path, []).extend(detail if isinstance(detail, list) else [detail])


class _Checker:
    """Walks one definition, collecting every error by path and every id to look up at the end."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.errors: dict[str, list[ErrorDetail]] = {}
        self.refs: dict[str, list[tuple[str, int]]] = defaultdict(list)  # kind of id → (path, id)
        self.step_ids: dict[str, str] = {}  # step id → the path of the step that has it
        self.steps = 0

    def error(self, path: str, message: str, code: str = INVALID) -> None:
        self.errors.setdefault(path, []).append(ErrorDetail(message, code=code))

    def merge(self, exc: ValidationError) -> None:
        """Errors of a check made elsewhere (campaigns' audiences, the library), their paths kept."""
        _flatten(exc.detail, "", self.errors)

    # -- small shapes --

    def obj(self, value: Any, path: str, allowed: tuple[str, ...] | None, what: str) -> dict | None:
        """``value`` if an object; keys outside ``allowed`` are refused (None: the caller checks them)."""
        if not isinstance(value, dict):
            self.error(path, f"An object: {what}.", REQUIRED if value is None else INVALID)
            return None
        for key in value:
            if allowed is not None and key not in allowed:
                self.error(
                    f"{path}.{key}" if path else key, f"Not part of {what} (one of: {', '.join(allowed)})."
                )
        return value

    def choice(self, value: Any, path: str, choices: tuple[str, ...] | dict, *, code: str = INVALID) -> Any:
        if value is None:
            self.error(path, f"Required: one of {', '.join(choices)}.", REQUIRED)
        elif not isinstance(value, str) or value not in choices:
            self.error(path, f"One of {', '.join(choices)}.", code)
        else:
            return value
        return None

    def integer(
        self, value: Any, path: str, low: int, high: int, *, default: int | None = None
    ) -> int | None:
        if value is None and default is not None:
            return default
        if value is None:
            self.error(path, f"Required: a whole number from {low} to {high}.", REQUIRED)
        elif not _is_int(value) or not low <= value <= high:
            self.error(path, f"A whole number from {low} to {high}.")
        else:
            return value
        return None

    def time(self, value: Any, path: str) -> str | None:
        if value is None:
            self.error(path, 'Required: a time of day, "HH:MM".', REQUIRED)
        elif not isinstance(value, str) or not TIME_RE.match(value):
            self.error(path, 'A time of day, "HH:MM" (00:00 to 23:59).')
        else:
            return value
        return None

    def text(self, value: Any, path: str, *, max_bytes: int = 0, max_chars: int = 0, required: bool) -> str:
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.error(path, "Required: write the text.", REQUIRED)
            return ""
        if not isinstance(value, str):
            self.error(path, "A string.")
            return ""
        value = value.strip()
        if max_bytes and len(value.encode()) > max_bytes:
            self.error(path, f"At most {max_bytes} bytes ({max_bytes // 3} Chinese characters).", TOO_MANY)
        if max_chars and len(value) > max_chars:
            self.error(path, f"At most {max_chars} characters.", TOO_MANY)
        return value

    def ref(self, value: Any, path: str, noun: str) -> int | None:
        if value is None:
            self.error(path, f"Required: a {noun} id.", REQUIRED)
        elif not _is_id(value):
            self.error(path, f"A {noun} id.")
        else:
            self.refs[noun].append((path, value))
            return value
        return None

    def refs_list(self, value: Any, path: str, noun: str, limit: int) -> list[int]:
        if not isinstance(value, list) or not value:
            self.error(path, f"A list of {noun} ids (at least one).", REQUIRED if not value else INVALID)
            return []
        if len(value) > limit:
            self.error(path, f"At most {limit} {noun} ids.", TOO_MANY)
            return []
        for index, item in enumerate(value):
            self.ref(item, f"{path}.{index}", noun)
        return [item for item in dict.fromkeys(value) if _is_id(item)]

    def resolve_refs(self) -> None:
        """One query per kind of id for the whole definition."""
        for noun, pairs in self.refs.items():
            found = set(_KNOWN[noun]().filter(pk__in={pk for _, pk in pairs}).values_list("pk", flat=True))
            for path, pk in pairs:
                if pk not in found:
                    self.error(path, f"No such {noun}: {pk}.", DOES_NOT_EXIST)

    def filters(self, value: Any, owner: str) -> dict:
        """``owner``'s ``filters``: the contacts list's language as campaigns take it (ids checked);
        errors at ``<owner>.filters.<param>``."""
        try:
            cleaned = audience_clean(
                tenant=require_current_tenant(),
                chat_type=ChatType.SINGLE,
                audience={"filters": value},
                field=owner,
            )
        except ValidationError as exc:
            self.merge(exc)
            return {}
        return cleaned["filters"]

    def content(self, step: dict, path: str, out: dict) -> None:
        out["text"] = self.text(step.get("text"), f"{path}.text", max_bytes=TEXT_MAX_BYTES, required=True)
        attachments = step.get("attachments")
        field = f"{path}.attachments"
        if isinstance(attachments, list) and len(attachments) > MAX_ATTACHMENTS:
            self.error(field, f"At most {MAX_ATTACHMENTS} attachments.", TOO_MANY)
            out["attachments"] = []
            return
        validate = (
            moment_attachments_validate if step.get("action") == "moment_task" else attachments_validate
        )
        try:
            out["attachments"] = validate(attachments, field=field)
        except ValidationError as exc:
            self.merge(exc)
            out["attachments"] = []


# -- the definition's parts ------------------------------------------------------------------------


def _event_trigger(c: _Checker, trigger: dict, out: dict) -> None:
    event = c.choice(trigger.get("event"), "trigger.event", TRIGGER_EVENTS)
    if event is None:
        return
    out["event"] = event
    key = TRIGGER_EVENTS[event]
    allowed = ("type", "event", "filters", key)
    for extra in trigger:
        if extra not in allowed:
            c.error(f"trigger.{extra}", f"Not a condition of the {event} trigger (it takes {key}, filters).")
    value = trigger.get(key)
    path = f"trigger.{key}"
    if value is None:
        return
    if key == "tag_ids":
        out[key] = c.refs_list(value, path, "tag", MAX_TAG_IDS)
    elif key == "stage_id":
        out[key] = c.ref(value, path, "stage")
    elif key == "group_id":
        out[key] = c.ref(value, path, "group")
    elif key == "tier":
        out[key] = c.choice(value, path, tuple(Tier.values))
    elif key == "min_amount":
        try:
            amount = Decimal(value) if isinstance(value, str) else None
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or amount < 0:
            c.error(path, 'An amount as a string, "100.00".')
        else:
            out[key] = f"{amount:.2f}"
    else:  # channel, name: a string
        out[key] = c.text(value, path, max_chars=64, required=True)


def _date_trigger(c: _Checker, trigger: dict, out: dict) -> None:
    field = trigger.get("field")
    if field is None or field == "":
        c.error("trigger.field", "Required: a date profile field's key, or first_added_at.", REQUIRED)
    elif not isinstance(field, str):
        c.error("trigger.field", "A date profile field's key, or first_added_at.")
    elif field != FIRST_ADDED_AT:
        row = ProfileField.objects.filter(key=field).values("kind", "archived").first()
        if row is None:
            c.error("trigger.field", f"No such profile field: {field}.", DOES_NOT_EXIST)
        elif row["kind"] != FieldKind.DATE:
            c.error("trigger.field", f"{field} is not a date field.")
        elif row["archived"]:
            c.error("trigger.field", f"{field} is archived.", DOES_NOT_EXIST)
    out["field"] = field
    out["offset_days"] = c.integer(
        trigger.get("offset_days"), "trigger.offset_days", -OFFSET_DAYS_MAX, OFFSET_DAYS_MAX, default=0
    )
    out["time"] = c.time(trigger.get("time", "09:00"), "trigger.time")


def _schedule_trigger(c: _Checker, trigger: dict, out: dict) -> None:
    every = c.choice(trigger.get("every"), "trigger.every", SCHEDULE_EVERY)
    out["every"] = every
    if every == "weekly":
        days = trigger.get("weekdays")
        if not isinstance(days, list) or not days or not all(_is_int(d) and 1 <= d <= 7 for d in days):
            c.error(
                "trigger.weekdays",
                "The weekdays: a list of 1 (Monday) to 7 (Sunday).",
                REQUIRED if not days else INVALID,
            )
        else:
            out["weekdays"] = sorted(set(days))
    elif trigger.get("weekdays") not in (None, []):
        c.error("trigger.weekdays", "Only for a weekly schedule.", NOT_ALLOWED)
    if every == "dates":
        dates = trigger.get("dates")
        if not isinstance(dates, list) or not dates:
            c.error("trigger.dates", 'The dates: a list of "YYYY-MM-DD".', REQUIRED)
        elif len(dates) > MAX_DATES:
            c.error("trigger.dates", f"At most {MAX_DATES} dates.", TOO_MANY)
        else:
            for index, day in enumerate(dates):
                if not _is_date(day):
                    c.error(f"trigger.dates.{index}", 'A date, "YYYY-MM-DD".')
            out["dates"] = sorted({d for d in dates if _is_date(d)})
    elif trigger.get("dates") not in (None, []):
        c.error("trigger.dates", "Only for a schedule on dates.", NOT_ALLOWED)
    out["time"] = c.time(trigger.get("time", "09:00"), "trigger.time")
    try:
        out["groups"] = audience_clean(
            tenant=require_current_tenant(),
            chat_type=ChatType.GROUP,
            audience=trigger.get("groups") or {},
            field="trigger.groups",
        )
    except ValidationError as exc:
        c.merge(exc)


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or not DATE_RE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


_TRIGGER_KEYS = {
    "event": ("type", "event", "filters", *{k for k in TRIGGER_EVENTS.values() if k}),
    "date": ("type", "field", "offset_days", "time", "filters"),
    "segment": ("type", "segment_id"),
    "manual": ("type",),
    "schedule": ("type", "every", "weekdays", "dates", "time", "groups"),
}


def _trigger(c: _Checker, value: Any) -> dict:
    trigger = c.obj(value, "trigger", None, "a trigger")
    if trigger is None:
        return {}
    kind_types = TRIGGER_TYPES[c.kind]
    type_ = trigger.get("type")
    if type_ is None:
        c.error("trigger.type", f"Required: one of {', '.join(kind_types)}.", REQUIRED)
        return {}
    if type_ not in _TRIGGER_KEYS:
        c.error("trigger.type", f"One of {', '.join(kind_types)}.")
        return {}
    if type_ not in kind_types:
        c.error("trigger.type", f"A {c.kind} SOP's trigger is one of {', '.join(kind_types)}.", NOT_ALLOWED)
        return {}
    out: dict[str, Any] = {"type": type_}
    for key in trigger:
        if key not in _TRIGGER_KEYS[type_] and type_ != "event":  # the event trigger names its own
            c.error(f"trigger.{key}", f"Not part of a {type_} trigger.")
    if type_ == "event":
        _event_trigger(c, trigger, out)
    elif type_ == "date":
        _date_trigger(c, trigger, out)
    elif type_ == "segment":
        out["segment_id"] = c.ref(trigger.get("segment_id"), "trigger.segment_id", "segment")
    elif type_ == "schedule":
        _schedule_trigger(c, trigger, out)
    if type_ in ("event", "date"):
        out["filters"] = c.filters(trigger.get("filters") or {}, "trigger")
    return out


def _criterion(c: _Checker, value: Any, path: str) -> dict:
    crit = c.obj(value, path, ("filters", "event", "name", "in_group"), "a criterion")
    if crit is None:
        return {}
    given = [key for key in ("filters", "event", "in_group") if key in crit]
    if len(given) != 1:
        c.error(path, "One of: {filters}, {event} or {in_group}.", REQUIRED if not given else INVALID)
        return {}
    if "name" in crit and crit.get("event") != EventType.CUSTOM:
        c.error(f"{path}.name", "Only for a custom event.", NOT_ALLOWED)
    if "filters" in crit:
        return {"filters": c.filters(crit["filters"], path)}
    if "in_group" in crit:
        if not isinstance(crit["in_group"], bool):
            c.error(f"{path}.in_group", "true or false.")
        return {"in_group": bool(crit["in_group"])}
    event = c.choice(crit["event"], f"{path}.event", CRITERION_EVENTS)
    out = {"event": event}
    if event == EventType.CUSTOM and crit.get("name") not in (None, ""):
        out["name"] = c.text(crit["name"], f"{path}.name", max_chars=64, required=True)
    return out


def _criteria(c: _Checker, value: Any, path: str) -> list[dict]:
    if value in (None, []):
        return []
    if c.kind == SopKind.GROUP:
        c.error(path, "A group SOP has no exit or goal criteria.", NOT_ALLOWED)
        return []
    if not isinstance(value, list):
        c.error(path, "A list of criteria.")
        return []
    if len(value) > MAX_STEPS:
        c.error(path, f"At most {MAX_STEPS} criteria.", TOO_MANY)
        return []
    return [_criterion(c, item, f"{path}.{index}") for index, item in enumerate(value)]


_STEP_KEYS = {
    "wait": ("days", "hours", "minutes"),
    "wait_until": ("time", "weekday"),
    "wait_business_hours": (),
    "branch": ("if", "then", "else"),
    "split": ("branches",),
    "action": ("action", "text", "attachments", "tag_ids", "stage_id", "points", "note", "staff_ids"),
}
_ACTION_KEYS = {
    **{action: ("text", "attachments") for action in CONTENT_ACTIONS},
    "tag_add": ("tag_ids",),
    "tag_remove": ("tag_ids",),
    "set_stage": ("stage_id",),
    "grant_points": ("points", "note"),
    "notify": ("text", "staff_ids"),
}


def _steps(c: _Checker, value: Any, path: str, depth: int) -> list[dict]:
    if value is None:
        value = []
    if not isinstance(value, list):
        c.error(path, "A list of steps.")
        return []
    return [_step(c, item, f"{path}.{index}", depth) for index, item in enumerate(value)]


def _step(c: _Checker, value: Any, path: str, depth: int) -> dict:
    c.steps += 1
    step = c.obj(value, path, None, "a step")
    if step is None:
        return {}
    out: dict[str, Any] = {}
    step_id = step.get("id")
    if step_id is None:
        c.error(f"{path}.id", "Required: the step's id.", REQUIRED)
    elif not isinstance(step_id, str) or not ID_RE.match(step_id):
        c.error(f"{path}.id", "1 to 32 of a-z, 0-9, _ and -.")
    elif step_id in c.step_ids:
        c.error(f"{path}.id", f"Another step has this id ({c.step_ids[step_id]}).", DUPLICATE_ID)
    else:
        c.step_ids[step_id] = path
    out["id"] = step_id
    type_ = c.choice(step.get("type"), f"{path}.type", STEP_TYPES)
    if type_ is None:
        return out
    out["type"] = type_
    if "title" in step:
        out["title"] = c.text(step["title"], f"{path}.title", max_chars=TITLE_MAX, required=False)
    for key in step:
        if key not in ("id", "type", "title", *_STEP_KEYS[type_]):
            c.error(f"{path}.{key}", f"Not part of a {type_} step.")
    if type_ == "wait":
        parts = {
            "days": c.integer(step.get("days"), f"{path}.days", 0, WAIT_DAYS_MAX, default=0),
            "hours": c.integer(step.get("hours"), f"{path}.hours", 0, 23, default=0),
            "minutes": c.integer(step.get("minutes"), f"{path}.minutes", 0, 59, default=0),
        }
        if all(part == 0 for part in parts.values()):
            c.error(f"{path}.days", "Wait at least a minute.", REQUIRED)
        out.update(parts)
    elif type_ == "wait_until":
        out["time"] = c.time(step.get("time"), f"{path}.time")
        weekday = step.get("weekday")
        out["weekday"] = None if weekday is None else c.integer(weekday, f"{path}.weekday", 1, 7)
    elif type_ in ("branch", "split"):
        if depth >= MAX_DEPTH:
            c.error(path, f"At most {MAX_DEPTH} levels of nested branches.", TOO_MANY)
            return out
        if type_ == "branch":
            _branch(c, step, path, depth, out)
        else:
            _split(c, step, path, depth, out)
    elif type_ == "action":
        _action(c, step, path, out)
    return out


def _branch(c: _Checker, step: dict, path: str, depth: int, out: dict) -> None:
    if c.kind == SopKind.GROUP:
        c.error(f"{path}.type", "A group SOP has no conditions to branch on: use a split.", NOT_ALLOWED)
        return
    cond = c.obj(step.get("if"), f"{path}.if", ("match", "criteria"), "a condition ({match, criteria})")
    if cond is not None:
        match = c.choice(cond.get("match", "all"), f"{path}.if.match", MATCH)
        criteria = cond.get("criteria")
        if not isinstance(criteria, list) or not criteria:
            c.error(f"{path}.if.criteria", "At least one criterion.", REQUIRED)
            criteria = []
        out["if"] = {
            "match": match,
            "criteria": [_criterion(c, item, f"{path}.if.criteria.{i}") for i, item in enumerate(criteria)],
        }
    out["then"] = _steps(c, step.get("then"), f"{path}.then", depth + 1)
    out["else"] = _steps(c, step.get("else"), f"{path}.else", depth + 1)


def _split(c: _Checker, step: dict, path: str, depth: int, out: dict) -> None:
    branches = step.get("branches")
    low, high = SPLIT_BRANCHES
    if not isinstance(branches, list) or not low <= len(branches) <= high:
        code = TOO_MANY if isinstance(branches, list) and len(branches) > high else REQUIRED
        c.error(f"{path}.branches", f"From {low} to {high} branches.", code)
        return
    seen: set[str] = set()
    total = 0
    out["branches"] = []
    for index, value in enumerate(branches):
        bpath = f"{path}.branches.{index}"
        branch = c.obj(value, bpath, ("id", "name", "percent", "steps"), "a split's branch")
        if branch is None:
            continue
        bid = branch.get("id")
        if bid is None:
            c.error(f"{bpath}.id", "Required: the branch's id.", REQUIRED)
        elif not isinstance(bid, str) or not ID_RE.match(bid):
            c.error(f"{bpath}.id", "1 to 32 of a-z, 0-9, _ and -.")
        elif bid in seen:
            c.error(f"{bpath}.id", "Another branch of this split has this id.", DUPLICATE_ID)
        seen.add(bid)
        percent = c.integer(branch.get("percent"), f"{bpath}.percent", 1, 100)
        total += percent or 0
        out["branches"].append(
            {
                "id": bid,
                "name": c.text(branch.get("name"), f"{bpath}.name", max_chars=TITLE_MAX, required=False),
                "percent": percent,
                "steps": _steps(c, branch.get("steps"), f"{bpath}.steps", depth + 1),
            }
        )
    if total != 100 and not any(
        p.endswith(".percent") and p.startswith(f"{path}.branches.") for p in c.errors
    ):
        c.error(f"{path}.branches", f"The percents add up to {total}, not 100.")


def _action(c: _Checker, step: dict, path: str, out: dict) -> None:
    allowed = ACTIONS[c.kind]
    every = tuple(_ACTION_KEYS)
    action = c.choice(step.get("action"), f"{path}.action", every)
    if action is None:
        return
    if action not in allowed:
        c.error(
            f"{path}.action", f"Not an action of a {c.kind} SOP (one of: {', '.join(allowed)}).", NOT_ALLOWED
        )
        return
    out["action"] = action
    for key in step:
        if key in _STEP_KEYS["action"] and key not in ("action", *_ACTION_KEYS[action]):
            c.error(f"{path}.{key}", f"Not part of the {action} action.")
    if action in CONTENT_ACTIONS:
        c.content(step, path, out)
    elif action in ("tag_add", "tag_remove"):
        out["tag_ids"] = c.refs_list(step.get("tag_ids"), f"{path}.tag_ids", "tag", MAX_TAG_IDS)
    elif action == "set_stage":
        if "stage_id" not in step:
            c.error(f"{path}.stage_id", "Required: a stage id, or null to clear the stage.", REQUIRED)
        stage = step.get("stage_id")
        out["stage_id"] = None if stage is None else c.ref(stage, f"{path}.stage_id", "stage")
    elif action == "grant_points":
        out["points"] = c.integer(step.get("points"), f"{path}.points", 1, POINTS_MAX)
        out["note"] = c.text(step.get("note"), f"{path}.note", max_chars=NOTE_MAX, required=False)
    elif action == "notify":
        out["text"] = c.text(step.get("text"), f"{path}.text", max_bytes=TEXT_MAX_BYTES, required=True)
        out["staff_ids"] = c.refs_list(
            step.get("staff_ids"), f"{path}.staff_ids", "staff member", MAX_STAFF_IDS
        )


def _hours(c: _Checker, value: Any, path: str, *, business: bool) -> dict | None:
    if value is None:
        return dict(DEFAULT_BUSINESS_HOURS) if business else None
    keys = ("weekdays", "start", "end") if business else ("start", "end")
    hours = c.obj(value, path, keys, "{" + ", ".join(keys) + "}")
    if hours is None:
        return None
    out = {
        "start": c.time(hours.get("start"), f"{path}.start"),
        "end": c.time(hours.get("end"), f"{path}.end"),
    }
    if out["start"] is not None and out["start"] == out["end"]:
        c.error(f"{path}.end", "The end must differ from the start.")
    if business:
        days = hours.get("weekdays", DEFAULT_BUSINESS_HOURS["weekdays"])
        if not isinstance(days, list) or not days or not all(_is_int(d) and 1 <= d <= 7 for d in days):
            c.error(f"{path}.weekdays", "A list of 1 (Monday) to 7 (Sunday).")
        else:
            out["weekdays"] = sorted(set(days))
        if out["start"] and out["end"] and out["end"] < out["start"]:
            c.error(f"{path}.end", "Business hours end after they start (the same day).")
    return out


_ROOT_KEYS = ("trigger", "steps", "exit", "goal", "reenrol", "quiet_hours", "business_hours", "respect_caps")


def _check(kind: str, definition: Any) -> tuple[dict, dict]:
    """(stored form, errors) of ``definition``."""
    c = _Checker(kind)
    if kind not in TRIGGER_TYPES:
        c.error("kind", f"One of {', '.join(TRIGGER_TYPES)}.")
        return {}, c.errors
    root = c.obj(definition, "", _ROOT_KEYS, "an SOP definition")
    if root is None:
        return {}, {"non_field_errors": [ErrorDetail("An object: the SOP's definition.", code=INVALID)]}
    try:
        size = len(json.dumps(root, ensure_ascii=False).encode())
    except (TypeError, ValueError):
        size = 0
        c.error("non_field_errors", "Plain JSON only.")
    if size > DEFINITION_MAX_BYTES:
        c.error("non_field_errors", f"At most {DEFINITION_MAX_BYTES // 1024} KB of JSON.", TOO_MANY)
        return {}, c.errors
    out: dict[str, Any] = {"trigger": _trigger(c, root.get("trigger"))}
    out["steps"] = _steps(c, root.get("steps"), "steps", 0)
    if c.steps == 0:
        c.error("steps", "At least one step.", REQUIRED)
    elif c.steps > MAX_STEPS:
        c.error("steps", f"At most {MAX_STEPS} steps, nested ones included ({c.steps} here).", TOO_MANY)
    out["exit"] = _criteria(c, root.get("exit"), "exit")
    out["goal"] = _criteria(c, root.get("goal"), "goal")
    out["reenrol"] = c.choice(root.get("reenrol", "never"), "reenrol", REENROL)
    out["quiet_hours"] = _hours(c, root.get("quiet_hours"), "quiet_hours", business=False)
    out["business_hours"] = _hours(c, root.get("business_hours"), "business_hours", business=True)
    caps = root.get("respect_caps", True)
    if not isinstance(caps, bool):
        c.error("respect_caps", "true or false.")
    out["respect_caps"] = caps is not False
    c.resolve_refs()
    return out, c.errors


def definition_clean(*, kind: str, definition: Any) -> dict:
    """The stored form of ``definition`` for an SOP of ``kind``, or a ValidationError keyed by paths."""
    cleaned, errors = _check(kind, definition)
    if errors:
        raise ValidationError(errors)
    return cleaned


def definition_errors(*, kind: str, definition: Any) -> dict:
    """``{}``, or the errors ``definition_clean`` would raise (a draft is saved even when invalid)."""
    return _check(kind, definition)[1]


# -- compiling -------------------------------------------------------------------------------------

_STRUCTURE_KEYS = ("id", "type", "then", "else", "branches")


def definition_compile(definition: dict) -> Plan:
    """The plan of a clean definition: each step with where the flow goes after it."""
    steps: dict[str, Step] = {}

    def chain(items: list[dict], after: str | None) -> str | None:
        """Compile ``items`` (continuing to ``after`` once they end); the first step's id."""
        following = after
        for item in reversed(items):
            params = {k: v for k, v in item.items() if k not in _STRUCTURE_KEYS}
            kwargs: dict[str, Any] = {}
            if item["type"] == "branch":
                kwargs["then"] = chain(item["then"], following) if item.get("then") else None
                kwargs["otherwise"] = chain(item["else"], following) if item.get("else") else None
            elif item["type"] == "split":
                kwargs["branches"] = tuple(
                    (b["id"], b["percent"], chain(b["steps"], following) if b.get("steps") else None)
                    for b in item["branches"]
                )
            steps[item["id"]] = Step(
                id=item["id"], type=item["type"], params=params, next=following, **kwargs
            )
            following = item["id"]
        return following

    first = chain(definition.get("steps") or [], None)
    return Plan(
        kind=_kind_of(definition),
        first=first,
        steps=steps,
        trigger=definition.get("trigger") or {},
        exit=list(definition.get("exit") or []),
        goal=list(definition.get("goal") or []),
        reenrol=definition.get("reenrol") or "never",
        quiet_hours=definition.get("quiet_hours"),
        business_hours=definition.get("business_hours") or dict(DEFAULT_BUSINESS_HOURS),
        respect_caps=definition.get("respect_caps", True) is not False,
    )


def _kind_of(definition: dict) -> str:
    # The kind is the SOP's, not the definition's; the trigger tells them apart (schedule: groups).
    trigger_type = (definition.get("trigger") or {}).get("type")
    return SopKind.GROUP if trigger_type in TRIGGER_TYPES[SopKind.GROUP] else SopKind.CUSTOMER


_PLANS: dict[tuple[int, Any], Plan] = {}
_PLANS_MAX = 1_000


def plan_for(version: SopVersion) -> Plan:
    """The version's plan, compiled once per process (a version never changes). Keyed by id and publish
    time too, so a test database that reuses ids never serves another version's plan."""
    key = (version.pk, version.published_at)
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) >= _PLANS_MAX:
            _PLANS.clear()
        plan = _PLANS[key] = definition_compile(version.definition)
    return plan


def definition_material_ids(definition: dict) -> list[int]:
    """Every library material the definition's steps attach (for the library's usage)."""
    ids: list[int] = []

    def walk(items: Any) -> None:
        for item in items if isinstance(items, list) else ():
            if not isinstance(item, dict):
                continue
            for attachment in item.get("attachments") or ():
                if isinstance(attachment, dict) and _is_id(attachment.get("material_id")):
                    ids.append(attachment["material_id"])
            walk(item.get("then"))
            walk(item.get("else"))
            for branch in item.get("branches") or ():
                if isinstance(branch, dict):
                    walk(branch.get("steps"))

    walk(definition.get("steps") if isinstance(definition, dict) else None)
    return sorted(set(ids))
