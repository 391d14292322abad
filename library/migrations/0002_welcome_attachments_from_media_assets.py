"""Welcome attachments become references to library materials.

Each uploaded welcome image (``contacts.MediaAsset``) becomes an image material (the same stored file,
and its WeCom media id while it is fresh); each link or mini program written inline in a welcome (a
channel code's, the tenant default's) or in a group welcome template becomes a link or mini program
material (the same one for identical inline copies in a tenant). The stored JSON is rewritten to
``{"material_id": N}`` and each owner is recorded as using its materials. contacts' next migration
then drops MediaAsset. Backwards only the schema goes back (for a development database): the
welcomes keep their references and MediaAsset returns empty.
"""

from django.db import migrations

LINK_FIELDS = ("title", "url", "description", "picture_url")
MINIPROGRAM_FIELDS = ("title", "appid", "page")


class Converter:
    def __init__(self, apps, tenant_id):
        self.Material = apps.get_model("library", "Material")
        self.MaterialUse = apps.get_model("library", "MaterialUse")
        self.MediaAsset = apps.get_model("contacts", "MediaAsset")
        self.tenant_id = tenant_id
        self.images: dict[int, int] = {}  # MediaAsset id → Material id
        self.cards: dict[tuple, int] = {}  # an inline link/mini program's fields → Material id

    def image(self, asset_id):
        if asset_id in self.images:
            return self.images[asset_id]
        asset = self.MediaAsset.objects.filter(pk=asset_id, tenant_id=self.tenant_id).first()
        if asset is None:
            return None
        material = self.Material.objects.create(
            tenant_id=self.tenant_id,
            kind="image",
            title=(asset.filename.rsplit(".", 1)[0] or "image")[:128],
            file=asset.file.name,
            filename=asset.filename,
            content_type=asset.content_type,
            size=asset.size,
            sha256=asset.sha256,
            media_id=asset.media_id,
            media_uploaded_at=asset.media_uploaded_at,
            created_by_id=asset.created_by_id,
            created_by_api_key_id=asset.created_by_api_key_id,
        )
        self.images[asset_id] = material.pk
        return material.pk

    def card(self, kind, item, cover_asset=None):
        fields = LINK_FIELDS if kind == "link" else MINIPROGRAM_FIELDS
        values = {f: str(item.get(f) or "").strip() for f in fields}
        cover = self.image(cover_asset) if cover_asset is not None else None
        if kind == "miniprogram" and cover is None:
            return None  # WeCom cannot send a mini program without its cover: it never was sendable
        key = (kind, cover, *sorted(values.items()))
        if key not in self.cards:
            material = self.Material.objects.create(
                tenant_id=self.tenant_id, kind=kind, cover_id=cover, **values
            )
            if cover is not None:
                self.use("material", material.pk, [cover])
            self.cards[key] = material.pk
        return self.cards[key]

    def welcome_item(self, item):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "image":
            return self.image(item.get("media"))
        if kind in ("link", "miniprogram"):
            return self.card(kind, item, item.get("media") if kind == "miniprogram" else None)
        return None

    def template_item(self, item):
        kind = item.get("msgtype") if isinstance(item, dict) else None
        if kind == "image":
            return self.image(item.get("media_asset_id"))
        if kind in ("link", "miniprogram"):
            return self.card(kind, item, item.get("media_asset_id") if kind == "miniprogram" else None)
        return None

    def welcome(self, value):
        """The welcome rewritten, and the materials it uses."""
        if not isinstance(value, dict) or not value:
            return value, []
        ids = [self.welcome_item(item) for item in value.get("attachments") or []]
        ids = [pk for pk in ids if pk is not None]
        return {**value, "attachments": [{"material_id": pk} for pk in ids]}, ids

    def use(self, owner_type, owner_id, ids):
        for pk in dict.fromkeys(ids):
            self.MaterialUse.objects.get_or_create(
                tenant_id=self.tenant_id, owner_type=owner_type, owner_id=owner_id, material_id=pk
            )


def forward(apps, schema_editor):
    Tenant = apps.get_model("tenancy", "Tenant")
    ContactWay = apps.get_model("contacts", "ContactWay")
    ContactSettings = apps.get_model("contacts", "ContactSettings")
    GroupWelcomeTemplate = apps.get_model("groups", "GroupWelcomeTemplate")
    MediaAsset = apps.get_model("contacts", "MediaAsset")
    for tenant_id in Tenant.objects.values_list("pk", flat=True).order_by("pk"):
        convert = Converter(apps, tenant_id)
        # Uploaded images no welcome uses yet are kept too: they were someone's uploads.
        for asset_id in (
            MediaAsset.objects.filter(tenant_id=tenant_id).order_by("pk").values_list("pk", flat=True)
        ):
            convert.image(asset_id)
        for way in ContactWay.objects.filter(tenant_id=tenant_id).order_by("pk"):
            way.welcome, ids = convert.welcome(way.welcome)
            way.save(update_fields=["welcome"])
            convert.use("channel_code", way.pk, ids)
        for settings in ContactSettings.objects.filter(tenant_id=tenant_id).order_by("pk"):
            settings.welcome, ids = convert.welcome(settings.welcome)
            settings.save(update_fields=["welcome"])
            convert.use("welcome_default", settings.pk, ids)
        for template in GroupWelcomeTemplate.objects.filter(tenant_id=tenant_id).order_by("pk"):
            pk = convert.template_item(template.attachment) if template.attachment else None
            template.attachment = {"material_id": pk} if pk is not None else {}
            template.save(update_fields=["attachment"])
            convert.use("group_welcome", template.pk, [pk] if pk is not None else [])


class Migration(migrations.Migration):
    dependencies = [
        ("library", "0001_initial"),
        ("contacts", "0009_durable_claim_token"),
        ("groups", "0003_group_refresh"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop, elidable=False)]
