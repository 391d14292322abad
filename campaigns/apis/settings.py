"""``/campaign-settings/`` (the tenant's campaign rules) and ``/do-not-disturb/`` (customers no campaign
goes to).

Every member reads the settings (the dashboard words its previews with them); admins change them.
The do-not-disturb list is for the people who run campaigns: admins and operators.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from scrm.api.permissions import AdminWrites, IsTenantAdminOrOperator
from scrm.api.viewsets import ID_PATTERN, TenantAPIView, TenantViewMixin
from scrm.tenancy.actors import Actor

from ..models import DoNotDisturb
from ..selectors import dnd_list
from ..serializers import (
    CampaignSettingsSerializer,
    DoNotDisturbAddResultSerializer,
    DoNotDisturbAddSerializer,
    DoNotDisturbSerializer,
)
from ..services import dnd
from ..services.settings import campaign_settings_get, campaign_settings_update


@extend_schema(tags=["campaigns"])
class CampaignSettingsView(TenantAPIView):
    serializer_class = CampaignSettingsSerializer
    permission_classes = [AdminWrites]

    @extend_schema(
        summary="The tenant's campaign rules (receive limit, sender rule, marketing cap, time zone)"
    )
    def get(self, request):
        return Response(self.get_serializer(campaign_settings_get(tenant=self.principal.tenant)).data)

    @extend_schema(summary="Change the campaign rules (admins)")
    def patch(self, request):
        settings = campaign_settings_get(tenant=self.principal.tenant)
        serializer = self.get_serializer(settings, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        settings = campaign_settings_update(settings=settings, data=serializer.validated_data)
        return Response(self.get_serializer(settings).data)


@extend_schema(tags=["campaigns"])
@extend_schema_view(
    list=extend_schema(
        summary="The do-not-disturb list, newest first",
        parameters=[OpenApiParameter("search", str, description="Customer name, external_userid or reason.")],
    ),
    create=extend_schema(
        summary="Put customers on the do-not-disturb list (idempotent)",
        request=DoNotDisturbAddSerializer,
        responses={
            201: DoNotDisturbAddResultSerializer,
            200: DoNotDisturbAddResultSerializer,
        },
        description="201 when some were added, 200 when all were on the list already. An id that names "
        "no customer of the tenant is a 400 at its index (contacts.2, code does_not_exist).",
    ),
    destroy=extend_schema(summary="Take a customer off the do-not-disturb list"),
)
class DoNotDisturbViewSet(
    TenantViewMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = DoNotDisturb.objects
    serializer_class = DoNotDisturbSerializer
    permission_classes = [IsTenantAdminOrOperator]
    filter_backends: list = []
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DoNotDisturb.objects.none()
        search = self.request.query_params.get("search", "") if self.action == "list" else ""
        return dnd_list(search=search)

    def create(self, request, *args, **kwargs):
        data = DoNotDisturbAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contacts = dnd.dnd_contacts_resolve(data.validated_data["contacts"])
        entries, added = dnd.dnd_add(
            contacts=contacts, reason=data.validated_data["reason"], actor=Actor.of(self.principal)
        )
        body = DoNotDisturbAddResultSerializer({"added": added, "entries": entries}).data
        return Response(body, status=status.HTTP_201_CREATED if added else status.HTTP_200_OK)

    def perform_destroy(self, instance):
        dnd.dnd_remove(entry=instance)


router = SimpleRouter(trailing_slash=True)
router.register("do-not-disturb", DoNotDisturbViewSet, basename="do-not-disturb")

urlpatterns = [
    path("campaign-settings/", CampaignSettingsView.as_view(), name="campaign-settings"),
    *router.urls,
]
