from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from scrm.api.permissions import IsTenantAdmin
from scrm.api.viewsets import TenantAPIView, TenantReadOnlyViewSet

from . import services
from .filters import CallbackEventFilter
from .models import CallbackEvent
from .serializers import CallbackEventSerializer, ConnectionTestSerializer


@extend_schema(tags=["wecom"])
class ConnectionTestView(TenantAPIView):
    """Try the tenant's WeCom settings: token, staff, tags, channel codes, groups (admins only)."""

    permission_classes = [IsTenantAdmin]
    serializer_class = ConnectionTestSerializer

    @extend_schema(summary="Test the WeCom connection, permission by permission", request=None)
    def post(self, request):
        checks = services.wecom_connection_test(tenant=self.principal.tenant)
        ok = all(check["ok"] for check in checks)
        return Response(ConnectionTestSerializer({"ok": ok, "checks": checks}).data)


@extend_schema(tags=["wecom"])
class CallbackEventViewSet(TenantReadOnlyViewSet):
    """The callback inbox: every event WeCom sent, its processing status and errors (admins only)."""

    queryset = CallbackEvent.objects.all()
    serializer_class = CallbackEventSerializer
    permission_classes = [IsTenantAdmin]
    filterset_class = CallbackEventFilter
    ordering_fields = ["id", "received_at"]
    ordering = ["-id"]

    @extend_schema(summary="Process an event again", request=None, responses={202: CallbackEventSerializer})
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        event = services.callback_event_replay(event=self.get_object())
        return Response(CallbackEventSerializer(event).data, status=status.HTTP_202_ACCEPTED)
