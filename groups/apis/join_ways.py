"""Routes of group codes (群活码, WeCom's join ways).

- ``/group-codes/``: codes with their groups and joins; create/update/delete go to WeCom first.
- ``/group-codes/{id}/stats/`` (joins per day and per group), ``qr/`` (the PNG), ``simulate/`` (demo
  tenants on the sandbox: a new customer scans the code and joins a group, maybe a new one).

Group codes are the whole corp's acquisition tools: admins and operators only.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from contacts.apis.tags import WECOM_ERRORS
from scrm.api.permissions import IsTenantAdminOrOperator
from scrm.api.viewsets import WeComObjectViewSet
from scrm.tenancy.actors import Actor
from scrm.wecom.qr import qr_answer, qr_schema
from scrm.wecom.sandbox_client import sandbox_base, sandbox_post

from ..models import Group, JoinWay
from ..serializers_codes import (
    JoinWayInputSerializer,
    JoinWaySerializer,
    JoinWaySimulateSerializer,
    JoinWayStatsSerializer,
)
from ..services import join_ways
from ..tasks.sync import refresh_schedule
from .groups import RANGE, group_date_range


class AdminsAndOperators(IsTenantAdminOrOperator):
    message = "Only admins and operators manage group codes and group welcome templates."


@extend_schema_view(
    list=extend_schema(
        summary="Group codes, with their groups and how many joined through each",
        parameters=[OpenApiParameter("q", str, description="Part of the name.")],
    ),
    retrieve=extend_schema(summary="A group code"),
    create=extend_schema(
        summary="Create a group code in WeCom",
        request=JoinWayInputSerializer,
        responses={201: JoinWaySerializer, **WECOM_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change a group code (WeCom's copy too)",
        request=JoinWayInputSerializer(partial=True),
        responses={200: JoinWaySerializer, **WECOM_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete a group code in WeCom; its members keep their attribution",
        responses={204: None, **WECOM_ERRORS},
    ),
)
class JoinWayViewSet(WeComObjectViewSet):
    queryset = JoinWay.objects.select_related("created_by", "created_by_api_key")
    serializer_class = JoinWaySerializer
    permission_classes = [AdminsAndOperators]

    def _context(self, ways: list[JoinWay]) -> dict:
        return {
            **self.get_serializer_context(),
            "groups": join_ways.join_way_groups(ways=ways),
            "joins": join_ways.join_ways_joins(states=[w.state for w in ways]),
            "can_simulate": sandbox_base(self.principal.tenant) is not None,
        }

    def _one(self, way: JoinWay, code: int = status.HTTP_200_OK) -> Response:
        return Response(JoinWaySerializer(way, context=self._context([way])).data, status=code)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(
            JoinWaySerializer(page, many=True, context=self._context(page)).data
        )

    def retrieve(self, request, *args, **kwargs):
        return self._one(self.get_object())

    def create(self, request, *args, **kwargs):
        data = JoinWayInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        way = join_ways.join_way_create(actor=Actor.of(self.principal), **data.validated_data)
        return self._one(way, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        way = self.get_object()
        data = JoinWayInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        # Only what the client sent: a partial update must not reset the rest to the defaults.
        sent = {k: v for k, v in data.validated_data.items() if k in request.data}
        return self._one(join_ways.join_way_update(way=way, data=sent))

    def perform_destroy(self, instance):
        join_ways.join_way_delete(way=instance)

    @extend_schema(
        summary="Joins through the code per day and per group (from the members' state)",
        parameters=RANGE,
        responses=JoinWayStatsSerializer,
    )
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        start, end = group_date_range(request)
        data = join_ways.join_way_stats(way=self.get_object(), start=start, end=end)
        return Response(JoinWayStatsSerializer(data).data)

    @qr_schema("The group code's QR image (PNG, or JPEG as WeCom serves it)")
    @action(detail=True, methods=["get"])
    def qr(self, request, pk=None):
        way = self.get_object()
        return qr_answer(
            request,
            tenant=self.principal.tenant,
            url=way.qr_code,
            filename=f"group-code-{way.pk}.png",
            no_image="WeCom has not given this code a QR image yet.",
        )

    @extend_schema(
        summary="Demo: a new customer scans this code and joins a group (the sandbox calls back)",
        request=None,
        responses={
            200: JoinWaySimulateSerializer,
            409: OpenApiResponse(description="This tenant's WeCom is not the sandbox."),
        },
    )
    @action(detail=True, methods=["post"])
    def simulate(self, request, pk=None):
        way = self.get_object()
        tenant = self.principal.tenant
        result = sandbox_post(tenant, "simulate/group-join", {"config_id": way.config_id})
        if isinstance(result, Response):
            return result
        chat_id = result.get("chat_id", "")
        # What beat and the callbacks would do, done now so the demo does not depend on them: the code
        # lists the group WeCom opened, and the group is read again once WeCom shows the newcomer
        # (a few seconds: groupchat/get settles late, as WeCom's does).
        join_ways.join_way_refresh(way=way)
        created, version = bool(result.get("created")), result.get("member_version") or ""
        refresh_schedule(
            tenant=tenant,
            chat_id=chat_id,
            versions=("", version) if version else None,
            exists=created,
            first_import_joins=created,
        )
        group = Group.objects.filter(chat_id=chat_id).first()
        data = {
            "chat_id": chat_id,
            "group": {"id": group.pk, "name": group.name} if group else None,
            "created": created,
            "external_userid": result.get("external_userid", ""),
            "delivered": all(c.get("delivered") for c in result.get("callbacks") or [{}]),
        }
        return Response(JoinWaySimulateSerializer(data).data)


router = SimpleRouter()
router.register("group-codes", JoinWayViewSet, basename="group-code")

urlpatterns = router.urls
