"""``GET/POST /wecom/callback/<tenant-slug>/``: WeCom's URL check and event deliveries.

Verify, decrypt, store in the inbox, answer 200: nothing else happens before WeCom's 5 s are up.
Anything that is not a well-formed, correctly signed, recent event for a configured tenant is answered
with a 4xx, logged, and not stored.

The envelope is WeCom's WXBizMsgCrypt scheme (DOC 90968, ``shared/wecom-api.md``), unpacked here
strictly rather than with wechatpy's ``WeChatCrypto``: wechatpy trusts what it decrypts (an empty or
short plaintext, a length field past the end, bad padding) and fails with whatever Python raises,
and every such failure must be a 4xx here, not a 500.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import struct
import time
from dataclasses import dataclass
from types import SimpleNamespace
from xml.parsers import expat

import xmltodict
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from scrm.tenancy.models import Tenant

from . import services

logger = logging.getLogger(__name__)

# One answer for an unknown slug, a tenant without callbacks and a wrong signature: which slugs
# exist is nobody's business but the tenants'.
NOT_VERIFIED = "signature check failed"


class RejectedError(Exception):
    """A delivery answered with ``status`` and nothing stored."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def _refuse_doctype(*args) -> None:
    raise ValueError("a DTD in a WeCom message")


def _expat_without_dtd(*args, **kwargs):
    # WeCom never sends a DOCTYPE; refusing it outright leaves no room for entity tricks.
    parser = expat.ParserCreate(*args, **kwargs)
    parser.StartDoctypeDeclHandler = _refuse_doctype
    return parser


_STRICT_EXPAT = SimpleNamespace(ParserCreate=_expat_without_dtd)


def parse_xml(text: str | bytes, what: str) -> dict:
    """The fields of an ``<xml>`` document; ``RejectedError`` (400) for anything else, DTDs included."""
    try:
        fields = xmltodict.parse(text, expat=_STRICT_EXPAT, disable_entities=True)["xml"]
    except (expat.ExpatError, ValueError, KeyError, TypeError) as exc:
        raise RejectedError(400, f"malformed {what}: {type(exc).__name__}") from None
    if not isinstance(fields, dict):
        raise RejectedError(400, f"malformed {what}: no fields")
    return fields


@dataclass(frozen=True)
class CallbackCipher:
    """A tenant's callback token, AES key and corp id, and WeCom's envelope with them."""

    token: str
    key: bytes
    corp_id: str

    @classmethod
    def for_tenant(cls, tenant: Tenant) -> CallbackCipher | None:
        """None for a key that is not WeCom's 43 characters of base64 (one saved before the settings
        checked it): no delivery can be verified with it."""
        try:
            key = base64.b64decode(tenant.encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(key) != 32:
            return None
        return cls(tenant.callback_token, key, tenant.corp_id)

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return hashlib.sha1("".join(sorted([self.token, timestamp, nonce, encrypt])).encode()).hexdigest()  # noqa: S324 -- WeCom's scheme

    def verify(self, signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        expected = self.signature(timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise RejectedError(403, NOT_VERIFIED)

    def decrypt(self, encrypt: str) -> str:
        """random(16) + length (4, big-endian) + message + corp id, PKCS#7-padded to 32, AES-256-CBC."""
        try:
            data = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError):
            raise RejectedError(400, "malformed ciphertext: not base64") from None
        if not data or len(data) % 16:
            raise RejectedError(400, "malformed ciphertext: not whole AES blocks")
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        raw = decryptor.update(data) + decryptor.finalize()
        pad = raw[-1]
        if not 1 <= pad <= 32 or raw[-pad:] != bytes([pad]) * pad:
            raise RejectedError(400, "malformed ciphertext: bad padding")
        content = raw[16:-pad]
        if len(content) < 4:
            raise RejectedError(400, "malformed ciphertext: too short")
        (length,) = struct.unpack(">I", content[:4])
        if length > len(content) - 4:
            raise RejectedError(400, "malformed ciphertext: length past the end")
        try:
            message = content[4 : 4 + length].decode()
            corp_id = content[4 + length :].decode()
        except UnicodeDecodeError:
            raise RejectedError(400, "malformed ciphertext: not UTF-8") from None
        if corp_id != self.corp_id:
            raise RejectedError(403, "message is for another corp")
        return message


@dataclass(frozen=True)
class CallbackKeys:
    tenant: Tenant
    cipher: CallbackCipher | None  # None: the tenant has not configured callbacks
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
    cipher = CallbackCipher.for_tenant(tenant) if configured else None
    keys = _keys[slug] = CallbackKeys(tenant=tenant, cipher=cipher, loaded_at=time.monotonic())
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
    response = _answer(request, slug, keys)
    if cached and response.status_code == 403:
        # The token, key or corp id may have changed since they were cached: try fresh ones once.
        response = _answer(request, slug, _load_keys(slug))
    return response


def _answer(request, slug: str, keys: CallbackKeys | None) -> HttpResponse:
    try:
        return _handle(request, keys)
    except RejectedError as exc:
        return _reject(exc.status, exc.reason, slug)


def _check_timestamp(timestamp: str) -> None:
    """Refuse a delivery signed too long ago (or ahead): a captured one cannot be replayed later.

    WeCom signs each delivery when it sends it and retries three times at 5 s intervals, so its own
    deliveries are seconds old; the window leaves room for clock skew.
    """
    try:
        sent = int(timestamp)
    except ValueError:
        raise RejectedError(400, "malformed timestamp") from None
    if abs(time.time() - sent) > settings.WECOM_CALLBACK_MAX_AGE_SECONDS:
        raise RejectedError(403, "timestamp outside the accepted window")


def _handle(request, keys: CallbackKeys | None) -> HttpResponse:
    if keys is None or keys.cipher is None:
        raise RejectedError(403, NOT_VERIFIED)
    tenant, cipher = keys.tenant, keys.cipher
    signature = request.GET.get("msg_signature", "")
    timestamp = request.GET.get("timestamp", "")
    nonce = request.GET.get("nonce", "")

    if request.method == "GET":
        # The URL check: answered whatever its age, since an echo changes nothing.
        echostr = request.GET.get("echostr", "")
        cipher.verify(signature, timestamp, nonce, echostr)
        return HttpResponse(cipher.decrypt(echostr), content_type="text/plain")

    if len(request.body) > settings.WECOM_CALLBACK_MAX_BYTES:
        raise RejectedError(413, "body too large")
    encrypt = parse_xml(request.body, "body").get("Encrypt")
    if not isinstance(encrypt, str):
        raise RejectedError(400, "malformed body: no Encrypt element")
    cipher.verify(signature, timestamp, nonce, encrypt)
    _check_timestamp(timestamp)
    plaintext = cipher.decrypt(encrypt)
    fields = parse_xml(plaintext, "event XML")
    if not fields.get("Event") or fields.get("ToUserName") != tenant.corp_id:
        raise RejectedError(400, "not an event for this corp")
    services.callback_event_receive(tenant=tenant, plaintext=plaintext, fields=fields)
    return HttpResponse("", content_type="text/plain")
