"""Moments fixtures: tenant A connected to the in-process WeCom sandbox and synced (``synced``), and
the local builders of the contacts and campaigns tests (``build_a``), shared by every module here."""

from __future__ import annotations

from tests.campaigns.sandboxed import synced  # noqa: F401 -- fixture reused here
from tests.contacts.conftest import build_a, build_b, connected  # noqa: F401 -- fixtures reused here
from tests.wecom.conftest import sandbox, sandbox_factory  # noqa: F401 -- fixtures reused here
