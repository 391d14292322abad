"""Routes that write customers' tags and remarks to WeCom.

- ``/tag-groups/``, ``/tags/``: corp tags, created/renamed/reordered/deleted in WeCom first.
- ``POST /contacts/{id}/tags/``: tag/untag one customer now; ``POST /contacts/bulk-tag/``: many, as a job.
- ``PATCH /follows/{id}/``: a follow's remark, description, company and phone numbers.

A WeCom refusal answers ``wecom_error`` (scrm.api.errors, docs/api.md) and nothing local changed.
Renaming or deleting a tag or group Siyu did not create answers 409 ``tag_not_editable`` without
asking WeCom (an app may change only its own tags; ``editable`` in the listings says which).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from scrm.api.errors import wecom_problem
from scrm.api.filters import query_flag, query_ids
from scrm.api.permissions import OperatorWrites
from scrm.api.viewsets import TenantAPIView, TenantModelViewSet
from scrm.tenancy.actors import Actor

from ..models import Follow, FollowStatus, Tag, TagGroup
from ..selectors import contacts_visible, follow_scope_q
from ..serializers_writes import (
    BulkTagSerializer,
    ContactTagsResultSerializer,
    ContactTagsSerializer,
    FollowRemarkSerializer,
    NameOrderUpdateSerializer,
    TagCreateSerializer,
    TagGroupCreateSerializer,
    TagGroupSerializer,
    TagSerializer,
)
from ..services import remarks, tagging, tags
from .common import job_start_schema, job_started

INCLUDE_DELETED = OpenApiParameter(
    "include_deleted", bool, description="true: also list groups and tags deleted in WeCom."
)
WECOM_ERRORS = {
    400: OpenApiResponse(description="Invalid input, or WeCom refused it (type wecom_error, docs/api.md)."),
    429: OpenApiResponse(description="WeCom's rate limit (type wecom_error, Retry-After)."),
    502: OpenApiResponse(description="WeCom unreachable, busy or misconfigured (type wecom_error)."),
}
NOT_EDITABLE = {
    409: OpenApiResponse(
        description="Not created through Siyu (`editable: false`): WeCom lets an app change only its own "
        "tags (type tag_not_editable). Nothing was sent to WeCom."
    )
}


class TagNotEditable(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "tag_not_editable"
    default_detail = "WeCom lets an app rename or delete only the tags it created."


@contextmanager
def editable_only() -> Iterator[None]:
    try:
        yield
    except tags.TagNotEditableError as exc:
        raise TagNotEditable(str(exc)) from exc


def _include_deleted(request) -> bool:
    return query_flag(request, "include_deleted")


@extend_schema_view(
    list=extend_schema(
        summary="Tag groups with their tags, in WeCom's order (larger order first)",
        parameters=[INCLUDE_DELETED],
    ),
    retrieve=extend_schema(summary="A tag group with its tags"),
    create=extend_schema(
        summary="Create a tag group with its first tags in WeCom",
        request=TagGroupCreateSerializer,
        responses={201: TagGroupSerializer, **WECOM_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Rename or reorder a tag group in WeCom",
        request=NameOrderUpdateSerializer,
        responses={200: TagGroupSerializer, **WECOM_ERRORS, **NOT_EDITABLE},
    ),
    destroy=extend_schema(
        summary="Delete a tag group (and its tags) in WeCom",
        description="The group and every live tag in it must have been created through Siyu (409 otherwise).",
        responses={204: None, **WECOM_ERRORS, **NOT_EDITABLE},
    ),
)
class TagGroupViewSet(TenantModelViewSet):
    queryset = TagGroup.objects.all()
    serializer_class = TagGroupSerializer
    permission_classes = [OperatorWrites]
    # A corp has at most 3,000 tags: the dashboard gets them all at once.
    pagination_class = None
    filter_backends: list = []
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        queryset = super().get_queryset().order_by("-order", "id")
        shown = Tag.objects.order_by("-order", "id")
        if self.action == "list" and _include_deleted(self.request):
            return queryset.prefetch_related(Prefetch("tags", queryset=shown, to_attr="shown_tags"))
        live = shown.filter(deleted=False)
        return queryset.filter(deleted=False).prefetch_related(
            Prefetch("tags", queryset=live, to_attr="shown_tags")
        )

    def _shown(self, group: TagGroup) -> dict:
        return TagGroupSerializer(self.get_queryset().get(pk=group.pk)).data

    def create(self, request, *args, **kwargs):
        data = TagGroupCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        group = tags.tag_group_create(tenant=self.principal.tenant, **data.validated_data)
        return Response(self._shown(group), status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        group = self.get_object()
        data = NameOrderUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with editable_only():
            tags.tag_group_update(tenant=self.principal.tenant, group=group, **data.validated_data)
        return Response(self._shown(group))

    def destroy(self, request, *args, **kwargs):
        with editable_only():
            tags.tag_group_delete(tenant=self.principal.tenant, group=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        summary="Tags",
        parameters=[
            INCLUDE_DELETED,
            OpenApiParameter(
                "group", {"type": "integer", "minimum": 1}, description="Only this group's tags."
            ),
        ],
    ),
    retrieve=extend_schema(summary="A tag"),
    create=extend_schema(
        summary="Add a tag to a group in WeCom",
        request=TagCreateSerializer,
        responses={201: TagSerializer, **WECOM_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Rename or reorder a tag in WeCom",
        request=NameOrderUpdateSerializer,
        responses={200: TagSerializer, **WECOM_ERRORS, **NOT_EDITABLE},
    ),
    destroy=extend_schema(
        summary="Delete a tag in WeCom", responses={204: None, **WECOM_ERRORS, **NOT_EDITABLE}
    ),
)
class TagViewSet(TenantModelViewSet):
    queryset = Tag.objects.order_by("-order", "id")
    serializer_class = TagSerializer
    permission_classes = [OperatorWrites]
    filter_backends: list = []
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        queryset = super().get_queryset()
        if not (self.action == "list" and _include_deleted(self.request)):
            queryset = queryset.filter(deleted=False)
        if self.action == "list":
            # An id that names no group matches nothing, as a search does.
            group = query_ids(self.request, "group")
            if group:
                queryset = queryset.filter(group_id__in=group)
        return queryset

    def create(self, request, *args, **kwargs):
        data = TagCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tag = tags.tag_create(tenant=self.principal.tenant, **data.validated_data)
        return Response(TagSerializer(tag).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        tag = self.get_object()
        data = NameOrderUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with editable_only():
            tag = tags.tag_update(tenant=self.principal.tenant, tag=tag, **data.validated_data)
        return Response(TagSerializer(tag).data)

    def destroy(self, request, *args, **kwargs):
        with editable_only():
            tags.tag_delete(tenant=self.principal.tenant, tag=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- tagging ---------------------------------------------------------------------------------


class ContactTagsView(TenantAPIView):
    serializer_class = ContactTagsSerializer

    @extend_schema(
        summary="Tag or untag one customer in WeCom (each follow you may act on)",
        request=ContactTagsSerializer,
        responses={200: ContactTagsResultSerializer, **WECOM_ERRORS},
        description=(
            "Calls mark_tag for each active follow of the customer within your data scope (a sales "
            "member: its own follow). Answers 200 when at least one follow changed or nothing needed "
            "changing, with the follows WeCom refused in `errors`; when WeCom refused every call, the "
            "first refusal is the error response and nothing changed."
        ),
    )
    def post(self, request, pk: int):
        principal = self.principal
        contact = get_object_or_404(contacts_visible(principal), pk=pk)
        data = ContactTagsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        staff = data.validated_data.get("staff")
        if staff is not None:
            mine = Follow.objects.filter(
                follow_scope_q(principal), contact=contact, staff=staff, status=FollowStatus.ACTIVE
            )
            if not mine.exists():
                raise exceptions.ValidationError(
                    {"staff": [f"{staff.userid} does not follow this customer (or is not yours to act on)."]}
                )
        result = tagging.contact_tags_change(
            tenant=principal.tenant,
            principal=principal,
            contact=contact,
            add=data.validated_data["add"],
            remove=data.validated_data["remove"],
            staff=staff,
        )
        if result.failed and not result.accepted:
            return wecom_problem(result.failed[0].error)
        follows = list(
            Follow.objects.filter(contact=contact, status=FollowStatus.ACTIVE)
            .select_related("staff")
            .order_by("id")
        )
        live = {t.wecom_id: t for t in Tag.objects.filter(deleted=False)}
        union = {t for f in follows for t in f.tag_ids if t in live}
        body = {
            "contact": contact.pk,
            "tags": TagSerializer(sorted((live[t] for t in union), key=lambda t: t.pk), many=True).data,
            "follows": [
                {
                    "id": f.pk,
                    "staff": f.staff.userid,
                    "tags": sorted(live[t].pk for t in f.tag_ids if t in live),
                }
                for f in follows
            ],
            "changed": len(result.accepted),
            "unchanged": result.unchanged,
            "errors": [m.as_error() for m in result.failed],
        }
        return Response(body)


class BulkTagView(TenantAPIView):
    serializer_class = BulkTagSerializer

    @job_start_schema(
        summary="Tag or untag many customers in WeCom, as a background job",
        request=BulkTagSerializer,
        description=(
            "Targets: `contacts` (ids; ids you cannot see are unknown), `filters` (the contacts list's "
            "parameters) or `segment` (its filters when the job is created). Only what you may act on "
            "is touched. 202 with the new job; 200 with the existing one for a repeated Idempotency-Key."
        ),
    )
    def post(self, request):
        data = BulkTagSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        job, created = tagging.bulk_tag_job_create(
            principal=self.principal,
            action=values["action"],
            tags=values["tags"],
            contacts=values.get("contacts"),
            filters=values.get("filters"),
            segment=values.get("segment"),
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        return job_started(request, job, created)


# --- remarks ---------------------------------------------------------------------------------


class FollowRemarkView(TenantAPIView):
    serializer_class = FollowRemarkSerializer

    def get_object(self) -> Follow:
        principal = self.principal
        follow = get_object_or_404(
            Follow.objects.select_related("staff", "contact").filter(contact__in=contacts_visible(principal)),
            pk=self.kwargs["pk"],
        )
        if not Follow.objects.filter(follow_scope_q(principal), pk=follow.pk).exists():
            raise exceptions.PermissionDenied("You can edit the remarks of your own follows only.")
        return follow

    @extend_schema(
        summary="A follow (one staff member's view of a customer)", responses=FollowRemarkSerializer
    )
    def get(self, request, pk: int):
        return Response(FollowRemarkSerializer(self.get_object()).data)

    @extend_schema(
        summary="Edit a follow's remark, description, company or phone numbers in WeCom",
        request=FollowRemarkSerializer,
        responses={200: FollowRemarkSerializer, **WECOM_ERRORS},
    )
    def patch(self, request, pk: int):
        follow = self.get_object()
        data = FollowRemarkSerializer(follow, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        follow = remarks.follow_remark_update(
            tenant=self.principal.tenant, follow=follow, actor=Actor.of(self.principal), **data.validated_data
        )
        return Response(FollowRemarkSerializer(follow).data)


router = SimpleRouter()
router.register("tag-groups", TagGroupViewSet, basename="tag-group")
router.register("tags", TagViewSet, basename="tag")


urlpatterns = [
    *router.urls,
    path("contacts/<int:pk>/tags/", ContactTagsView.as_view(), name="contact-tags"),
    path("contacts/bulk-tag/", BulkTagView.as_view(), name="contact-bulk-tag"),
    path("follows/<int:pk>/", FollowRemarkView.as_view(), name="follow-detail"),
]
