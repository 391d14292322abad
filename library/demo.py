"""The demo tenant's library: two folders with a text, a poster, a link and a mini program in them.

Idempotent: a tenant whose library has materials already is left alone (its demo materials are
returned by title), so a restart adds nothing.
"""

from __future__ import annotations

import struct
import zlib

from .models import Folder, Material
from .services import folder_create, material_create, material_create_from_bytes

WELCOME_FOLDER = "新人礼 Welcome"
CAMPAIGN_FOLDER = "活动 Campaigns"
POSTER = "门店海报 Store poster"
LINK = "新人专享礼包 New-customer gift"
MINIPROGRAM = "会员小程序 Member mini program"
TEXT = "双十一预告 Singles' Day teaser"


def poster_png(width: int = 240, height: int = 320, top=(7, 193, 96), bottom=(255, 255, 255)) -> bytes:
    """A small PNG (a two-colour poster) made here: the demo ships no image files."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(top if y < height * 2 // 3 else bottom) * width for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def demo_library_seed() -> dict[str, Material]:
    """The demo materials by title (made the first time), in the tenant in context."""
    if Material.objects.exists():
        return {m.title: m for m in Material.objects.filter(deleted_at__isnull=True)}
    welcome = Folder.objects.filter(name=WELCOME_FOLDER).first() or folder_create(name=WELCOME_FOLDER)
    campaigns = Folder.objects.filter(name=CAMPAIGN_FOLDER).first() or folder_create(name=CAMPAIGN_FOLDER)
    poster = material_create_from_bytes(
        kind="image",
        filename="store-poster.png",
        content=poster_png(),
        data={"title": POSTER, "folder": welcome.pk, "tags": ["门店", "新人"]},
    )
    link = material_create(
        kind="link",
        data={
            "title": LINK,
            "url": "https://example.com/siyu-demo/gift",
            "description": "演示链接 demo link",
            "folder": welcome.pk,
            "tags": ["新人"],
        },
    )
    program = material_create(
        kind="miniprogram",
        data={
            "title": MINIPROGRAM,
            "appid": "wx0123456789abcdef",
            "page": "pages/index.html",
            "cover": poster.pk,
            "folder": campaigns.pk,
            "tags": ["会员"],
        },
    )
    text = material_create(
        kind="text",
        data={
            "title": TEXT,
            "text": "{customer_name} 您好！双十一会员专场即将开始，全场满 300 减 50，记得来店里看看哦～",
            "folder": campaigns.pk,
            "tags": ["活动"],
        },
    )
    return {m.title: m for m in (poster, link, program, text)}
