"""Sync runs: watch the WeCom → Siyu full syncs (progress, counts, errors) and start one (admins)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from scrm.api.permissions import IsTenantAdmin, IsTenantMember
from scrm.api.viewsets import TenantViewMixin

from ..models import SyncRun
from ..sync import sync_run_start


class SyncRunSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "trigger",
            "status",
            "phase",
            "created",
            "updated",
            "unchanged",
            "closed",
            "progress_done",
            "progress_total",
            "api_calls",
            "errors",
            "created_by",
            "created_at",
            "started_at",
            "heartbeat_at",
            "finished_at",
        ]
        read_only_fields = fields


@extend_schema(tags=["contacts"])
class SyncRunViewSet(
    TenantViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Full syncs of the contact book from WeCom, newest first. ``errors`` carry WeCom's errcode and a hint.

    ``created``/``updated``/``unchanged``/``closed`` count follows (one per customer per staff member);
    ``progress_total`` is an estimate from the previous sync (it grows with ``progress_done``).
    """

    queryset = SyncRun.objects.select_related("created_by").order_by("-id")
    serializer_class = SyncRunSerializer

    def get_permissions(self):
        return [IsTenantAdmin()] if self.action == "create" else [IsTenantMember()]

    @extend_schema(
        summary="Start a full sync (or get the one already running)",
        request=None,
        responses={202: SyncRunSerializer},
    )
    def create(self, request, *args, **kwargs):
        principal = self.principal
        user = principal.user if principal.api_key is None else None  # an API key has no user row
        run = sync_run_start(tenant=principal.tenant, trigger="manual", user=user)
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)


router = SimpleRouter()
router.register("sync-runs", SyncRunViewSet, basename="sync-run")
urlpatterns = router.urls
