"""``/moments/calendar/`` (what was posted and what is planned, by day), ``/moments/ranking/`` (per member,
and its CSV ``export/``) and ``/moments/engagement/{contact_id}/`` (a customer's likes and comments).

Days are the tenant's (its campaigns time zone). A sales member sees its own posts in the calendar, its
own row in the ranking, and the engagement of the customers in its data scope (another customer, like
another tenant's, answers 404).
"""

from __future__ import annotations

import csv
import io

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, re_path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response

from campaigns.services.settings import tenant_zone
from contacts.selectors import contacts_visible
from scrm.api.dates import date_range, range_parameters
from scrm.api.viewsets import ID_PATTERN, TenantAPIView
from scrm.spreadsheets import csv_cell

from ..selectors import (
    CALENDAR_MAX_DAYS,
    CALENDAR_TEXT,
    RANKING_ORDERINGS,
    calendar,
    contact_engagement,
    ranking,
)
from ..serializers import MomentCalendarSerializer, MomentEngagementSerializer, MomentRankingSerializer
from .common import MomentsPermission
from .moments import DEPARTMENT_PARAM, _department, _staff

ORDERINGS = [*RANKING_ORDERINGS, *(f"-{name}" for name in RANKING_ORDERINGS)]
ORDERING_PARAM = OpenApiParameter(
    "ordering",
    {"type": "string", "enum": ORDERINGS},
    description="Sort by this figure (- for most first; default -published); members without a rate last.",
)
EXPORT_COLUMNS = (
    "userid",
    "name",
    "asked",
    "published",
    "publish_rate",
    "own_posts",
    "likes",
    "comments",
    "engaged_customers",
)


class _ReportView(TenantAPIView):
    permission_classes = [MomentsPermission]
    pagination_class = None
    filter_backends: list = []


@extend_schema(tags=["moments"])
class MomentCalendarView(_ReportView):
    @extend_schema(
        summary="Scheduled and published posts by day, for the content calendar",
        parameters=[
            OpenApiParameter(
                "from",
                OpenApiTypes.DATE,
                description=f"First day (default: a month before `to`). At most {CALENDAR_MAX_DAYS} days up "
                "to `to` (else 400 range_too_long), not after it (else 400 range_reversed).",
            ),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day, included (default: today)."),
        ],
        responses=MomentCalendarSerializer,
        description=f"Tasks scheduled or being created in WeCom, corp posts and members' own posts, in the "
        f"tenant's time zone: each day's counts, and the items (their text's first {CALENDAR_TEXT} "
        "characters) earliest first.",
    )
    def get(self, request):
        zone = tenant_zone(tenant=self.principal.tenant)
        with timezone.override(zone):
            first, last = date_range(request, default_days=31, max_days=CALENDAR_MAX_DAYS)
        return Response(
            MomentCalendarSerializer(calendar(self.principal, first=first, last=last, zone=zone)).data
        )


def _ranking_rows(view: TenantAPIView, request) -> tuple:
    ordering = request.query_params.get("ordering") or "-published"
    if ordering not in ORDERINGS:
        raise exceptions.ValidationError({"ordering": [f"One of: {', '.join(ORDERINGS)}."]})
    zone = tenant_zone(tenant=view.principal.tenant)
    with timezone.override(zone):
        first, last = date_range(request)
    rows = ranking(
        view.principal, first=first, last=last, zone=zone, department=_department(request), ordering=ordering
    )
    return first, last, rows


RANKING_PARAMETERS = [*range_parameters(), DEPARTMENT_PARAM, ORDERING_PARAM]


@extend_schema(tags=["moments"])
class MomentRankingView(_ReportView):
    @extend_schema(
        summary="Per member: corp posts published, own posts, likes, comments, engaged customers",
        parameters=RANKING_PARAMETERS,
        responses=MomentRankingSerializer,
        description="Over the Moments posted in the period (the tenant's days). Sales: its own row.",
    )
    def get(self, request):
        first, last, rows = _ranking_rows(self, request)
        return Response(MomentRankingSerializer({"from": first, "to": last, "results": rows}).data)


@extend_schema(tags=["moments"])
class MomentRankingExportView(_ReportView):
    @extend_schema(
        summary="The ranking as CSV (UTF-8 with BOM, for Excel), with the same parameters",
        parameters=RANKING_PARAMETERS,
        responses={(200, "text/csv"): OpenApiTypes.BINARY},
    )
    def get(self, request):
        first, last, rows = _ranking_rows(self, request)
        buffer = io.StringIO()
        buffer.write("\ufeff")  # Excel recognises UTF-8 (Chinese names) by it
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            values = {**row, "userid": row["staff"]["userid"], "name": row["staff"]["name"]}
            writer.writerow([csv_cell(values[column]) for column in EXPORT_COLUMNS])
        response = HttpResponse(buffer.getvalue().encode(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="moments-ranking-{first}-{last}.csv"'
        return response


@extend_schema(tags=["moments"])
class ContactEngagementView(_ReportView):
    @extend_schema(
        summary="A customer's Moments engagement: likes, comments, the last one, posts seen, the latest 20",
        parameters=[OpenApiParameter("contact_id", int, OpenApiParameter.PATH)],
        responses=MomentEngagementSerializer,
    )
    def get(self, request, contact_id: str):
        contact = get_object_or_404(contacts_visible(self.principal), pk=contact_id)
        engagement = contact_engagement(contact)
        recent = [
            {
                "kind": i.kind,
                "occurred_at": i.occurred_at,
                "moment": {"id": i.moment_id, "text": i.moment.text[:CALENDAR_TEXT]},
                "member": _staff(i.staff),
            }
            for i in engagement["recent"]
        ]
        return Response(MomentEngagementSerializer({**engagement, "recent": recent}).data)


urlpatterns = [
    path("moments/calendar/", MomentCalendarView.as_view(), name="moment-calendar"),
    path("moments/ranking/", MomentRankingView.as_view(), name="moment-ranking"),
    path("moments/ranking/export/", MomentRankingExportView.as_view(), name="moment-ranking-export"),
    # Digits only (ID_PATTERN): anything else is no customer, a 404.
    re_path(
        rf"^moments/engagement/(?P<contact_id>{ID_PATTERN})/$",
        ContactEngagementView.as_view(),
        name="moment-engagement",
    ),
]
