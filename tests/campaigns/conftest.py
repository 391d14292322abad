"""Campaigns fixtures: local customers, follows, groups and touches (no WeCom), and a clock pinned in
the tenant's time zone.

``build_a`` (tests.contacts) makes staff and customers with follows; ``build_group`` (tests.groups)
makes groups. ``touch(target, at, kind=...)`` writes a frequency-cap ledger row, as the results poll
and the member-made read-back do.
"""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest

from campaigns.models import Touch, TouchKind
from scrm.tenancy.context import tenant_context
from tests.contacts.conftest import build_a, build_b  # noqa: F401 -- fixtures reused here
from tests.groups.conftest import build_group  # noqa: F401 -- fixture reused here

SHANGHAI = ZoneInfo("Asia/Shanghai")
_sources = itertools.count(1)


def at(text: str, zone: ZoneInfo = SHANGHAI) -> dt.datetime:
    """A wall-clock time in ``zone``: ``at("2026-11-30 23:59")``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone)


@pytest.fixture
def touch(tenant_a):
    def make(target: str, when: dt.datetime, *, kind: str = TouchKind.MASS_MESSAGE, tenant=None) -> Touch:
        with tenant_context(tenant or tenant_a):
            return Touch.objects.create(target=target, kind=kind, source=f"msg{next(_sources)}", at=when)

    return make
