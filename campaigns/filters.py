"""The campaigns list's filters: status (repeatable), chat type and a search on the name."""

from __future__ import annotations

import django_filters

from scrm.api.filters import FilterSet, MultipleChoiceFilter

from .models import Campaign, CampaignStatus, ChatType


class CampaignFilter(FilterSet):
    status = MultipleChoiceFilter(choices=CampaignStatus.choices, distinct=False, help_text="Repeatable.")
    chat_type = django_filters.ChoiceFilter(choices=ChatType.choices)
    search = django_filters.CharFilter(method="filter_search", help_text="Name contains.")

    class Meta:
        model = Campaign
        fields = ["status", "chat_type"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(name__icontains=value) if value else queryset
