"""The content library's reads: the materials list, and what goes with a page of it."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Q, QuerySet

from .models import Folder, Material, MaterialTag, MaterialTagging, MaterialUse


def materials_live() -> QuerySet[Material]:
    """The library's materials (deleted ones are kept for what was sent with them, not listed)."""
    return Material.objects.filter(deleted_at__isnull=True).select_related(
        "created_by", "created_by_api_key", "cover"
    )


def material_kinds(attachments: Iterable[dict]) -> dict[int, str]:
    """Material id → kind, for references ``{"material_id": N}`` (deleted ones included)."""
    ids = [a["material_id"] for a in attachments if a and isinstance(a.get("material_id"), int)]
    return dict(Material.objects.filter(pk__in=ids).values_list("pk", "kind")) if ids else {}


def materials_page_context(materials: list[Material]) -> dict:
    """What a page of materials shows beside its rows, in two queries: tag names and usage counts."""
    ids = [m.pk for m in materials]
    tags: dict[int, list[str]] = {pk: [] for pk in ids}
    for material_id, name in (
        MaterialTagging.objects.filter(material_id__in=ids)
        .order_by("tag__name")
        .values_list("material_id", "tag__name")
    ):
        tags[material_id].append(name)
    usage: dict[int, dict[str, int]] = {pk: {} for pk in ids}
    for row in (
        MaterialUse.objects.filter(material_id__in=ids)
        .values("material_id", "owner_type")
        .annotate(n=Count("id"))
        .order_by("owner_type")
    ):
        usage[row["material_id"]][row["owner_type"]] = row["n"]
    return {"tags": tags, "usage": usage}


def folders_with_counts() -> QuerySet[Folder]:
    return Folder.objects.annotate(
        material_count=Count("materials", filter=Q(materials__deleted_at__isnull=True))
    ).order_by("name", "id")


def tags_with_counts() -> QuerySet[MaterialTag]:
    """The tags on live materials, with how many carry each (the library's tag filter)."""
    return (
        MaterialTag.objects.annotate(
            material_count=Count("taggings", filter=Q(taggings__material__deleted_at__isnull=True))
        )
        .filter(material_count__gt=0)
        .order_by("name", "id")
    )
