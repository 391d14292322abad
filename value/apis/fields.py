"""The tenant's profile fields and a customer's profile.

- ``/profile-fields/``: every member reads (``?include_archived=true`` lists archived ones too);
  admins create, change and archive (DELETE archives: a field's key is never reused, so a stored
  value never changes meaning; PATCH ``{"archived": false}`` restores it).
- ``PATCH /contacts/{id}/profile/``: anyone who can see the customer (a sales member: its own
  customers; 404 otherwise, as for another tenant's), and API keys.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import re_path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from contacts.selectors import contacts_visible
from scrm.api.filters import query_flag
from scrm.api.permissions import AdminWrites
from scrm.api.viewsets import ID_PATTERN, TenantAPIView, TenantModelViewSet
from scrm.tenancy.actors import Actor

from ..models import ProfileField
from ..serializers_fields import (
    ProfileFieldCreateSerializer,
    ProfileFieldSerializer,
    ProfileFieldUpdateSerializer,
    ProfileSerializer,
)
from ..services import fields

FIELDS_MAX_RESPONSE = {
    409: OpenApiResponse(description=f"{fields.FIELDS_MAX} fields in use already (type too_many_fields).")
}


@extend_schema_view(
    list=extend_schema(
        summary="The profile fields, in their order",
        parameters=[OpenApiParameter("include_archived", bool, description="true: archived fields too.")],
    ),
    retrieve=extend_schema(summary="A profile field"),
    create=extend_schema(
        summary="Add a profile field (admins)",
        request=ProfileFieldCreateSerializer,
        responses={201: ProfileFieldSerializer, **FIELDS_MAX_RESPONSE},
    ),
    partial_update=extend_schema(
        summary="Change a profile field's label, choices, order; archive or restore it (admins)",
        description="`key` and `kind` are fixed (400 `immutable` when sent changed). Removing a choice "
        "customers' values use is allowed: their values stay as they are.",
        request=ProfileFieldUpdateSerializer,
        responses={200: ProfileFieldSerializer, **FIELDS_MAX_RESPONSE},
    ),
    destroy=extend_schema(
        summary="Archive a profile field (admins; its values stay, PATCH archived=false restores it)",
        responses={204: None},
    ),
)
@extend_schema(tags=["value"])
class ProfileFieldViewSet(TenantModelViewSet):
    queryset = ProfileField.objects.all()
    serializer_class = ProfileFieldSerializer
    permission_classes = [AdminWrites]
    # A tenant has at most FIELDS_MAX fields in use: the dashboard gets them all at once.
    pagination_class = None
    filter_backends: list = []
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        queryset = super().get_queryset().order_by("order", "id")
        if self.action == "list" and not query_flag(self.request, "include_archived"):
            queryset = queryset.filter(archived=False)
        return queryset

    def create(self, request, *args, **kwargs):
        data = ProfileFieldCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        field = fields.profile_field_create(**data.validated_data)
        return Response(ProfileFieldSerializer(field).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        field = self.get_object()
        data = ProfileFieldUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # Not fields of the input (they cannot change), but a client that sends them changed is told so.
        fixed = {name: request.data[name] for name in fields.IMMUTABLE if name in request.data}
        field = fields.profile_field_update(field=field, data={**data.validated_data, **fixed})
        return Response(ProfileFieldSerializer(field).data)

    def destroy(self, request, *args, **kwargs):
        fields.profile_field_archive(field=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["value"])
class ContactProfileView(TenantAPIView):
    serializer_class = ProfileSerializer

    @extend_schema(
        summary="Set or clear some of a customer's profile values (records a profile_changed event)",
        request=ProfileSerializer,
        responses=ProfileSerializer,
    )
    def patch(self, request, pk: int):
        contact = get_object_or_404(contacts_visible(self.principal).only("id", "profile"), pk=pk)
        data = ProfileSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        profile = fields.contact_profile_update(
            contact=contact, profile=data.validated_data["profile"], actor=Actor.of(self.principal)
        )
        return Response({"profile": profile})


router = SimpleRouter()
router.register("profile-fields", ProfileFieldViewSet, basename="profile-field")

urlpatterns = [
    *router.urls,
    # Beside the contacts router's routes (contacts/{id}/ and its actions): no action there is named
    # "profile", so this path is not shadowed (tests/value/test_fields_api.py resolves it).
    re_path(
        rf"^contacts/(?P<pk>{ID_PATTERN})/profile/$", ContactProfileView.as_view(), name="contact-profile"
    ),
]
