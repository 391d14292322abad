"""What the routes that start a background job share: their schema and their answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from ..models import Job
from ..serializers_writes import JobSerializer

IDEMPOTENCY_KEY = OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)


def job_start_schema(*, summary: str, request, description: str | None = None):
    return extend_schema(
        summary=summary,
        request=request,
        description=description,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            202: JobSerializer,
            200: OpenApiResponse(JobSerializer, description="The job this Idempotency-Key started before."),
            400: OpenApiResponse(description="Invalid input."),
        },
    )


def job_started(request, job: Job, created: bool) -> Response:
    """202 with a new job, 200 with the one a repeated Idempotency-Key names (as it is now: an eager
    or quick worker may have advanced it already)."""
    job.refresh_from_db()
    body = JobSerializer(job, context={"request": request}).data
    return Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)
