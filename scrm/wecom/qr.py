"""WeCom's QR code images (channel codes, group codes), fetched once and cached, served by our API.

WeCom answers a code's ``qr_code`` as the URL of an image anyone can fetch. The dashboard shows and
downloads it through our API (same origin, no mixed content, works when WeCom's CDN is slow), so the
image is fetched here and kept in the shared cache, keyed by tenant and URL: one code's image is never
served for another's.

The URL comes from whatever answers as the tenant's WeCom, and tenant admins choose that (their
``api_base``): the server fetches only from WeCom's image hosts (``*.qpic.cn``) or from the API base
itself (the sandbox serves its QR images there), follows no redirect, reads at most ``QR_MAX_BYTES``
and keeps only a PNG or JPEG, so the route cannot be turned into a proxy to anything else.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse

QR_CACHE_SECONDS = 24 * 60 * 60
QR_FETCH_TIMEOUT = 10
QR_MAX_BYTES = 1024 * 1024  # WeCom's QR images are tens of KB
# WeCom's image CDN: wework.qpic.cn, p.qpic.cn, shp.qpic.cn…
QR_HOST_SUFFIX = ".qpic.cn"
IMAGE_TYPES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))
# Renamed from "contacts:qr:" when the images began to be checked: what the old prefix holds was
# never checked to be an image, so it is left to expire rather than served.
CACHE_PREFIX = "wecom:qr"


class QRUnavailableError(Exception):
    """WeCom's image could not be fetched, or is not one we serve (the message says why)."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises the 3xx as an HTTPError


_opener = urllib.request.build_opener(_NoRedirects)


def qr_has_image(url: str) -> bool:
    """Whether the code has an image at all (mini program codes have none)."""
    return urlsplit(url or "").scheme in ("http", "https")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def qr_url_allowed(*, tenant, url: str) -> bool:
    """Whether ``url`` is on WeCom's image hosts, or on the tenant's (or the configured) API base's
    host and port — the loopback sandbox serves its QR images there."""
    scheme, host, port = _origin(url)
    if scheme not in ("http", "https") or not host:
        return False
    if host.endswith(QR_HOST_SUFFIX) or host == QR_HOST_SUFFIX[1:]:
        return port is None
    bases = {settings.WECOM_API_BASE, tenant.api_base or settings.WECOM_API_BASE}
    return (scheme, host, port) in {_origin(base) for base in bases}


def image_type(data: bytes) -> str | None:
    """The content type of a PNG or a JPEG, by its first bytes; None for anything else."""
    return next((kind for magic, kind in IMAGE_TYPES if data.startswith(magic)), None)


def qr_png(*, tenant, url: str) -> bytes:
    """The image at ``url`` (WeCom's QR, a PNG or a JPEG), from the cache when fetched within the last day."""
    if not qr_url_allowed(tenant=tenant, url=url):
        raise QRUnavailableError(f"The QR image's address is not WeCom's ({urlsplit(url).hostname}).")
    key = f"{CACHE_PREFIX}:{tenant.pk}:{hashlib.sha256(url.encode()).hexdigest()}"
    image = cache.get(key)
    if image is None:
        try:
            with _opener.open(url, timeout=QR_FETCH_TIMEOUT) as answer:
                image = answer.read(QR_MAX_BYTES + 1)
        except (urllib.error.URLError, OSError) as exc:
            raise QRUnavailableError(f"WeCom's QR image could not be fetched ({exc}).") from exc
        if len(image) > QR_MAX_BYTES:
            raise QRUnavailableError(f"WeCom's QR image is over {QR_MAX_BYTES // 1024} KB: not served.")
        if image_type(image) is None:
            raise QRUnavailableError("WeCom's answer at the QR image's address is not a PNG or JPEG image.")
        cache.set(key, image, QR_CACHE_SECONDS)
    return image


def qr_response(image: bytes, *, download_name: str | None = None) -> HttpResponse:
    """The image as an HTTP answer; with ``download_name``, as a file download of that name."""
    response = HttpResponse(image, content_type=image_type(image) or "image/png")
    if download_name:
        response["Content-Disposition"] = f'attachment; filename="{download_name}"'
    response["Cache-Control"] = "private, max-age=3600"
    return response


def qr_answer(request, *, tenant, url: str, filename: str, no_image: str) -> HttpResponse:
    """A QR route's answer: the image (as ``filename`` with ``?download=1``), 404 ``no_image`` when the
    code has none, 502 when WeCom's image cannot be fetched or is not one."""
    from scrm.api.errors import problem_response  # the API layer's error shape
    from scrm.api.filters import query_flag

    download = query_flag(request, "download")  # a malformed one is a 400 before any fetch
    if not qr_has_image(url):
        return problem_response(404, "not_found", no_image)
    try:
        image = qr_png(tenant=tenant, url=url)
    except QRUnavailableError as exc:
        return problem_response(502, "wecom_error", str(exc))
    return qr_response(image, download_name=filename if download else None)


def qr_schema(summary: str):
    """The OpenAPI description of a QR route answered by ``qr_answer``."""
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

    return extend_schema(
        summary=summary,
        parameters=[OpenApiParameter("download", bool, description="true: as a file download.")],
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY),
            404: OpenApiResponse(description="The code has no QR image."),
            502: OpenApiResponse(description="WeCom's image could not be fetched."),
        },
    )
