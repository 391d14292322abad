"""The content library (素材库): texts, images, links, mini programs, videos and files, kept once and
reused by welcome messages, group welcome templates, mass messages and, later, Moments and SOPs.

A material's bytes (an image, a video, a file) are kept through Django's storage API (the local
MEDIA_ROOT, or an S3-compatible bucket: docs/library.md); WeCom only ever gets a copy. The WeCom
``media_id`` of that copy lives three days, so it is a cache (``media_id`` + ``media_uploaded_at``)
that ``library.services`` renews. Link and mini program cards point at an image material for their
cover (``cover``). Who uses a material is recorded in ``MaterialUse``: the usage counts, and the
reason a material in use cannot be deleted. A deleted material is kept (``deleted_at``) so that what
was sent with it can still be shown.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from scrm.tenancy.models import TenantModel


class MaterialKind(models.TextChoices):
    TEXT = "text", "Text"
    IMAGE = "image", "Image"
    LINK = "link", "Link"
    MINIPROGRAM = "miniprogram", "Mini program"
    VIDEO = "video", "Video"
    FILE = "file", "File"


class Folder(TenantModel):
    """A flat folder: one level is what operators sort a library into (活动, 产品, 节日...)."""

    name = models.CharField(max_length=60)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="folder_unique_name")]

    def __str__(self) -> str:
        return self.name


class MaterialTag(TenantModel):
    """A free label on materials, made the first time a material is saved with it."""

    name = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="materialtag_unique_name")]

    def __str__(self) -> str:
        return self.name


class Material(TenantModel):
    kind = models.CharField(max_length=16, choices=MaterialKind.choices)
    # What the library lists it as; for a link or a mini program also the card's title in WeCom.
    title = models.CharField(max_length=128)
    folder = models.ForeignKey(
        Folder, null=True, blank=True, on_delete=models.SET_NULL, related_name="materials"
    )
    text = models.TextField(blank=True)  # text
    url = models.CharField(max_length=2048, blank=True)  # link
    description = models.CharField(max_length=512, blank=True)  # link
    # link: a cover by URL, sent to WeCom as is (never fetched by us); a cover image wins over it.
    picture_url = models.CharField(max_length=2048, blank=True)
    appid = models.CharField(max_length=32, blank=True)  # miniprogram
    page = models.CharField(max_length=255, blank=True)  # miniprogram
    # link, miniprogram: an image material drawn on the card.
    cover = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="covered")
    # image, video, file: the bytes, through the default storage.
    file = models.FileField(upload_to="materials/%Y/%m/", blank=True, max_length=255)
    filename = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    # WeCom's copy (media/upload): reused while fresh, uploaded again after (library.services).
    media_id = models.CharField(max_length=255, blank=True)
    media_uploaded_at = models.DateTimeField(null=True, blank=True)
    # image, video: WeCom's copy for Moments (media/upload_attachment, a separate store from media/upload),
    # reused while fresh like media_id.
    moment_media_id = models.CharField(max_length=255, blank=True)
    moment_media_uploaded_at = models.DateTimeField(null=True, blank=True)
    # image: its permanent address in WeCom (media/uploadimg), for link covers; never expires.
    wecom_url = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_api_key = models.ForeignKey(
        "tenancy.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["tenant", "kind", "-id"], name="material_tenant_kind"),
            models.Index(fields=["tenant", "folder", "-id"], name="material_tenant_folder"),
            models.Index(fields=["tenant", "sha256"], name="material_tenant_sha256"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.kind})"


class MaterialTagging(TenantModel):
    material = models.ForeignKey(Material, on_delete=models.CASCADE, related_name="taggings")
    tag = models.ForeignKey(MaterialTag, on_delete=models.CASCADE, related_name="taggings")

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "material", "tag"], name="materialtagging_unique"),
        ]
        indexes = [models.Index(fields=["tenant", "tag"], name="materialtagging_tenant_tag")]


class MaterialUse(TenantModel):
    """One owner (a channel code, a campaign...) using one material: written by the owner's save.

    ``owner_type`` names the kind of owner (``library.services.material_usage_set``); ``owner_id`` is its
    id in its own table, so the library depends on no app that uses it.
    """

    material = models.ForeignKey(Material, on_delete=models.PROTECT, related_name="uses")
    owner_type = models.CharField(max_length=32)
    owner_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "owner_type", "owner_id", "material"], name="materialuse_unique"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "material"], name="materialuse_tenant_material")]

    def __str__(self) -> str:
        return f"{self.owner_type} {self.owner_id} uses {self.material_id}"
