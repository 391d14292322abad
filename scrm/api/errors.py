"""One error shape for every API error: ``{type, title, status, detail, errors}``.

``type`` is a stable machine-readable code, ``title`` a short human summary, ``detail`` the
explanation, and ``errors`` a list of ``{path, code, message}`` (``path`` is the dotted field path,
``null`` for errors about the whole request). DRF errors go through ``exception_handler``; errors
Django raises before or outside DRF (unknown URL, oversized body, crashes) through the handlers below.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from scrm.wecom.errors import WeComError, WeComRateLimitedError

_TYPES: dict[type[exceptions.APIException], str] = {
    exceptions.ValidationError: "validation_error",
    exceptions.ParseError: "parse_error",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


class Conflict(exceptions.APIException):
    """The object's state does not allow the request (a 409); ``code`` is the error shape's ``type``."""

    status_code = 409
    default_code = "conflict"
    default_detail = "The object's state does not allow this."

    def __init__(self, detail: str | None = None, *, code: str | None = None):
        super().__init__(detail, code)
        if code:
            self.default_code = code  # what exception_handler reads as the type


def problem(status: int, type_: str, detail: str, errors: list[dict[str, Any]] | None = None) -> dict:
    return {
        "type": type_,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "errors": errors or [],
    }


def problem_response(status: int, type_: str, detail: str) -> JsonResponse:
    return JsonResponse(problem(status, type_, detail), status=status)


def _flatten(data: Any, path: str | None = None) -> list[dict[str, Any]]:
    """Turn DRF's nested error dict/list into ``[{path, code, message}]`` with dotted paths."""
    if isinstance(data, dict):
        out = []
        for key, value in data.items():
            child = None if key in ("non_field_errors", "detail") else (f"{path}.{key}" if path else str(key))
            out += _flatten(value, child if child is not None else path)
        return out
    if isinstance(data, list):
        if all(isinstance(item, exceptions.ErrorDetail) for item in data):
            # A ValidationError raised without a code (a form's) has None: the shape promises a string.
            return [{"path": path, "code": item.code or "invalid", "message": str(item)} for item in data]
        out = []
        for index, item in enumerate(data):
            if item:  # DRF puts {} for list items that had no error
                out += _flatten(item, f"{path}.{index}" if path else str(index))
        return out
    return [{"path": path, "code": getattr(data, "code", "invalid"), "message": str(data)}]


# WeCom answers that no retry by the user fixes: WeCom down or busy, or the tenant's WeCom setup.
_WECOM_UPSTREAM = {None, -1, 40001, 40013, 48002, 60020}


def wecom_problem(exc: WeComError) -> Response:
    """A WeCom refusal as an API error: 400 for what the request can fix (a name taken, an unknown
    id), 429 with Retry-After when WeCom's rate limit is hit, 502 when WeCom or its setup is at fault.
    WeCom's code, message and our hint travel in ``errors`` so the dashboard can show them."""
    if isinstance(exc, WeComRateLimitedError):
        status, headers = 429, {"Retry-After": str(max(1, round(exc.retry_after)))}
    else:
        status, headers = (502 if exc.errcode in _WECOM_UPSTREAM else 400), {}
    detail = f"WeCom refused {exc.api}: {exc.errmsg or 'no answer'}" + (f" ({exc.hint})" if exc.hint else "")
    errors = [{"path": None, "code": f"wecom_{exc.errcode}", "message": exc.hint or exc.errmsg}]
    return Response(problem(status, "wecom_error", detail, errors), status=status, headers=headers)


def exception_handler(exc, context):
    if isinstance(exc, WeComError):
        return wecom_problem(exc)
    if isinstance(exc, DjangoValidationError):
        # Services validate with Django's ValidationError; it is the client's error, not a crash.
        exc = exceptions.ValidationError(as_serializer_error(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real crash: Django's handler500 answers (in the same shape for /api/)
    type_ = next((code for cls, code in _TYPES.items() if isinstance(exc, cls)), None)
    if type_ is None:
        if isinstance(exc, Http404):
            type_ = "not_found"
        elif isinstance(exc, PermissionDenied):
            type_ = "permission_denied"
        else:
            type_ = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.ValidationError):
        detail = "The request has invalid fields."
        errors = _flatten(exc.detail)
    else:
        detail = str(getattr(exc, "detail", exc)) if not isinstance(exc, Http404) else "Not found."
        errors = []
    response.data = problem(response.status_code, type_, detail, errors)
    return response


# --- Django-level handlers (wired in scrm/urls.py) ------------------------------------------


def bad_request(request, exception=None):
    return problem_response(400, "bad_request", "The request could not be understood.")


def permission_denied(request, exception=None):
    return problem_response(403, "permission_denied", "You do not have permission to do this.")


def page_not_found(request, exception=None):
    return problem_response(404, "not_found", f"No route matches {request.path}.")


def server_error(request):
    return problem_response(500, "server_error", "Something went wrong on our side; it has been logged.")
