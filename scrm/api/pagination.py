"""Pagination: cursors for integrators, page numbers for the dashboard, never a full COUNT(*).

A request that names ``cursor`` (or comes from an API key and names no ``page``) gets cursor
pagination: stable under concurrent inserts, constant cost however deep. Otherwise page numbers,
computed by fetching one row more than the page to know whether a next page exists, so a list over
a million contacts costs the same as one over ten.
"""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import InvalidPage
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from scrm.tenancy.authentication import ApiKeyUser

MAX_PAGE_SIZE = 200


def _page_size(request, default: int) -> int:
    raw = request.query_params.get("page_size")
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError:
        return default
    return max(1, min(size, MAX_PAGE_SIZE))


class CursorPagination(pagination.CursorPagination):
    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


class PageNumberPagination(pagination.BasePagination):
    page_query_param = "page"

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = _page_size(request, settings.REST_FRAMEWORK["PAGE_SIZE"])
        try:
            self.page = int(request.query_params.get(self.page_query_param, 1))
            if self.page < 1:
                raise InvalidPage
        except (ValueError, InvalidPage) as exc:
            raise NotFound("Invalid page: pages are numbered from 1.") from exc
        offset = (self.page - 1) * self.page_size
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
        return self.delegate.paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        return self.delegate.get_paginated_response(data)

    def get_schema_operation_parameters(self, view):
        def param(name: str, description: str, type_: str) -> dict:
            return {
                "name": name,
                "required": False,
                "in": "query",
                "description": description,
                "schema": {"type": type_},
            }

        return [
            param("cursor", "Cursor from `next`/`previous` (default for API keys).", "string"),
            param("page", "Page number, from 1 (default for the dashboard).", "integer"),
            param("page_size", f"Rows per page, at most {MAX_PAGE_SIZE}.", "integer"),
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
