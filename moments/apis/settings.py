"""``/moments/settings/`` (the tenant's reminder rules) and ``/moments/sync/`` (the daily read of the
members' own posts: its state, and "read now").

Every member reads both; admins change the settings; admins and operators start a sync.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from scrm.api.permissions import AdminWrites, OperatorWrites
from scrm.api.viewsets import TenantAPIView

from ..selectors import member_sync_state
from ..serializers import MomentMemberSyncSerializer, MomentSettingsSerializer
from ..services.settings import moment_settings_get, moment_settings_update
from ..tasks import member_sync


@extend_schema(tags=["moments"])
class MomentSettingsView(TenantAPIView):
    serializer_class = MomentSettingsSerializer
    permission_classes = [AdminWrites]

    @extend_schema(summary="The tenant's Moments rules (automatic reminders, the managers' digest)")
    def get(self, request):
        return Response(self.get_serializer(moment_settings_get(tenant=self.principal.tenant)).data)

    @extend_schema(summary="Change the Moments rules (admins)")
    def patch(self, request):
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        settings = moment_settings_update(tenant=self.principal.tenant, data=serializer.validated_data)
        return Response(self.get_serializer(settings).data)


_NEVER = {"synced_until": None, "last_run_at": None, "moments_read": 0, "api_calls": 0, "error": {}}


@extend_schema(tags=["moments"])
class MemberSyncView(TenantAPIView):
    serializer_class = MomentMemberSyncSerializer
    permission_classes = [OperatorWrites]

    def _state(self) -> dict:
        state = member_sync_state(self.principal.tenant)
        return (
            MomentMemberSyncSerializer(state).data
            if state is not None
            else MomentMemberSyncSerializer(_NEVER).data
        )

    @extend_schema(summary="Where the daily read of the members' own posts got to")
    def get(self, request):
        return Response(self._state())

    @extend_schema(
        summary="Read the members' own posts now (in the background; admins and operators)",
        request=None,
        responses={202: MomentMemberSyncSerializer},
        description="The same read as the daily one, from where it got to; the state shows its result.",
    )
    def post(self, request):
        member_sync.delay_on_commit(self.principal.tenant.pk)
        return Response(self._state(), status=status.HTTP_202_ACCEPTED)


urlpatterns = [
    path("moments/settings/", MomentSettingsView.as_view(), name="moment-settings"),
    path("moments/sync/", MemberSyncView.as_view(), name="moment-sync"),
]
