"""WeCom fixtures: an in-process sandbox, plain wechatpy clients pointed at it, a callback receiver.

``sandbox``: a small seeded corp served on 127.0.0.1 (shut down after the test). ``sandbox_factory``:
the same with other sizes, faults or a callback URL. ``wx``: wechatpy's own enterprise client on the
sandbox (``wx_for(sandbox, secret=...)`` for others). ``callback_receiver()``: a local HTTP endpoint that
stores what the sandbox POSTs and can decrypt it. Nothing here leaves 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import xmltodict
from wechatpy.enterprise import WeChatClient
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException

from scrm.wecom.sandbox import DEFAULT_AES_KEY, DEFAULT_CORP_ID, DEFAULT_TOKEN, Sandbox

SMALL_CORP = {"seed": 7, "staff": 8, "contacts": 300, "groups": 10}


class SandboxWeChatClient(WeChatClient):
    """wechatpy's enterprise client on a sandbox (wechatpy 1.8.18 hard-codes the real gettoken URL)."""

    def __init__(self, api_base_url: str, corp_id: str, secret: str, **kwargs: Any):
        kwargs.setdefault("timeout", 10)
        kwargs.setdefault("auto_retry", False)  # its retry is unbounded; tests want to see every errcode
        super().__init__(corp_id, secret, **kwargs)
        self.API_BASE_URL = api_base_url
        self._http.trust_env = False  # an HTTP(S)_PROXY in the environment must not sit before 127.0.0.1

    def fetch_access_token(self) -> dict[str, Any]:
        return self._fetch_access_token(
            url=self.API_BASE_URL + "gettoken", params={"corpid": self.corp_id, "corpsecret": self.secret}
        )


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """``make(**Sandbox kwargs)``: a served sandbox (small corp unless sizes are given)."""
    started: list[Sandbox] = []

    def make(**kwargs: Any) -> Sandbox:
        sandbox = Sandbox(**{**SMALL_CORP, **kwargs})
        started.append(sandbox)
        sandbox.serve_in_thread()
        return sandbox

    yield make
    for sandbox in started:
        sandbox.shutdown()


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return sandbox_factory()


@pytest.fixture
def wx_for() -> Callable[..., SandboxWeChatClient]:
    """``wx_for(sandbox, secret=None, corp_id=None)``: a wechatpy client on that sandbox."""

    def make(sandbox: Sandbox, secret: str | None = None, corp_id: str | None = None) -> SandboxWeChatClient:
        assert sandbox.base_url, "serve the sandbox first"
        return SandboxWeChatClient(
            f"{sandbox.base_url}/cgi-bin/", corp_id or sandbox.corp_id, secret or sandbox.secret
        )

    return make


@pytest.fixture
def wx(sandbox: Sandbox, wx_for: Callable[..., SandboxWeChatClient]) -> SandboxWeChatClient:
    return wx_for(sandbox)


class CallbackReceiver:
    """The app's callback URL, played by a tiny HTTP server: stores requests, answers URL checks."""

    def __init__(self, token: str, aes_key: str, corp_id: str, status: int = 200):
        self.crypto = WeChatCrypto(token, aes_key, corp_id)
        self.status = status
        self.delay = 0.0  # seconds before answering a POST (an app slower than WeCom's timeout)
        self.requests: list[dict[str, Any]] = []  # {"method", "query", "body", "headers"}
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._store("POST", self, body)
                time.sleep(receiver.delay)
                # The sandbox may have stopped waiting (its timeout), as WeCom does.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._answer(receiver.status, b"")

            def do_GET(self) -> None:
                query = receiver._store("GET", self, b"")
                try:
                    plain = receiver.crypto.check_signature(
                        query["msg_signature"], query["timestamp"], query["nonce"], query["echostr"]
                    )
                except InvalidSignatureException:
                    self._answer(403, b"")
                else:
                    self._answer(200, plain.encode())

            def _answer(self, status: int, content: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/wecom/callback/demo/"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def _store(self, method: str, handler: BaseHTTPRequestHandler, body: bytes) -> dict[str, str]:
        query = {k: v[-1] for k, v in parse_qs(urlsplit(handler.path).query).items()}
        self.requests.append(
            {"method": method, "query": query, "body": body, "headers": dict(handler.headers)}
        )
        self.arrived.set()
        return query

    def events(self) -> list[dict[str, Any]]:
        """Every POSTed event, signature checked and decrypted, as a dict of the envelope's fields."""
        events = []
        for request in self.requests:
            if request["method"] == "POST":
                q = request["query"]
                xml = self.crypto.decrypt_message(
                    request["body"], q["msg_signature"], q["timestamp"], q["nonce"]
                )
                events.append(xmltodict.parse(xml)["xml"])
        return events

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def callback_receiver() -> Iterator[Callable[..., CallbackReceiver]]:
    """``callback_receiver(status=200, token=..., aes_key=..., corp_id=...)`` (sandbox defaults)."""
    receivers: list[CallbackReceiver] = []

    def make(
        status: int = 200,
        token: str = DEFAULT_TOKEN,
        aes_key: str = DEFAULT_AES_KEY,
        corp_id: str = DEFAULT_CORP_ID,
    ) -> CallbackReceiver:
        receiver = CallbackReceiver(token, aes_key, corp_id, status)
        receivers.append(receiver)
        return receiver

    yield make
    for receiver in receivers:
        receiver.close()
