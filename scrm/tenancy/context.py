"""The current tenant, one per request or task, held in a ContextVar.

Set by the API layer from the authenticated principal and by ``@tenant_task`` in workers, and always
reset in ``finally`` so a pooled thread or a worker process never carries a tenant into the next job.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Tenant

_current_tenant: ContextVar[Tenant | None] = ContextVar("siyu_current_tenant", default=None)


class TenantNotSetError(RuntimeError):
    """A tenant-scoped query ran with no tenant in context: a bug, never a user error."""


def get_current_tenant() -> Tenant | None:
    return _current_tenant.get()


def require_current_tenant() -> Tenant:
    tenant = _current_tenant.get()
    if tenant is None:
        raise TenantNotSetError(
            "No tenant in context. Run inside tenant_context(...) or use Model.unscoped explicitly."
        )
    return tenant


def set_current_tenant(tenant: Tenant | None) -> Token:
    return _current_tenant.set(tenant)


def reset_current_tenant(token: Token) -> None:
    _current_tenant.reset(token)


@contextmanager
def tenant_context(tenant: Tenant) -> Iterator[Tenant]:
    token = set_current_tenant(tenant)
    try:
        yield tenant
    finally:
        reset_current_tenant(token)
