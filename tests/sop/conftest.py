"""SOP fixtures: local customers and groups (tests.contacts / tests.groups builders) and live SOPs made
straight from a definition, without the API (``live_sop``), so engine and enrolment tests do not depend
on the publishing service.

Helpers' own fixtures live in their test modules; shared ones go here (ask the lead).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from scrm.tenancy.context import tenant_context
from sop.models import Sop, SopKind, SopStatus, SopVersion
from tests.contacts.conftest import build_a, build_b  # noqa: F401 -- fixtures reused here
from tests.groups.conftest import build_group  # noqa: F401 -- fixture reused here


@pytest.fixture
def live_sop(tenant_a):
    """``live_sop(definition, kind="customer", name=..., tenant=...)``: a live SOP whose version 1 is
    ``definition`` as given (not cleaned: pass a valid one)."""

    def make(
        definition: dict[str, Any], *, kind: str = SopKind.CUSTOMER, name: str = "SOP", tenant=None
    ) -> Sop:
        tenant = tenant or tenant_a
        with tenant_context(tenant):
            sop = Sop.objects.create(name=name, kind=kind, status=SopStatus.LIVE, draft=definition)
            version = SopVersion.objects.create(
                sop=sop, number=1, definition=definition, published_at=timezone.now()
            )
            sop.live_version = version
            sop.save(update_fields=["live_version"])
            return sop

    return make
