"""The OpenAPI schema's shared parts: the API-key scheme, the error responses every route can give,
and integer bounds that do not depend on the database."""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import SAFE_METHODS, AllowAny


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "scrm.tenancy.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "<prefix>.<secret>",
            "description": "An API key created by a tenant admin, sent as `Authorization: Bearer <key>`.",
        }


# Integer bounds that Django derives from the database backend (connection.ops.integer_field_range):
# SQLite reports 64 bits for every integer column, PostgreSQL 16, 32 or 64 by column type.
_BACKEND_INTEGER_MAXIMA = {32767, 2147483647, 9223372036854775807}


def database_independent_integers(result, generator, request, public):
    """Drop backend-derived integer maxima so the schema is the same on SQLite and PostgreSQL.

    The dashboard's API types are generated from this schema and checked in; a schema that changed
    with the database it was generated against would make them look stale on one of the two.
    """

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "integer" and node.get("maximum") in _BACKEND_INTEGER_MAXIMA:
                del node["maximum"]
                if node.get("format") == "int64":
                    del node["format"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result


# The one error shape (scrm/api/errors.py), as a component every error response refers to.
PROBLEM = ResolvedComponent(
    name="Problem",
    type=ResolvedComponent.SCHEMA,
    object="Problem",
    schema={
        "type": "object",
        "description": "Every error: a stable `type`, the HTTP status and its title, and field errors.",
        "required": ["type", "title", "status", "detail", "errors"],
        "properties": {
            "type": {"type": "string", "description": "validation_error, not_found, wecom_error, ..."},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["path", "code", "message"],
                    "properties": {
                        "path": {"type": "string", "nullable": True, "description": "Dotted field path."},
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
            },
        },
    },
)

_ERROR_DESCRIPTIONS = {
    400: "Invalid input (validation_error, naming the field), or a malformed body (parse_error).",
    401: "No credentials, or wrong ones (not_authenticated, authentication_failed).",
    403: "Not allowed for this role or principal, or a missing CSRF token (permission_denied).",
    404: "No such object in your tenant and scope, or an invalid page or cursor (not_found).",
    413: "The body is over the size limit (payload_too_large).",
    415: "The body is not JSON, or not the type the route takes (unsupported_media_type).",
    429: "Too many writes, or failed logins (throttled, with Retry-After).",
}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, plus the errors the shared machinery gives on every route.

    Views document what they answer themselves; authentication, permissions, throttling, parsing,
    pagination and lookups can fail on any route that uses them, in the one error shape. Deriving
    those statuses here keeps every operation's list complete without repeating it on each view.
    """

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and not parameter.get("required"):
                # Filters and pagination read an empty value (``?stage=``) as not given.
                parameter["allowEmptyValue"] = True
        responses = operation["responses"]
        for status in sorted(self._error_statuses(operation)):
            responses.setdefault(str(status), {"description": _ERROR_DESCRIPTIONS[status]})
        for status, response in responses.items():
            if status.isdigit() and int(status) >= 400 and "content" not in response:
                response["content"] = {"application/json": {"schema": PROBLEM.ref}}
        self.registry.register_on_missing(PROBLEM)
        return operation

    def _error_statuses(self, operation: dict) -> set[int]:
        view, unsafe = self.view, self.method not in SAFE_METHODS
        statuses = set()
        if view.get_authenticate_header(view.request):
            statuses.add(401)  # DRF answers 401 (not 403) to bad credentials only when it can challenge
        if unsafe or any(not isinstance(permission, AllowAny) for permission in view.get_permissions()):
            statuses.add(403)  # roles and tenancy, or CSRF on a session's write
        if "{" in self.path or (self._is_list_view() and getattr(view, "pagination_class", None)):
            statuses.add(404)
        if unsafe or any(parameter["in"] == "query" for parameter in operation.get("parameters", [])):
            statuses.add(400)
        if unsafe:
            statuses.add(413)  # RequestSizeLimitMiddleware, before any parsing
            if view.get_throttles():
                statuses.add(429)
        if "requestBody" in operation:
            statuses.add(415)
        return statuses
