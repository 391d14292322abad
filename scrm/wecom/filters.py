import django_filters

from scrm.api.filters import FilterSet, MultipleChoiceFilter, UtcDateTimeFilter

from .models import CallbackEvent, EventStatus


class CallbackEventFilter(FilterSet):
    status = MultipleChoiceFilter(choices=EventStatus.choices)
    event = django_filters.CharFilter()
    change_type = django_filters.CharFilter()
    received_after = UtcDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = UtcDateTimeFilter(field_name="received_at", lookup_expr="lt")

    class Meta:
        model = CallbackEvent
        fields = ["status", "event", "change_type"]
