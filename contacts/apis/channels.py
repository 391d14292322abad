"""Routes of channel codes (渠道活码), welcome messages and their images.

- ``/channels/``: codes with their stats over a date range; create/update/delete go to WeCom first.
- ``/channels/{id}/stats/``, ``/qr/`` (the PNG), ``/welcomes/`` (greetings and their outcome),
  ``/simulate/`` (demo tenants on the sandbox: a customer scans the code).
- ``/welcome-default/``: the welcome of customers who come with no channel (or one without its own).
- ``/media/``: images for welcome messages (uploaded here, sent to WeCom when needed).

Channels are the whole corp's acquisition figures: admins and operators only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.http import FileResponse, HttpResponse
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from scrm.api.errors import problem
from scrm.api.permissions import IsTenantMember
from scrm.api.viewsets import TenantAPIView, TenantViewMixin
from scrm.tenancy.models import Role

from ..models import ContactWay, MediaAsset, Staff, Tag, Welcome, WelcomeStatus
from ..selectors_channels import MAX_RANGE_DAYS, channel_stats, channels_summary
from ..serializers_channels import (
    ChannelStatsSerializer,
    ContactWayInputSerializer,
    ContactWaySerializer,
    MediaAssetSerializer,
    MediaUploadSerializer,
    SimulateScanSerializer,
    WelcomeDefaultSerializer,
    WelcomeSerializer,
)
from ..services import channels, welcome
from .tags import WECOM_ERRORS

DEFAULT_RANGE_DAYS = 30
QR_CACHE_SECONDS = 24 * 60 * 60
QR_FETCH_TIMEOUT = 10
SIMULATE_TIMEOUT = 30


class AdminsAndOperators(IsTenantMember):
    message = "Only admins and operators manage channel codes and welcome messages."

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and view.principal.role in (Role.ADMIN, Role.OPERATOR)


RANGE = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day (default: 29 days before `to`)."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day, included (default: today)."),
]


def date_range(request) -> tuple[dt.date, dt.date]:
    """The ``from``/``to`` days asked for (the tenant's calendar), checked."""

    def day(name: str) -> dt.date | None:
        raw = request.query_params.get(name)
        if not raw:
            return None
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise exceptions.ValidationError({name: ["A date: YYYY-MM-DD."]}) from None

    end = day("to") or timezone.localdate()
    start = day("from") or end - dt.timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if start > end:
        raise exceptions.ValidationError({"from": ["The first day comes before the last."]})
    if (end - start).days >= MAX_RANGE_DAYS:
        raise exceptions.ValidationError({"from": [f"At most {MAX_RANGE_DAYS} days at a time."]})
    return start, end


def sandbox_base(tenant) -> str | None:
    """The sandbox's root when this tenant's WeCom is the local sandbox (the demo), else None.

    Only a loopback API base counts: a tenant connected to the real WeCom never gets a simulator.
    """
    base = tenant.api_base or settings.WECOM_API_BASE
    host = urlsplit(base).hostname or ""
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    return base.removesuffix("/").removesuffix("cgi-bin").rstrip("/") + "/" if local else None


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
class ChannelViewSet(
    TenantViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = ContactWay.objects.all()
    serializer_class = ContactWaySerializer
    permission_classes = [AdminsAndOperators]
    filter_backends: list = []
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        queryset = super().get_queryset().order_by("-id")
        search = self.request.query_params.get("search", "").strip()
        if self.action == "list" and search:
            queryset = queryset.filter(name__icontains=search)
        return queryset

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
        way = channels.channel_create(actor=request.user, **data.validated_data)
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

    @extend_schema(
        summary="The channel's QR code as a PNG",
        parameters=[OpenApiParameter("download", bool, description="1: as a file download.")],
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY),
            502: OpenApiResponse(description="WeCom's image could not be fetched."),
        },
    )
    @action(detail=True, methods=["get"])
    def qr(self, request, pk=None):
        way = self.get_object()
        if urlsplit(way.qr_code).scheme not in ("http", "https"):
            raise exceptions.NotFound("This code has no QR image (a mini-program code).")
        # The image is WeCom's at that URL: keyed by tenant and URL, never served for another code.
        key = f"contacts:qr:{way.tenant_id}:{hashlib.sha256(way.qr_code.encode()).hexdigest()}"
        image = cache.get(key)
        if image is None:
            try:
                with urllib.request.urlopen(way.qr_code, timeout=QR_FETCH_TIMEOUT) as answer:  # noqa: S310 -- WeCom's URL
                    image = answer.read()
            except (urllib.error.URLError, OSError) as exc:
                return Response(
                    problem(502, "wecom_error", f"WeCom's QR image could not be fetched ({exc})."),
                    status=status.HTTP_502_BAD_GATEWAY,
                )
            cache.set(key, image, QR_CACHE_SECONDS)
        response = HttpResponse(image, content_type="image/png")
        if request.query_params.get("download") in ("1", "true"):
            response["Content-Disposition"] = f'attachment; filename="channel-{way.pk}.png"'
        response["Cache-Control"] = "private, max-age=3600"
        return response

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
        base = sandbox_base(self.principal.tenant)
        if base is None:
            return Response(
                problem(
                    409,
                    "conflict",
                    "Scans can only be simulated when the tenant's WeCom is the local sandbox.",
                ),
                status=status.HTTP_409_CONFLICT,
            )
        body = json.dumps({"config_id": way.config_id}).encode()
        call = urllib.request.Request(f"{base}sandbox/simulate/customer-add", data=body, method="POST")  # noqa: S310 -- http on loopback
        call.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(call, timeout=SIMULATE_TIMEOUT) as answer:  # noqa: S310 -- loopback only
                result = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            detail = json.loads(exc.read() or b"{}").get("error") or str(exc)
            raise exceptions.ValidationError({"detail": [f"The sandbox refused: {detail}"]}) from None
        except (urllib.error.URLError, OSError) as exc:
            return Response(
                problem(502, "wecom_error", f"The sandbox is not answering ({exc})."),
                status=status.HTTP_502_BAD_GATEWAY,
            )
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


class MediaUploadView(TenantAPIView):
    permission_classes = [AdminsAndOperators]
    parser_classes = [MultiPartParser]
    serializer_class = MediaAssetSerializer

    @extend_schema(
        summary="Upload an image for welcome messages (JPG/PNG, ≤ 10 MB)",
        request={"multipart/form-data": MediaUploadSerializer},
        responses={201: MediaAssetSerializer},
    )
    def post(self, request):
        data = MediaUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        if upload.size > welcome.IMAGE_MAX_BYTES:
            raise exceptions.ValidationError({"file": ["At most 10 MB (WeCom's limit)."]})
        asset = welcome.media_asset_create(filename=upload.name, content=upload.read(), actor=request.user)
        return Response(MediaAssetSerializer(asset, context={"request": request}).data, status=201)


class MediaFileView(TenantAPIView):
    permission_classes = [AdminsAndOperators]

    @extend_schema(
        summary="An uploaded image", responses={(200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY)}
    )
    def get(self, request, pk: int):
        asset = MediaAsset.objects.filter(pk=pk).first()
        if asset is None:
            raise exceptions.NotFound()
        return FileResponse(asset.file.open("rb"), content_type=asset.content_type)


router = SimpleRouter()
router.register("channels", ChannelViewSet, basename="channel")

urlpatterns = [
    *router.urls,
    path("welcome-default/", WelcomeDefaultView.as_view(), name="welcome-default"),
    path("media/", MediaUploadView.as_view(), name="media-upload"),
    path("media/<int:pk>/file/", MediaFileView.as_view(), name="media-file"),
]
