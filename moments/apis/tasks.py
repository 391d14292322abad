"""``/moments/tasks/``: posts composed in Siyu for members to publish.

- list and create (a draft); ``{id}/`` read, change (draft or scheduled), delete (draft);
- ``preview/``: how many members would publish it and how many customers would see it;
- ``{id}/publish/`` (now, or at ``scheduled_at``), ``cancel/``, ``remind/`` (members who have not
  published), ``refresh/`` (read WeCom now).

Admins and operators run Moments. A sales member sees the tasks it was asked to publish (once in WeCom),
with the figures of its own copy; everything else answers 404, as another tenant's task does, and every
write answers 403.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from contacts.apis.common import IDEMPOTENCY_KEY
from scrm.api.errors import Conflict
from scrm.api.viewsets import ID_PATTERN, TenantViewMixin
from scrm.tenancy.actors import Actor

from ..filters import MomentTaskFilter
from ..models import MomentTask, TaskStatus
from ..selectors import moment_figures, runs_moments, task_list, task_materials, task_names
from ..serializers import (
    MomentPublishSerializer,
    MomentRemindResultSerializer,
    MomentRemindSerializer,
    MomentTaskCreateSerializer,
    MomentTaskDetailSerializer,
    MomentTaskPreviewResultSerializer,
    MomentTaskPreviewSerializer,
    MomentTaskSerializer,
    MomentTaskUpdateSerializer,
)
from ..services import compose, reminders, tracking
from .common import CONFLICT, MomentsPermission, state_conflicts


def _material_url(request, material) -> str | None:
    if material is None or not material.file:
        return None
    return request.build_absolute_uri(f"/api/v1/materials/{material.pk}/file/")


def attachments_preview(request, task: MomentTask) -> list[dict]:
    """The task's attachments as the compose preview draws them (a deleted material still shows)."""
    rows = []
    for pk, material in task_materials(task):
        if material is None:
            rows.append(
                {
                    "material_id": pk,
                    "kind": "",
                    "title": "",
                    "url": "",
                    "description": "",
                    "file_url": None,
                    "preview_url": None,
                    "deleted": True,
                }
            )
            continue
        file_url = _material_url(request, material)
        preview = file_url if material.kind == "image" else None
        if material.kind == "link":
            preview = _material_url(request, material.cover) or material.picture_url or None
        rows.append(
            {
                "material_id": pk,
                "kind": material.kind,
                "title": material.title,
                "url": material.url,
                "description": material.description,
                "file_url": file_url,
                "preview_url": preview,
                "deleted": material.deleted_at is not None,
            }
        )
    return rows


@extend_schema(tags=["moments"])
@extend_schema_view(
    list=extend_schema(summary="Moments tasks, newest first (sales: the ones it was asked to publish)"),
    retrieve=extend_schema(
        summary="A task with its materials, range, WeCom's refusals and the Moment's figures",
        responses=MomentTaskDetailSerializer,
    ),
    create=extend_schema(
        summary="Compose a draft (honours Idempotency-Key)",
        request=MomentTaskCreateSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: MomentTaskDetailSerializer,
            200: OpenApiResponse(
                MomentTaskDetailSerializer, description="The task this Idempotency-Key made."
            ),
        },
    ),
    partial_update=extend_schema(
        summary="Change a draft or scheduled task",
        request=MomentTaskUpdateSerializer,
        responses={200: MomentTaskDetailSerializer, **CONFLICT},
    ),
    destroy=extend_schema(summary="Delete a draft", responses={204: None, **CONFLICT}),
)
class MomentTaskViewSet(TenantViewMixin, viewsets.GenericViewSet):
    queryset = MomentTask.objects
    serializer_class = MomentTaskSerializer
    filterset_class = MomentTaskFilter
    permission_classes = [MomentsPermission]
    runner_actions = frozenset(
        {"create", "partial_update", "destroy", "preview", "publish", "cancel", "remind", "refresh"}
    )
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    @property
    def filter_backends(self):
        return [DjangoFilterBackend] if self.action == "list" else []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no principal
            return MomentTask.objects.none()
        return task_list(self.principal)

    def _task(self, pk) -> MomentTask:
        return get_object_or_404(self.get_queryset(), pk=pk)

    def _detail(self, task: MomentTask) -> dict:
        task = self.get_queryset().get(pk=task.pk)
        context = {
            "figures": moment_figures(self.principal, [task.moment] if task.moment else []),
            "names": task_names(task),
            "attachments": attachments_preview(self.request, task),
            "runs_moments": runs_moments(self.principal),
            "has_app": bool(self.principal.tenant.agent_id),
        }
        return MomentTaskDetailSerializer(task, context=context).data

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        figures = moment_figures(self.principal, [task.moment for task in page if task.moment])
        return self.get_paginated_response(
            MomentTaskSerializer(page, many=True, context={"figures": figures}).data
        )

    def retrieve(self, request, pk=None):
        return Response(self._detail(self._task(pk)))

    def create(self, request):
        data = MomentTaskCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key", "")
        actor = Actor.of(self.principal)
        replayed = compose.moment_task_for_key(actor=actor, idempotency_key=key)
        if replayed is not None:
            return Response(self._detail(replayed), status=status.HTTP_200_OK)
        task = compose.moment_task_create(actor=actor, data=data.validated_data, idempotency_key=key)
        return Response(self._detail(task), status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        task = self._task(pk)
        data = MomentTaskUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        with state_conflicts():
            task = compose.moment_task_update(task=task, data=data.validated_data)
        return Response(self._detail(task))

    def destroy(self, request, pk=None):
        task = self._task(pk)
        with state_conflicts():
            compose.moment_task_delete(task=task)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Who a task with this range would reach: writes nothing",
        request=MomentTaskPreviewSerializer,
        responses=MomentTaskPreviewResultSerializer,
        description="Members asked to publish it and the distinct customers of theirs who would see it once "
        "they all publish; ids that name nothing usable are left out and listed in invalid.",
    )
    @action(detail=False, methods=["post"])
    def preview(self, request):
        data = MomentTaskPreviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = compose.moment_task_preview(data=data.validated_data)
        return Response(MomentTaskPreviewResultSerializer(result).data)

    @extend_schema(
        summary="Publish now, or schedule for scheduled_at",
        request=MomentPublishSerializer,
        responses={200: MomentTaskDetailSerializer, **CONFLICT},
        description="A draft or scheduled task, checked again. Now: it is created in WeCom in the background "
        "(status submitting, then publishing once WeCom's job gives its moment_id).",
    )
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        task = self._task(pk)
        data = MomentPublishSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with state_conflicts():
            task = compose.moment_task_publish(
                task=task,
                scheduled_at=data.validated_data.get("scheduled_at"),
                actor=Actor.of(self.principal),
            )
        return Response(self._detail(task))

    @extend_schema(
        summary="Cancel the task",
        request=None,
        responses={200: MomentTaskDetailSerializer, **CONFLICT},
        description="A draft or scheduled task is cancelled; one members are publishing is cancelled in "
        "WeCom too (members who published keep their post). One being created in WeCom answers 409 "
        "being_created: cancel it once it is.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        task = self._task(pk)
        with state_conflicts():
            task = compose.moment_task_cancel(task=task, actor=Actor.of(self.principal))
        return Response(self._detail(task))

    @extend_schema(
        summary="Remind members who have not published it (one WeCom app message each)",
        request=MomentRemindSerializer,
        responses={200: MomentRemindResultSerializer, **CONFLICT},
        description="Members reminded of Moments in the last 10 minutes are skipped, as are those who "
        "published. Needs the tenant's WeCom app (agent_id).",
    )
    @action(detail=True, methods=["post"])
    def remind(self, request, pk=None):
        task = self._task(pk)
        data = MomentRemindSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if task.status != TaskStatus.PUBLISHING:
            raise Conflict("Only a task members are publishing can be reminded.", code="not_publishing")
        result = reminders.task_remind(
            task=task, actor=Actor.of(self.principal), staff_ids=data.validated_data.get("staff_ids")
        )
        return Response(MomentRemindResultSerializer(result).data)

    @extend_schema(
        summary="Read WeCom's figures now (in the background)",
        request=None,
        responses={202: MomentTaskDetailSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def refresh(self, request, pk=None):
        task = self._task(pk)
        if task.moment is None:
            raise Conflict("The task is not in WeCom yet: nothing to read.", code="not_in_wecom")
        tracking.moment_refresh(moment=task.moment)
        return Response(self._detail(task), status=status.HTTP_202_ACCEPTED)


router = SimpleRouter(trailing_slash=True)
router.register("moments/tasks", MomentTaskViewSet, basename="moment-task")

urlpatterns = router.urls
