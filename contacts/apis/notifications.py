"""In-app notifications (the dashboard's bell: churn alerts) and the tenant's contacts settings."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from scrm.api import serializers
from scrm.api.filters import query_flag
from scrm.api.permissions import IsTenantAdmin
from scrm.api.viewsets import TenantAPIView, TenantViewMixin
from scrm.tenancy.apis import SessionOnlyMixin

from ..models import ContactSettings, Notification
from ..services.churn import notifications_mark_read
from ..services.settings import contact_settings_get, contact_settings_update


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "contact", "data", "read_at", "created_at"]
        read_only_fields = fields


CountSerializer = inline_serializer("NotificationCount", {"count": serializers.IntegerField()})


@extend_schema(tags=["notifications"])
class NotificationViewSet(SessionOnlyMixin, TenantViewMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The signed-in member's notifications, newest first (``?unread=true`` for unread only)."""

    queryset = Notification.objects.order_by("-id")
    serializer_class = NotificationSerializer

    def get_queryset(self):
        queryset = super().get_queryset().filter(recipient=self.request.user)
        if query_flag(self.request, "unread"):
            queryset = queryset.filter(read_at__isnull=True)
        return queryset

    @extend_schema(summary="How many unread notifications the member has", responses=CountSerializer)
    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request):
        return Response(
            {"count": super().get_queryset().filter(recipient=request.user, read_at=None).count()}
        )

    @extend_schema(summary="Mark one notification read", request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = self.get_object()
        notifications_mark_read(user=request.user, ids=[notification.pk])
        notification.refresh_from_db()
        return Response(self.get_serializer(notification).data)

    @extend_schema(summary="Mark every notification read", request=None, responses=CountSerializer)
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        return Response({"count": notifications_mark_read(user=request.user)})


class ContactSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactSettings
        fields = ["churn_app_message", "nightly_sync", "updated_at"]
        read_only_fields = ["updated_at"]


@extend_schema(tags=["contacts"])
class ContactSettingsView(TenantAPIView):
    """Contacts switches of the tenant (admins): churn app messages, nightly reconciliation sync."""

    serializer_class = ContactSettingsSerializer
    permission_classes = [IsTenantAdmin]

    @extend_schema(summary="Read the contacts settings")
    def get(self, request):
        return Response(self.get_serializer(contact_settings_get(tenant=self.principal.tenant)).data)

    @extend_schema(summary="Change the contacts settings")
    def patch(self, request):
        settings = contact_settings_get(tenant=self.principal.tenant)
        serializer = self.get_serializer(settings, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        settings = contact_settings_update(settings=settings, data=serializer.validated_data)
        return Response(self.get_serializer(settings).data)


router = SimpleRouter()
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [
    path("contact-settings/", ContactSettingsView.as_view(), name="contact-settings"),
    *router.urls,
]
