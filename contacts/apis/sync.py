"""Sync runs: watch the WeCom → Siyu full syncs (progress, counts, errors) and start one (admins)."""

from __future__ import annotations

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from scrm.api import serializers
from scrm.api.fields import ActorField
from scrm.api.filters import FilterSet
from scrm.api.permissions import IsTenantAdmin, IsTenantMember
from scrm.api.viewsets import TenantViewMixin
from scrm.tenancy.actors import Actor

from ..models import SyncKind, SyncRun
from ..sync import sync_run_start


class SyncRunSerializer(serializers.ModelSerializer):
    created_by = ActorField()

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "kind",
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


class SyncRunStartSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SyncKind.choices, default=SyncKind.CONTACTS)


class SyncRunFilter(FilterSet):
    kind = filters.ChoiceFilter(choices=SyncKind.choices)

    class Meta:
        model = SyncRun
        fields = ["kind"]


@extend_schema(tags=["contacts"])
class SyncRunViewSet(
    TenantViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Full syncs from WeCom, newest first. ``errors`` carry WeCom's errcode and a hint.

    A ``contacts`` run's ``created``/``updated``/``unchanged``/``closed`` count follows (one per
    customer per staff member), a ``groups`` run's count groups (closed: dismissed);
    ``progress_total`` is an estimate from the previous sync (it grows with ``progress_done``).
    """

    queryset = SyncRun.objects.select_related("created_by", "created_by_api_key").order_by("-id")
    serializer_class = SyncRunSerializer
    filterset_class = SyncRunFilter

    def get_permissions(self):
        return [IsTenantAdmin()] if self.action == "create" else [IsTenantMember()]

    @extend_schema(
        summary="Start a full sync of contacts or of groups (or get the one of that kind already running)",
        request=SyncRunStartSerializer,
        responses={202: SyncRunSerializer},
    )
    def create(self, request, *args, **kwargs):
        principal = self.principal
        start = SyncRunStartSerializer(data=request.data)
        start.is_valid(raise_exception=True)
        run = sync_run_start(
            tenant=principal.tenant,
            trigger="manual",
            actor=Actor.of(principal),
            kind=start.validated_data["kind"],
        )
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)


router = SimpleRouter()
router.register("sync-runs", SyncRunViewSet, basename="sync-run")
urlpatterns = router.urls
