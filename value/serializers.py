"""Shapes of the value API (a customer's value, the tiers overview, the breakdowns, the thresholds).

Answers are built by the selectors; these say what each field is, for the schema and the dashboard's
generated types. docs/value.md explains every figure.
"""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers as drf

from scrm.api import serializers

from .models import Tier, ValueSettings
from .services.breakdown import BY
from .services.settings import DAYS_MAX, DAYS_MIN, EXPIRE_DAYS_MAX, LTV_MAX

TIER_HELP = "new, active, silent, high_value or lost (docs/value.md)."


class ScorePartsSerializer(serializers.Serializer):
    recency = serializers.IntegerField(
        help_text="0–40: 40 × (1 − days since the last interaction / silent_days)."
    )
    frequency = serializers.IntegerField(
        help_text="0–30: 30 × weighted interactions of the last 90 days / 20."
    )
    value = serializers.IntegerField(help_text="0–30: 30 × LTV / high_value_ltv.")


class LastInteractionSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="The ContactEvent type (moment_liked, purchased, …).")
    at = serializers.DateTimeField()


class TierMoveSerializer(serializers.Serializer):
    # "from" is a Python keyword: the field is declared under another name and renamed below.
    # Plain strings: the tiers' enum is published once, as the ``tier`` fields' (a choice field here
    # would publish the same choices again under other names).
    from_ = serializers.CharField(help_text="The tier before (new, active, silent, high_value, lost).")
    to = serializers.CharField(help_text="The tier after.")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class TierHistoryItemSerializer(TierMoveSerializer):
    at = serializers.DateTimeField(help_text="When the pass saw the change.")


class ContactLevelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    color = serializers.CharField()


class NextLevelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    min_points = serializers.IntegerField(help_text="Points earned in all that reach it.")


class ContactPointsSummarySerializer(serializers.Serializer):
    balance = serializers.IntegerField()
    earned_total = serializers.IntegerField(
        help_text="Every point ever earned or granted: what levels go by."
    )
    level = ContactLevelSerializer(allow_null=True)
    next_level = NextLevelSerializer(allow_null=True, help_text="The next level up; null at the top.")


class ContactValueSerializer(serializers.Serializer):
    """A customer's value, score and tier, why, and its points. Zeros and nulls (tier null) before the
    first pass computed it."""

    contact_id = serializers.IntegerField()
    computed_at = serializers.DateTimeField(
        allow_null=True, help_text="The figures hold as of this time (the last pass that read this customer)."
    )
    ltv = drf.DecimalField(
        max_digits=14, decimal_places=2, help_text="Orders net of refunds, in the currency below."
    )
    currency = serializers.CharField()
    orders = serializers.IntegerField(help_text="Orders not refunded in full.")
    average_order_value = drf.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True, help_text="ltv / orders; null without orders."
    )
    first_purchase_at = serializers.DateTimeField(allow_null=True)
    last_purchase_at = serializers.DateTimeField(allow_null=True)
    days_since_last_purchase = serializers.IntegerField(allow_null=True, help_text="Whole days, counted now.")
    repurchased = serializers.BooleanField(help_text="Two orders or more.")
    score = serializers.IntegerField(help_text="0–100: recency + frequency + value.")
    score_parts = ScorePartsSerializer()
    interactions_90d = serializers.IntegerField(help_text="Weighted interactions of the last 90 days.")
    last_interaction = LastInteractionSerializer(allow_null=True)
    tier = serializers.ChoiceField(choices=Tier.choices, allow_null=True, help_text=TIER_HELP)
    tier_since = serializers.DateTimeField(allow_null=True)
    explanation = serializers.JSONField(
        allow_null=True,
        help_text="Why the tier: {tier, code (lost, new_days, no_interaction, silent_days, high_value_ltv, "
        "active), days, last_type, last_at, ltv, currency, new_days, silent_days, high_value_ltv, "
        "days_since_added, text (the English sentence)}.",
    )
    tier_history = TierHistoryItemSerializer(many=True, help_text="The latest 20 changes, newest first.")
    points = ContactPointsSummarySerializer()


class TierCountSerializer(serializers.Serializer):
    tier = serializers.ChoiceField(choices=Tier.choices)
    count = serializers.IntegerField()
    share = serializers.FloatField(help_text="count / total (0 to 1).")


class TierMoveCountSerializer(TierMoveSerializer):
    count = serializers.IntegerField()


class TiersOverviewSerializer(serializers.Serializer):
    computed_at = serializers.DateTimeField(
        allow_null=True, help_text="When a pass last brought figures up to date."
    )
    total = serializers.IntegerField(help_text="Customers with computed figures (within the caller's scope).")
    tiers = TierCountSerializer(
        many=True, help_text="All five, in order: new, active, silent, high_value, lost."
    )
    average_score = serializers.FloatField(allow_null=True)
    moves = TierMoveCountSerializer(many=True, help_text="Tier changes of the last 7 days, most first.")


class BreakdownQuerySerializer(serializers.Serializer):
    by = serializers.ChoiceField(
        choices=BY, help_text="channel, staff (member) or cohort (month first added)."
    )


class BreakdownRowSerializer(serializers.Serializer):
    key = serializers.CharField(
        help_text="The channel code's state, the member's userid, or YYYY-MM; '' for none."
    )
    label = serializers.CharField(help_text="The channel code's name, the member's name, or YYYY-MM.")
    customers = serializers.IntegerField()
    paying = serializers.IntegerField(help_text="Customers with an order not refunded in full.")
    orders = serializers.IntegerField()
    ltv = drf.DecimalField(max_digits=16, decimal_places=2)
    average_ltv = drf.DecimalField(max_digits=16, decimal_places=2, help_text="ltv / paying.")
    repurchase_rate = serializers.FloatField(help_text="Paying customers with 2+ orders / paying (0 to 1).")


class BreakdownSerializer(serializers.Serializer):
    by = serializers.ChoiceField(choices=BY)
    rows = BreakdownRowSerializer(many=True)


# drf-spectacular publishes a DecimalField with a pattern that admits "" (every part optional), which
# the field refuses: say what it takes, so a schema-valid request is a valid one.
# From 0.01: no zero amount.
@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": r"^([1-9][0-9]{0,9}(\.[0-9]{1,2})?|0\.(0[1-9]|[1-9][0-9]?))$",
    }
)
class AmountField(drf.DecimalField):
    pass


class ValueSettingsSerializer(serializers.ModelSerializer):
    """The tenant's thresholds and currency (docs/value.md explains what each one moves)."""

    currency = serializers.RegexField(
        r"^[A-Z]{3}\Z", required=False, help_text="ISO 4217 (CNY): the only currency orders are accepted in."
    )
    new_days = serializers.IntegerField(
        min_value=DAYS_MIN, max_value=DAYS_MAX, required=False, help_text="新: first added within these days."
    )
    silent_days = serializers.IntegerField(
        min_value=DAYS_MIN,
        max_value=DAYS_MAX,
        required=False,
        help_text="沉默: no interaction for these days (also where recency reaches 0).",
    )
    high_value_ltv = AmountField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=LTV_MAX,
        required=False,
        help_text="高价值: LTV from this amount (also where the value part reaches 30).",
    )
    points_expire_days = serializers.IntegerField(
        min_value=0, max_value=EXPIRE_DAYS_MAX, required=False, help_text="Points expire after; 0: never."
    )

    class Meta:
        model = ValueSettings
        fields = ["currency", "new_days", "silent_days", "high_value_ltv", "points_expire_days", "updated_at"]
        read_only_fields = ["updated_at"]


class RecomputeSerializer(serializers.Serializer):
    queued = serializers.BooleanField()
