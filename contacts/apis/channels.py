"""Routes of channel codes (渠道活码), welcome messages and their images.

- ``/channels/``: codes with their stats over a date range; create/update/delete go to WeCom first.
- ``/channels/{id}/stats/``, ``/qr/`` (the PNG), ``/welcomes/`` (greetings and their outcome),
  ``/simulate/`` (demo tenants on the sandbox: a customer scans the code).
- ``/welcome-default/``: the welcome of customers who come with no channel (or one without its own).

A welcome's attachments are materials of the content library (``/materials/``, the ``library`` app).

Channels are the whole corp's acquisition figures: admins and operators only.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from scrm.api.dates import date_range, range_parameters
from scrm.api.permissions import IsTenantAdminOrOperator
from scrm.api.viewsets import TenantAPIView, WeComObjectViewSet
from scrm.tenancy.actors import Actor
from scrm.wecom.qr import qr_answer, qr_schema
from scrm.wecom.sandbox_client import sandbox_base, sandbox_post

from ..models import ContactWay, Staff, Tag, Welcome, WelcomeStatus
from ..selectors_channels import channel_stats, channels_summary
from ..serializers_channels import (
    ChannelStatsSerializer,
    ContactWayInputSerializer,
    ContactWaySerializer,
    SimulateScanSerializer,
    WelcomeDefaultSerializer,
    WelcomeSerializer,
)
from ..services import channels, welcome
from .tags import WECOM_ERRORS


class AdminsAndOperators(IsTenantAdminOrOperator):
    message = "Only admins and operators manage channel codes and welcome messages."


RANGE = range_parameters(start="from", end="to")


@extend_schema_view(
    list=extend_schema(
        summary="Channel codes, with adds/losses/net over a date range",
        parameters=[*RANGE, OpenApiParameter("search", str, description="Part of the name.")],
    ),
    retrieve=extend_schema(summary="A channel code"),
    create=extend_schema(
        summary="Create a channel code in WeCom",
        request=ContactWayInputSerializer,
        responses={201: ContactWaySerializer, **WECOM_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change a channel code (WeCom's copy too)",
        request=ContactWayInputSerializer(partial=True),
        responses={200: ContactWaySerializer, **WECOM_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete a channel code in WeCom; its customers keep their attribution",
        responses={204: None, **WECOM_ERRORS},
    ),
)
class ChannelViewSet(WeComObjectViewSet):
    queryset = ContactWay.objects.select_related("created_by", "created_by_api_key")
    serializer_class = ContactWaySerializer
    permission_classes = [AdminsAndOperators]
    search_param = "search"

    def _context(self, ways: list[ContactWay], stats: dict | None = None) -> dict:
        staff_ids = {pk for w in ways for pk in (*w.user_ids, *w.backup_user_ids)}
        tag_ids = {pk for w in ways for pk in w.tag_ids}
        return {
            **self.get_serializer_context(),
            "staff_names": dict(Staff.objects.filter(pk__in=staff_ids).values_list("pk", "name")),
            "tag_names": dict(Tag.objects.filter(pk__in=tag_ids, deleted=False).values_list("pk", "name")),
            "stats": stats or {},
            "can_simulate": sandbox_base(self.principal.tenant) is not None,
        }

    def _one(self, way: ContactWay, code: int = status.HTTP_200_OK) -> Response:
        return Response(ContactWaySerializer(way, context=self._context([way])).data, status=code)

    def list(self, request, *args, **kwargs):
        start, end = date_range(request)
        page = self.paginate_queryset(self.get_queryset())
        stats = channels_summary(states=[w.state for w in page], start=start, end=end)
        data = ContactWaySerializer(page, many=True, context=self._context(page, stats)).data
        return self.get_paginated_response(data)

    def retrieve(self, request, *args, **kwargs):
        return self._one(self.get_object())

    def create(self, request, *args, **kwargs):
        data = ContactWayInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        way = channels.channel_create(actor=Actor.of(self.principal), **data.validated_data)
        return self._one(way, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        way = self.get_object()
        data = ContactWayInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        # Only what the client sent: a partial update must not reset the rest to the defaults.
        sent = {k: v for k, v in data.validated_data.items() if k in request.data}
        return self._one(channels.channel_update(way=way, data=sent))

    def perform_destroy(self, instance):
        channels.channel_delete(way=instance)

    @extend_schema(summary="A channel's adds, losses, net and retention per day and per staff member",
                   parameters=RANGE, responses=ChannelStatsSerializer)  # fmt: skip
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        start, end = date_range(request)
        return Response(
            ChannelStatsSerializer(channel_stats(way=self.get_object(), start=start, end=end)).data
        )

    @qr_schema("The channel's QR code image (PNG, or JPEG as WeCom serves it)")
    @action(detail=True, methods=["get"])
    def qr(self, request, pk=None):
        way = self.get_object()
        return qr_answer(
            request,
            tenant=self.principal.tenant,
            url=way.qr_code,
            filename=f"channel-{way.pk}.png",
            no_image="This code has no QR image (a mini-program code).",
        )

    @extend_schema(
        summary="The greetings of this code's customers, newest first",
        parameters=[OpenApiParameter("status", str, enum=WelcomeStatus.values)],
        responses=WelcomeSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def welcomes(self, request, pk=None):
        way = self.get_object()
        queryset = Welcome.objects.filter(contact_way=way).select_related("contact", "staff").order_by("-id")
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in WelcomeStatus.values:
                raise exceptions.ValidationError({"status": [f"One of {', '.join(WelcomeStatus.values)}."]})
            queryset = queryset.filter(status=wanted)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(WelcomeSerializer(page, many=True).data)

    @extend_schema(
        summary="Demo: a customer scans this code (the sandbox adds them and calls back)",
        request=None,
        responses={
            200: SimulateScanSerializer,
            409: OpenApiResponse(description="This tenant's WeCom is not the sandbox."),
        },
    )
    @action(detail=True, methods=["post"])
    def simulate(self, request, pk=None):
        way = self.get_object()
        result = sandbox_post(self.principal.tenant, "simulate/customer-add", {"config_id": way.config_id})
        if isinstance(result, Response):
            return result
        callback = result.get("callback") or {}
        data = {
            "external_userid": result.get("external_userid", ""),
            "userid": result.get("userid", ""),
            "delivered": bool(callback.get("delivered")),
        }
        return Response(SimulateScanSerializer(data).data)


class WelcomeDefaultView(TenantAPIView):
    permission_classes = [AdminsAndOperators]
    serializer_class = WelcomeDefaultSerializer

    @extend_schema(summary="The default welcome (customers with no channel, or a channel without one)")
    def get(self, request):
        return Response({"welcome": welcome.welcome_default_get(tenant=self.principal.tenant)})

    @extend_schema(summary="Set the default welcome ({} for none)", request=WelcomeDefaultSerializer)
    def put(self, request):
        data = WelcomeDefaultSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cleaned = welcome.welcome_default_set(
            tenant=self.principal.tenant, welcome=request.data.get("welcome")
        )
        return Response({"welcome": cleaned})


router = SimpleRouter()
router.register("channels", ChannelViewSet, basename="channel")

urlpatterns = [
    *router.urls,
    path("welcome-default/", WelcomeDefaultView.as_view(), name="welcome-default"),
]
