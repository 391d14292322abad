"""How sandbox endpoints plug in: a route table, an error type, and generator hooks.

Every WeCom endpoint of the sandbox is a function registered with ``@route("externalcontact/get",
methods=("GET",))``. It receives the ``Sandbox`` and a ``SandboxRequest`` and returns the JSON body
(without ``errcode``/``errmsg``; the server adds ``0``/``"ok"``) or raises ``SandboxError``.
The server resolves the access token, applies faults and records calls before calling it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Sandbox
    from .state import SandboxState

Handler = Callable[["Sandbox", "SandboxRequest"], "dict[str, Any] | RawResponse"]
ROUTES: dict[str, tuple[tuple[str, ...], Handler]] = {}
# Control API under /sandbox/ (simulate customer behaviour, records, faults): path relative to
# /sandbox/, e.g. "simulate/customer-add". Same handler signature; errors are HTTP 400 JSON
# (SandboxNotFoundError: 404); a handler may return a RawResponse instead of JSON (QR code images).
CONTROL_ROUTES: dict[str, tuple[tuple[str, ...], Handler]] = {}
# Called by the corp generator after the core data exists: fn(state, rng, sizes) adds its section's data.
GENERATOR_HOOKS: list[Callable[[SandboxState, Any, dict[str, int]], None]] = []


class SandboxError(Exception):
    """A WeCom business error: answered as HTTP 200 with this errcode/errmsg, as WeCom does."""

    def __init__(self, errcode: int, errmsg: str):
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class SandboxNotFoundError(Exception):
    """A control handler's "no such thing": answered HTTP 404 ``{"error": message}``."""


@dataclass
class RawResponse:
    """A control handler's answer that is not JSON (an image): sent as is with its Content-Type."""

    content_type: str
    body: bytes


@dataclass
class SandboxRequest:
    method: str
    path: str  # relative to cgi-bin/, e.g. "externalcontact/get"
    query: dict[str, str]
    json: dict[str, Any] = field(default_factory=dict)
    body: bytes = b""
    content_type: str = ""


def route(path: str, methods: tuple[str, ...] = ("POST",)) -> Callable[[Handler], Handler]:
    def decorator(fn: Handler) -> Handler:
        if path in ROUTES:
            raise ValueError(f"sandbox route {path} registered twice")
        ROUTES[path] = (methods, fn)
        return fn

    return decorator


def control_route(path: str, methods: tuple[str, ...] = ("POST",)) -> Callable[[Handler], Handler]:
    def decorator(fn: Handler) -> Handler:
        if path in CONTROL_ROUTES:
            raise ValueError(f"sandbox control route {path} registered twice")
        CONTROL_ROUTES[path] = (methods, fn)
        return fn

    return decorator


def generator_hook(fn):
    GENERATOR_HOOKS.append(fn)
    return fn
