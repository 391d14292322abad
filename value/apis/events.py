"""``POST /events/``: integrators push orders and custom events in batches (admins, operators and
their API keys; sales 403). ``GET /orders/``: the orders pushed, newest paid first, within the caller's
data scope (a sales member sees its own customers' orders; a contact it cannot see is a 404, as is
another tenant's).
"""

from __future__ import annotations

import re

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, viewsets
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from contacts.models import Contact
from contacts.selectors import contact_scope_q
from scrm.api.permissions import IsTenantAdminOrOperator, IsTenantMember
from scrm.api.viewsets import ID_PATTERN, TenantAPIView, TenantViewMixin
from scrm.tenancy.actors import Actor

from ..models import Order
from ..serializers_ingest import IngestRequestSerializer, IngestResponseSerializer, OrderSerializer
from ..services.ingest import MAX_BATCH, events_ingest

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Send the batch again with the same key (within 24 hours) and get the first answer, "
    "with `Idempotent-Replay: true`, nothing ingested twice; the same key with another body is a 409 "
    "(idempotency_key_reused). Keys are per API key or member.",
)
REPLAY_HEADER = "Idempotent-Replay"
REPLAY = OpenApiParameter(
    REPLAY_HEADER,
    {"type": "string", "enum": ["true"]},
    OpenApiParameter.HEADER,
    response=[200],
    description="Present (true) when this is the stored answer to an earlier request with this key.",
)


class IngestPermission(IsTenantAdminOrOperator):
    message = "Only tenant admins and operators (or their API keys) push events."


class EventsIngestView(TenantAPIView):
    permission_classes = [IngestPermission]
    serializer_class = IngestRequestSerializer

    @extend_schema(
        tags=["value"],
        summary="Push orders and custom events (a batch of up to 1,000)",
        description=f"Up to {MAX_BATCH} orders and custom events, each validated on its own: the answer "
        "(200 whenever the body is an object with 1 to 1,000 events) says per event whether it was "
        "accepted, updated (an order's refund grew), a duplicate, pending (its customer is not known yet) "
        "or failed, and why. Everything accepted is written at once. See docs/api.md, 'Events and orders'.",
        request=IngestRequestSerializer,
        parameters=[IDEMPOTENCY_KEY, REPLAY],
        responses={
            200: IngestResponseSerializer,
            409: OpenApiResponse(
                description="This Idempotency-Key came with another body (idempotency_key_reused)."
            ),
        },
    )
    def post(self, request):
        data = IngestRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = events_ingest(
            items=data.validated_data["events"],
            actor=Actor.of(self.principal),
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        return Response(outcome.response, headers={REPLAY_HEADER: "true"} if outcome.replayed else None)


class NewestPaidFirst(OrderingFilter):
    """The one order of the list, declared as a filter backend so that cursor pagination pages in the
    same order as page numbers do. Takes no parameter."""

    ordering = ("-paid_at", "-id")

    def get_ordering(self, request, queryset, view):
        return self.ordering

    def filter_queryset(self, request, queryset, view):
        return queryset.order_by(*self.ordering)

    def get_schema_operation_parameters(self, view):
        return []


CONTACT_PARAM = OpenApiParameter(
    "contact",
    {"type": "integer", "minimum": 1},
    description="Only this customer's orders (404 if you cannot see it).",
)


@extend_schema(tags=["value"])
class OrderViewSet(TenantViewMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = Order.objects
    serializer_class = OrderSerializer
    permission_classes = [IsTenantMember]
    filter_backends = [NewestPaidFirst]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no principal
            return Order.objects.none()
        orders = Order.objects.all()
        scope = contact_scope_q(self.principal)
        if scope:  # admins and operators see every customer: no join
            orders = orders.filter(contact__in=Contact.objects.filter(scope))
        raw = self.request.query_params.get("contact")
        if raw:
            if not re.fullmatch(ID_PATTERN, raw):
                raise exceptions.ValidationError({"contact": ["A contact id (a whole number)."]})
            if not Contact.objects.filter(scope, pk=int(raw)).exists():
                raise exceptions.NotFound("No such customer in your tenant and scope.")
            orders = orders.filter(contact_id=int(raw))
        return orders

    @extend_schema(
        summary="Orders pushed by integrators, newest paid first (sales: their customers')",
        parameters=[CONTACT_PARAM],
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


router = SimpleRouter(trailing_slash=True)
router.register("orders", OrderViewSet, basename="order")

urlpatterns = [
    path("events/", EventsIngestView.as_view(), name="events-ingest"),
    *router.urls,
]
