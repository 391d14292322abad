"""What ``POST /api/v1/events/`` takes and answers, and the rows of ``GET /api/v1/orders/``.

The batch's shape is checked here (an object with 1 to 1,000 events, each a JSON object); the events
themselves are validated one by one by ``value.services.ingest.item_clean``, so that a bad one fails
alone, with its errors in the answer, instead of refusing the batch. That is also why the schema
describes each event's fields in words rather than as a JSON Schema a whole request would be
refused for.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field

from scrm.api import serializers

from .models import OrderStatus
from .services.ingest import IDENTITY_KINDS, MAX_BATCH, MAX_PROPERTIES_BYTES, Status

EVENT_DESCRIPTION = f"""One order or custom event. Every event is validated on its own: a wrong one
fails in `results` with its errors; the others go on.

Both kinds: `type` ("order" or "custom"), `source` (your system, `[a-z0-9_.-]{{1,32}}`), `external_id`
(its id there, at most 64 characters; unique per source and type: a repeat is a duplicate), `customer`
(exactly one of {", ".join(f"`{kind}`" for kind in IDENTITY_KINDS)}: `{{"unionid": "o…"}}`), `occurred_at`
(ISO 8601; without an offset, the tenant's time zone; at most a day ahead).

An order: `amount` ("199.00": more than 0, 2 decimals), `currency` (the tenant's, else
`currency_mismatch`), `items` (optional lines `{{"sku", "name", "quantity", "price"}}`), `status`
("paid" or "refunded"), `refunded_amount` (with "refunded"; absent: all of it), `refunded_at` (optional,
default now). Pushing it again with a larger `refunded_amount` records the difference as a refund.

A custom event: `name` (`[A-Za-z0-9_.:-]{{1,64}}`), `properties` (a JSON object, at most
{MAX_PROPERTIES_BYTES} bytes)."""


@extend_schema_field({"type": "object", "additionalProperties": True, "description": EVENT_DESCRIPTION})
class EventField(serializers.Field):
    """Any JSON object, as is (``item_clean`` validates it); anything else is the batch's error."""

    default_error_messages = {"not_an_object": "Each event is a JSON object."}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_an_object")
        return data

    def to_representation(self, value):
        return value


class IngestRequestSerializer(serializers.Serializer):
    events = serializers.ListField(
        child=EventField(),
        min_length=1,
        max_length=MAX_BATCH,
        help_text=f"1 to {MAX_BATCH} events (more: 400 on `events`).",
    )


class IngestErrorSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="invalid, required, currency_mismatch, unknown_customer, ambiguous_customer, "
        "order_conflict, future, ..."
    )
    message = serializers.CharField()


class IngestResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The event's position in `events`, from 0.")
    status = serializers.ChoiceField(
        choices=[Status.ACCEPTED, Status.UPDATED, Status.DUPLICATE, Status.PENDING, Status.FAILED],
        help_text="accepted (new), updated (an order's refund grew), duplicate (known already: nothing "
        "written), pending (its customer is not known yet: kept, and ingested when they appear), failed.",
    )
    contact_id = serializers.IntegerField(allow_null=True, help_text="The customer it was recorded for.")
    errors = serializers.DictField(
        child=serializers.ListField(child=IngestErrorSerializer()),
        allow_null=True,
        help_text="Failed only: by field path (`amount`, `customer.mobile`, `items.0.price`).",
    )


class IngestResponseSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    accepted = serializers.IntegerField()
    updated = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    pending = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = IngestResultSerializer(many=True)


class OrderLineSerializer(serializers.Serializer):
    sku = serializers.CharField(required=False)
    name = serializers.CharField(required=False)
    quantity = serializers.IntegerField()
    price = serializers.CharField(required=False, help_text='A decimal as a string: "199.00".')


class OrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    contact_id = serializers.IntegerField()
    source = serializers.CharField()
    external_id = serializers.CharField()
    amount = serializers.CharField(help_text='A decimal as a string: "199.00".')
    currency = serializers.CharField()
    items = OrderLineSerializer(many=True)
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    refunded_amount = serializers.CharField(help_text='"0.00" when nothing was refunded.')
    paid_at = serializers.DateTimeField()
    refunded_at = serializers.DateTimeField(allow_null=True)
