"""The registry of callback handlers. Apps register theirs in their own ``handlers.py``:

    @wecom_handler("change_external_contact", "add_external_contact")
    def on_customer_added(*, tenant, event: CallbackEvent) -> None: ...

A handler must be idempotent: events arrive late, twice, or out of order, and API-made changes send
none, so a handler re-reads the object from WeCom instead of trusting the event's order.
"""

from __future__ import annotations

from collections.abc import Callable

Handler = Callable[..., None]
_handlers: dict[tuple[str, str], Handler] = {}


def wecom_handler(event: str, change_type: str = "") -> Callable[[Handler], Handler]:
    """Register for an ``Event`` and ``ChangeType``; an empty change type takes every change type."""

    def decorator(fn: Handler) -> Handler:
        key = (event, change_type)
        if key in _handlers:
            raise ValueError(f"a WeCom handler for {key} is already registered")
        _handlers[key] = fn
        return fn

    return decorator


def handler_for(event: str, change_type: str) -> Handler | None:
    return _handlers.get((event, change_type)) or _handlers.get((event, ""))
