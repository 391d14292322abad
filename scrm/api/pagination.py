"""Pagination: cursors for integrators, page numbers for the dashboard, never a full COUNT(*).

A request that names ``cursor`` (or comes from an API key and names no ``page``) gets cursor
pagination: stable under concurrent inserts, constant cost however deep. Otherwise page numbers,
computed by fetching one row more than the page to know whether a next page exists, so a list over
a million contacts costs the same as one over ten.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from scrm.tenancy.authentication import ApiKeyUser

MAX_PAGE_SIZE = 200
# The furthest a page may start: OFFSET and LIMIT are signed 64-bit integers in PostgreSQL.
_MAX_OFFSET = 2**63 - 1 - MAX_PAGE_SIZE - 1


def _whole_number(raw: str, *, cap: int) -> int | None:
    """``raw`` as a whole number from 1 written in ASCII digits, at most ``cap``; else None.

    ``int`` alone would take "١٢", "+3" or " 4 ", and refuses numbers of over 4,300 digits with a
    ValueError: the digits are checked first and a longer number than ``cap`` is ``cap``.
    """
    if not (raw.isascii() and raw.isdigit()):
        return None
    digits = raw.lstrip("0")
    if not digits:
        return None
    return cap if len(digits) > len(str(cap)) else min(int(digits), cap)


def _page_number(request) -> int:
    page = _whole_number(request.query_params.get("page") or "1", cap=2**63)
    if page is None:
        raise NotFound("Invalid page: pages are numbered from 1.")
    return page


def _page_size(request, default: int) -> int:
    raw = request.query_params.get("page_size")
    if not raw:  # empty is not given, as for every filter
        return default
    size = _whole_number(raw, cap=MAX_PAGE_SIZE)
    if size is None:
        raise ValidationError(
            {"page_size": [f"A whole number from 1 (at most {MAX_PAGE_SIZE} rows a page)."]}
        )
    return size


class CursorPagination(pagination.CursorPagination):
    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request) -> int:
        return _page_size(request, self.page_size)

    def paginate_queryset(self, queryset, request, view=None):
        self._queryset = queryset
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        """DRF checks the cursor's encoding; its position must also be a value of the ordering field,
        or filtering on it would fail in the database (a tampered cursor is a 404, not a 500)."""
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None:
            return cursor
        field = self.ordering[0].lstrip("-")
        try:
            if "\x00" in cursor.position:
                raise ValueError("NUL")  # PostgreSQL text cannot hold it
            self._queryset.filter(**{f"{field}__gt": cursor.position})
        except (ValueError, TypeError, DjangoValidationError):
            raise NotFound(self.invalid_cursor_message) from None
        return cursor


class PageNumberPagination(pagination.BasePagination):
    page_query_param = "page"

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = _page_size(request, settings.REST_FRAMEWORK["PAGE_SIZE"])
        page = _page_number(request)
        offset = (page - 1) * self.page_size
        if offset > _MAX_OFFSET:
            raise NotFound("Invalid page: past the last page there can be.")
        self.page = page
        rows = list(queryset[offset : offset + self.page_size + 1])
        self.has_next = len(rows) > self.page_size
        return rows[: self.page_size]

    def get_paginated_response(self, data):
        url = self.request.build_absolute_uri()
        next_url = replace_query_param(url, self.page_query_param, self.page + 1) if self.has_next else None
        if self.page == 1:
            previous_url = None
        elif self.page == 2:
            previous_url = remove_query_param(url, self.page_query_param)
        else:
            previous_url = replace_query_param(url, self.page_query_param, self.page - 1)
        return Response(
            {
                "next": next_url,
                "previous": previous_url,
                "page": self.page,
                "page_size": self.page_size,
                "results": data,
            }
        )


class DualPagination(pagination.BasePagination):
    """Chooses cursor or page-number pagination per request (see the module docstring)."""

    def _choose(self, request) -> pagination.BasePagination:
        params = request.query_params
        use_cursor = "cursor" in params or (isinstance(request.user, ApiKeyUser) and "page" not in params)
        return CursorPagination() if use_cursor else PageNumberPagination()

    def paginate_queryset(self, queryset, request, view=None):
        self.delegate = self._choose(request)
        # A page number beside a cursor is not used, but a malformed one is still the client's error.
        _page_number(request)
        return self.delegate.paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        return self.delegate.get_paginated_response(data)

    def get_schema_operation_parameters(self, view):
        def param(name: str, description: str, schema: dict) -> dict:
            return {
                "name": name,
                "required": False,
                "in": "query",
                "description": description,
                "schema": schema,
            }

        return [
            param("cursor", "Cursor from `next`/`previous` (default for API keys).", {"type": "string"}),
            param(
                "page", "Page number, from 1 (default for the dashboard).", {"type": "integer", "minimum": 1}
            ),
            param(
                "page_size",
                f"Rows per page, from 1; more than {MAX_PAGE_SIZE} gives {MAX_PAGE_SIZE}.",
                {"type": "integer", "minimum": 1},
            ),
        ]

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next", "previous"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "page": {"type": "integer", "description": "Page-number mode only."},
                "page_size": {"type": "integer", "description": "Page-number mode only."},
                "results": schema,
            },
        }
