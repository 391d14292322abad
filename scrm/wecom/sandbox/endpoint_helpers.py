"""Helpers shared by the section modules (groups, marketing, transfer): parameters, paging, settings, time.

WeCom checks parameters the same way everywhere (40058 for a bad value, limits clamped to their
documented maximum), pages with opaque cursors and counts days in China time; keeping that here
makes the three modules answer alike.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .generator import CHINA_UTC_OFFSET, DAY
from .registry import SandboxError

if TYPE_CHECKING:
    from .server import Sandbox
    from .state import SandboxState

T = TypeVar("T")


def now() -> int:
    return int(time.time())


def day_start(timestamp: int) -> int:
    """Midnight (China time) of the day holding ``timestamp``: WeCom's statistics count China days."""
    return (timestamp + CHINA_UTC_OFFSET) // DAY * DAY - CHINA_UTC_OFFSET


# --- parameters ------------------------------------------------------------------------------


def int_param(body: dict[str, Any], key: str, *, default: int | None = None) -> int:
    """An integer field (JSON number or digit string, as WeCom accepts both); without a default it is
    required. 40058 when missing or unusable."""
    value = body.get(key)
    if value is None or value == "":
        if default is None:
            raise SandboxError(40058, f"{key} is required")
        return default
    if isinstance(value, bool):
        raise SandboxError(40058, f"{key} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise SandboxError(40058, f"{key} must be an integer")


def limit_param(body: dict[str, Any], key: str, *, maximum: int, default: int | None = None) -> int:
    """A page size, by WeCom's rule (as endpoints_core): above ``maximum`` is clamped to it; missing or
    below 1 takes the default, or is 40058 for an API that requires it (no default: groupchat/list)."""
    if default is None:
        value = int_param(body, key)
        if value < 1:
            raise SandboxError(40058, f"{key} must be between 1 and {maximum}")
        return min(value, maximum)
    try:
        value = int(body.get(key) or 0)
    except (TypeError, ValueError):
        value = 0  # junk takes the default, as missing does
    return default if value < 1 else min(value, maximum)


def str_list_param(body: dict[str, Any], key: str, *, maximum: int, required: bool = False) -> list[str]:
    """A list of ids, duplicates dropped (order kept); 40058 when empty-but-required or too long."""
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise SandboxError(40058, f"{key} must be a list of strings")
    if required and not value:
        raise SandboxError(40058, f"{key} is required")
    if len(value) > maximum:
        raise SandboxError(40058, f"{key} holds more than {maximum} items")
    return list(dict.fromkeys(value))


def text_param(body: dict[str, Any], key: str, *, maximum: int) -> str:
    value = body.get(key) or ""
    if not isinstance(value, str) or len(value) > maximum:
        raise SandboxError(40058, f"{key} must be a string of at most {maximum} characters")
    return value


# --- paging ----------------------------------------------------------------------------------


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"p{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: Any) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(str(cursor) + "=" * (-len(str(cursor)) % 4)).decode()
        position = int(raw[1:]) if raw.startswith("p") else -1
    except (ValueError, UnicodeDecodeError):
        position = -1
    if position < 0:
        raise SandboxError(40058, "invalid cursor")
    return position


def page(
    items: Sequence[T], cursor: Any, limit: int, keep: Callable[[T], bool] | None = None
) -> tuple[list[T], str]:
    """One page of ``items`` (those ``keep`` accepts) and the cursor of the next, "" after the last.

    The cursor is a position in ``items`` itself, not in the filtered view, so a stable ordering
    (insertion order) pages correctly even while items are added or drop out of the filter.
    """
    position = decode_cursor(cursor)
    chunk: list[T] = []
    while position < len(items) and len(chunk) < limit:
        if keep is None or keep(items[position]):
            chunk.append(items[position])
        position += 1
    more = position < len(items) if keep is None else any(keep(items[i]) for i in range(position, len(items)))
    return chunk, encode_cursor(position) if more else ""


# --- settings --------------------------------------------------------------------------------


def setting(state: SandboxState, defaults: dict[str, Any], key: str) -> Any:
    return state.ext.get("settings", {}).get(key, defaults[key])


def settings_update(state: SandboxState, defaults: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Apply ``changes`` (keys of ``defaults``, values of the same type) and return the section's settings.

    Validated whole before anything changes, so a typo never half-applies.
    """
    unknown = set(changes) - set(defaults)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; allowed: {sorted(defaults)}")
    for key, value in changes.items():
        expected = type(defaults[key])
        if isinstance(value, bool) or not isinstance(value, int | float if expected is float else expected):
            raise ValueError(f"{key} must be of type {expected.__name__}")
        if isinstance(value, int | float) and value < 0:
            raise ValueError(f"{key} must not be negative")
    with state.lock:
        stored = state.ext.setdefault("settings", {})
        stored.update(changes)
        return {key: stored.get(key, default) for key, default in defaults.items()}


# --- determinism -----------------------------------------------------------------------------


def unit(*parts: Any) -> float:
    """A number in [0, 1) fixed by ``parts``: seeded figures without keeping them in the state."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# --- callbacks -------------------------------------------------------------------------------


def send_callbacks(sandbox: Sandbox, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Deliver events in order and return what each delivery did (call without state.lock)."""
    return [sandbox.send_callback(fields) for fields in events]


def send_callbacks_later(sandbox: Sandbox, events: list[dict[str, Any]]) -> None:
    """Deliver events from another thread: for API handlers, which run under state.lock.

    WeCom pushes events asynchronously too, so the app sees them shortly after the API answers.
    """
    if events:
        thread = threading.Thread(
            target=send_callbacks, args=(sandbox, events), name="wecom-sandbox-events", daemon=True
        )
        sandbox.event_threads = [t for t in sandbox.event_threads if t.is_alive()] + [thread]
        thread.start()
