"""Schema-driven fuzzing: schemathesis walks the whole OpenAPI schema against the live test server.

The tenant is connected to the in-process WeCom sandbox and synced, so ids in the generated requests
find real rows; requests carry an admin API key (and only that: the session scheme is left out of
the walked schema, or schemathesis would send made-up ``sessionid`` cookies beside it). Positive and
negative data, every check, a fixed seed and a bounded number of examples per operation: the same
requests on every run. The run must end with no failure of any check (no 5xx, no status or response
outside the schema, valid requests accepted, invalid ones refused), but for the one documented
exception: a schema-valid request refused because an id it sends names nothing, its date range is
too long or reversed, or a text is over a limit in UTF-8 bytes (``UNKNOWABLE``). What is excluded
or pinned, and why, is in docs/api.md ("Fuzzing").

Run alone: ``.venv/bin/pytest tests/api/test_schemathesis.py -m fuzz -q -p no:cacheprovider -s``
(``-s`` prints the counts: operations, requests, failures by check).
"""

from __future__ import annotations

import collections
import copy
import json
import time
from typing import Any

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from schemathesis.engine import events
from schemathesis.openapi.checks import RejectedPositiveData

from scrm.api import throttling
from scrm.tenancy import services
from scrm.tenancy.models import Role
from tests.contacts.builders import run_sync
from tests.helpers import connect_tenant
from tests.wecom.conftest import sandbox_factory  # noqa: F401 -- fixture reused here

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db(transaction=True), pytest.mark.timeout(900)]

SEED = 20240614
# Examples per operation and phase: about 4,200 requests, a minute and a half on one core.
MAX_EXAMPLES = 5
# Error codes of refusals no schema can foresee: an id in a body that names no object of the tenant
# (does_not_exist) or one of another kind (wrong_kind: a text of the library as an attachment, a link's
# field on a text), a date range longer than the route allows or ending before it starts, a text over
# WeCom's limit in UTF-8 bytes (too_many_bytes: JSON Schema counts characters only), and an uploaded
# file whose bytes are not what its kind says (unsupported_file: no schema states a PNG's signature).
# A schema-valid request refused with only these is not a failure; any other refusal is.
UNKNOWABLE = {
    "does_not_exist",
    # A taken level name or threshold, a second rule for an action: state, not shape.
    "unique",
    "wrong_kind",
    "range_too_long",
    "range_reversed",
    "too_many_bytes",
    "unsupported_file",
    # Moments: what the content, the range and the tenant's WeCom app allow (docs/api.md, Fuzzing).
    "empty",
    "mixed_kinds",
    "too_many_of_kind",
    "cannot_publish",
    "in_the_past",
    "too_far_ahead",
    "no_agent",
    "not_members",
    # Profile fields: a choice field without choices (a rule across two fields), a value for a field
    # the tenant archived (its state, not the request's shape).
    "choices_required",
    "archived",
    # SOPs: a kind that is not the template's (a rule across two fields).
    "kind_mismatch",
}
# Operations whose 400 for a schema-valid request is about what is stored, not what was sent: publishing
# an SOP checks its saved draft (the request has no body); every error's path starts with "draft".
REFUSED_FOR_STORED_STATE = {"/api/v1/sops/{id}/publish/": "draft"}

# Operations the run leaves out (method, path): their side effect would end the run itself.
EXCLUDED = {
    # Revoking the key the fuzzer authenticates with would turn every later request into a 401.
    ("POST", "/api/v1/api-keys/{id}/revoke/"),
}
# Tenant settings that connect the tenant to a WeCom: pinned (never sent), so the fuzzer can neither
# disconnect the tenant from the sandbox nor make the app call a URL it generated (api_base).
PINNED_TENANT_FIELDS = (
    "corp_id",
    "agent_id",
    "api_base",
    "corp_secret",
    "callback_token",
    "encoding_aes_key",
)


def production_schema() -> dict[str, Any]:
    """The schema of the project's own routes (the test server also serves test-only ones)."""
    schema = SchemaGenerator(urlconf="scrm.urls").get_schema(request=None, public=True)
    schema = copy.deepcopy(schema)
    # The API key only: schemathesis fills a cookie scheme in with made-up session ids.
    schema["components"]["securitySchemes"].pop("cookieAuth")
    for operations in schema["paths"].values():
        for operation in operations.values():
            if "security" in operation:
                operation["security"] = [s for s in operation["security"] if "cookieAuth" not in s]
    for name in ("PatchedTenantSettingsRequest",):
        properties = schema["components"]["schemas"][name]["properties"]
        for field in PINNED_TENANT_FIELDS:
            properties.pop(field, None)
    return schema


def without_pinned_fields(context, body):
    if (
        context.operation is not None
        and context.operation.path == "/api/v1/tenant/"
        and isinstance(body, dict)
    ):
        return {key: value for key, value in body.items() if key not in PINNED_TENANT_FIELDS}
    return body


def unknowable_refusal(context, failure, case, response) -> bool:
    """False (drop the failure) for a valid request refused only with ``UNKNOWABLE`` codes, or for what
    is stored (``REFUSED_FOR_STORED_STATE``)."""
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 400:
        return True
    try:
        errors = json.loads(response.content)["errors"]
    except (ValueError, KeyError, TypeError):
        return True
    stored = REFUSED_FOR_STORED_STATE.get(case.operation.path)
    if stored and errors and all((error["path"] or "").startswith(stored) for error in errors):
        return False
    return not (errors and all(error["code"] in UNKNOWABLE for error in errors))


@pytest.fixture
def fuzz_target(live_server, tenant_a, sandbox_factory, monkeypatch, settings, tmp_path):  # noqa: F811
    """A synced tenant on the sandbox and an admin key for it; writes are not throttled for the run, and
    the files it uploads to the library are kept in a temporary folder."""
    settings.MEDIA_ROOT = tmp_path
    sandbox = sandbox_factory(callback_url=f"{live_server.url}/wecom/callback/{tenant_a.slug}/")
    connect_tenant(tenant_a, sandbox)
    run_sync(tenant_a)
    _, key = services.api_key_create(tenant=tenant_a, role=Role.ADMIN, name="fuzzer")
    # 429 is in the schema of every write; at the default rate the run would mostly see 429s.
    monkeypatch.setattr(throttling.WriteRateThrottle, "THROTTLE_RATES", {"write": "100000/min"})
    return live_server.url, key


def test_the_api_conforms_to_its_schema_under_fuzzing(fuzz_target):
    base_url, key = fuzz_target
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": f"{base_url}/",
            "headers": {"Authorization": f"Bearer {key}"},
            "workers": 1,
            "continue-on-failure": True,
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "checks": {"enabled": True},
            "operations": [
                {"include-method": method, "include-path": path, "enabled": False}
                for method, path in EXCLUDED
            ],
        }
    )
    schema = schemathesis.openapi.from_dict(production_schema(), config=config)
    schema.hook("map_body")(without_pinned_fields)
    schema.hook("filter_failure")(unknowable_refusal)

    started = time.monotonic()
    operations: set[str] = set()
    requests = 0
    unknowable = 0
    failures: collections.Counter[str] = collections.Counter()
    # One line per (check, operation, kind of failure), with the request that shows it.
    findings: dict[str, str] = {}
    errors: list[str] = []
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            operations.add(event.recorder.label)
            requests += len(event.recorder.interactions)
            unknowable += sum(event.recorder.filtered_failures.values())
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    failures[check.name] += 1
                    failure = check.failure_info.failure
                    interaction = event.recorder.interactions.get(case_id)
                    answer = interaction.response if interaction else None
                    key = f"{check.name} | {event.recorder.label} | {failure.title}"
                    findings.setdefault(
                        key,
                        f"{failure.message[-300:]!r}\n    {check.failure_info.code_sample}\n    -> "
                        + (f"{answer.status_code} {answer.content[:400]!r}" if answer else "no answer"),
                    )
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            errors.append(repr(event.exception))
    elapsed = time.monotonic() - started
    print(
        f"\nschemathesis: {len(operations)} operations, {requests} requests in {elapsed:.0f} s; "
        f"failures by check: {dict(failures) or 'none'}; valid requests refused with only "
        f"{'/'.join(sorted(UNKNOWABLE))} (allowed): {unknowable}"
    )
    for key, detail in sorted(findings.items()):
        print(f"- {key}\n    {detail}")
    assert not errors, errors
    assert not failures, dict(failures)
