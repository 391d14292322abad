"""The materials list's filters. Repeatable parameters are ORed; different parameters are ANDed."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, Q

from scrm.api.filters import BooleanFilter, FilterSet, IdsFilter, MultipleChoiceFilter

from .models import Material, MaterialKind, MaterialTagging


class MaterialFilter(FilterSet):
    kind = MultipleChoiceFilter(choices=MaterialKind.choices, help_text="Repeatable.")
    folder = IdsFilter(field_name="folder_id", help_text="In this folder (id; repeatable).")
    no_folder = BooleanFilter(method="filter_no_folder", help_text="true: only materials in no folder.")
    tag = django_filters.CharFilter(method="filter_tag", help_text="Carries this tag (its name).")
    id = IdsFilter(field_name="id", help_text="These materials (ids; repeatable): what a message holds.")
    q = django_filters.CharFilter(
        method="filter_q", help_text="Title, text, description or file name contains."
    )

    class Meta:
        model = Material
        fields = ["kind", "folder", "tag", "id"]

    def filter_no_folder(self, queryset, name, value):
        return queryset.filter(folder__isnull=True) if value else queryset

    def filter_tag(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        # EXISTS, not a join: the tag cannot repeat a material in the list.
        return queryset.filter(
            Exists(MaterialTagging.objects.filter(material=OuterRef("pk"), tag__name=value))
        )

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(title__icontains=value)
            | Q(text__icontains=value)
            | Q(description__icontains=value)
            | Q(filename__icontains=value)
        )
