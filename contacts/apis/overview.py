"""The dashboard's overview: headline numbers and the 30-day new/lost series, in the caller's scope."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from scrm.api import serializers
from scrm.api.viewsets import TenantAPIView

from ..selectors import overview


class OverviewDaySerializer(serializers.Serializer):
    date = serializers.DateField(help_text="A calendar day in the tenant's time zone.")
    new = serializers.IntegerField(help_text="Distinct customers who added a staff member that day.")
    lost = serializers.IntegerField(help_text="Distinct customers who deleted a staff member that day.")


class OverviewSerializer(serializers.Serializer):
    customers = serializers.IntegerField(
        help_text="Active customers (followed by at least one staff member)."
    )
    new_today = serializers.IntegerField()
    lost_today = serializers.IntegerField()
    net_this_week = serializers.IntegerField(help_text="New minus lost, summed over the days since Monday.")
    tags = serializers.IntegerField(help_text="Live corp tags (the tenant's, whatever the caller's scope).")
    staff = serializers.IntegerField(help_text="Active staff members (the tenant's).")
    today = serializers.DateField()
    week_start = serializers.DateField(help_text="The Monday the week's net count starts from.")
    time_zone = serializers.CharField(help_text="The time zone the days are counted in.")
    daily = OverviewDaySerializer(many=True, help_text="The last 30 days, oldest first; no gaps.")


@extend_schema(tags=["contacts"])
class OverviewView(TenantAPIView):
    """Headline numbers and the daily new/lost customers of the last 30 days.

    Customers, new and lost are within the caller's data scope: a sales member sees its own
    customers, and the adds and losses of its own follows.
    """

    serializer_class = OverviewSerializer

    @extend_schema(summary="The overview's numbers and 30-day series")
    def get(self, request):
        return Response(OverviewSerializer(overview(self.principal)).data)


urlpatterns = [path("overview/", OverviewView.as_view(), name="overview")]
