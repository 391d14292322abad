"""The library's services: WeCom's limits checked on the way in (with the field), references checked
for other apps, WeCom copies uploaded once and renewed at 2.5 days, usage recorded, deletes refused
while something uses a material."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from library import services
from library.models import Material, MaterialUse
from library.tasks import media_refresh
from scrm.tenancy.context import tenant_context
from scrm.wecom.api import api_for
from tests.library.conftest import MP4, PDF, PNG, image, link, miniprogram

pytestmark = pytest.mark.django_db


def refusal(call) -> dict[str, str]:
    """The refused fields and their codes."""
    with pytest.raises(ValidationError) as caught:
        call()
    return {
        field: getattr(detail, "code", None) or detail[0].code
        for field, detail in caught.value.detail.items()
    }


def upload(kind: str, content: bytes, name: str = "x.bin"):
    return lambda: services.material_create(kind=kind, data={}, file=ContentFile(content, name=name))


MINI = {"title": "商城", "appid": "wx0123456789abcdef", "page": "pages/index.html"}


def mini(**data):
    """A mini program with a cover (an image titled "cover"), and ``data`` over its fields."""
    return lambda: services.material_create(
        kind="miniprogram", data={**MINI, "cover": image("cover").pk, **data}
    )


@pytest.mark.parametrize(
    ("call", "field", "code"),
    [
        (upload("image", b""), "file", "unsupported_file"),
        (upload("image", b"GIF89a" + b"\x00" * 20), "file", "unsupported_file"),
        (upload("image", PNG[:8] + b"\x00" * services.IMAGE_MAX_BYTES), "file", "unsupported_file"),
        (upload("video", PNG), "file", "unsupported_file"),
        (upload("video", MP4[:8] + b"\x00" * services.VIDEO_MAX_BYTES), "file", "unsupported_file"),
        (upload("file", b"12345"), "file", "unsupported_file"),
        (upload("file", b"\x00" * (services.FILE_MAX_BYTES + 1)), "file", "unsupported_file"),
        (lambda: services.material_create(kind="image", data={}), "file", "invalid"),
        (lambda: services.material_create(kind="text", data={"text": "字" * 1334}), "text", "too_many_bytes"),
        (lambda: services.material_create(kind="text", data={"text": "  "}), "text", "invalid"),
        (
            lambda: services.material_create(kind="link", data={"title": "t", "url": "ftp://x"}),
            "url",
            "invalid",
        ),
        (lambda: services.material_create(kind="link", data={"url": "https://x.cn"}), "title", "invalid"),
        (
            lambda: services.material_create(
                kind="link", data={"title": "t", "url": "https://x.cn", "description": "描" * 171}
            ),
            "description",
            "too_many_bytes",
        ),
        (
            lambda: services.material_create(kind="link", data={"title": "长" * 43, "url": "https://x.cn"}),
            "title",
            "too_many_bytes",
        ),
        (
            mini(appid="wx1"),
            "appid",
            "invalid",
        ),
        (
            mini(page="pages/index"),
            "page",
            "invalid",
        ),
        (lambda: services.material_create(kind="miniprogram", data=MINI), "cover", "invalid"),
        (
            mini(cover=999_999),
            "cover",
            "does_not_exist",
        ),
        (
            lambda: services.material_create(kind="text", data={"text": "hi", "url": "https://x.cn"}),
            "url",
            "wrong_kind",
        ),
        (
            lambda: services.material_create(kind="text", data={"text": "hi", "folder": 999_999}),
            "folder",
            "does_not_exist",
        ),
        (
            lambda: services.material_create(
                kind="text", data={"text": "hi", "tags": ["重复"] * 3 + [str(i) for i in range(11)]}
            ),
            "tags",
            "invalid",
        ),
    ],
)
def test_what_wecom_would_refuse_is_refused_with_its_field(in_a, call, field, code):
    assert refusal(call) == {field: code}
    assert not Material.objects.exclude(title="cover").exists()


def test_each_kind_is_kept_with_what_identifies_it(in_a):
    poster = image(tags=["新人", "门店", "新人"])
    assert (poster.kind, poster.content_type, poster.size, poster.filename) == (
        "image",
        "image/png",
        len(PNG),
        "poster.png",
    )
    assert poster.file.read() == PNG
    assert sorted(poster.taggings.values_list("tag__name", flat=True)) == ["新人", "门店"]
    video = services.material_create_from_bytes(kind="video", filename="intro", content=MP4)
    assert (video.title, video.filename, video.content_type) == ("intro", "intro.mp4", "video/mp4")
    doc = services.material_create_from_bytes(kind="file", filename="价目表.pdf", content=PDF)
    assert (doc.title, doc.content_type) == ("价目表", "application/pdf")
    text = services.material_create(kind="text", data={"text": "  双十一预告\n满 300 减 50  "})
    assert (text.title, text.text) == ("双十一预告", "双十一预告\n满 300 减 50")
    card = link(picture_url=" https://example.com/p.png ", description="点开领取")
    assert (card.url, card.picture_url) == ("https://example.com/gift", "https://example.com/p.png")


def test_the_same_bytes_twice_are_two_materials_stored_once(in_a):
    first, second = image("一"), image("二")
    assert first.pk != second.pk
    assert first.file.name == second.file.name
    assert first.sha256 == second.sha256


def test_updates_change_only_what_the_kind_has(in_a):
    card = link(tags=["旧"])
    changed = services.material_update(material=card, data={"title": "新标题", "tags": ["新"]})
    assert changed.title == "新标题"
    assert list(changed.taggings.values_list("tag__name", flat=True)) == ["新"]
    assert refusal(lambda: services.material_update(material=card, data={"appid": "wx0123456789abcdef"})) == {
        "appid": "wrong_kind"
    }
    program = miniprogram(image())
    assert refusal(lambda: services.material_update(material=program, data={"cover": None})) == {
        "cover": "invalid"
    }
    assert refusal(lambda: services.material_update(material=program, data={"cover": card.pk})) == {
        "cover": "wrong_kind"
    }


def test_references_are_checked_with_their_paths(in_a, tenant_b):
    poster, note = image(), services.material_create(kind="text", data={"text": "hi"})
    gone = link("已删")
    services.material_delete(material=gone)
    with tenant_context(tenant_b):
        theirs = services.material_create(kind="link", data={"title": "t", "url": "https://x.cn"})
    value = [
        {"material_id": poster.pk},
        {"material_id": note.pk},
        {"material_id": gone.pk},
        {"material_id": theirs.pk},
        {"material_id": "1"},
        "x",
    ]
    assert refusal(lambda: services.attachments_validate(value, field="welcome.attachments")) == {
        "welcome.attachments.1.material_id": "wrong_kind",
        "welcome.attachments.2.material_id": "does_not_exist",
        "welcome.attachments.3.material_id": "does_not_exist",
        "welcome.attachments.4.material_id": "invalid",
        "welcome.attachments.5": "invalid",
    }
    assert services.attachments_validate([{"material_id": poster.pk, "extra": 1}]) == [
        {"material_id": poster.pk}
    ]
    assert refusal(lambda: services.attachments_validate([{"material_id": poster.pk}] * 10)) == {
        "attachments": "invalid"
    }
    assert refusal(lambda: services.attachments_validate([{"material_id": poster.pk}], kinds=("link",))) == {
        "attachments.0.material_id": "wrong_kind"
    }


def test_wecom_gets_each_kind_in_its_shape_with_media_uploaded_once(connected, sandbox):
    with tenant_context(connected):
        poster = image()
        video = services.material_create_from_bytes(kind="video", filename="v.mp4", content=MP4)
        doc = services.material_create_from_bytes(kind="file", filename="d.pdf", content=PDF)
        card = link(description="点开领取", picture_url="https://example.com/p.png")
        program = miniprogram(poster)
        refs = [{"material_id": m.pk} for m in (poster, video, doc, card, program)]
        sent = services.attachments_for_wecom(api=api_for(connected), attachments=refs)
        again = services.attachments_for_wecom(api=api_for(connected), attachments=refs)
        ids = dict(Material.objects.values_list("pk", "media_id"))
    assert sent == again
    assert sent == [
        {"msgtype": "image", "image": {"media_id": ids[poster.pk]}},
        {"msgtype": "video", "video": {"media_id": ids[video.pk]}},
        {"msgtype": "file", "file": {"media_id": ids[doc.pk]}},
        {"msgtype": "link", "link": {"title": "新人礼", "url": "https://example.com/gift", "desc": "点开领取",
                                     "picurl": "https://example.com/p.png"}},
        {"msgtype": "miniprogram", "miniprogram": {
            "title": "商城", "pic_media_id": ids[poster.pk], "appid": MINI["appid"], "page": MINI["page"]
        }},
    ]  # fmt: skip
    # One upload per file, of its own type (the poster once, though the mini program uses it too).
    uploads = sandbox.records("media/upload")
    assert sorted(r["query"]["type"] for r in uploads) == ["file", "image", "video"]


def test_a_media_id_is_uploaded_again_once_it_is_2_5_days_old(connected, sandbox, time_machine):
    start = dt.datetime(2031, 3, 4, 10, 0, tzinfo=dt.UTC)
    time_machine.move_to(start, tick=False)
    with tenant_context(connected):
        poster = image()
        refs = [{"material_id": poster.pk}]
        api = api_for(connected)
        first = services.attachments_for_wecom(api=api, attachments=refs)
        time_machine.move_to(start + dt.timedelta(days=2, hours=11), tick=False)
        assert services.attachments_for_wecom(api=api, attachments=refs) == first
        time_machine.move_to(start + dt.timedelta(days=2, hours=12, seconds=1), tick=False)
        second = services.attachments_for_wecom(api=api, attachments=refs)
    assert second != first
    assert len(sandbox.records("media/upload")) == 2


class FakeAPI:
    """WeCom's media APIs answering from memory (media/uploadimg, for a link's cover image)."""

    def __init__(self):
        self.calls: list[str] = []

    def upload_media(self, *, media_type, filename, content):
        self.calls.append(f"upload_media:{media_type}")
        return {"media_id": f"m{len(self.calls)}"}

    def upload_image(self, *, filename, content):
        self.calls.append("upload_image")
        return {"url": "https://wework.qpic.cn/cover.png"}


def test_a_links_cover_image_goes_by_its_permanent_wecom_url_uploaded_once(in_a):
    card = link(cover=image().pk, picture_url="https://example.com/ignored.png")
    api = FakeAPI()
    for _ in range(2):
        [sent] = services.attachments_for_wecom(api=api, attachments=[{"material_id": card.pk}])
        assert sent["link"]["picurl"] == "https://wework.qpic.cn/cover.png"
    assert api.calls == ["upload_image"]


def test_usage_is_what_each_owner_uses_now(in_a):
    poster, card = image(), link()
    services.material_usage_set(owner_type="campaign", owner_id=7, attachments=[{"material_id": poster.pk}])
    services.material_usage_set(
        owner_type="campaign", owner_id=7, attachments=[{"material_id": card.pk}, {"material_id": card.pk}]
    )
    services.material_usage_set(owner_type="campaign", owner_id=8, attachments=[{"material_id": card.pk}])
    assert set(MaterialUse.objects.values_list("owner_type", "owner_id", "material_id")) == {
        ("campaign", 7, card.pk),
        ("campaign", 8, card.pk),
    }


def test_a_material_in_use_is_not_deleted_and_says_who_uses_it(in_a):
    poster = image()
    program = miniprogram(poster, title="会员中心")
    services.material_usage_set(
        owner_type="a_future_app", owner_id=3, attachments=[{"material_id": program.pk}]
    )
    with pytest.raises(services.MaterialInUseError) as caught:
        services.material_delete(material=poster)
    assert caught.value.uses == [
        {"owner_type": "material", "owner_id": program.pk, "label": "Material", "name": "会员中心"}
    ]
    with pytest.raises(services.MaterialInUseError) as caught:
        services.material_delete(material=program)
    assert caught.value.uses[0]["name"] == "a_future_app #3"  # an owner type nobody registered
    services.material_usage_set(owner_type="a_future_app", owner_id=3, attachments=[])
    services.material_delete(material=program)  # releases its cover
    services.material_delete(material=poster)
    kept = Material.objects.get(pk=poster.pk)
    assert kept.deleted_at is not None
    assert kept.file.read() == PNG  # kept for what was sent with it


def test_beat_renews_only_the_fast_path_materials_about_to_expire(connected, sandbox):
    from contacts.services.welcome import CHANNEL_CODE

    with tenant_context(connected):
        greeting, other = image("欢迎"), image("活动", content=PNG + b"other")
        program = miniprogram(image("封面", content=PNG + b"cover"))
        refs = [{"material_id": greeting.pk}, {"material_id": program.pk}]
        services.material_usage_set(owner_type=CHANNEL_CODE, owner_id=1, attachments=refs)
        services.material_usage_set(
            owner_type="campaign", owner_id=1, attachments=[{"material_id": other.pk}]
        )
    assert media_refresh() == 2  # the greeting's image and the mini program's cover, never uploaded
    assert media_refresh() == 0  # fresh
    with tenant_context(connected):
        Material.objects.filter(pk=greeting.pk).update(
            media_uploaded_at=timezone.now() - dt.timedelta(days=2, hours=1)
        )
    assert media_refresh() == 1  # within 12 hours of its renewal: done ahead
    assert len(sandbox.records("media/upload")) == 3
