"""The content library for Moments: WeCom's attachment rule (≤ 9 images, or 1 video, or 1 link) refused
with its field, media uploaded to WeCom's Moments store once and again after 2.5 days, links with their
cover, and the library naming the Moments task that uses a material."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.exceptions import ValidationError

from library import services
from library.models import Material
from moments.services.compose import moment_task_create
from scrm.tenancy.actors import SYSTEM
from scrm.tenancy.context import tenant_context
from scrm.wecom.api import api_for
from tests.library.conftest import MP4, PDF, image, link, miniprogram

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def in_a(tenant_a):
    with tenant_context(tenant_a):
        yield tenant_a


def video(title: str = "开箱") -> Material:
    return services.material_create_from_bytes(
        kind="video", filename="v.mp4", content=MP4, data={"title": title}
    )


def refs(*materials: Material) -> list[dict]:
    return [{"material_id": m.pk} for m in materials]


def refusal(value) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        services.moment_attachments_validate(value)
    return {
        field: getattr(detail, "code", None) or detail[0].code
        for field, detail in caught.value.detail.items()
    }


def test_up_to_nine_images_or_one_video_or_one_link_pass(in_a):
    images = [image(f"图{i}") for i in range(9)]
    assert services.moment_attachments_validate(refs(*images)) == refs(*images)
    assert services.moment_attachments_validate(refs(video())) == refs(Material.objects.get(kind="video"))
    card = link(cover=images[0].pk)
    assert services.moment_attachments_validate(refs(card)) == refs(card)
    assert services.moment_attachments_validate(None) == []


def test_what_wecom_refuses_in_a_moment_is_refused_with_its_field(in_a):
    poster, clip = image(), video()
    card = link(cover=poster.pk)
    doc = services.material_create_from_bytes(kind="file", filename="d.pdf", content=PDF)
    program = miniprogram(poster)
    assert refusal(refs(*[image(f"图{i}") for i in range(10)])) == {"attachments": "invalid"}
    assert refusal(refs(poster, clip)) == {"attachments": services.MIXED_KINDS}
    assert refusal(refs(poster, card)) == {"attachments": services.MIXED_KINDS}
    assert refusal(refs(clip, video("另一个"))) == {"attachments": services.TOO_MANY_OF_KIND}
    assert refusal(refs(card, link("第二个", cover=poster.pk))) == {"attachments": services.TOO_MANY_OF_KIND}
    # WeCom requires a link card's picture (link.media_id) and takes a title of 64 bytes at most.
    assert refusal(refs(link("无封面", picture_url="https://example.com/p.png"))) == {
        "attachments.0.material_id": services.NO_COVER
    }
    assert refusal(refs(link("标" * 22, cover=poster.pk))) == {
        "attachments.0.material_id": services.TOO_MANY_BYTES
    }
    assert services.moment_attachments_validate(refs(link("标" * 21, cover=poster.pk)))
    assert refusal(refs(poster, doc)) == {"attachments.1.material_id": services.WRONG_KIND}
    assert refusal(refs(program)) == {"attachments.0.material_id": services.WRONG_KIND}
    assert refusal([{"material_id": 999_999}]) == {"attachments.0.material_id": services.DOES_NOT_EXIST}


def test_moments_media_go_to_wecoms_moments_store_once_and_wecom_takes_them(connected, sandbox):
    with tenant_context(connected):
        posters = [image("海报"), image("细节")]
        cover = image("封面")
        card = link(cover=cover.pk)
        clip = video()
        api = api_for(connected)
        sent_images = services.moment_attachments_for_wecom(api=api, attachments=refs(*posters))
        sent_link = services.moment_attachments_for_wecom(api=api, attachments=refs(card))
        sent_video = services.moment_attachments_for_wecom(api=api, attachments=refs(clip))
        again = services.moment_attachments_for_wecom(api=api, attachments=refs(*posters))
        ids = dict(Material.objects.values_list("pk", "moment_media_id"))
        # WeCom accepts each shape in a Moments task (media from the wrong store would be 40007).
        for attachments in (sent_images, sent_link, sent_video):
            assert api.add_moment_task({"attachments": attachments})["jobid"]
    assert (
        sent_images
        == again
        == [
            {"msgtype": "image", "image": {"media_id": ids[posters[0].pk]}},
            {"msgtype": "image", "image": {"media_id": ids[posters[1].pk]}},
        ]
    )
    assert sent_link == [
        {
            "msgtype": "link",
            "link": {"title": "新人礼", "url": "https://example.com/gift", "media_id": ids[cover.pk]},
        }
    ]
    assert sent_video == [{"msgtype": "video", "video": {"media_id": ids[clip.pk]}}]
    uploads = sandbox.records("media/upload_attachment")
    assert sorted(r["query"]["media_type"] for r in uploads) == ["image", "image", "image", "video"]
    assert {r["query"]["attachment_type"] for r in uploads} == {"1"}
    assert sandbox.records("media/upload") == []  # the other store is not used, nor its media ids


def test_a_moments_media_id_is_uploaded_again_once_it_is_2_5_days_old(connected, sandbox, time_machine):
    start = dt.datetime(2031, 3, 4, 10, 0, tzinfo=dt.UTC)
    time_machine.move_to(start, tick=False)
    with tenant_context(connected):
        poster = image()
        api = api_for(connected)
        first = services.moment_attachments_for_wecom(api=api, attachments=refs(poster))
        time_machine.move_to(start + dt.timedelta(days=2, hours=11), tick=False)
        assert services.moment_attachments_for_wecom(api=api, attachments=refs(poster)) == first
        time_machine.move_to(start + dt.timedelta(days=2, hours=12, seconds=1), tick=False)
        second = services.moment_attachments_for_wecom(api=api, attachments=refs(poster))
        # The renewed id is one WeCom still takes (the first is 2.5 days old, close to its 3 days).
        assert api.add_moment_task({"attachments": second})["jobid"]
    assert second != first
    assert len(sandbox.records("media/upload_attachment")) == 2


def test_the_library_names_the_moments_task_that_uses_a_material(in_a):
    poster = image()
    task = moment_task_create(actor=SYSTEM, data={"text": "春季新品上市", "attachments": refs(poster)})
    uses = services.material_uses(material=poster)
    assert uses == [
        {"owner_type": "moment_task", "owner_id": task.pk, "label": "Moments task", "name": "春季新品上市"}
    ]
    with pytest.raises(services.MaterialInUseError, match="Moments task “春季新品上市”"):
        services.material_delete(material=poster)
