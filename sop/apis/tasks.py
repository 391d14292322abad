"""``/sop-tasks/``: the members' SOP tasks ("today's SOP tasks", the reminder's link).

- list (``status``, ``due`` today / overdue / all, ``staff``, ``sop``), ``{id}/`` read;
- ``{id}/done/``, ``{id}/postpone/`` (until a time, with a reason), ``{id}/skip/`` (a reason).

Admins and operators see and act on every member's tasks. A sales member sees and acts on its own only
(its membership's WeCom userid is the task's member); another member's task answers 404, as another
tenant's does. A sales API key belongs to no member: an empty list.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import F
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from campaigns.services.settings import tenant_zone
from scrm.api.filters import query_ids
from scrm.api.permissions import IsTenantMember
from scrm.api.viewsets import ID_PATTERN, TenantViewMixin

from ..models import SopTask, SopTaskStatus
from ..selectors import DUE_CHOICES, task_list, tasks_visible
from ..serializers import SopTaskSerializer, TaskPostponeSerializer, TaskSkipSerializer
from ..services import tasks_staff as services
from .common import query_choices, state_conflicts

TASK_CONFLICT = {409: OpenApiResponse(description="The task is done or skipped already (type not_open).")}


def _ids_param(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        # 18 digits at most, as query_ids takes them: the schema says so (a 20-digit id is a 400).
        {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}},
        explode=True,
        description=description,
    )


LIST_PARAMS = [
    OpenApiParameter(
        "status",
        {"type": "array", "items": {"type": "string", "enum": SopTaskStatus.values}},
        explode=True,
        description="Only tasks in these statuses (repeatable; open ones: todo and postponed).",
    ),
    OpenApiParameter(
        "due",
        {"type": "string", "enum": list(DUE_CHOICES)},
        description="today: due during the tenant's day; overdue: open and due before today; all (default).",
    ),
    _ids_param("staff", "Only these members' tasks (staff ids; repeatable)."),
    _ids_param("sop", "Only these SOPs' tasks (ids; repeatable)."),
]


def task_row(task: SopTask) -> dict:
    content = task.content if isinstance(task.content, dict) else {}
    return {
        "id": task.pk,
        "sop": {"id": task.sop_id, "name": task.sop.name},
        "title": task.title,
        "content": {"text": content.get("text") or "", "attachments": content.get("attachments") or []},
        "contact": {"id": task.contact.pk, "name": task.contact.name, "avatar": task.contact.avatar}
        if task.contact
        else None,
        "group": {"id": task.group.pk, "name": task.group.name} if task.group else None,
        "staff": {"id": task.staff.pk, "userid": task.staff.userid, "name": task.staff.name},
        "status": task.status,
        "due_at": task.due_at,
        "reason": task.reason,
        "done_via": task.done_via,
        "done_at": task.done_at,
        "delivery_kind": getattr(task, "delivery_kind", None) or "",
        "created_at": task.created_at,
    }


@extend_schema(tags=["sop"])
@extend_schema_view(
    list=extend_schema(
        summary="SOP tasks, soonest due first (sales: its own)",
        parameters=LIST_PARAMS,
        responses=SopTaskSerializer(many=True),
    ),
    retrieve=extend_schema(summary="An SOP task", responses=SopTaskSerializer),
)
class SopTaskViewSet(TenantViewMixin, viewsets.GenericViewSet):
    queryset = SopTask.objects
    serializer_class = SopTaskSerializer
    permission_classes = [IsTenantMember]
    filter_backends: list = []
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no principal
            return SopTask.objects.none()
        return tasks_visible(self.principal).filter(tenant=self.principal.tenant)

    def _rows(self, tasks):
        return tasks.select_related("sop", "staff", "contact", "group").annotate(
            delivery_kind=F("delivery__kind")
        )

    def _task(self, pk) -> SopTask:
        return get_object_or_404(self.get_queryset(), pk=pk)

    def _answer(self, task: SopTask) -> Response:
        return Response(SopTaskSerializer(task_row(self._rows(self.get_queryset()).get(pk=task.pk))).data)

    def list(self, request):
        zone = tenant_zone(tenant=self.principal.tenant)
        today = timezone.localdate(timezone=zone)
        due = request.query_params.get("due") or "all"
        if due not in DUE_CHOICES:
            query_choices(request, "due", DUE_CHOICES)
        tasks = task_list(
            self.principal,
            statuses=query_choices(request, "status", SopTaskStatus.values),
            due=due,
            staff_ids=query_ids(request, "staff"),
            sop_ids=query_ids(request, "sop"),
            day_start=dt.datetime.combine(today, dt.time.min, tzinfo=zone),
        ).filter(tenant=self.principal.tenant)
        page = self.paginate_queryset(tasks.annotate(delivery_kind=F("delivery__kind")))
        return self.get_paginated_response(SopTaskSerializer([task_row(t) for t in page], many=True).data)

    def retrieve(self, request, pk=None):
        return self._answer(self._task(pk))

    @extend_schema(
        summary="Mark the task done", request=None, responses={200: SopTaskSerializer, **TASK_CONFLICT}
    )
    @action(detail=True, methods=["post"])
    def done(self, request, pk=None):
        task = self._task(pk)
        with state_conflicts():
            services.task_done(task=task)
        return self._answer(task)

    @extend_schema(
        summary="Postpone the task to a time (listed as due then)",
        request=TaskPostponeSerializer,
        responses={200: SopTaskSerializer, **TASK_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def postpone(self, request, pk=None):
        task = self._task(pk)
        data = TaskPostponeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        until = data.validated_data["until"]
        if timezone.is_naive(until):
            until = until.replace(tzinfo=tenant_zone(tenant=self.principal.tenant))
        with state_conflicts():
            services.task_postpone(task=task, until=until, reason=data.validated_data.get("reason", ""))
        return self._answer(task)

    @extend_schema(
        summary="Skip the task, saying why",
        request=TaskSkipSerializer,
        responses={200: SopTaskSerializer, **TASK_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def skip(self, request, pk=None):
        task = self._task(pk)
        data = TaskSkipSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with state_conflicts():
            services.task_skip(task=task, reason=data.validated_data["reason"])
        return self._answer(task)


router = SimpleRouter(trailing_slash=True)
router.register("sop-tasks", SopTaskViewSet, basename="sop-task")

urlpatterns = router.urls
