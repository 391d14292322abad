"""Library fixtures: tenant A on the in-process sandbox, files kept in a temporary MEDIA_ROOT, and the
bytes of each kind of file WeCom takes."""

from __future__ import annotations

import pytest

from library import services
from scrm.tenancy.context import tenant_context
from tests.helpers import connect_tenant
from tests.wecom.conftest import sandbox, sandbox_factory  # noqa: F401 -- fixtures reused here

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def connected(tenant_a, sandbox):  # noqa: F811 -- the imported fixture
    connect_tenant(tenant_a, sandbox)
    return tenant_a


@pytest.fixture
def in_a(tenant_a):
    """Tenant A in context, for calling the services directly."""
    with tenant_context(tenant_a):
        yield tenant_a


def image(title: str = "海报", content: bytes = PNG, **data):
    return services.material_create_from_bytes(
        kind="image", filename="poster.png", content=content, data={"title": title, **data}
    )


def link(title: str = "新人礼", **data):
    return services.material_create(
        kind="link", data={"title": title, "url": "https://example.com/gift", **data}
    )


def miniprogram(cover, title: str = "商城", **data):
    fields = {"title": title, "appid": "wx0123456789abcdef", "page": "pages/index.html", "cover": cover.pk}
    return services.material_create(kind="miniprogram", data={**fields, **data})
