"""``/campaigns/``: mass messages to customers and to customer groups.

- list and create; ``{id}/`` read, change (draft or scheduled), delete (draft);
- ``preview/``: the plan for an audience, without writing anything;
- ``{id}/send/`` (now, or at ``scheduled_at``), ``cancel/``, ``remind/`` (members who have not sent),
  ``refresh/`` (poll WeCom's results now);
- ``{id}/tasks/`` (one per member and chunk), ``{id}/tasks/{task_id}/remind/``, ``{id}/recipients/``
  and its CSV ``export/``.

Admins and operators run campaigns. A sales member sees the campaigns in which it has a task, and in
them only its own tasks and recipients; everything else answers 404, as another tenant's campaign
does, and every write answers 403.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from contacts.apis.common import IDEMPOTENCY_KEY
from scrm.api.errors import Conflict
from scrm.api.filters import query_ids
from scrm.api.permissions import RunnerActions
from scrm.api.viewsets import ID_PATTERN, TenantViewMixin
from scrm.spreadsheets import csv_cell
from scrm.tenancy.actors import Actor
from scrm.tenancy.context import tenant_context

from ..filters import CampaignFilter
from ..models import Campaign, CampaignStatus, CampaignTask, RecipientStatus
from ..selectors import campaign_list, campaign_recipients, campaign_tasks, runs_campaigns, task_can_remind
from ..serializers import (
    CAMPAIGN_CREATE,
    CAMPAIGN_PREVIEW,
    CREATE_SERIALIZERS,
    PREVIEW_SERIALIZERS,
    CampaignDetailSerializer,
    CampaignSerializer,
    CampaignUpdateSerializer,
    CancelResultSerializer,
    PlanSerializer,
    RecipientSerializer,
    RemindResultSerializer,
    SendSerializer,
    TaskSerializer,
    by_chat_type,
)
from ..services import campaigns as campaign_services
from ..services.audience import audience_clean
from ..services.plan import plan_build
from ..services.results import (
    campaign_cancel,
    campaign_refresh,
    campaign_remind,
    task_remind,
    task_reminders_left,
)
from ..services.settings import campaign_settings_get, tenant_zone

# Actions only the people who run campaigns may take (sales members read their share only).
RUNNER_ACTIONS = {
    "create",
    "partial_update",
    "destroy",
    "preview",
    "send",
    "cancel",
    "remind",
    "refresh",
    "task_remind",
}
# The codes the dispatch and results services refuse a campaign's state with: a 409, not the request's fault.
STATE_CODES = {"not_sendable", "not_cancellable", "not_sent", "not_created", "already_sent", "remind_limit"}
EXPORT_CHUNK = 2_000
EXPORT_COLUMNS = ("target", "name", "status", "staff_userid", "staff_name", "chunk", "sent_at")

STATUS_PARAM = OpenApiParameter(
    "status",
    {"type": "array", "items": {"type": "string", "enum": RecipientStatus.values}},
    explode=True,
    description="Only recipients in these statuses (repeatable).",
)
STAFF_PARAM = OpenApiParameter(
    "staff",
    {"type": "array", "items": {"type": "integer", "minimum": 1}},
    explode=True,
    description="Only recipients these members send to (staff ids; repeatable).",
)
CONFLICT = {409: OpenApiResponse(description="The campaign's status does not allow it (type conflict).")}


@contextmanager
def state_conflicts() -> Iterator[None]:
    """A refusal for the campaign's state (raised by the services) as a 409."""
    try:
        yield
    except campaign_services.CampaignStateError as exc:
        raise Conflict(str(exc)) from exc
    except exceptions.ValidationError as exc:
        codes = _flat(exc.get_codes())
        if codes and all(code in STATE_CODES for code in codes):
            raise Conflict(" ".join(_flat(exc.detail))) from exc
        raise


def _flat(value) -> list[str]:
    """The leaves of a nested error detail (or of its codes)."""
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _flat(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _flat(v)]
    return [str(value)]


class CampaignPermission(RunnerActions):
    message = "Only tenant admins and operators run campaigns."


def _choices(request, name: str, values) -> list[str]:
    chosen = [v for v in request.query_params.getlist(name) if v != ""]
    wrong = [v for v in chosen if v not in values]
    if wrong:
        raise exceptions.ValidationError({name: [f"One of: {', '.join(values)}."]})
    return sorted(set(chosen))


@extend_schema(tags=["campaigns"])
@extend_schema_view(
    list=extend_schema(summary="Campaigns, newest first (sales: the ones with a task of theirs)"),
    retrieve=extend_schema(
        summary="A campaign with its content, plan and progress", responses=CampaignDetailSerializer
    ),
    create=extend_schema(
        summary="Create a draft campaign (honours Idempotency-Key)",
        request=CAMPAIGN_CREATE,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: CampaignDetailSerializer,
            200: OpenApiResponse(
                CampaignDetailSerializer, description="The campaign this Idempotency-Key made."
            ),
        },
    ),
    partial_update=extend_schema(
        summary="Change a draft or scheduled campaign",
        request=CampaignUpdateSerializer,
        responses={200: CampaignDetailSerializer, **CONFLICT},
    ),
    destroy=extend_schema(summary="Delete a draft", responses={204: None, **CONFLICT}),
)
class CampaignViewSet(TenantViewMixin, viewsets.GenericViewSet):
    queryset = Campaign.objects
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilter
    permission_classes = [CampaignPermission]
    runner_actions = RUNNER_ACTIONS
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    @property
    def filter_backends(self):
        return [DjangoFilterBackend] if self.action == "list" else []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no principal
            return Campaign.objects.none()
        return campaign_list(self.principal)

    def _detail_context(self) -> dict:
        return {"runs_campaigns": runs_campaigns(self.principal)}

    def _detail(self, campaign: Campaign) -> dict:
        campaign = self.get_queryset().get(pk=campaign.pk)
        return CampaignDetailSerializer(campaign, context=self._detail_context()).data

    def _campaign(self, pk) -> Campaign:
        return get_object_or_404(self.get_queryset(), pk=pk)

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(CampaignSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(self._detail(self._campaign(pk)))

    def create(self, request):
        data = by_chat_type(CREATE_SERIALIZERS, request.data).validated_data
        campaign, created = campaign_services.campaign_create(
            tenant=self.principal.tenant,
            actor=Actor.of(self.principal),
            idempotency_key=request.headers.get("Idempotency-Key", ""),
            **data,
        )
        return Response(
            self._detail(campaign), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    def partial_update(self, request, pk=None):
        campaign = self._campaign(pk)
        serializer = CampaignUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        with state_conflicts():
            campaign = campaign_services.campaign_update(
                campaign=campaign, data=serializer.validated_data, actor=Actor.of(self.principal)
            )
        return Response(self._detail(campaign))

    def destroy(self, request, pk=None):
        campaign = self._campaign(pk)
        with state_conflicts():
            campaign_services.campaign_delete(campaign=campaign, actor=Actor.of(self.principal))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="What a campaign to this audience would do now (or at scheduled_at): writes nothing",
        request=CAMPAIGN_PREVIEW,
        responses=PlanSerializer,
        description="Who receives it from which member, who does not and why (do-not-disturb, no member "
        "who can send, WeCom's receive limit, the tenant's marketing cap), the WeCom tasks per member, "
        "and a sample of the skipped. The same plan is written when the campaign is sent.",
    )
    @action(detail=False, methods=["post"])
    def preview(self, request):
        data = by_chat_type(PREVIEW_SERIALIZERS, request.data).validated_data
        tenant = self.principal.tenant
        audience = audience_clean(tenant=tenant, chat_type=data["chat_type"], audience=data["audience"])
        at = campaign_services.scheduled_at_clean(
            data.get("scheduled_at"), settings=campaign_settings_get(tenant=tenant)
        )
        plan = plan_build(tenant=tenant, chat_type=data["chat_type"], audience=audience, at=at)
        return Response(PlanSerializer(plan.figures()).data)

    @extend_schema(
        summary="Send now, or schedule for scheduled_at",
        request=SendSerializer,
        responses={200: CampaignDetailSerializer, **CONFLICT},
        description="A draft or scheduled campaign. Now: its WeCom tasks are created in the background "
        "(status dispatching; follow dispatch.done/total). Its content and audience are checked again.",
    )
    @action(detail=True, methods=["post"])
    def send(self, request, pk=None):
        campaign = self._campaign(pk)
        data = SendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with state_conflicts():
            campaign = campaign_services.campaign_send(
                campaign=campaign,
                scheduled_at=data.validated_data.get("scheduled_at"),
                actor=Actor.of(self.principal),
            )
        return Response(self._detail(campaign))

    @extend_schema(
        summary="Cancel what has not been sent",
        request=None,
        responses={200: CancelResultSerializer, **CONFLICT},
        description="A draft or scheduled campaign is cancelled; a dispatching or sent one has its WeCom "
        "tasks cancelled (what members sent already stays sent).",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        campaign = self._campaign(pk)
        with state_conflicts():
            result = campaign_cancel(campaign=campaign, actor=Actor.of(self.principal))
        campaign = self.get_queryset().get(pk=campaign.pk)
        body = CancelResultSerializer({**result, "campaign": campaign}, context=self._detail_context()).data
        return Response(body)

    @extend_schema(
        summary="Remind the members who have not sent their share (one reminder per member)",
        request=None,
        responses={200: RemindResultSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def remind(self, request, pk=None):
        campaign = self._campaign(pk)
        with state_conflicts():
            result = campaign_remind(campaign=campaign, actor=Actor.of(self.principal))
        return Response(RemindResultSerializer(result).data)

    @extend_schema(
        summary="Read WeCom's results now (in the background)",
        request=None,
        responses={202: CampaignDetailSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def refresh(self, request, pk=None):
        campaign = self._campaign(pk)
        if campaign.status not in (CampaignStatus.SENT, CampaignStatus.CANCELLED):
            raise Conflict("Only a sent (or cancelled) campaign still collecting results can be refreshed.")
        campaign_refresh(campaign=campaign)
        return Response(self._detail(campaign), status=status.HTTP_202_ACCEPTED)

    def _task_row(self, task: CampaignTask, campaign: Campaign, now) -> dict:
        return {
            "id": task.pk,
            "staff": {"id": task.staff_id, "userid": task.staff.userid, "name": task.staff.name},
            "chunk": task.chunk,
            "status": task.status,
            "msgid": task.msgid,
            "recipients": task.recipients,
            "confirmed_at": task.confirmed_at,
            "sent": task.sent,
            "not_friend": task.not_friend,
            "over_limit": task.over_limit,
            "failed": task.failed,
            "error": task.error or {},
            "reminded_at": list(task.reminded_at or ()),
            "reminders_left": task_reminders_left(task, now=now),
            "can_remind": runs_campaigns(self.principal) and task_can_remind(task, campaign, now=now),
        }

    @extend_schema(
        summary="The campaign's WeCom tasks, one per member and chunk (sales: their own)",
        responses=TaskSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def tasks(self, request, pk=None):
        campaign = self._campaign(pk)
        page = self.paginate_queryset(campaign_tasks(self.principal, campaign))
        now = timezone.now()
        rows = [self._task_row(task, campaign, now) for task in page]
        return self.get_paginated_response(TaskSerializer(rows, many=True).data)

    @extend_schema(
        summary="Remind one member to send their task (WeCom allows 3 reminders in 24 hours)",
        request=None,
        parameters=[OpenApiParameter("task_id", int, OpenApiParameter.PATH)],
        responses={200: TaskSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"], url_path=f"tasks/(?P<task_id>{ID_PATTERN})/remind")
    def task_remind(self, request, pk=None, task_id=None):
        campaign = self._campaign(pk)
        task = get_object_or_404(campaign_tasks(self.principal, campaign), pk=task_id)
        if campaign.status != CampaignStatus.SENT:
            raise Conflict("Only a sent campaign's tasks can be reminded.")
        with state_conflicts():
            task_remind(task=task, actor=Actor.of(self.principal))
        task = campaign_tasks(self.principal, campaign).get(pk=task.pk)
        return Response(TaskSerializer(self._task_row(task, campaign, timezone.now())).data)

    def _recipients(self, request, campaign: Campaign):
        return campaign_recipients(
            self.principal,
            campaign,
            statuses=_choices(request, "status", RecipientStatus.values),
            staff_ids=query_ids(request, "staff"),
        )

    @extend_schema(
        summary="The campaign's recipients and what became of each (sales: their own)",
        parameters=[STATUS_PARAM, STAFF_PARAM],
        responses=RecipientSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def recipients(self, request, pk=None):
        campaign = self._campaign(pk)
        recipients = (
            self._recipients(request, campaign)
            .select_related("contact", "group", "task__staff")
            .order_by("-id")
        )
        page = self.paginate_queryset(recipients)
        rows = [
            {
                "id": r.pk,
                "target": r.target,
                "contact": {"id": r.contact.pk, "name": r.contact.name, "avatar": r.contact.avatar}
                if r.contact
                else None,
                "group": {"id": r.group.pk, "name": r.group.name} if r.group else None,
                "status": r.status,
                "staff": {"id": r.task.staff_id, "userid": r.task.staff.userid, "name": r.task.staff.name}
                if r.task
                else None,
                "chunk": r.task.chunk if r.task else None,
                "sent_at": r.sent_at,
            }
            for r in page
        ]
        return self.get_paginated_response(RecipientSerializer(rows, many=True).data)

    @extend_schema(
        summary="The recipients as CSV (UTF-8 with BOM, for Excel), with the list's filters",
        parameters=[STATUS_PARAM, STAFF_PARAM],
        responses={(200, "text/csv"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"], url_path="recipients/export", pagination_class=None)
    def export(self, request, pk=None):
        campaign = self._campaign(pk)
        recipients = self._recipients(request, campaign)
        tenant = self.principal.tenant
        zone = tenant_zone(tenant=tenant)
        response = StreamingHttpResponse(
            _csv_rows(tenant, recipients, campaign.chat_type, zone), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.localtime(timezone=zone).strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = (
            f'attachment; filename="campaign-{campaign.pk}-recipients-{stamp}.csv"'
        )
        return response


def _csv_rows(tenant, recipients, chat_type: str, zone) -> Iterator[bytes]:
    """The CSV a chunk of rows at a time (keyset by id): memory stays flat for 100,000 recipients.

    Runs after the view returned, when the request's tenant context is gone: it sets its own.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> bytes:
        data = buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        return data

    yield "\ufeff".encode()  # Excel recognises UTF-8 (Chinese names) by it
    writer.writerow(EXPORT_COLUMNS)
    yield flush()
    name = "group__name" if chat_type == "group" else "contact__name"
    last = 0
    with tenant_context(tenant):
        rows = recipients.order_by("id").values_list(
            "id",
            "target",
            name,
            "status",
            "task__staff__userid",
            "task__staff__name",
            "task__chunk",
            "sent_at",
        )
        while True:
            chunk = list(rows.filter(id__gt=last)[:EXPORT_CHUNK])
            if not chunk:
                return
            for _pk, target, who, state, userid, staff_name, task_chunk, sent_at in chunk:
                sent = timezone.localtime(sent_at, zone).strftime("%Y-%m-%d %H:%M:%S") if sent_at else ""
                writer.writerow(
                    [csv_cell(v) for v in (target, who, state, userid, staff_name, task_chunk, sent)]
                )
            last = chunk[-1][0]
            yield flush()


router = SimpleRouter(trailing_slash=True)
router.register("campaigns", CampaignViewSet, basename="campaign")

urlpatterns = router.urls
