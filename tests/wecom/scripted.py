"""A scripted WeCom for the gateway's tests: each API path answers what the test says."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class ScriptedWeCom:
    """Answers each API path from a list of bodies (the last one repeats) and records the calls.

    ``{"errcode": "token-check"}`` answers ok only to the newest token issued, else 42001.
    """

    def __init__(self):
        self.script: dict[str, list[dict]] = {}
        self.calls: dict[str, list[dict]] = {}
        self.tokens_issued = 0
        script = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.answer()

            def do_POST(self):
                self.answer()

            def answer(self):
                url = urlsplit(self.path)
                api = url.path.removeprefix("/cgi-bin/")
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if api == "gettoken":
                    answers = script.script.get("gettoken")
                    if answers:
                        body = answers.pop(0) if len(answers) > 1 else answers[0]
                    else:
                        script.tokens_issued += 1
                        token = f"T{script.tokens_issued}"
                        body = {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}
                else:
                    script.calls.setdefault(api, []).append(query)
                    answers = script.script.get(api, [{"errcode": 0, "errmsg": "ok"}])
                    body = answers.pop(0) if len(answers) > 1 else answers[0]
                    if body.get("errcode") == "token-check":
                        ok = query.get("access_token") == f"T{script.tokens_issued}"
                        body = (
                            {"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 42001, "errmsg": "expired"}
                        )
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/cgi-bin/"


@contextmanager
def scripted_wecom() -> Iterator[ScriptedWeCom]:
    wecom = ScriptedWeCom()
    thread = threading.Thread(target=wecom.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield wecom
    finally:
        wecom.server.shutdown()
        wecom.server.server_close()
