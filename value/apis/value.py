"""``/contacts/{id}/value/`` (a customer's value, score, tier and why), ``/value/tiers/`` (how many in
each tier, the week's moves), ``/value/breakdown/`` (by channel, member or cohort), ``/value/settings/``
(the thresholds) and ``/value/recompute/`` (a full pass now).

Everyone reads, within its data scope: a sales member sees the value of the customers it follows (another
customer, like another tenant's, is a 404) and overviews of those customers only. Admins change the
thresholds; admins and operators start a recompute.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path, re_path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from contacts.selectors import contacts_visible
from scrm.api.permissions import AdminWrites, IsTenantAdminOrOperator, IsTenantMember
from scrm.api.viewsets import ID_PATTERN, TenantAPIView

from ..selectors import breakdown, contact_value, tiers_overview
from ..serializers import (
    BreakdownQuerySerializer,
    BreakdownSerializer,
    ContactValueSerializer,
    RecomputeSerializer,
    TiersOverviewSerializer,
    ValueSettingsSerializer,
)
from ..services.breakdown import BY
from ..services.settings import value_settings_get, value_settings_update
from ..tasks import recompute


@extend_schema(tags=["value"])
class ContactValueView(TenantAPIView):
    permission_classes = [IsTenantMember]
    serializer_class = ContactValueSerializer

    @extend_schema(
        summary="A customer's value, activity score and tier, why, its tier history and points",
        responses=ContactValueSerializer,
    )
    def get(self, request, pk: str):
        contact = get_object_or_404(contacts_visible(self.principal).select_related("tenant"), pk=pk)
        return Response(ContactValueSerializer(contact_value(contact=contact)).data)


@extend_schema(tags=["value"])
class TiersView(TenantAPIView):
    permission_classes = [IsTenantMember]
    serializer_class = TiersOverviewSerializer

    @extend_schema(
        summary="Customers per lifecycle tier, the average score and this week's moves between tiers",
        responses=TiersOverviewSerializer,
    )
    def get(self, request):
        return Response(TiersOverviewSerializer(tiers_overview(principal=self.principal)).data)


@extend_schema(tags=["value"])
class BreakdownView(TenantAPIView):
    permission_classes = [IsTenantMember]
    serializer_class = BreakdownSerializer

    @extend_schema(
        summary="Customer value by channel, member or cohort (the month first added)",
        parameters=[
            OpenApiParameter(
                "by",
                {"type": "string", "enum": list(BY)},
                description="channel (default), staff or cohort.",
            )
        ],
        responses=BreakdownSerializer,
    )
    def get(self, request):
        # ``?by=`` (empty) is the default too, as an absent parameter.
        query = BreakdownQuerySerializer(data={"by": request.query_params.get("by") or "channel"})
        query.is_valid(raise_exception=True)
        return Response(
            BreakdownSerializer(breakdown(principal=self.principal, by=query.validated_data["by"])).data
        )


@extend_schema(tags=["value"])
class ValueSettingsView(TenantAPIView):
    permission_classes = [AdminWrites]
    serializer_class = ValueSettingsSerializer

    @extend_schema(summary="The tenant's value thresholds and currency")
    def get(self, request):
        return Response(self.get_serializer(value_settings_get(tenant=self.principal.tenant)).data)

    @extend_schema(
        summary="Change the value thresholds (admins); a changed threshold recomputes every customer",
        request=ValueSettingsSerializer,
        responses=ValueSettingsSerializer,
    )
    def patch(self, request):
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        settings = value_settings_update(tenant=self.principal.tenant, data=serializer.validated_data)
        return Response(self.get_serializer(settings).data)


@extend_schema(tags=["value"])
class RecomputeView(TenantAPIView):
    permission_classes = [IsTenantAdminOrOperator]
    serializer_class = RecomputeSerializer

    @extend_schema(
        summary="Recompute every customer's value, score and tier now (in the background; admins, operators)",
        request=None,
        responses={202: RecomputeSerializer},
    )
    def post(self, request):
        recompute.delay_on_commit(self.principal.tenant.pk)
        return Response({"queued": True}, status=status.HTTP_202_ACCEPTED)


urlpatterns = [
    # Digits only (ID_PATTERN): anything else is no customer, a 404.
    re_path(rf"^contacts/(?P<pk>{ID_PATTERN})/value/$", ContactValueView.as_view(), name="contact-value"),
    path("value/tiers/", TiersView.as_view(), name="value-tiers"),
    path("value/breakdown/", BreakdownView.as_view(), name="value-breakdown"),
    path("value/settings/", ValueSettingsView.as_view(), name="value-settings"),
    path("value/recompute/", RecomputeView.as_view(), name="value-recompute"),
]
