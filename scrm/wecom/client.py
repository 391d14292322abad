"""The WeCom client: wechatpy's enterprise client with the policies Siyu needs.

- configurable API base (the tenant's, else ``WECOM_API_BASE``), honoured by ``gettoken`` too
  (wechatpy 1.8.18 hard-codes the real URL there);
- an HTTP timeout (wechatpy's default is none);
- the token cached in the shared cache and refreshed under a lock, so concurrent workers do not
  all refresh together (WeCom blocks corps that fetch tokens too often);
- wechatpy's unbounded ``auto_retry`` off, replaced by a bounded policy: -1 retried up to 3 times
  with backoff, 40014/42001 refetch the token once, 45009 raises ``WeComRateLimitedError`` with the wait,
  45033 lowers the concurrency and retries; never an unbounded loop;
- every call inside the per-(corp, API) limiter;
- only the API bases the deployment allows (``api_base_allowed``): a tenant admin sets the base, and
  must not be able to point the server's requests at anything else (SSRF).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import threading
import time
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.cache import cache
from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import APILimitedException, WeChatClientException
from wechatpy.session import SessionStorage

from .errors import WeComError, WeComRateLimitedError
from .ratelimit import Limiter, get_limiter

logger = logging.getLogger(__name__)

BUSY_RETRIES = 3
CONCURRENCY_RETRIES = 3
CONNECT_RETRIES = 2
TOKEN_ERRORS = (40014, 42001)
# Tokens are refreshed this long before WeCom expires them, so a call never carries a dying one.
TOKEN_EARLY_REFRESH = 300


def _base_key(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url.strip())
    return parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/") + "/"


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_base_allowed(url: str) -> bool:
    """Whether the deployment lets a tenant's WeCom calls go to ``url``.

    ``WECOM_API_BASE`` and ``WECOM_ALLOWED_API_BASES`` (WeCom's own host, or a forward proxy in front
    of it), and any loopback address when ``WECOM_SANDBOX_ALLOWED`` is on (the demo and the tests
    serve the sandbox on 127.0.0.1, on a port of their own).
    """
    try:
        parts = urlsplit(url.strip())
        hostname = parts.hostname
    except ValueError:  # an unclosed [IPv6 address
        return False
    if parts.scheme not in ("http", "https") or not hostname or parts.username or parts.password:
        return False
    if parts.query or parts.fragment:
        return False
    allowed = {_base_key(base) for base in (settings.WECOM_API_BASE, *settings.WECOM_ALLOWED_API_BASES)}
    if _base_key(url) in allowed:
        return True
    return settings.WECOM_SANDBOX_ALLOWED and _is_loopback(url)


def backoff(attempt: int) -> float:
    return min(0.2 * 2**attempt, 2.0)


class CacheTokenStorage(SessionStorage):
    """wechatpy's token storage on Django's cache (Redis in production: shared by all workers)."""

    def get(self, key, default=None):
        return cache.get(key, default)

    def set(self, key, value, ttl=None):
        ttl = max(60, int(ttl) - TOKEN_EARLY_REFRESH) if ttl else None
        cache.set(key, value, timeout=ttl)

    def delete(self, key):
        cache.delete(key)


class WeComClient(WeChatClient):
    def __init__(self, *, corp_id: str, secret: str, api_base: str, timeout: float, limiter: Limiter):
        super().__init__(corp_id, secret, session=CacheTokenStorage(), timeout=timeout, auto_retry=False)
        self.API_BASE_URL = api_base if api_base.endswith("/") else api_base + "/"
        self.limiter = limiter

    @property
    def access_token_key(self) -> str:
        # wechatpy keys by the secret's first characters; a digest does not leak any of it.
        digest = hashlib.sha256(f"{self.API_BASE_URL}|{self.secret}".encode()).hexdigest()[:16]
        return f"wecom:token:{self.corp_id}:{digest}"

    @property
    def access_token(self) -> str:
        # The cache entry's own TTL already expires it early; wechatpy's expires_at bookkeeping is
        # per instance and would make every process refetch on its own.
        return self.session.get(self.access_token_key) or self.fetch_access_token()["access_token"]

    def _require_allowed_base(self, api: str) -> None:
        # Checked when a tenant's base is saved, and again before every call: the deployment's allowed
        # bases may have narrowed since (a demo database moved to production, the sandbox turned off).
        if not api_base_allowed(self.API_BASE_URL):
            raise WeComError(api, None, "This deployment does not allow the tenant's API base.")

    def fetch_access_token(self, *, stale: str | None = None) -> dict:
        """Fetch a token under a lock; whoever waited for the lock reuses the token just fetched."""
        self._require_allowed_base("gettoken")
        with self.limiter.backend.lock(f"{self.access_token_key}:lock", timeout=15):
            current = self.session.get(self.access_token_key)
            if current and current != stale:
                return {"access_token": current}
            try:
                answer = self._fetch_access_token(
                    url=f"{self.API_BASE_URL}gettoken",
                    params={"corpid": self.corp_id, "corpsecret": self.secret},
                )
            except WeChatClientException as exc:
                raise WeComError("gettoken", exc.errcode, exc.errmsg or str(exc)) from exc
            except requests.RequestException as exc:
                raise WeComError("gettoken", None, str(exc)) from exc
            except (KeyError, TypeError, ValueError) as exc:
                # wechatpy reads the answer as if it were always WeCom's: one without a token (or not
                # an object, or with a non-numeric expires_in) fails inside it with a bare KeyError.
                raise WeComError("gettoken", None, "WeCom's answer has no usable access_token") from exc
            if not isinstance(answer.get("access_token"), str) or not answer["access_token"]:
                self.session.delete(self.access_token_key)
                raise WeComError("gettoken", None, "WeCom's answer has no usable access_token")
            return answer

    def _api_name(self, url_or_endpoint: str) -> str:
        path = urlsplit(url_or_endpoint).path if "://" in url_or_endpoint else url_or_endpoint
        base_path = urlsplit(self.API_BASE_URL).path
        return path.removeprefix(base_path).lstrip("/").split("?")[0]

    def _request(self, method, url_or_endpoint, **kwargs):
        api = self._api_name(url_or_endpoint)
        self._require_allowed_base(api)
        busy = concurrency = connect = 0
        refetched = False
        while True:
            params = {k: v for k, v in (kwargs.get("params") or {}).items() if k != "access_token"}
            used_token = self.access_token
            params["access_token"] = used_token
            try:
                with self.limiter.slot(self.corp_id, api):
                    return super()._request(method, url_or_endpoint, **{**kwargs, "params": params})
            except APILimitedException as exc:
                # WeCom blocks the API for its whole window (a minute): so do we, for every worker.
                self.limiter.block(self.corp_id, api, 60)
                raise WeComRateLimitedError(api, 45009, exc.errmsg, retry_after=60) from exc
            except WeChatClientException as exc:
                code = exc.errcode
                if code in TOKEN_ERRORS and not refetched:
                    refetched = True
                    self.fetch_access_token(stale=used_token)
                    continue
                if code == -1 and busy < BUSY_RETRIES:
                    time.sleep(backoff(busy))
                    busy += 1
                    continue
                if code == 45033 and concurrency < CONCURRENCY_RETRIES:
                    self.limiter.lower_concurrency(self.corp_id, api)
                    time.sleep(backoff(concurrency))
                    concurrency += 1
                    continue
                errmsg = exc.errmsg or (
                    f"HTTP {exc.response.status_code}" if exc.response is not None else str(exc)
                )
                raise WeComError(api, code, errmsg) from exc
            except requests.ConnectionError as exc:
                # Nothing reached WeCom, so even a non-idempotent call is safe to send again.
                if connect < CONNECT_RETRIES:
                    time.sleep(backoff(connect))
                    connect += 1
                    continue
                raise WeComError(api, None, f"could not reach WeCom: {exc}") from exc
            except requests.Timeout as exc:
                # The call may have been carried out: never resend it blindly.
                raise WeComError(api, None, f"WeCom did not answer within {self.timeout}s") from exc


_clients: dict[tuple[str, str, str], WeComClient] = {}
_clients_mutex = threading.Lock()


def get_client(*, corp_id: str, secret: str, api_base: str = "") -> WeComClient:
    """One client (and HTTP connection pool) per corp, secret and base, per process."""
    api_base = api_base or settings.WECOM_API_BASE
    key = (corp_id, secret, api_base)
    with _clients_mutex:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = WeComClient(
                corp_id=corp_id,
                secret=secret,
                api_base=api_base,
                timeout=settings.WECOM_HTTP_TIMEOUT,
                limiter=get_limiter(),
            )
        return client
