"""``/moments/``: every Moment WeCom reports (ours, corp posts made in WeCom's admin console, members'
own posts) and its tracking: ``{id}/members/`` (each member's copy), ``{id}/interactions/`` (likes and
comments) and ``{id}/stats/`` (publish rate by department, likes and comments by day).

Every member reads; a sales member sees the Moments it has a copy of, and in them only its own copy, its
own interactions and figures over its own copy. Another tenant's Moment answers 404.
"""

from __future__ import annotations

from django import forms
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from campaigns.services.settings import tenant_zone
from scrm.api.filters import query_flag
from scrm.api.viewsets import ID_PATTERN, TenantViewMixin

from ..filters import MomentFilter
from ..models import InteractionKind, Moment
from ..selectors import (
    department_names,
    moment_figures,
    moment_interactions,
    moment_list,
    moment_publications,
    moment_stats,
    staff_names,
)
from ..serializers import (
    MomentInteractionSerializer,
    MomentPublicationSerializer,
    MomentSerializer,
    MomentStatsSerializer,
)
from .common import MomentsPermission

PUBLISHED_PARAM = OpenApiParameter(
    "published", OpenApiTypes.BOOL, description="true: members who published it; false: those who have not."
)
DEPARTMENT_PARAM = OpenApiParameter(
    "department",
    {"type": "integer", "minimum": 0},
    description="Members of this WeCom department or a department under it.",
)
KIND_PARAM = OpenApiParameter("kind", {"type": "string", "enum": InteractionKind.values})


def _staff(staff) -> dict:
    return {"id": staff.pk, "userid": staff.userid, "name": staff.name, "avatar": staff.avatar}


def _department(request) -> int | None:
    """The ``department`` parameter: a WeCom department id; junk is a 400 naming it."""
    raw = request.query_params.get("department")
    if raw in (None, ""):
        return None
    try:
        return forms.IntegerField(min_value=0).clean(raw)
    except forms.ValidationError:
        raise exceptions.ValidationError(
            {"department": ["A WeCom department id (a whole number)."]}
        ) from None


@extend_schema(tags=["moments"])
@extend_schema_view(
    list=extend_schema(summary="Every Moment WeCom reports, newest first (sales: the ones it has a copy of)"),
    retrieve=extend_schema(summary="A Moment: its content, creator, task and figures"),
)
class MomentViewSet(TenantViewMixin, viewsets.GenericViewSet):
    queryset = Moment.objects
    serializer_class = MomentSerializer
    filterset_class = MomentFilter
    permission_classes = [MomentsPermission]
    runner_actions: frozenset[str] = frozenset()
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "head", "options"]

    @property
    def filter_backends(self):
        return [DjangoFilterBackend] if self.action == "list" else []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no principal
            return Moment.objects.none()
        return moment_list(self.principal)

    def _moment(self, pk) -> Moment:
        return get_object_or_404(self.get_queryset(), pk=pk)

    def _rows(self, moments: list[Moment]) -> list[dict]:
        figures = moment_figures(self.principal, moments)
        return MomentSerializer(moments, many=True, context={"figures": figures}).data

    def list(self, request):
        # Dates in the filters are the tenant's days.
        with timezone.override(tenant_zone(tenant=self.principal.tenant)):
            moments = self.filter_queryset(self.get_queryset())
            page = self.paginate_queryset(moments)
        return self.get_paginated_response(self._rows(page))

    def retrieve(self, request, pk=None):
        return Response(self._rows([self._moment(pk)])[0])

    @extend_schema(
        summary="Each member's copy: published or not, reach, likes, comments (sales: its own)",
        parameters=[PUBLISHED_PARAM, DEPARTMENT_PARAM],
        responses=MomentPublicationSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def members(self, request, pk=None):
        moment = self._moment(pk)
        rows = moment_publications(
            self.principal,
            moment,
            published=query_flag(request, "published") if request.query_params.get("published") else None,
            department=_department(request),
        )
        page = self.paginate_queryset(rows)
        names = department_names({d for p in page for d in p.staff.department_ids or ()})
        data = [
            {
                "id": p.pk,
                "staff": _staff(p.staff),
                "departments": [names[d] for d in p.staff.department_ids or () if d in names],
                "published": p.published,
                "published_at": p.published_at,
                "reach": p.reach,
                "likes": p.likes,
                "comments": p.comments,
                "reminded_at": p.reminded_at,
            }
            for p in page
        ]
        return self.get_paginated_response(MomentPublicationSerializer(data, many=True).data)

    @extend_schema(
        summary="Likes and comments, newest first (sales: on its own copy)",
        parameters=[KIND_PARAM],
        responses=MomentInteractionSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def interactions(self, request, pk=None):
        moment = self._moment(pk)
        kind = request.query_params.get("kind") or None
        if kind is not None and kind not in InteractionKind.values:
            raise exceptions.ValidationError({"kind": [f"One of: {', '.join(InteractionKind.values)}."]})
        page = self.paginate_queryset(moment_interactions(self.principal, moment, kind=kind))
        colleagues = staff_names({i.by_userid for i in page if i.by_userid})
        data = [
            {
                "id": i.pk,
                "kind": i.kind,
                "occurred_at": i.occurred_at,
                "member": _staff(i.staff),
                "customer": {"id": i.contact.pk, "name": i.contact.name, "avatar": i.contact.avatar}
                if i.contact
                else None,
                "external_userid": i.external_userid,
                "colleague": {"userid": i.by_userid, "name": colleagues.get(i.by_userid, "")}
                if i.by_userid
                else None,
            }
            for i in page
        ]
        return self.get_paginated_response(MomentInteractionSerializer(data, many=True).data)

    @extend_schema(
        summary="Publish rate, reach and engagement: totals, by department, by day (sales: its own copy)",
        responses=MomentStatsSerializer,
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def stats(self, request, pk=None):
        moment = self._moment(pk)
        stats = moment_stats(self.principal, moment, zone=tenant_zone(tenant=self.principal.tenant))
        return Response(
            MomentStatsSerializer(
                {"totals": stats.totals, "by_department": stats.by_department, "by_day": stats.by_day}
            ).data
        )


router = SimpleRouter(trailing_slash=True)
router.register("moments", MomentViewSet, basename="moment")

urlpatterns = router.urls
