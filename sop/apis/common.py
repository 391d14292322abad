"""What the SOP routes share: state refusals as 409s of their own type, and the list filters' checks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rest_framework import exceptions

from scrm.api.errors import Conflict

from ..services.sops import SopStateError
from ..services.tasks_staff import TaskStateError


@contextmanager
def state_conflicts() -> Iterator[None]:
    """A refusal for the SOP's or task's status (raised by the services) as a 409 of its own type."""
    try:
        yield
    except (SopStateError, TaskStateError) as exc:
        raise Conflict(str(exc), code=exc.code) from exc


def query_choices(request, name: str, values) -> list[str]:
    """The repeated query parameter ``name``, each one of ``values`` (a 400 naming it otherwise)."""
    chosen = [v for v in request.query_params.getlist(name) if v != ""]
    if any(v not in values for v in chosen):
        raise exceptions.ValidationError({name: [f"One of: {', '.join(values)}."]})
    return sorted(set(chosen))


def query_number(request, name: str) -> int | None:
    """A whole number from 1 written in ASCII digits (a version's number), or None when absent. One
    larger than any version can be is kept as is: it names no version (a 404 or an empty list)."""
    raw = request.query_params.get(name, "")
    if raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or not raw.strip("0"):
        raise exceptions.ValidationError({name: ["A version number, from 1."]})
    return int(raw[:20])
