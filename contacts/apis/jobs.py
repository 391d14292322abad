"""Background jobs (``/jobs/``: progress, errors, the download of a finished export) and customer
transfers (``/transfers/``: on-job transfer and resigned inheritance, as jobs, with per-customer items).

Members see the jobs they started; admins see every job of the tenant. Transfers are admin-only.
"""

from __future__ import annotations

import mimetypes
import os

from django.http import FileResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from scrm.api.permissions import IsTenantAdmin
from scrm.api.viewsets import TenantAPIView, TenantReadOnlyViewSet
from scrm.durable import RunStatus
from scrm.tenancy.actors import Actor
from scrm.wecom.errors import WeComError

from ..models import Job, JobKind, TransferItem, TransferStatus
from ..serializers_writes import (
    JobSerializer,
    TransferCreateSerializer,
    TransferItemSerializer,
    UnassignedPageSerializer,
)
from ..services import transfers
from .common import job_start_schema, job_started
from .tags import WECOM_ERRORS

TRANSFER_KINDS = (JobKind.TRANSFER, JobKind.INHERIT)


def _choice(request, name: str, choices) -> str | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    if value not in {str(c) for c in choices}:
        raise exceptions.ValidationError({name: [f"Choose one of: {', '.join(map(str, choices))}."]})
    return value


@extend_schema_view(
    list=extend_schema(
        summary="Background jobs, newest first (yours; every job for admins)",
        parameters=[
            OpenApiParameter("kind", str, enum=JobKind.values),
            OpenApiParameter("status", str, enum=RunStatus.values),
        ],
    ),
    retrieve=extend_schema(summary="A job: status, progress, per-item errors"),
)
class JobViewSet(TenantReadOnlyViewSet):
    queryset = Job.objects.select_related("created_by", "created_by_api_key").order_by("-id")
    serializer_class = JobSerializer
    filter_backends: list = []

    def get_queryset(self):
        queryset = super().get_queryset()
        principal = self.principal
        if not principal.is_admin:
            queryset = queryset.filter(**Actor.of(principal).as_fields("created_by"))
        if self.action == "list":
            kind = _choice(self.request, "kind", JobKind.values)
            state = _choice(self.request, "status", RunStatus.values)
            if kind:
                queryset = queryset.filter(kind=kind)
            if state:
                queryset = queryset.filter(status=state)
        return queryset

    @extend_schema(
        summary="Download a job's result file (an export's CSV)",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: OpenApiResponse()},
    )
    @action(detail=True, methods=["get"], url_path="download", url_name="download")
    def download(self, request, pk=None):
        job = self.get_object()
        if not job.result_file:
            raise exceptions.NotFound("This job has no file to download.")
        name = os.path.basename(job.result_file.name)
        content_type, _ = mimetypes.guess_type(name)
        if content_type == "text/csv":
            content_type = "text/csv; charset=utf-8"
        return FileResponse(
            job.result_file.open("rb"),
            as_attachment=True,
            filename=name,
            content_type=content_type or "application/octet-stream",
        )


class TransferCreateView(TenantAPIView):
    permission_classes = [IsTenantAdmin]
    serializer_class = TransferCreateSerializer

    @job_start_schema(
        summary="Transfer customers to another member, or inherit a resigned member's customers (a job)",
        request=TransferCreateSerializer,
        description=(
            "kind transfer (transfer_customer) or inherit (resigned/transfer_customer). Customers are sent "
            "100 per call; each gets an item (see /transfers/{job id}/items/) that is waiting until WeCom "
            "completes the transfer (24 h, unless the customer refuses), then succeeded, refused, over_limit "
            "or failed. The job's done/failed count settled items."
        ),
    )
    def post(self, request):
        data = TransferCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        job, created = transfers.transfer_job_create(
            principal=self.principal,
            kind=values["kind"],
            handover=values["handover"],
            takeover=values["takeover"],
            contacts=values.get("contacts") if not values["all"] else None,
            message=values["message"],
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        return job_started(request, job, created)


@extend_schema_view(
    get=extend_schema(
        summary="Per-customer results of a transfer or inheritance job",
        parameters=[OpenApiParameter("status", str, enum=TransferStatus.values)],
    )
)
class TransferItemsView(TenantAPIView):
    permission_classes = [IsTenantAdmin]
    serializer_class = TransferItemSerializer
    queryset = TransferItem.objects.select_related("contact", "handover", "takeover").order_by("id")

    def get(self, request, pk: int):
        if not Job.objects.filter(pk=pk, kind__in=TRANSFER_KINDS).exists():
            raise exceptions.NotFound("No transfer job with this id.")
        items = self.get_queryset().filter(job_id=pk)
        state = _choice(request, "status", TransferStatus.values)
        if state:
            items = items.filter(status=state)
        page = self.paginate_queryset(items)
        return self.get_paginated_response(TransferItemSerializer(page, many=True).data)


UNASSIGNED_PAGE_MAX = 1000  # get_unassigned_list's page_size
INVALID_PARAMETER = 40058


class UnassignedView(TenantAPIView):
    permission_classes = [IsTenantAdmin]
    serializer_class = UnassignedPageSerializer

    @extend_schema(
        summary="Customers of resigned members waiting for a new owner (from WeCom)",
        parameters=[
            OpenApiParameter(
                "cursor", str, description="next_cursor of the previous page (one WeCom refuses: 404)."
            ),
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1, "maximum": UNASSIGNED_PAGE_MAX},
                description=f"1 to {UNASSIGNED_PAGE_MAX} (default 100).",
            ),
        ],
        responses={
            200: UnassignedPageSerializer,
            404: OpenApiResponse(description="A cursor WeCom does not know (not_found)."),
            **WECOM_ERRORS,
        },
    )
    def get(self, request):
        raw = request.query_params.get("page_size") or "100"
        # ASCII digits: isdigit() also says yes to "²", which int() refuses.
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= UNASSIGNED_PAGE_MAX):
            raise exceptions.ValidationError(
                {"page_size": [f"Give a number from 1 to {UNASSIGNED_PAGE_MAX}."]}
            )
        cursor = request.query_params.get("cursor", "")
        try:
            page = transfers.unassigned_page(tenant=self.principal.tenant, cursor=cursor, page_size=int(raw))
        except WeComError as exc:
            # WeCom's cursor is opaque to us: one it refuses (40058) is an invalid cursor, a 404 as
            # for the API's own cursors, not WeCom failing.
            if cursor and exc.errcode == INVALID_PARAMETER:
                raise exceptions.NotFound("Invalid cursor.") from None
            raise
        return Response(UnassignedPageSerializer(page).data)


router = SimpleRouter()
router.register("jobs", JobViewSet, basename="job")

urlpatterns = [
    *router.urls,
    path("transfers/", TransferCreateView.as_view(), name="transfer-create"),
    path("transfers/unassigned/", UnassignedView.as_view(), name="transfer-unassigned"),
    path("transfers/<int:pk>/items/", TransferItemsView.as_view(), name="transfer-items"),
]
