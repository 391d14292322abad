"""``GET/POST /wecom/callback/<tenant-slug>/``: WeCom's URL check and event deliveries.

Verify, decrypt, store in the inbox, answer 200: nothing else happens before WeCom's 5 s are up.
Anything that is not a well-formed, correctly signed event for a configured tenant is answered with
a 4xx, logged, and not stored.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from xml.parsers.expat import ExpatError

import xmltodict
from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

from scrm.tenancy.models import Tenant

from . import services

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallbackKeys:
    tenant: Tenant
    crypto: WeChatCrypto | None  # None: the tenant has not configured callbacks
    loaded_at: float


_keys: dict[str, CallbackKeys] = {}
# Decrypting the tenant's secrets costs more than the rest of the request: keep them a minute in the
# process. A changed token still works at once: a failed check with cached keys reloads them.
KEYS_TTL = 60.0


def _load_keys(slug: str) -> CallbackKeys | None:
    tenant = Tenant.objects.filter(slug=slug, is_active=True).first()
    if tenant is None:
        _keys.pop(slug, None)
        return None
    configured = tenant.corp_id and tenant.callback_token and tenant.encoding_aes_key
    crypto = (
        WeChatCrypto(tenant.callback_token, tenant.encoding_aes_key, tenant.corp_id) if configured else None
    )
    keys = _keys[slug] = CallbackKeys(tenant=tenant, crypto=crypto, loaded_at=time.monotonic())
    return keys


def _keys_for(slug: str) -> tuple[CallbackKeys | None, bool]:
    """The tenant's keys and whether they came from the cache (and so may be stale)."""
    keys = _keys.get(slug)
    if keys is not None and time.monotonic() - keys.loaded_at < KEYS_TTL:
        return keys, True
    return _load_keys(slug), False


def _reject(status: int, reason: str, slug: str) -> HttpResponse:
    logger.warning("WeCom callback for %r rejected (%s): %s", slug, status, reason)
    return HttpResponse(reason, status=status, content_type="text/plain")


@csrf_exempt  # WeCom signs its requests; it has no CSRF token
@require_http_methods(["GET", "POST"])
def wecom_callback(request, slug: str) -> HttpResponse:
    keys, cached = _keys_for(slug)
    response = _handle(request, slug, keys)
    if cached and response.status_code in (403, 404):
        # The token, key or corp id may have changed since they were cached: try fresh ones once.
        response = _handle(request, slug, _load_keys(slug))
    return response


def _handle(request, slug: str, keys: CallbackKeys | None) -> HttpResponse:
    if keys is None:
        return _reject(404, "unknown tenant", slug)
    if keys.crypto is None:
        return _reject(404, "callbacks are not configured for this tenant", slug)
    tenant, crypto = keys.tenant, keys.crypto
    signature = request.GET.get("msg_signature", "")
    timestamp = request.GET.get("timestamp", "")
    nonce = request.GET.get("nonce", "")

    if request.method == "GET":
        try:
            echo = crypto.check_signature(signature, timestamp, nonce, request.GET.get("echostr", ""))
        except (InvalidSignatureException, InvalidCorpIdException, ValueError, TypeError) as exc:
            return _reject(403, f"URL verification failed: {type(exc).__name__}", slug)
        return HttpResponse(echo, content_type="text/plain")

    if len(request.body) > settings.WECOM_CALLBACK_MAX_BYTES:
        return _reject(413, "body too large", slug)
    try:
        plaintext = crypto.decrypt_message(request.body, signature, timestamp, nonce)
    except InvalidSignatureException:
        return _reject(403, "bad signature", slug)
    except InvalidCorpIdException:
        return _reject(403, "message is for another corp", slug)
    except (ExpatError, KeyError, IndexError, ValueError, TypeError, UnicodeError) as exc:
        return _reject(400, f"malformed body: {type(exc).__name__}", slug)
    try:
        fields = xmltodict.parse(plaintext)["xml"]
    except (ExpatError, KeyError, TypeError) as exc:
        return _reject(400, f"malformed event XML: {type(exc).__name__}", slug)
    if not isinstance(fields, dict) or not fields.get("Event") or fields.get("ToUserName") != tenant.corp_id:
        return _reject(400, "not an event for this corp", slug)
    services.callback_event_receive(tenant=tenant, plaintext=plaintext, fields=fields)
    return HttpResponse("", content_type="text/plain")
