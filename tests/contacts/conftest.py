"""Contacts fixtures: tenant A connected to an in-process sandbox, and quick local data builders.

``sandbox`` / ``sandbox_factory`` come from the WeCom tests' conftest. ``connected`` is tenant A
(alice's) pointed at the default sandbox; ``tests.helpers.sandbox_control`` drives the sandbox's
control API (simulate a customer adding or deleting staff, tag changes).
"""

from __future__ import annotations

import pytest

from scrm.tenancy.context import tenant_context
from tests.contacts.builders import Builder
from tests.helpers import connect_tenant
from tests.wecom.conftest import sandbox, sandbox_factory  # noqa: F401 -- fixtures reused here


@pytest.fixture
def connected(tenant_a, sandbox):  # noqa: F811 -- the imported fixture
    """Tenant A connected to the default small sandbox corp."""
    connect_tenant(tenant_a, sandbox)
    return tenant_a


@pytest.fixture
def build_a(tenant_a):
    """A ``Builder`` of local contacts data in tenant A (no WeCom involved)."""
    with tenant_context(tenant_a):
        yield Builder(tenant_a)


@pytest.fixture
def build_b(tenant_b):
    with tenant_context(tenant_b):
        yield Builder(tenant_b)
