"""The move of welcome attachments onto the library: images uploaded for welcomes and inline links and
mini programs become materials, the stored welcomes and group templates name them, and their owners
are recorded as using them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("library", "0001_initial"),
    ("contacts", "0009_durable_claim_token"),
    ("groups", "0003_group_refresh"),
]
AFTER = [
    ("library", "0002_welcome_attachments_from_media_assets"),
    ("contacts", "0010_mediaasset_moved_to_library"),
]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def _latest_schema_after():
    """Every app migrated to its latest again once the test is over: going back to BEFORE unapplied
    what depends on it (value, sop, later contacts migrations...), and the tests that run after this
    one in the same worker need their tables."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_latest_schema_after")
def test_welcome_attachments_become_library_materials(tenant_a):
    apps = migrate(BEFORE)
    try:
        MediaAsset = apps.get_model("contacts", "MediaAsset")
        ContactWay = apps.get_model("contacts", "ContactWay")
        ContactSettings = apps.get_model("contacts", "ContactSettings")
        GroupWelcomeTemplate = apps.get_model("groups", "GroupWelcomeTemplate")
        asset = MediaAsset.objects.create(
            tenant_id=tenant_a.pk,
            file="media-assets/2026/11/abc.png",
            filename="poster.png",
            content_type="image/png",
            size=72,
            sha256="ab" * 32,
            media_id="m-1",
        )
        unused = MediaAsset.objects.create(
            tenant_id=tenant_a.pk,
            file="x.png",
            filename="x.png",
            content_type="image/png",
            size=9,
            sha256="cd" * 32,
        )
        link = {
            "type": "link",
            "title": "新人礼",
            "url": "https://x.cn/gift",
            "description": "点开",
            "picture_url": "",
        }
        mini = {
            "type": "miniprogram",
            "appid": "wx0123456789abcdef",
            "page": "p.html",
            "title": "商城",
            "media": asset.pk,
        }
        way = ContactWay.objects.create(
            tenant_id=tenant_a.pk,
            name="门店",
            state="cw_1",
            welcome={"text": "hi", "attachments": [{"type": "image", "media": asset.pk}, link, mini]},
        )
        other = ContactWay.objects.create(
            tenant_id=tenant_a.pk, name="直播", state="cw_2", welcome={"text": "hi", "attachments": [link]}
        )
        bare = ContactWay.objects.create(tenant_id=tenant_a.pk, name="空", state="cw_3", welcome={})
        settings = ContactSettings.objects.create(tenant_id=tenant_a.pk, welcome={"attachments": [link]})
        template = GroupWelcomeTemplate.objects.create(
            tenant_id=tenant_a.pk,
            template_id="t1",
            name="欢迎",
            attachment={"msgtype": "image", "media_asset_id": asset.pk},
        )
    finally:
        apps = migrate(AFTER)

    Material = apps.get_model("library", "Material")
    MaterialUse = apps.get_model("library", "MaterialUse")
    ContactWay = apps.get_model("contacts", "ContactWay")
    materials = {m.pk: m for m in Material.objects.filter(tenant_id=tenant_a.pk)}
    way, other, bare = (ContactWay.objects.get(pk=pk) for pk in (way.pk, other.pk, bare.pk))
    image_id, link_id, mini_id = (a["material_id"] for a in way.welcome["attachments"])
    assert way.welcome["text"] == "hi"
    image = materials[image_id]
    assert (image.kind, image.file.name, image.filename, image.media_id) == (
        "image", "media-assets/2026/11/abc.png", "poster.png", "m-1"
    )  # fmt: skip
    card = materials[link_id]
    assert (card.kind, card.title, card.url, card.description) == (
        "link",
        "新人礼",
        "https://x.cn/gift",
        "点开",
    )
    program = materials[mini_id]
    assert (program.kind, program.appid, program.page, program.cover_id) == (
        "miniprogram",
        "wx0123456789abcdef",
        "p.html",
        image_id,
    )
    # The same inline link in two welcomes is one material; an unused upload is kept too.
    assert other.welcome["attachments"] == [{"material_id": link_id}]
    assert bare.welcome == {}
    assert apps.get_model("contacts", "ContactSettings").objects.get(pk=settings.pk).welcome[
        "attachments"
    ] == [{"material_id": link_id}]
    assert apps.get_model("groups", "GroupWelcomeTemplate").objects.get(pk=template.pk).attachment == {
        "material_id": image_id
    }
    assert {m.filename for m in materials.values() if m.kind == "image"} == {"poster.png", "x.png"}
    assert len(materials) == 4
    assert unused.pk
    assert set(MaterialUse.objects.values_list("owner_type", "owner_id", "material_id")) == {
        ("channel_code", way.pk, image_id),
        ("channel_code", way.pk, link_id),
        ("channel_code", way.pk, mini_id),
        ("channel_code", other.pk, link_id),
        ("welcome_default", settings.pk, link_id),
        ("group_welcome", template.pk, image_id),
        ("material", mini_id, image_id),
    }
