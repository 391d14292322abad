"""`make run` exactly as a newcomer runs it: no DATABASE_URL, no REDIS_URL, nothing else running.

Keeps the embedded defaults (SQLite, filesystem broker, local cache) from rotting silently: the app
must come up ready, serve the API docs, and let the printed demo admin log in.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Variables the test settings put into this process's environment; make run must not see them.
STRIPPED = {
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEY",
    "DJANGO_SETTINGS_MODULE",
}
STRIPPED |= {"CELERY_TASK_ALWAYS_EAGER", "PUBLIC_URL", "SIYU_VAR_DIR", "PORT", "SANDBOX_PORT"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class App:
    def __init__(self, var_dir: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in STRIPPED and not k.startswith("PYTEST")}
        self.sandbox_port = free_port()
        env.update(PORT=str(self.port), SANDBOX_PORT=str(self.sandbox_port), SIYU_VAR_DIR=str(var_dir))
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, so web, worker and beat all stop with it
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, predicate, what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.process.poll() is not None:
                pytest.fail(
                    f"make run exited ({self.process.returncode}) before {what}:\n{self.output[-4000:]}"
                )
            time.sleep(0.5)
        pytest.fail(f"timed out waiting for {what}:\n{self.output[-4000:]}")

    def request(self, path: str, data: dict | None = None, headers: dict | None = None):
        body = json.dumps(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        if body is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(req, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except (urllib.error.URLError, ConnectionError):
            return None, ""

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.mark.e2e
@pytest.mark.xdist_group("make-run")
def test_make_run_serves_readyz_the_dashboard_docs_and_the_demo_login(tmp_path):
    app = App(tmp_path)
    try:
        app.wait_for(lambda: app.request("/readyz")[0] == 200, "/readyz to answer 200")
        status, body = app.request("/readyz")
        assert json.loads(body)["checks"]["broker"] == {"ok": True}

        # The dashboard is built and served by the same process, with client routes falling back
        # to its index.html, whose bundle is served too.
        status, index = app.request("/")
        assert status == 200
        assert '<div id="root">' in index, index[:500]
        assert app.request("/customers?status=active") == (200, index)
        bundle = re.search(r'src="(/assets/[^"]+\.js)"', index)
        assert bundle, index
        assert app.request(bundle.group(1))[0] == 200

        status, docs = app.request("/api/docs/")
        assert status == 200
        assert "swagger-ui" in docs
        asset = re.search(r'src="(/static/[^"]*swagger-ui[^"]*\.js)"', docs)
        assert asset, docs
        assert app.request(asset.group(1))[0] == 200

        creds = re.search(r"admin\s+(\S+) / (\S+)", app.output)
        assert creds, app.output
        status, body = app.request("/api/v1/auth/csrf/")
        token = json.loads(body)["csrf_token"]
        status, body = app.request(
            "/api/v1/auth/login/",
            {"username": creds.group(1), "password": creds.group(2)},
            headers={"X-CSRFToken": token},
        )
        assert status == 200, body
        me = json.loads(body)
        assert (me["role"], me["active_tenant"]["slug"]) == ("admin", "demo")
        status, body = app.request("/api/v1/members/")
        assert status == 200
        assert {m["username"] for m in json.loads(body)["results"]} == {"demo-admin", "demo-sales"}

        # The demo tenant is connected to the WeCom sandbox make run started: no WeCom account needed.
        app.wait_for(lambda: "WeCom sandbox serving" in app.output, "the WeCom sandbox to start", timeout=60)
        # Login rotates the CSRF token; the login response carries the new one.
        headers = {"X-CSRFToken": me["csrf_token"]}
        status, body = app.request("/api/v1/wecom/test-connection/", {}, headers=headers)
        assert status == 200, body
        assert json.loads(body)["ok"] is True, body

        # The worker and beat came up on the embedded broker too, not only the web process.
        app.wait_for(lambda: "ready." in app.output, "the Celery worker to be ready", timeout=60)

        # A full contacts sync runs on that worker (SQLite, filesystem broker) and fills the book. (The
        # first start queued one already; asking again returns that run.)
        status, body = app.request("/api/v1/sync-runs/", {}, headers=headers)
        assert status in (201, 202), body
        run_id = json.loads(body)["id"]

        def sync_finished() -> bool:
            status, body = app.request(f"/api/v1/sync-runs/{run_id}/")
            return status == 200 and json.loads(body)["status"] in ("succeeded", "partial", "failed")

        app.wait_for(sync_finished, "the contacts sync to finish", timeout=120)
        run = json.loads(app.request(f"/api/v1/sync-runs/{run_id}/")[1])
        assert run["status"] == "succeeded", run
        assert run["created"] > 1000, run
        status, body = app.request("/api/v1/tag-groups/")
        tag = json.loads(body)[0]["tags"][0]
        status, body = app.request(f"/api/v1/contacts/?tags_all={tag['id']}&page_size=5")
        assert status == 200, body
        tagged = json.loads(body)["results"]
        assert tagged
        assert all(tag["id"] in [t["id"] for t in c["tags"]] for c in tagged), tagged

        # Customers adding the demo salesperson arrive through callbacks the worker processes, each
        # of them, even in quick succession; the salesperson's own login sees them.
        salesperson = next(m for m in json.loads(app.request("/api/v1/members/")[1])["results"]
                           if m["username"] == "demo-sales")["wecom_userid"]  # fmt: skip
        added = []
        for name in ("端到端一号", "端到端二号"):
            request = urllib.request.Request(
                f"http://127.0.0.1:{app.sandbox_port}/sandbox/simulate/customer-add",
                data=json.dumps({"userid": salesperson, "name": name, "state": "ch_e2e"}).encode(),
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = json.loads(response.read())
                assert answer["callback"]["delivered"] is True, answer
                added.append(answer["external_userid"])

        def events_processed() -> bool:
            status, body = app.request("/api/v1/wecom/events/")
            return status == 200 and sorted(e["status"] for e in json.loads(body)["results"]) == ["done"] * 2

        app.wait_for(events_processed, "both callback events to be processed by the worker", timeout=30)
        status, body = app.request("/api/v1/contacts/?state=ch_e2e")
        assert sorted(c["external_userid"] for c in json.loads(body)["results"]) == sorted(added)
        app.wait_for(lambda: "beat: Starting" in app.output, "Celery beat to start", timeout=60)

        # The demo's new-customer SOP runs on SQLite too: the beat's tick reads the event stream (30 s
        # behind its head) and enrols both customers. (Their first step, a reminder, waits for the end
        # of the SOP's quiet hours at night, so the tasks are not asserted here: tests/sop do.)
        def nurture_id() -> int | None:
            sops = json.loads(app.request("/api/v1/sops/?kind=customer")[1])["results"]
            return next((s["id"] for s in sops if s["status"] == "live"), None)

        app.wait_for(lambda: nurture_id() is not None, "the demo's SOPs to be seeded", timeout=60)

        def enrolled() -> bool:
            status, body = app.request(f"/api/v1/sops/{nurture_id()}/enrolments/?page_size=100")
            names = {e["contact"]["name"] for e in json.loads(body)["results"] if e.get("contact")}
            return status == 200 and {"端到端一号", "端到端二号"} <= names

        app.wait_for(enrolled, "the SOP tick to enrol both new customers", timeout=150)
        assert (tmp_path / "db.sqlite3").exists()
    finally:
        app.stop()
