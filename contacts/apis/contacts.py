"""Contacts API: staff, departments, stages, contacts (list, detail, losses, stage, notes, timeline),
saved segments and CSV exports.

Every contact route starts from ``contacts_visible(principal)``: a sales member gets 404 for a customer
it does not follow, exactly as for another tenant's. Contact ids in URLs are digits only, so the routes
other modules add under ``contacts/`` (bulk tagging, …) are never taken for a contact id.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import DecimalField, IntegerField, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.urls import path
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.generics import ListAPIView
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from groups.selectors import contact_groups
from scrm.api import serializers
from scrm.api.permissions import AdminWrites, IsTenantMember, OperatorWrites
from scrm.api.principal import get_principal
from scrm.api.viewsets import ID_PATTERN, TenantAPIView, TenantViewMixin
from scrm.tenancy.actors import Actor

from ..filters import ContactFilter, LostFilter, StaffFilter
from ..models import Contact, Department, Follow, Note, Segment, Staff, Stage
from ..selectors import (
    CONTACT_ROW_FIELDS,
    contact_follows,
    contact_notes,
    contact_rows_resolve,
    contact_timeline,
    contacts_for_rows,
    contacts_visible,
    department_tree,
    follows_lost,
    segments_deleted_tags,
    staff_with_counts,
)
from ..serializers import (
    ContactDetailSerializer,
    ContactRowSerializer,
    DepartmentNodeSerializer,
    EventSerializer,
    ExportRequestSerializer,
    LostSerializer,
    NoteInputSerializer,
    NoteSerializer,
    SegmentSerializer,
    StaffSerializer,
    StageChangeSerializer,
    StageSerializer,
)
from ..services import exports, notes, segments, stages
from .common import job_start_schema, job_started

TIMELINE_IN_DETAIL = 50
PROFILE_FIELDS = (
    "id",
    "external_userid",
    "name",
    "avatar",
    "type",
    "gender",
    "unionid",
    "corp_name",
    "corp_full_name",
    "position",
    "status",
    "first_added_at",
)
_iso = serializers.DateTimeField().to_representation
# Contacts with no follow yet have no first_added_at; ordering by it sorts them as the oldest, and the
# cursor (which needs a non-null position) sees this value instead of NULL.
ADDED_SORT = Coalesce("first_added_at", Value(dt.datetime(1970, 1, 1, tzinfo=dt.UTC)))
# A customer not computed yet sorts as a score and an LTV of 0 (what the filters take it for). These
# join its value (a LEFT JOIN on the unique contact key), only when the list is ordered by them.
SORT_KEYS = {
    "score_sort": Coalesce("value__score", Value(0), output_field=IntegerField()),
    "ltv_sort": Coalesce(
        "value__ltv", Value(Decimal("0")), output_field=DecimalField(max_digits=14, decimal_places=2)
    ),
}


class ContactOrdering(OrderingFilter):
    """``ordering`` = ``[-]first_added_at``, ``[-]name``, ``[-]score``, ``[-]ltv`` or ``[-]id`` (default
    ``-id``).

    Ties are broken by id in the same direction, so page-number and cursor pages never repeat or skip a
    row; an unknown ordering is a 400 rather than silently ignored.
    """

    fields = {
        "id": "id",
        "first_added_at": "added_sort",
        "name": "name",
        "score": "score_sort",
        "ltv": "ltv_sort",
    }
    ordering_description = (
        "One of first_added_at, name, score, ltv, id; prefix with - for descending (default -id)."
    )

    def get_ordering(self, request, queryset, view):
        raw = request.query_params.get(self.ordering_param, "")
        if not raw:
            return ("-id",)
        sign, key = ("-", raw[1:]) if raw.startswith("-") else ("", raw)
        if key not in self.fields:
            raise exceptions.ValidationError({"ordering": [f"Order by one of: {', '.join(self.fields)}."]})
        field = self.fields[key]
        return (f"{sign}{field}",) if field == "id" else (f"{sign}{field}", f"{sign}id")

    def filter_queryset(self, request, queryset, view):
        ordering = self.get_ordering(request, queryset, view)
        keys = {key: SORT_KEYS[key] for key in (o.lstrip("-") for o in ordering) if key in SORT_KEYS}
        return queryset.annotate(**keys).order_by(*ordering)

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": self.ordering_description,
                "schema": {
                    "type": "string",
                    "enum": [f"{sign}{key}" for key in self.fields for sign in ("", "-")],
                },
            }
        ]


class LostOrdering(OrderingFilter):
    """Newest loss first; the cursor's position is the end time (a loss always has one, else its id)."""

    def get_ordering(self, request, queryset, view):
        return ("-ended_sort", "-id")

    def filter_queryset(self, request, queryset, view):
        return queryset.order_by(*self.get_ordering(request, queryset, view))

    def get_schema_operation_parameters(self, view):
        return []


class ContactListFilterBackend(DjangoFilterBackend):
    """The list's filters, where an id that names nothing matches nothing (see ContactFilter.__init__)."""

    def get_filterset_kwargs(self, request, queryset, view):
        return {**super().get_filterset_kwargs(request, queryset, view), "check_ids": False}


def contacts_page(view, queryset):
    """A page of list rows: one query for the page, one for its tags, one for its followers."""
    queryset = view.filter_queryset(contacts_for_rows(queryset.annotate(added_sort=ADDED_SORT)))
    # The sort keys are in the rows: the cursor reads its position from them.
    sort_keys = [key for key in SORT_KEYS if key in queryset.query.annotations]
    page = view.paginate_queryset(queryset.values(*CONTACT_ROW_FIELDS, "added_sort", *sort_keys))
    rows = contact_rows_resolve(page)
    for row in rows:
        if row["first_added_at"] is not None:
            row["first_added_at"] = _iso(row["first_added_at"])
    return view.get_paginated_response(rows)


# -- staff, departments, stages ---------------------------------------------------------------------


@extend_schema(tags=["staff"])
class StaffViewSet(TenantViewMixin, viewsets.ReadOnlyModelViewSet):
    """WeCom members with the number of customers each actively follows (every member may read)."""

    queryset = Staff.objects
    serializer_class = StaffSerializer
    filterset_class = StaffFilter
    ordering_fields = ["name", "id", "customer_count"]
    ordering = ["name", "id"]
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return staff_with_counts()


@extend_schema(tags=["staff"])
class DepartmentTreeView(TenantAPIView):
    """The WeCom department tree."""

    queryset = Department.objects
    # One tree, never paged: without this the schema documented a paginated response.
    pagination_class = None
    filter_backends: list = []

    @extend_schema(summary="The department tree", responses=DepartmentNodeSerializer(many=True))
    def get(self, request):
        return Response(department_tree())


@extend_schema(tags=["stages"])
class StageViewSet(TenantViewMixin, viewsets.ModelViewSet):
    """The sales pipeline, in order. Admins change it; deleting a stage clears it from its contacts."""

    queryset = Stage.objects.all()
    serializer_class = StageSerializer
    permission_classes = [AdminWrites]
    filter_backends = []
    pagination_class = None
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def perform_create(self, serializer):
        serializer.instance = stages.stage_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = stages.stage_update(stage=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance):
        stages.stage_delete(stage=instance)


# -- contacts ---------------------------------------------------------------------------------------


@extend_schema(tags=["contacts"])
class ContactViewSet(TenantViewMixin, viewsets.GenericViewSet):
    queryset = Contact.objects
    serializer_class = ContactRowSerializer
    filterset_class = ContactFilter
    lookup_value_regex = ID_PATTERN

    @property
    def filter_backends(self):
        # The filters and ordering are the list's; the nested lists (notes, timeline) keep their own order.
        return [ContactListFilterBackend, ContactOrdering] if self.action == "list" else []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no principal
            return Contact.objects.none()
        return contacts_visible(self.principal)

    @extend_schema(summary="List contacts (filtered, ordered, paginated)")
    def list(self, request):
        return contacts_page(self, self.get_queryset())

    @extend_schema(
        summary="A contact with its follows, notes, latest events and groups",
        responses=ContactDetailSerializer,
    )
    def retrieve(self, request, pk=None):
        contact = get_object_or_404(self.get_queryset().select_related("stage"), pk=pk)
        data = {
            **{f: getattr(contact, f) for f in PROFILE_FIELDS},
            # The tenant's own profile fields' values, by key (value.services.fields).
            "profile": contact.profile or {},
            "stage": {"id": contact.stage.pk, "name": contact.stage.name} if contact.stage else None,
            "follows": contact_follows(contact),
            "notes": contact_notes(contact),
            "timeline": contact_timeline(contact)[:TIMELINE_IN_DETAIL],
            "groups": contact_groups(principal=self.principal, contact=contact),
        }
        return Response(ContactDetailSerializer(data).data)

    def _contact(self, pk) -> Contact:
        return get_object_or_404(self.get_queryset(), pk=pk)

    @extend_schema(
        summary="Change the contact's stage (records a stage_changed event)",
        request=StageChangeSerializer,
        responses=ContactRowSerializer,
    )
    @action(detail=True, methods=["post"])
    def stage(self, request, pk=None):
        contact = self._contact(pk)
        serializer = StageChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contact = stages.contact_stage_set(
            contact=contact, stage=serializer.validated_data["stage"], actor=Actor.of(self.principal)
        )
        return Response(self._row(contact.pk))

    def _row(self, pk: int) -> dict:
        rows = contact_rows_resolve(
            list(contacts_for_rows(self.get_queryset().filter(pk=pk)).values(*CONTACT_ROW_FIELDS))
        )
        return rows[0]

    @extend_schema(summary="The contact's events, latest first", responses=EventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        page = self.paginate_queryset(contact_timeline(self._contact(pk)))
        return self.get_paginated_response(EventSerializer(page, many=True).data)

    @extend_schema(
        methods=["get"], summary="The contact's notes, latest first", responses=NoteSerializer(many=True)
    )
    @extend_schema(
        methods=["post"],
        summary="Write a note (records a note event)",
        request=NoteInputSerializer,
        responses={201: NoteSerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def notes(self, request, pk=None):
        contact = self._contact(pk)
        if request.method == "GET":
            page = self.paginate_queryset(contact_notes(contact))
            return self.get_paginated_response(NoteSerializer(page, many=True).data)
        serializer = NoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = notes.note_create(
            contact=contact, content=serializer.validated_data["content"], actor=Actor.of(self.principal)
        )
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)


class IsNoteAuthorOrAdmin(BasePermission):
    message = "Only the note's author or an admin can change it."

    def has_object_permission(self, request, view, obj) -> bool:
        principal = get_principal(request)
        if principal.is_admin:
            return True
        return Actor.of(principal).is_creator_of(obj, "author")


@extend_schema(tags=["contacts"])
class NoteViewSet(
    TenantViewMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Edit or delete a note: its author, or an admin; only on a contact the caller can see."""

    queryset = Note.objects
    serializer_class = NoteSerializer
    permission_classes = [IsTenantMember, IsNoteAuthorOrAdmin]
    http_method_names = ["patch", "delete", "options"]
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return Note.objects.filter(contact__in=contacts_visible(self.principal)).select_related(
            "author", "author_api_key"
        )

    @extend_schema(summary="Edit a note", request=NoteInputSerializer, responses=NoteSerializer)
    def partial_update(self, request, pk=None):
        note = self.get_object()
        serializer = NoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = notes.note_update(note=note, content=serializer.validated_data["content"])
        return Response(NoteSerializer(note).data)

    @extend_schema(summary="Delete a note (its note event stays in the timeline)")
    def destroy(self, request, pk=None):
        notes.note_delete(note=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["contacts"])
class LostListView(TenantViewMixin, ListAPIView):
    """Customers who deleted a staff member (流失): who, when, through which channel, how long they stayed.

    Sales members see the losses of their own follows (or their departments' staff's).
    """

    serializer_class = LostSerializer
    filterset_class = LostFilter
    filter_backends = [DjangoFilterBackend, LostOrdering]
    queryset = Follow.objects

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no principal
            return Follow.objects.none()
        return follows_lost(self.principal).annotate(ended_sort=Coalesce("ended_at", "updated_at"))

    @extend_schema(summary="List losses, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=["contacts"])
class ContactExportView(TenantAPIView):
    """Queue a CSV export of the contacts a filter (or a saved segment) selects, within your data scope."""

    @job_start_schema(
        summary="Export contacts as CSV (a background job; honours Idempotency-Key)",
        request=ExportRequestSerializer,
    )
    def post(self, request):
        serializer = ExportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        job, created = exports.export_create(
            principal=self.principal,
            filters=data["filters"],
            columns=data["columns"],
            segment_id=data["segment"].pk if data.get("segment") else None,
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        return job_started(request, job, created)


# -- segments ---------------------------------------------------------------------------------------


@extend_schema(tags=["segments"])
class SegmentViewSet(TenantViewMixin, viewsets.ModelViewSet):
    """Saved contact filters. ``count`` is live, within the caller's data scope, on single segments only:
    a list would run one count per segment."""

    queryset = Segment.objects.select_related("created_by", "created_by_api_key")
    serializer_class = SegmentSerializer
    permission_classes = [OperatorWrites]
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    ordering_fields = ["name", "id", "created_at"]
    ordering = ["name", "id"]

    @property
    def filter_backends(self):
        return [ContactOrdering] if self.action == "contacts" else [OrderingFilter]

    def _counted(self, segment: Segment) -> dict:
        count = segments.segment_count(principal=self.principal, segment=segment)
        context = {"counts": {segment.pk: count}, "deleted_tags": segments_deleted_tags([segment])}
        return SegmentSerializer(segment, context=context).data

    def list(self, request):
        # The page's deleted tags in one query, whatever its size.
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(queryset) if page is None else page
        context = {**self.get_serializer_context(), "deleted_tags": segments_deleted_tags(rows)}
        data = self.get_serializer(rows, many=True, context=context).data
        return Response(data) if page is None else self.get_paginated_response(data)

    def retrieve(self, request, pk=None):
        return Response(self._counted(self.get_object()))

    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        segment = segments.segment_create(principal=self.principal, **serializer.validated_data)
        return Response(self._counted(segment), status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        segment = self.get_object()
        serializer = self.get_serializer(segment, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        segment = segments.segment_update(
            principal=self.principal, segment=segment, data=serializer.validated_data
        )
        return Response(self._counted(segment))

    @extend_schema(
        summary="The contacts the segment selects now (paginated like the list)",
        responses=ContactRowSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def contacts(self, request, pk=None):
        # Not get_object(): the contacts' ordering backend does not apply to segments.
        segment = get_object_or_404(self.get_queryset(), pk=pk)
        return contacts_page(self, segments.segment_contacts(principal=self.principal, segment=segment))


router = SimpleRouter(trailing_slash=True)
router.register("staff", StaffViewSet, basename="staff")
router.register("stages", StageViewSet, basename="stage")
router.register("contacts", ContactViewSet, basename="contact")
router.register("notes", NoteViewSet, basename="note")
router.register("segments", SegmentViewSet, basename="segment")

urlpatterns = [
    path("departments/", DepartmentTreeView.as_view(), name="department-tree"),
    path("contacts/lost/", LostListView.as_view(), name="contact-lost"),
    path("contacts/export/", ContactExportView.as_view(), name="contact-export"),
    *router.urls,
]
