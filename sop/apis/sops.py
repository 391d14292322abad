"""``/sops/``: SOP automations, and ``/sop-templates/``.

- list and create (blank, or from a template); ``{id}/`` read (with the draft's errors), change the
  name, description or draft (saved even when invalid), delete (never published);
- ``{id}/publish/`` (the draft becomes the next version, live), ``pause/``, ``resume/``, ``stop/``;
- ``{id}/versions/``, ``{id}/enrolments/``, ``{id}/enrol/`` (customers by hand), ``{id}/report/``.

Admins and operators (and their API keys) run SOPs; a sales member gets 403 on every route here (its
SOP tasks are under /sop-tasks/). Another tenant's SOP is a 404.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from contacts.apis.common import IDEMPOTENCY_KEY
from scrm.api.permissions import IsTenantAdminOrOperator
from scrm.api.viewsets import ID_PATTERN, TenantAPIView, TenantViewMixin
from scrm.tenancy.actors import Actor

from ..models import EnrolmentStatus, Sop, SopKind, SopStatus
from ..selectors import enrolment_rows, sop_enrolments, sop_list, sop_versions, version_by_number
from ..serializers import (
    ENROL_REQUEST,
    EnrolmentSerializer,
    EnrolResultSerializer,
    SopCreateSerializer,
    SopDetailSerializer,
    SopReportSerializer,
    SopSerializer,
    SopStopResultSerializer,
    SopStopSerializer,
    SopTemplateSerializer,
    SopUpdateSerializer,
    SopVersionSerializer,
    enrol_input,
)
from ..services import reports
from ..services import sops as services
from ..templates import TEMPLATES
from .common import query_choices, query_number, state_conflicts

ENROL_REPLAY_SECONDS = 24 * 3600

CONFLICT = {
    409: OpenApiResponse(
        description="The SOP's status does not allow it; the type says why (has_versions, not_live, "
        "not_paused, not_published, already_stopped, not_customer_sop)."
    )
}
STATUS_PARAM = OpenApiParameter(
    "status",
    {"type": "array", "items": {"type": "string", "enum": SopStatus.values}},
    explode=True,
    description="Only SOPs in these statuses (repeatable).",
)
KIND_PARAM = OpenApiParameter(
    "kind", {"type": "string", "enum": SopKind.values}, description="Only this kind."
)
SEARCH_PARAM = OpenApiParameter("q", str, description="Part of the name.")
ENROLMENT_STATUS_PARAM = OpenApiParameter(
    "status",
    {"type": "array", "items": {"type": "string", "enum": EnrolmentStatus.values}},
    explode=True,
    description="Only enrolments in these statuses (repeatable).",
)
VERSION_PARAM = OpenApiParameter(
    "version", {"type": "integer", "minimum": 1}, description="Only this version (its number)."
)


@extend_schema(tags=["sop"])
@extend_schema_view(
    list=extend_schema(
        summary="SOPs, newest first",
        parameters=[STATUS_PARAM, KIND_PARAM, SEARCH_PARAM],
        responses=SopSerializer,
    ),
    retrieve=extend_schema(
        summary="An SOP with its draft and the draft's errors", responses=SopDetailSerializer
    ),
    create=extend_schema(
        summary="Create a draft SOP, blank or from a template",
        request=SopCreateSerializer,
        responses={201: SopDetailSerializer},
    ),
    partial_update=extend_schema(
        summary="Change the name, description or draft (the draft is saved even when invalid)",
        request=SopUpdateSerializer,
        responses=SopDetailSerializer,
    ),
    destroy=extend_schema(
        summary="Delete an SOP never published (one with versions is stopped instead)",
        responses={204: None, **CONFLICT},
    ),
)
class SopViewSet(TenantViewMixin, viewsets.GenericViewSet):
    queryset = Sop.objects
    serializer_class = SopSerializer
    permission_classes = [IsTenantAdminOrOperator]
    filter_backends: list = []
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no principal
            return Sop.objects.none()
        return sop_list().filter(tenant=self.principal.tenant)

    def _sop(self, pk) -> Sop:
        return get_object_or_404(self.get_queryset(), pk=pk)

    def _detail(self, pk) -> dict:
        sop = self._sop(pk)
        return SopDetailSerializer(sop, context={"draft_errors": services.draft_errors(sop)}).data

    def list(self, request):
        sops = self.get_queryset()
        statuses = query_choices(request, "status", SopStatus.values)
        if statuses:
            sops = sops.filter(status__in=statuses)
        kind = query_choices(request, "kind", SopKind.values)
        if kind:
            sops = sops.filter(kind__in=kind)
        text = request.query_params.get("q", "").strip()
        if "\x00" in text:
            raise ValidationError({"q": ["No NUL characters."]})
        if text:
            sops = sops.filter(Q(name__icontains=text) | Q(description__icontains=text))
        page = self.paginate_queryset(sops)
        return self.get_paginated_response(SopSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(self._detail(pk))

    def create(self, request):
        data = SopCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sop = services.sop_create(
            tenant=self.principal.tenant, actor=Actor.of(self.principal), **data.validated_data
        )
        return Response(self._detail(sop.pk), status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        sop = self._sop(pk)
        data = SopUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        sop = services.sop_update(sop=sop, data=data.validated_data)
        return Response(self._detail(sop.pk))

    def destroy(self, request, pk=None):
        sop = self._sop(pk)
        with state_conflicts():
            services.sop_delete(sop=sop, actor=Actor.of(self.principal))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Publish the draft as the next version, live",
        request=None,
        responses={
            200: SopDetailSerializer,
            400: OpenApiResponse(
                description="The draft is not valid: its errors, paths draft.steps.2.days..."
            ),
        },
        description="The draft is checked and frozen as version N+1, which new customers enter; customers "
        "inside older versions finish them. A paused or stopped SOP runs again.",
    )
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        sop = self._sop(pk)
        services.sop_publish(sop=sop, actor=Actor.of(self.principal))
        return Response(self._detail(sop.pk))

    @extend_schema(
        summary="Pause: nobody new enters, due steps wait until resumed",
        request=None,
        responses={200: SopDetailSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        sop = self._sop(pk)
        with state_conflicts():
            services.sop_pause(sop=sop, actor=Actor.of(self.principal))
        return Response(self._detail(sop.pk))

    @extend_schema(
        summary="Resume a paused SOP (waiting steps run, new customers enter)",
        request=None,
        responses={200: SopDetailSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        sop = self._sop(pk)
        with state_conflicts():
            services.sop_resume(sop=sop, actor=Actor.of(self.principal))
        return Response(self._detail(sop.pk))

    @extend_schema(
        summary="Stop: everyone inside exits (asks confirm: true)",
        request=SopStopSerializer,
        responses={200: SopStopResultSerializer, **CONFLICT},
        description="Every active enrolment exits (reason sop_stopped) and its pending steps are cancelled; "
        "members' open tasks stay theirs to finish. Publishing again starts the SOP afresh.",
    )
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        sop = self._sop(pk)
        SopStopSerializer(data=request.data).is_valid(raise_exception=True)
        with state_conflicts():
            sop, exited = services.sop_stop(sop=sop, actor=Actor.of(self.principal))
        return Response({"sop": self._detail(sop.pk), "exited": exited})

    @extend_schema(summary="The published versions, newest first", responses=SopVersionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def versions(self, request, pk=None):
        sop = self._sop(pk)
        page = self.paginate_queryset(sop_versions(sop))
        return self.get_paginated_response(SopVersionSerializer(page, many=True).data)

    @extend_schema(
        summary="Who is (or was) in the SOP, newest first, with the step each is at",
        parameters=[ENROLMENT_STATUS_PARAM, VERSION_PARAM],
        responses=EnrolmentSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def enrolments(self, request, pk=None):
        sop = self._sop(pk)
        statuses = query_choices(request, "status", EnrolmentStatus.values)
        number = query_number(request, "version")
        version = version_by_number(sop, number)
        enrolments = sop_enrolments(sop, statuses=statuses, version=version)
        if number is not None and version is None:
            enrolments = enrolments.none()
        page = self.paginate_queryset(enrolments)
        return self.get_paginated_response(EnrolmentSerializer(enrolment_rows(page), many=True).data)

    @extend_schema(
        summary="Enrol customers now: these ids, or those matching filters (honours Idempotency-Key)",
        request=ENROL_REQUEST,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: OpenApiResponse(
                EnrolResultSerializer,
                description="How many entered and how many did not, by reason. A repeated Idempotency-Key "
                "(within a day) answers the first request's result (header Idempotent-Replay: true).",
            ),
            **CONFLICT,
        },
        description="A live customer SOP, whatever its trigger; at most 10,000 customers. Customers already "
        "inside (or once inside, when the SOP enrols once) are skipped, as are lost ones.",
    )
    @action(detail=True, methods=["post"])
    def enrol(self, request, pk=None):
        sop = self._sop(pk)
        data = enrol_input(request.data)
        actor = Actor.of(self.principal)
        key = request.headers.get("Idempotency-Key", "").strip()
        replay_key = ""
        if key:
            digest = hashlib.sha256(key.encode()).hexdigest()
            replay_key = f"sop-enrol:{sop.tenant_id}:{sop.pk}:{actor.idempotency_scope()}:{digest}"
            replayed = cache.get(replay_key)
            if replayed is not None:
                return Response(replayed, headers={"Idempotent-Replay": "true"})
        with state_conflicts():
            result = services.sop_enrol(sop=sop, actor=actor, **data)
        body = EnrolResultSerializer(result).data
        if replay_key:
            cache.set(replay_key, body, ENROL_REPLAY_SECONDS)
        return Response(body)

    @extend_schema(
        summary="The SOP's figures: enrolments, goal, each step, A/B splits, members' tasks",
        parameters=[
            OpenApiParameter(
                "version",
                {"type": "integer", "minimum": 1},
                description="One version (its number); default: every version, steps drawn from the latest.",
            )
        ],
        responses=SopReportSerializer,
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def report(self, request, pk=None):
        sop = self._sop(pk)
        number = query_number(request, "version")
        version = version_by_number(sop, number)
        if number is not None and version is None:
            raise NotFound(f"The SOP has no version {number}.")
        return Response(SopReportSerializer(reports.sop_report(sop=sop, version=version)).data)


@extend_schema(tags=["sop"])
class SopTemplatesView(TenantAPIView):
    permission_classes = [IsTenantAdminOrOperator]
    serializer_class = SopTemplateSerializer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(
        summary="The SOPs to start from: new-customer nurture, birthday care, win-back, group morning post",
        responses=SopTemplateSerializer(many=True),
        parameters=[],
    )
    def get(self, request):
        rows = [
            {"key": t.key, "name": t.name, "description": t.description, "kind": t.kind, "draft": t.draft()}
            for t in TEMPLATES.values()
        ]
        return Response(SopTemplateSerializer(rows, many=True).data)


router = SimpleRouter(trailing_slash=True)
router.register("sops", SopViewSet, basename="sop")

urlpatterns = [path("sop-templates/", SopTemplatesView.as_view(), name="sop-templates"), *router.urls]
