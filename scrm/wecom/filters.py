import django_filters

from .models import CallbackEvent, EventStatus


class CallbackEventFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=EventStatus.choices)
    event = django_filters.CharFilter()
    change_type = django_filters.CharFilter()
    received_after = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = django_filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="lt")

    class Meta:
        model = CallbackEvent
        fields = ["status", "event", "change_type"]
