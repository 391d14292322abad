"""The sandbox server: WeCom's HTTP surface over a seeded, stateful corp.

``Sandbox`` is a plain WSGI application (``wsgi_app``) that can also serve itself from a daemon thread
(``serve_in_thread``), which is how tests and ``manage.py wecom_sandbox`` run it. It owns what every
endpoint shares: the corp state (and its data file), access tokens, faults, records of what the app
sent, and delivery of encrypted callbacks to the app.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import pickle
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.util import application_uri
from xml.sax.saxutils import escape

import xmltodict
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

from . import generator, registry
from .faults import FaultPlan, parse_apis, parse_rate_limits
from .registry import RawResponse, SandboxError, SandboxNotFoundError, SandboxRequest
from .state import SandboxState

logger = logging.getLogger(__name__)

DEFAULT_CORP_ID = "wwsandbox0000001"
DEFAULT_SECRET = "SiyuSandboxCorpSecretForTheDemoCorp00000000"
DEFAULT_AGENT_ID = "1000002"
DEFAULT_TOKEN = "SiyuSandboxCallbackToken"
DEFAULT_AES_KEY = "SiyuSandboxEncodingAESKeyForDemo0123456789A"

API_PREFIX = "/cgi-bin/"
CONTROL_PREFIX = "/sandbox/"
CALLBACK_TIMEOUT = 5.0  # WeCom gives the app 5 seconds to answer a callback
# Without a 200 within the timeout WeCom sends the callback again, three times ("总共重试三次"). The
# documentation gives no interval: 5 s is our choice. All three are settings (settings/callbacks).
CALLBACK_RETRIES = 3
CALLBACK_RETRY_INTERVAL = 5.0
SAVE_DELAY = 2.0  # seconds between a change and the data file write that includes it
# media/upload takes files up to 20 MB, plus the multipart envelope; a longer body is refused whole.
MAX_BODY = 20 * 1024 * 1024 + 64 * 1024
CALLBACK_RECORDS = "callbacks"  # records key of the callbacks sent (GET /sandbox/records/callbacks)
# Read-only APIs are not recorded and do not dirty the data file: judged by the last path segment.
_READ_ONLY = re.compile(r"^(get|list|statistic)|(_list|_result|_list_v2)$")
_ERRMSG = {
    -1: "system busy",
    40001: "invalid credential",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40058: "invalid Request Parameter",
    41001: "access_token missing",
    41002: "corpid missing",
    41004: "corpsecret missing",
    42001: "access_token expired",
    45009: "reach max api daily quota limit",
    45033: "api concurrent out of limit",
    47001: "data format error",
    48002: "api forbidden",
}
_HTTP_STATUS = {200: "200 OK", 400: "400 Bad Request", 404: "404 Not Found", 405: "405 Method Not Allowed"}
_JSON = "application/json; charset=utf-8"
# Callbacks must reach the app directly: an HTTP(S)_PROXY in the environment is not for the sandbox.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def is_read_only(api_path: str) -> bool:
    """gettoken, get*, list*, statistic*, *_list, *_result: WeCom's naming for APIs that change nothing."""
    return bool(_READ_ONLY.search(api_path.rsplit("/", 1)[-1]))


def wecom_error(errcode: int, errmsg: str | None = None, ip: str = "127.0.0.1") -> dict[str, Any]:
    """An error body shaped like WeCom's, hint and all (clients must key on errcode, never errmsg)."""
    message = errmsg or _ERRMSG.get(errcode, "error")
    hint = f"{int(time.time())}{secrets.token_hex(6)}"
    return {
        "errcode": errcode,
        "errmsg": f"{message}, hint: [{hint}], from ip: {ip}, "
        f"more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}",
    }


class Sandbox:
    """A fake WeCom corp served over HTTP: same paths, shapes, limits and errors as wecom-api.md."""

    def __init__(
        self,
        *,
        seed: int = 1,
        staff: int = 20,
        contacts: int = 5000,
        groups: int = 40,
        followers: int | None = None,
        corp_id: str = DEFAULT_CORP_ID,
        secret: str = DEFAULT_SECRET,
        agent_id: str = DEFAULT_AGENT_ID,
        token: str = DEFAULT_TOKEN,
        aes_key: str = DEFAULT_AES_KEY,
        callback_url: str | None = None,
        token_ttl: int = 7200,
        data_file: str | os.PathLike[str] | None = None,
    ):
        if len(aes_key) != 43:
            raise ValueError("aes_key (EncodingAESKey) must be 43 characters")
        self.seed = seed
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = str(agent_id)
        self.callback_token = token
        self.aes_key = aes_key
        self.callback_url = callback_url
        self.token_ttl = token_ttl
        self.welcome_code_ttl = 20.0  # WeCom: a welcome_code is usable for 20 seconds
        # Callback delivery (settings/callbacks): tests shorten them rather than wait 3 × 5 s.
        self.callback_timeout = CALLBACK_TIMEOUT
        self.callback_retries = CALLBACK_RETRIES
        self.callback_retry_interval = CALLBACK_RETRY_INTERVAL
        self._stopping = threading.Event()  # set by shutdown: pending retries give up
        self.crypto = WeChatCrypto(token, aes_key, corp_id)
        self.faults = FaultPlan(seed)
        # Derived, rebuildable data of endpoint modules (paging snapshots...): never persisted.
        self.caches: dict[str, Any] = {}
        self.calls: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        self._tokens: dict[str, float] = {}  # access_token -> expires_at
        self._token_lock = threading.Lock()
        # Set by serve_in_thread; channel codes' qr_code URLs point here (see endpoints_core.qr_code_url).
        self.base_url: str | None = None
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        # Threads delivering callbacks after an API answer (endpoint_helpers.send_callbacks_later):
        # shutdown waits for them, so no delivery reaches the app after its owner stopped the sandbox.
        self.event_threads: list[threading.Thread] = []
        self.data_file = Path(data_file) if data_file else None
        self._save_lock = threading.Lock()
        self._timer_lock = threading.Lock()
        self._save_timer: threading.Timer | None = None
        self._dirty = False
        loaded = self._load()
        if loaded is not None:
            self.state = loaded
        else:
            self.state = generator.generate(
                corp_id=corp_id, seed=seed, staff=staff, contacts=contacts, groups=groups, followers=followers
            )
            self.save()

    # -- state and its data file ----------------------------------------------------------------

    def _load(self) -> SandboxState | None:
        """The corp of the data file, if there is one."""
        if not self.data_file or not self.data_file.exists():
            return None
        with self.data_file.open("rb") as f:
            state = pickle.load(f)  # noqa: S301 -- the sandbox's own file, written by save()
        if not isinstance(state, SandboxState):
            raise ValueError(f"{self.data_file} is not a sandbox data file")
        if state.corp_id != self.corp_id:
            raise ValueError(f"{self.data_file} holds corp {state.corp_id}, not {self.corp_id}")
        logger.info("WeCom sandbox: loaded %s", self.data_file)
        return state

    def mark_dirty(self) -> None:
        """Schedule a data file write; changes within SAVE_DELAY share one write."""
        if not self.data_file:
            return
        with self._timer_lock:
            self._dirty = True
            if self._save_timer is None:
                self._save_timer = threading.Timer(SAVE_DELAY, self._save_from_timer)
                self._save_timer.daemon = True
                self._save_timer.start()

    def _save_from_timer(self) -> None:
        with self._timer_lock:
            self._save_timer = None
        self.save()

    def save(self) -> None:
        """Write the state to the data file now (atomically: a crash never leaves half a file)."""
        if not self.data_file:
            return
        with self._save_lock:
            with self.state.lock:
                data = pickle.dumps(self.state, protocol=pickle.HIGHEST_PROTOCOL)
                self._dirty = False
            self.data_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.data_file.with_name(self.data_file.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, self.data_file)

    # -- access tokens ------------------------------------------------------------------------------

    def issue_token(self, corpid: str, corpsecret: str) -> tuple[str, int]:
        """gettoken: the current token while it is valid (as WeCom does), else a fresh one."""
        if not corpid:
            raise SandboxError(41002, _ERRMSG[41002])
        if not corpsecret:
            raise SandboxError(41004, _ERRMSG[41004])
        if corpid != self.corp_id:
            raise SandboxError(40013, _ERRMSG[40013])
        if corpsecret != self.secret:
            raise SandboxError(40001, _ERRMSG[40001])
        now = time.time()
        with self._token_lock:
            for token, expires_at in self._tokens.items():
                if expires_at > now:
                    return token, int(expires_at - now)
            # Expired tokens are kept a day so that they answer 42001 (expired), not 40014 (unknown).
            self._tokens = {t: e for t, e in self._tokens.items() if e > now - 86400}
            token = secrets.token_urlsafe(96)
            self._tokens[token] = now + self.token_ttl
            return token, int(self.token_ttl)

    def check_token(self, token: str) -> None:
        if not token:
            raise SandboxError(41001, _ERRMSG[41001])
        with self._token_lock:
            expires_at = self._tokens.get(token)
        if expires_at is None:
            raise SandboxError(40014, _ERRMSG[40014])
        if expires_at <= time.time():
            raise SandboxError(42001, _ERRMSG[42001])

    def expire_tokens(self) -> None:
        """Every token issued so far answers 42001 from now on (WeCom may expire tokens early)."""
        now = time.time()
        with self._token_lock:
            self._tokens = dict.fromkeys(self._tokens, now)

    # -- faults -------------------------------------------------------------------------------------

    _FAULT_KEYS = frozenset(
        {"apis", "reset", "seed", "expire_tokens_now", "token_ttl", "welcome_code_ttl", "rate_limits"}
    )

    def set_faults(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Apply a fault spec (docs/sandbox.md); validated whole before anything changes."""
        if not isinstance(spec, dict):
            raise ValueError("the fault spec must be a JSON object")
        unknown = set(spec) - self._FAULT_KEYS
        if unknown:
            raise ValueError(
                f"unknown fault spec keys {sorted(unknown)}; allowed: {sorted(self._FAULT_KEYS)}"
            )
        apis = parse_apis(spec.get("apis", {}))
        rate_limits = parse_rate_limits(spec.get("rate_limits", {}))
        for key in ("token_ttl", "welcome_code_ttl"):
            value = spec.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
            ):
                raise ValueError(f"{key} must be a positive number of seconds")
        seed = spec.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError("seed must be an integer")
        if spec.get("reset"):
            self.faults.reset()
        if seed is not None:
            self.faults.reseed(seed)
        self.faults.apply(apis)
        self.faults.set_rate_limits(rate_limits)
        if spec.get("token_ttl") is not None:
            self.token_ttl = spec["token_ttl"]
        if spec.get("welcome_code_ttl") is not None:
            self.welcome_code_ttl = float(spec["welcome_code_ttl"])
        if spec.get("expire_tokens_now"):
            self.expire_tokens()
        return self.describe_faults()

    def describe_faults(self) -> dict[str, Any]:
        return {
            "apis": self.faults.describe(),
            "rate_limits": dict(self.faults.rate_limits),
            "token_ttl": self.token_ttl,
            "welcome_code_ttl": self.welcome_code_ttl,
        }

    # -- records and summary ------------------------------------------------------------------------

    def records(self, api_path: str) -> list[dict[str, Any]]:
        """What the app sent to a mutating API (or ``"callbacks"``: what the sandbox sent the app)."""
        with self.state.lock:
            return list(self.state.records.get(api_path, []))

    def summary(self) -> dict[str, Any]:
        state = self.state
        with state.lock:
            counts = {
                "departments": len(state.departments),
                "staff": len(state.staff),
                "follow_users": sum(
                    1 for s in state.staff.values() if s.has_contact_permission and s.status == 1
                ),
                "contacts": len(state.contacts),
                "follows": sum(len(c.follows) for c in state.contacts.values()),
                "tag_groups": sum(1 for g in state.tag_groups.values() if not g.deleted),
                "tags": sum(1 for t in state.tags.values() if not t.deleted),
                "groups": sum(1 for g in state.groups.values() if not g.dismissed),
                "contact_ways": len(state.contact_ways),
                "join_ways": len(state.join_ways),
                "group_welcome_templates": len(state.group_welcome_templates),
                "welcome_codes": len(state.welcome_codes),
            }
            ext = {name: _size(value) for name, value in state.ext.items()}
            records = {path: len(items) for path, items in state.records.items()}
            meta = dict(state.meta)
        with self._stats_lock:
            calls = dict(self.calls)
        with self._token_lock:
            now = time.time()
            active_tokens = sum(1 for e in self._tokens.values() if e > now)
        return {
            "corp_id": self.corp_id,
            "agent_id": self.agent_id,
            "meta": meta,
            "counts": counts,
            "ext": ext,
            "records": records,
            "calls": calls,
            "active_tokens": active_tokens,
            "callback_url": self.callback_url,
            "faults": self.describe_faults(),
        }

    # -- callbacks ----------------------------------------------------------------------------------

    def send_callback(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Encrypt an event as WeCom does and POST it to callback_url; wait for the answer (≤ 5 s).

        Without a 200 in time the same request is sent again, ``callback_retries`` times
        ``callback_retry_interval`` apart, from a thread (this returns the first attempt's result);
        each retry's result is added to the callback's record under ``retries``.

        Never call it while holding ``state.lock``: the app may call the sandbox back while handling
        the event (to re-read the customer, send the welcome message) and would wait on that lock.
        """
        if self.state.lock._is_owned():
            raise RuntimeError("send_callback() called while holding state.lock: release it first")
        envelope: dict[str, Any] = {
            "ToUserName": self.corp_id,
            "FromUserName": "sys",
            "CreateTime": int(time.time()),
            "MsgType": "event",
            **fields,
        }
        request = self._callback_request(to_xml(envelope)) if self.callback_url else None
        if request is not None:
            result, _ = _fetch(request, self.callback_timeout)
        else:
            result = {"delivered": False, "status": None, "error": "no callback_url configured"}
        record = {"at": time.time(), "body": envelope, "query": {}, "result": result, "retries": []}
        with self.state.lock:
            self.state.records[CALLBACK_RECORDS].append(record)
        if request is not None and not result["delivered"] and self.callback_retries > 0:
            thread = threading.Thread(
                target=self._retry_callback, args=(request, record), name="wecom-sandbox-retry", daemon=True
            )
            self.event_threads = [t for t in self.event_threads if t.is_alive()] + [thread]
            thread.start()
        return result

    def _retry_callback(self, request: urllib.request.Request, record: dict[str, Any]) -> None:
        """WeCom's retries of a callback the app did not answer with a 200 in time: the same request."""
        for _ in range(self.callback_retries):
            if self._stopping.wait(self.callback_retry_interval):
                return
            result, _ = _fetch(request, self.callback_timeout)
            with self.state.lock:
                record["retries"].append(result)
            if result["delivered"]:
                return

    def _callback_request(self, xml: str) -> urllib.request.Request:
        assert self.callback_url
        nonce, timestamp = secrets.token_hex(8), str(int(time.time()))
        encrypted = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, timestamp))["xml"]
        body = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<AgentID><![CDATA[{self.agent_id}]]></AgentID>"
            f"<Encrypt><![CDATA[{encrypted['Encrypt']}]]></Encrypt></xml>"
        )
        query = {"msg_signature": encrypted["MsgSignature"], "timestamp": timestamp, "nonce": nonce}
        request = urllib.request.Request(  # noqa: S310 -- the configured callback URL, http(s) only
            _with_query(self.callback_url, query),
            data=body.encode("utf-8"),
            method="POST",
            headers={"Content-Type": "text/xml; charset=utf-8", "User-Agent": "WeCom-Sandbox"},
        )
        return request

    def verify_callback_url(self) -> dict[str, Any]:
        """Do what WeCom does when an admin saves the callback URL: GET with an encrypted echostr.

        The app passes when it answers the decrypted echostr, verbatim.
        """
        if not self.callback_url:
            return {"verified": False, "status": None, "error": "no callback_url configured"}
        plain = secrets.token_hex(10)
        echostr = PrpCrypto(self.crypto.key).encrypt(plain, self.corp_id).decode("ascii")
        timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
        signature = hashlib.sha1(  # noqa: S324 -- WeCom's signature algorithm
            "".join(sorted([self.callback_token, timestamp, nonce, echostr])).encode()
        ).hexdigest()
        query = {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce, "echostr": echostr}
        request = urllib.request.Request(_with_query(self.callback_url, query), method="GET")  # noqa: S310
        result, content = _fetch(request, CALLBACK_TIMEOUT)
        answer = content.decode("utf-8", "replace")
        verified = result["delivered"] and answer == plain
        error = result["error"] or (None if verified else f"answered {answer[:100]!r}, expected {plain!r}")
        return {"verified": verified, "status": result["status"], "error": error}

    # -- HTTP -----------------------------------------------------------------------------------------

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET").upper()
        query = {
            k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()
        }
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(min(length, MAX_BODY)) if length > 0 else b""
        content_type = environ.get("CONTENT_TYPE", "")
        ip = environ.get("REMOTE_ADDR", "127.0.0.1")
        if length > MAX_BODY:
            _drain(environ["wsgi.input"], length - MAX_BODY)  # read it all, or the client sees a reset
            if path.startswith(API_PREFIX):
                status, payload = (
                    200,
                    wecom_error(40006, f"the request body is larger than {MAX_BODY} bytes", ip),
                )
            else:
                status, payload = 400, {"error": f"the request body is larger than {MAX_BODY} bytes"}
        elif path.startswith(API_PREFIX):
            status, payload = self._handle_api(method, path[len(API_PREFIX) :], query, body, content_type, ip)
        elif path.startswith(CONTROL_PREFIX):
            status, payload = self._handle_control(
                method, path[len(CONTROL_PREFIX) :], query, body, content_type
            )
        elif path == "/" and method == "GET":
            base = application_uri(environ).rstrip("/")
            status, payload = 200, self._index(base)
        else:
            status, payload = 404, {"error": f"not found: {path}; the WeCom API is under {API_PREFIX}"}
        if isinstance(payload, RawResponse):
            data, mime = payload.body, payload.content_type
        else:
            data, mime = json.dumps(payload, ensure_ascii=False).encode("utf-8"), _JSON
        start_response(
            _HTTP_STATUS.get(status, f"{status} Error"),
            [("Content-Type", mime), ("Content-Length", str(len(data)))],
        )
        return [data]

    def _index(self, base: str) -> dict[str, Any]:
        return {
            "service": "WeCom sandbox (a fake of the WeCom server API; see docs/sandbox.md)",
            "api_base": f"{base}{API_PREFIX}",
            "corp_id": self.corp_id,
            "agent_id": self.agent_id,
            "apis": sorted(registry.ROUTES),
            "control": sorted(f"{CONTROL_PREFIX}{p}" for p in registry.CONTROL_ROUTES),
        }

    def _count_call(self, api_path: str) -> None:
        with self._stats_lock:
            self.calls[api_path] += 1

    def _handle_api(
        self, method: str, api_path: str, query: dict[str, str], body: bytes, content_type: str, ip: str
    ) -> tuple[int, dict[str, Any]]:
        entry = registry.ROUTES.get(api_path)
        if entry is None:
            return 404, wecom_error(404, f"invalid api path {API_PREFIX}{api_path}", ip)
        self._count_call(api_path)
        methods, handler = entry
        if method not in methods:
            return 200, wecom_error(40058, f"{method} not allowed, use {'/'.join(methods)}", ip)
        try:
            if api_path != "gettoken":
                self.check_token(query.get("access_token", ""))
            payload = _parse_json(body, content_type)
        except SandboxError as e:
            return 200, wecom_error(e.errcode, e.errmsg, ip)
        if not self.faults.admit(api_path, time.time()):
            return 200, wecom_error(45009, None, ip)
        faults = self.faults.effective(api_path)
        if not self.faults.enter(api_path, faults.concurrency):
            return 200, wecom_error(45033, None, ip)
        try:
            if faults.latency_ms:
                time.sleep(faults.latency_ms / 1000)
            errcode = self.faults.roll(faults.errors)
            if errcode is not None:
                return 200, wecom_error(errcode, None, ip)
            request = SandboxRequest(method, api_path, query, payload, body, content_type)
            mutating = not is_read_only(api_path)
            with self.state.lock:
                result = handler(self, request)
                if mutating:
                    self.state.records[api_path].append(_record(request))
            if mutating:
                self.mark_dirty()
            return 200, {"errcode": 0, "errmsg": "ok", **result}
        except SandboxError as e:
            return 200, wecom_error(e.errcode, e.errmsg, ip)
        except Exception as e:
            logger.exception("WeCom sandbox: %s failed", api_path)
            return 500, wecom_error(-1, f"sandbox bug in {api_path}: {e!r}", ip)
        finally:
            self.faults.leave(api_path)

    def _handle_control(
        self, method: str, path: str, query: dict[str, str], body: bytes, content_type: str
    ) -> tuple[int, dict[str, Any] | RawResponse]:
        entry = _control_route(path.rstrip("/"))
        if entry is None:
            return 404, {"error": f"unknown sandbox control path {CONTROL_PREFIX}{path}"}
        methods, handler = entry
        if method not in methods:
            return 405, {"error": f"{method} not allowed on {CONTROL_PREFIX}{path}; use {'/'.join(methods)}"}
        try:
            payload = _parse_json(body, content_type)
        except SandboxError:
            return 400, {"error": "the body is not a JSON object"}
        # No state.lock here: control handlers take it themselves and release it before send_callback.
        try:
            result = handler(
                self, SandboxRequest(method, path.rstrip("/"), query, payload, body, content_type)
            )
        except SandboxError as e:
            return 400, {"error": e.errmsg, "errcode": e.errcode}
        except SandboxNotFoundError as e:
            return 404, {"error": str(e)}
        except ValueError as e:
            return 400, {"error": str(e)}
        except Exception as e:
            logger.exception("WeCom sandbox: control %s failed", path)
            return 500, {"error": f"sandbox bug in {CONTROL_PREFIX}{path}: {e!r}"}
        if method != "GET":
            self.mark_dirty()
        return 200, result

    def serve_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a daemon thread (one thread per request); returns the base URL. Port 0: any free."""
        if self._server is not None:
            raise RuntimeError("this sandbox is already serving")
        server = make_server(
            host, port, self.wsgi_app, server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        self._server = server
        self._stopping.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="wecom-sandbox", daemon=True
        )
        self._thread.start()
        shown_host = "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104 -- only compared
        self.base_url = f"http://{shown_host}:{server.server_port}"
        return self.base_url

    def shutdown(self) -> None:
        """Stop serving and write pending changes to the data file."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            self.base_url = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for thread in self.event_threads:
            thread.join(timeout=10)
        self.event_threads.clear()
        with self._timer_lock:
            if self._save_timer is not None:
                self._save_timer.cancel()
                self._save_timer = None
            dirty = self._dirty
        if dirty:
            self.save()


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # parallel callers (concurrency tests, benchmarks) must not be refused


class _QuietHandler(WSGIRequestHandler):
    # wsgiref writes the headers and the body in two sends: with Nagle's algorithm on, the body
    # waits for the client's delayed ACK of the headers (40 ms on Linux) on every call.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("WeCom sandbox: " + format, *args)


def _control_route(path: str) -> tuple[tuple[str, ...], registry.Handler] | None:
    """Exact match, else the longest registered prefix (``records`` serves ``records/<api path>``)."""
    if path in registry.CONTROL_ROUTES:
        return registry.CONTROL_ROUTES[path]
    parts = path.split("/")
    for i in range(len(parts) - 1, 0, -1):
        entry = registry.CONTROL_ROUTES.get("/".join(parts[:i]))
        if entry is not None:
            return entry
    return None


def _drain(stream: Any, remaining: int) -> None:
    while remaining > 0:
        chunk = stream.read(min(remaining, 1024 * 1024))
        if not chunk:
            return
        remaining -= len(chunk)


def _parse_json(body: bytes, content_type: str) -> dict[str, Any]:
    """JSON whatever the Content-Type says (wechatpy sends none); uploads are left to their handler."""
    if content_type.startswith("multipart/") or not body.strip():
        return {}
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SandboxError(47001, _ERRMSG[47001]) from None
    if not isinstance(payload, dict):
        raise SandboxError(47001, _ERRMSG[47001])
    return payload


def _record(request: SandboxRequest) -> dict[str, Any]:
    body: dict[str, Any] = request.json
    if not body and request.body:
        body = {"content_type": request.content_type, "bytes": len(request.body)}
    query = {k: v for k, v in request.query.items() if k != "access_token"}
    return {"at": time.time(), "body": body, "query": query}


def _size(value: Any) -> int | dict[str, int] | None:
    """len() of an ext section; for a section object, len() of each of its collections."""
    try:
        return len(value)
    except TypeError:
        pass
    fields = getattr(value, "__dict__", None)
    if fields is None:
        return None
    return {k: len(v) for k, v in fields.items() if isinstance(v, list | dict | set | tuple)}


def to_xml(fields: dict[str, Any]) -> str:
    """The callback envelope: text in CDATA, numbers bare, lists as repeated <Item>, dicts nested."""
    return f"<xml>{''.join(_xml_element(k, v) for k, v in fields.items())}</xml>"


def _xml_element(name: str, value: Any) -> str:
    if isinstance(value, dict):
        inner = "".join(_xml_element(k, v) for k, v in value.items())
    elif isinstance(value, list | tuple):
        inner = "".join(_xml_element("Item", item) for item in value)
    elif isinstance(value, bool):
        inner = str(int(value))
    elif isinstance(value, int | float):
        inner = str(value)
    else:
        inner = "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"
    return f"<{escape(name)}>{inner}</{escape(name)}>"


def _with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _fetch(request: urllib.request.Request, timeout: float) -> tuple[dict[str, Any], bytes]:
    """Send a request to the app: ({delivered, status, error}, the answer's first 64 KB)."""
    if not request.full_url.startswith(("http://", "https://")):
        return {"delivered": False, "status": None, "error": "callback_url must be http(s)"}, b""
    try:
        with _DIRECT.open(request, timeout=timeout) as response:
            content = response.read(65536)
            return {
                "delivered": 200 <= response.status < 300,
                "status": response.status,
                "error": None,
            }, content
    except urllib.error.HTTPError as e:
        return {"delivered": False, "status": e.code, "error": f"HTTP {e.code} {e.reason}"}, b""
    except (urllib.error.URLError, OSError) as e:
        return {"delivered": False, "status": None, "error": str(getattr(e, "reason", e))}, b""


CALLBACK_SETTINGS = {
    "timeout": "callback_timeout",
    "retries": "callback_retries",
    "interval": "callback_retry_interval",
}


@registry.control_route("settings/callbacks", methods=("GET", "POST"))
def settings_callbacks(sandbox: Sandbox, req: SandboxRequest) -> dict[str, Any]:
    """``{timeout?: seconds, retries?: int, interval?: seconds}`` → the callback delivery now in force:
    how long the app has to answer 200, how many times an unanswered callback is sent again, and how
    long apart (WeCom: 5 s, 3 times; the interval is not documented). Validated whole first."""
    changes = req.json if req.method == "POST" else {}
    unknown = set(changes) - set(CALLBACK_SETTINGS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; allowed: {sorted(CALLBACK_SETTINGS)}")
    for key, value in changes.items():
        integer = key == "retries"
        if isinstance(value, bool) or not isinstance(value, int if integer else int | float) or value < 0:
            raise ValueError(f"{key} must be a non-negative {'integer' if integer else 'number'}")
    if changes.get("timeout") == 0:
        raise ValueError("timeout must be more than 0")
    for key, value in changes.items():
        setattr(sandbox, CALLBACK_SETTINGS[key], value)
    return {"settings": {key: getattr(sandbox, attr) for key, attr in CALLBACK_SETTINGS.items()}}


def _load_endpoint_modules() -> None:
    """Import every endpoint module so its routes and generator hooks register.

    The sections written separately are imported only if their file exists, and then plainly: a bug in
    one of them must fail loudly, not silently remove its APIs.
    """
    for name in ("endpoints_core", "control"):
        importlib.import_module(f"{__package__}.{name}")
    for name in ("endpoints_groups", "endpoints_marketing", "endpoints_transfer"):
        if Path(__file__).with_name(f"{name}.py").exists():
            importlib.import_module(f"{__package__}.{name}")


_load_endpoint_modules()
