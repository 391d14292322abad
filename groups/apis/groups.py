"""Routes of customer groups (客户群) and group tags.

- ``/groups/``: the groups with filters and orderings; ``/groups/{id}/`` with its last 7 days' moves;
  ``members/`` (current stays, or all of them), ``history/`` (joins and leaves, newest first),
  ``stats/`` (joins, leaves and members per day); ``PUT tags/`` and ``POST /groups/bulk-tag/``.
- ``/group-tags/``: local labels on groups, with how many groups carry each.
- ``/group-stats/``: WeCom's daily figures of the owners' groups, summed per day.

Every route starts from the caller's data scope (``groups.selectors``): admins and operators see every
group, a sales member the groups it owns, and any other group answers 404 as another tenant's does.
Writes (tags) are for admins and operators.
"""

from __future__ import annotations

import datetime as dt

from django.shortcuts import get_object_or_404
from django.urls import path
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from scrm.api.dates import date_range, range_parameters
from scrm.api.filters import query_flag, query_ids
from scrm.api.pagination import MAX_PAGE_SIZE, DualPagination, PageNumberPagination
from scrm.api.permissions import OperatorWrites
from scrm.api.viewsets import ID_PATTERN, TenantAPIView, TenantViewMixin

from ..filters import FixedOrdering, GroupFilter, GroupOrdering
from ..models import Group, GroupTag, MemberType
from ..selectors import (
    group_history,
    group_list,
    group_members,
    group_recent_moves,
    group_stats,
    group_stats_by_day,
    group_tags_with_counts,
    groups_visible,
    history_resolve,
    members_resolve,
)
from ..serializers import (
    GroupBulkTagResultSerializer,
    GroupBulkTagSerializer,
    GroupDetailSerializer,
    GroupHistoryEntrySerializer,
    GroupMemberSerializer,
    GroupSerializer,
    GroupStatsSerializer,
    GroupTagInputSerializer,
    GroupTagSerializer,
    GroupTagsSetSerializer,
    OwnerStatsSerializer,
    ids_context,
)
from ..services import tags as tag_services


class PageNumbersOnly(PageNumberPagination):
    """Page numbers whoever asks: the history is a UNION, which a cursor cannot filter."""

    def get_schema_operation_parameters(self, view):
        return [
            {"name": "page", "required": False, "in": "query", "description": "Page number, from 1.",
             "schema": {"type": "integer"}},
            {"name": "page_size", "required": False, "in": "query",
             "description": f"Rows per page, at most {MAX_PAGE_SIZE}.", "schema": {"type": "integer"}},
        ]  # fmt: skip

    def get_paginated_response_schema(self, schema):
        return DualPagination().get_paginated_response_schema(schema)


RANGE = range_parameters(start="date_from", end="date_to")


def group_date_range(request) -> tuple[dt.date, dt.date]:
    """The ``date_from``/``date_to`` days asked for (the tenant's calendar), checked."""
    return date_range(request, start="date_from", end="date_to")


MEMBER_PARAMS = [
    OpenApiParameter(
        "current", bool, description="true (default): the members now; false: every stay, past ones too."
    ),
    OpenApiParameter("type", str, enum=MemberType.values, description="Only staff or only customers."),
    OpenApiParameter("q", str, description="Name, group nickname or userid contains."),
]


@extend_schema(tags=["groups"])
@extend_schema_view(
    list=extend_schema(summary="Customer groups (filtered, ordered, paginated)"),
    retrieve=extend_schema(
        summary="A group, with its joins and leaves of the last 7 days", responses=GroupDetailSerializer
    ),
)
class GroupViewSet(
    TenantViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = Group.objects
    serializer_class = GroupSerializer
    filterset_class = GroupFilter
    permission_classes = [OperatorWrites]
    lookup_value_regex = ID_PATTERN
    # members/: the latest joins first, in page-number and cursor mode alike (FixedOrdering).
    fixed_ordering = ("-joined_sort", "-id")

    @property
    def filter_backends(self):
        if self.action == "list":
            return [DjangoFilterBackend, GroupOrdering]
        return [FixedOrdering] if self.action == "members" else []

    @property
    def pagination_class(self):
        return PageNumbersOnly if getattr(self, "action", None) == "history" else DualPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no principal
            return Group.objects.none()
        return group_list(self.principal)

    def _group(self, pk) -> Group:
        # Not get_object(): the members' ordering backend does not apply to groups.
        return get_object_or_404(groups_visible(self.principal), pk=pk)

    def _row(self, group: Group) -> dict:
        return GroupSerializer(group_list(self.principal).get(pk=group.pk)).data

    def retrieve(self, request, *args, **kwargs):
        group = self.get_object()
        moves = group_recent_moves(group)
        group.joins_7d, group.leaves_7d = moves["joins"], moves["leaves"]
        return Response(GroupDetailSerializer(group).data)

    @extend_schema(
        summary="The group's members (one row per stay), the latest joins first",
        parameters=MEMBER_PARAMS,
        responses=GroupMemberSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def members(self, request, pk=None):
        group = self._group(pk)
        kind = request.query_params.get("type") or None
        if kind is not None and kind not in MemberType.values:
            raise exceptions.ValidationError({"type": [f"One of {', '.join(MemberType.values)}."]})
        members = group_members(
            group,
            current=query_flag(request, "current", default=True),
            member_type=kind,
            q=request.query_params.get("q", ""),
        )
        page = self.paginate_queryset(members)
        rows = members_resolve(page, group=group, principal=self.principal)
        return self.get_paginated_response(GroupMemberSerializer(rows, many=True).data)

    @extend_schema(
        summary="Joins and leaves, newest first (page numbers only)",
        responses=GroupHistoryEntrySerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        group = self._group(pk)
        page = self.paginate_queryset(group_history(group))
        entries = history_resolve(page, group=group, principal=self.principal)
        return self.get_paginated_response(GroupHistoryEntrySerializer(entries, many=True).data)

    @extend_schema(
        summary="Joins, leaves and members at the end of each day (at most 366 days)",
        parameters=RANGE,
        responses=GroupStatsSerializer,
    )
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        group = self._group(pk)
        start, end = group_date_range(request)
        return Response(GroupStatsSerializer(group_stats(group, start=start, end=end)).data)

    @extend_schema(
        summary="Set the group's tags (admins and operators)",
        request=GroupTagsSetSerializer,
        responses={200: GroupSerializer, 400: OpenApiResponse(description="Unknown tag ids.")},
    )
    @action(detail=True, methods=["put"], url_path="tags")
    def tags(self, request, pk=None):
        group = self._group(pk)
        data = GroupTagsSetSerializer(data=request.data, context=ids_context(tags=GroupTag.objects.all()))
        data.is_valid(raise_exception=True)
        tag_services.group_tags_set(group=group, tags=data.validated_data["tag_ids"])
        return Response(self._row(group))

    @extend_schema(
        summary="Add and remove tags on many groups (admins and operators; at most 1,000 groups)",
        request=GroupBulkTagSerializer,
        responses={200: GroupBulkTagResultSerializer, 400: OpenApiResponse(description="Invalid input.")},
    )
    @action(detail=False, methods=["post"], url_path="bulk-tag")
    def bulk_tag(self, request):
        context = ids_context(groups=groups_visible(self.principal), tags=GroupTag.objects.all())
        data = GroupBulkTagSerializer(data=request.data, context=context)
        data.is_valid(raise_exception=True)
        result = tag_services.group_tags_bulk(
            groups=data.validated_data["group_ids"],
            add=data.validated_data["add"],
            remove=data.validated_data["remove"],
        )
        return Response(GroupBulkTagResultSerializer(result).data)


@extend_schema(tags=["groups"])
@extend_schema_view(
    list=extend_schema(summary="Group tags, in order, with the number of groups carrying each"),
    retrieve=extend_schema(summary="A group tag"),
    create=extend_schema(
        summary="Create a group tag (admins and operators)",
        request=GroupTagInputSerializer,
        responses={201: GroupTagSerializer},
    ),
    update=extend_schema(
        summary="Change a group tag (admins and operators)",
        request=GroupTagInputSerializer,
        responses=GroupTagSerializer,
    ),
    partial_update=extend_schema(
        summary="Change some of a group tag's fields (admins and operators)",
        request=GroupTagInputSerializer(partial=True),
        responses=GroupTagSerializer,
    ),
    destroy=extend_schema(summary="Delete a group tag; the groups carrying it lose it"),
)
class GroupTagViewSet(TenantViewMixin, viewsets.ModelViewSet):
    queryset = GroupTag.objects
    serializer_class = GroupTagSerializer
    permission_classes = [OperatorWrites]
    filter_backends = [FixedOrdering]
    fixed_ordering = ("order", "id")
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return GroupTag.objects.none()
        return group_tags_with_counts(self.principal)

    def _counted(self, tag: GroupTag, code: int = status.HTTP_200_OK) -> Response:
        return Response(GroupTagSerializer(self.get_queryset().get(pk=tag.pk)).data, status=code)

    def create(self, request, *args, **kwargs):
        data = GroupTagInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._counted(tag_services.group_tag_create(**data.validated_data), status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        tag = self.get_object()
        partial = kwargs.get("partial", False)
        data = GroupTagInputSerializer(tag, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        return self._counted(tag_services.group_tag_update(tag=tag, data=data.validated_data))

    def perform_destroy(self, instance):
        tag_services.group_tag_delete(tag=instance)


@extend_schema(tags=["groups"])
class GroupStatsView(TenantAPIView):
    """WeCom's daily figures of the groups of the owners in your scope (groupchat/statistic_group_by_day)."""

    pagination_class = None
    filter_backends: list = []

    @extend_schema(
        summary="WeCom's group figures per day, summed over owners, with the range's totals",
        parameters=[
            *RANGE,
            OpenApiParameter(
                "owner",
                # 18 digits at most, as IdsFilter says (scrm/api/filters.py).
                {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}},
                explode=True,
                description="Only these owners (Siyu staff ids; repeatable). An id that names nobody "
                "has no figures.",
            ),
        ],
        responses=OwnerStatsSerializer,
    )
    def get(self, request):
        start, end = group_date_range(request)
        owner_ids = query_ids(request, "owner")
        figures = group_stats_by_day(self.principal, start=start, end=end, owner_ids=owner_ids)
        return Response(OwnerStatsSerializer(figures).data)


router = SimpleRouter(trailing_slash=True)
router.register("groups", GroupViewSet, basename="group")
router.register("group-tags", GroupTagViewSet, basename="group-tag")

urlpatterns = [
    path("group-stats/", GroupStatsView.as_view(), name="group-stats"),
    *router.urls,
]
