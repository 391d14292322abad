"""Shared fixtures: the owner/member/outsider trio of DESIGN.md §3.

alice — admin of tenant A; bob — sales in tenant A (WeCom userid "bob", data scope self);
charlie — admin of tenant B. Every API test module uses them; charlie must get 404 on A's objects.
olga (``operator``) — operator of tenant A, for the routes admins and operators share.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import time
import uuid

import pytest
import time_machine
from rest_framework.test import APIClient

from scrm.tenancy import services
from scrm.tenancy.models import DataScope, Role
from tests import inflight
from tests.helpers import PASSWORD


@pytest.fixture(autouse=True, scope="session")
def _urlconf_loaded_outside_any_tenant():
    """Import every view module before any test runs, as a server does at its first request.

    Fixtures such as ``build_a`` hold a tenant in context for a whole test; a view module first
    imported inside one would bind its class-level querysets to that test's tenant.
    """
    from django.urls import get_resolver

    assert get_resolver().url_patterns


# `make test` runs the modules marked `clock` again with the clock moved here (ISO 8601 with an offset):
# a weekday 10:00, a Sunday 03:00 and 23:59:50 on a month's last day, China time. A test that passes
# only at some hours fails one of those runs.
MOVED_CLOCK = os.environ.get("SIYU_TEST_CLOCK", "")

# The modules whose code under test reads the clock for more than a timestamp: days in the tenant's
# time zone, business hours and schedules, daily caps, windows (callbacks, tokens), nightly jobs.
CLOCK_MODULES = {
    "tests/campaigns/test_apis.py",
    "tests/campaigns/test_caps.py",
    "tests/campaigns/test_dispatch.py",
    "tests/campaigns/test_plan.py",
    "tests/campaigns/test_readback.py",
    "tests/campaigns/test_results.py",
    "tests/contacts/test_api_overview.py",
    "tests/contacts/test_channels.py",
    "tests/contacts/test_channels_api.py",
    "tests/contacts/test_churn.py",
    "tests/contacts/test_contacts_api.py",
    "tests/contacts/test_exports.py",
    "tests/contacts/test_filters.py",
    "tests/contacts/test_handlers.py",
    "tests/contacts/test_sync.py",
    "tests/groups/test_groups_api.py",
    "tests/groups/test_handlers.py",
    "tests/groups/test_join_ways.py",
    "tests/groups/test_join_ways_api.py",
    "tests/groups/test_selectors.py",
    "tests/groups/test_stats.py",
    "tests/groups/test_sync.py",
    "tests/moments/test_apis.py",
    "tests/moments/test_compose.py",
    "tests/moments/test_member_sync.py",
    "tests/moments/test_reminders.py",
    "tests/moments/test_selectors.py",
    "tests/moments/test_submit.py",
    "tests/moments/test_tasks.py",
    "tests/moments/test_tracking.py",
    "tests/sop/test_actions.py",
    "tests/sop/test_api_tasks.py",
    "tests/sop/test_apis.py",
    "tests/sop/test_deliveries.py",
    "tests/sop/test_engine.py",
    "tests/sop/test_enrol.py",
    "tests/tenancy/test_tasks.py",
    "tests/value/test_contact_filters.py",
    "tests/value/test_ingest.py",
    "tests/value/test_ingest_api.py",
    "tests/value/test_points.py",
    "tests/value/test_points_api.py",
    "tests/wecom/test_callbacks.py",
    "tests/wecom/test_client.py",
    "tests/wecom/test_sandbox_groups_marketing.py",
    "tests/wecom/test_sandbox_mass_messages.py",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.split("::", 1)[0] in CLOCK_MODULES:
            item.add_marker(pytest.mark.clock)


@pytest.fixture(autouse=True)
def _moved_clock():
    """Start every test at ``SIYU_TEST_CLOCK`` when it is set; the clock ticks on from there.

    Autouse, so it wraps the test's other fixtures too (tenants, syncs, live servers all see the moved
    clock); a test that pins its own time with ``time_machine`` travels again from inside it.
    """
    if not MOVED_CLOCK:
        yield
        return
    with time_machine.travel(dt.datetime.fromisoformat(MOVED_CLOCK), tick=True):
        yield


SETTLE_SECONDS = 15


@pytest.fixture
def transactional_db(transactional_db):
    """pytest-django's, plus: the database is quiet before the flush that ends the test.

    A live-server test can end while the server still answers the browser's last requests or the
    sandbox's callbacks; the flush's TRUNCATE would then meet their locks (a deadlock, or rows written
    after the flush that the next test finds). Wait for those requests to end (tests/inflight.py) and
    for every other connection to the test database to leave its transaction; fail loudly if not.
    """
    yield transactional_db
    from django.db import connection

    deadline = time.monotonic() + SETTLE_SECONDS
    if not inflight.wait_until_idle(SETTLE_SECONDS):
        pytest.fail(f"the live server was still answering requests {SETTLE_SECONDS}s after the test")
    busy: list = []
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid, state, left(query, 200) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend' AND state <> 'idle'"
            )
            busy = cursor.fetchall()
        if not busy:
            return
        time.sleep(0.05)
    pytest.fail(f"connections still busy {SETTLE_SECONDS}s after the test: {busy}")


@pytest.fixture(autouse=True, scope="session")
def _live_server_without_nagle():
    """The live server answers at once: Django's test server (wsgiref) writes headers and body in two
    sends, and with Nagle's algorithm on, every answer waited 40 ms for the client's delayed ACK."""
    from django.core.servers.basehttp import WSGIRequestHandler

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(WSGIRequestHandler, "disable_nagle_algorithm", True)
        yield


@pytest.fixture(autouse=True)
def _fresh_cache_namespace(settings):
    """Each test gets its own key prefix in the shared Redis (throttle counters and tokens live there).

    Flushing instead would wipe the keys of tests running at the same time in other workers or runs.
    Set through the setting, not on the cache object: Django then rebuilds the cache connections of
    every thread, so a test's worker threads (the sync's page fetcher) use the test's prefix too.
    """
    from scrm.wecom import client, ratelimit

    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches
    # The per-process WeCom clients and limiter hold the cache they were built with: rebuild them
    # on the test's cache, or one test's rate-limit blocks and tokens would reach the next.
    client._clients.clear()
    ratelimit._limiter = None


@pytest.fixture(autouse=True)
def _forget_callback_keys():
    """The callback view caches tenants' keys per process; tests re-create tenants with the same slug."""
    from scrm.wecom import callbacks

    callbacks._keys.clear()
    yield
    callbacks._keys.clear()


@pytest.fixture
def tenant_a(db):
    return services.tenant_create(slug="tenant-a", name="Tenant A", corp_id="wwA", corp_secret="secret-of-a")


@pytest.fixture
def tenant_b(db):
    return services.tenant_create(slug="tenant-b", name="Tenant B", corp_id="wwB", corp_secret="secret-of-b")


def _member(tenant, username, role, **kwargs):
    user, _ = services.user_get_or_create(username=username, password=PASSWORD)
    services.membership_add(tenant=tenant, user=user, role=role, **kwargs)
    return user


@pytest.fixture
def alice(tenant_a):
    return _member(tenant_a, "alice", Role.ADMIN)


@pytest.fixture
def bob(tenant_a):
    return _member(tenant_a, "bob", Role.SALES, data_scope=DataScope.SELF, wecom_userid="bob")


@pytest.fixture
def charlie(tenant_b):
    return _member(tenant_b, "charlie", Role.ADMIN)


@pytest.fixture
def operator(tenant_a):
    return _member(tenant_a, "olga", Role.OPERATOR)


@pytest.fixture
def client_for():
    """An APIClient logged in (session) as the given user."""

    def make(user) -> APIClient:
        client = APIClient()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def key_client_for():
    """An APIClient authenticating with a fresh API key of the given tenant and role."""

    def make(tenant, role=Role.ADMIN) -> APIClient:
        _, key = services.api_key_create(tenant=tenant, role=role, name=f"{role} key")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return client

    return make


@pytest.fixture
def alice_client(alice, client_for):
    return client_for(alice)


@pytest.fixture
def bob_client(bob, client_for):
    return client_for(bob)


@pytest.fixture
def charlie_client(charlie, client_for):
    return client_for(charlie)


@pytest.fixture
def operator_client(operator, client_for):
    return client_for(operator)
