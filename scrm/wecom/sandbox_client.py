"""The app's side of the demo: a tenant whose WeCom is the local sandbox can act scans out.

``sandbox_base`` says whether the tenant's WeCom is the loopback sandbox (and where it is);
``sandbox_post`` calls one of its control routes (``simulate/customer-add``, ``simulate/group-join``…)
for an API route, answering the sandbox's JSON or the error response the route returns as is.
"""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.response import Response

from scrm.api.errors import problem

from .client import api_base_allowed

SIMULATE_TIMEOUT = 30


def sandbox_base(tenant) -> str | None:
    """The sandbox's root when this tenant's WeCom is the local sandbox (the demo), else None.

    Only a loopback API base counts, and only in a deployment that allows the sandbox: a tenant
    connected to the real WeCom never gets a simulator.
    """
    base = tenant.api_base or settings.WECOM_API_BASE
    host = urlsplit(base).hostname or ""
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    local = local and api_base_allowed(base)
    return base.removesuffix("/").removesuffix("cgi-bin").rstrip("/") + "/" if local else None


def sandbox_post(tenant, path: str, body: dict[str, Any]) -> dict[str, Any] | Response:
    """POST ``body`` to the sandbox's control route ``path`` for ``tenant``: the sandbox's answer, or
    the response to return (409 when the tenant's WeCom is not the sandbox, 502 when it does not
    answer). A refusal by the sandbox (a full group, an unknown code) is a 400 naming its reason."""
    base = sandbox_base(tenant)
    if base is None:
        return Response(
            problem(
                409, "conflict", "Scans can only be simulated when the tenant's WeCom is the local sandbox."
            ),
            status=status.HTTP_409_CONFLICT,
        )
    call = urllib.request.Request(f"{base}sandbox/{path}", data=json.dumps(body).encode(), method="POST")  # noqa: S310 -- http on loopback
    call.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(call, timeout=SIMULATE_TIMEOUT) as answer:  # noqa: S310 -- loopback only
            return json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}").get("error") or str(exc)
        raise exceptions.ValidationError({"detail": [f"The sandbox refused: {detail}"]}) from None
    except (urllib.error.URLError, OSError) as exc:
        return Response(
            problem(502, "wecom_error", f"The sandbox is not answering ({exc})."),
            status=status.HTTP_502_BAD_GATEWAY,
        )
