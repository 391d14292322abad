"""Welcome messages: 1,000 customers add a channel code's staff at 20 per second, through the sandbox.

Each add is a scan of the code, ``POST /sandbox/simulate/customer-add {"config_id"}`` (the sandbox picks
the member, creates the customer and delivers the encrypted ``add_external_contact`` callback, with the
code's ``State`` and a ``WelcomeCode``, to gunicorn; the call returns once the app answered), paced by
start time from a thread pool. ONE Celery worker, started as the Procfile starts it (``celery --app
scrm worker``, its default concurrency unless ``--concurrency``), drains the inbox and greets.
Latency of one add: from the callback's receipt by the app (``wecom_callbackevent.received_at``) to
the sandbox recording the ``send_welcome_msg`` that used its welcome_code (the record's ``at``). A
welcome_code lives 20 s. Goals (issue 6): 100% greeted within 20 s, p95 ≤ 2 s. Percentiles are over
every add, an add never greeted counting as infinitely late (so a p95 of null means more than 5% were
never greeted).

Floor, measured in the same run at the same rate and size: the plainest possible greeter, a bare HTTP
server in this process that, inside the callback request itself, decrypts the event, re-reads the
customer (``externalcontact/get``: the text's ``{customer_name}`` needs the name, which the event does
not carry) and calls ``send_welcome_msg`` with the same text and link, before answering WeCom. Its
latency is measured the same way, from its receipt of the decrypted event to the sandbox's record:
two sandbox round trips, with no storage, no queue, no worker. That is the least any implementation
pays; what the app adds on top is its durable inbox, the Redis nudge, the Celery hop, the customer's
upsert and the Welcome bookkeeping.

    python bench/welcome.py [--adds 1000] [--rate 20] [--concurrency N]

Ten warm-up adds (not counted) precede each measured phase, so first connections and imports are
not in the figures. Also reported, to explain the figures: the split of the app's latency at the
handler's start (``claimed_at``, renewed as the handler starts), the channel's auto-tag (receipt →
``mark_tag`` recorded, waited for up to two minutes), the CPU time per add of the worker, gunicorn and
the sandbox (from /proc), and how busy the whole machine was while the adds were sent (other people's
processes included: a busy machine explains a slow run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import xmltodict
from wechatpy.enterprise.crypto import WeChatCrypto

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.common import ROOT, Gunicorn, app_env, fresh_database, manage, report
from bench.sync import SandboxProcess
from scrm.wecom.sandbox import (
    DEFAULT_AES_KEY,
    DEFAULT_AGENT_ID,
    DEFAULT_CORP_ID,
    DEFAULT_SECRET,
    DEFAULT_TOKEN,
)

WELCOME_CODE_TTL = 20.0
AUTOTAG_WAIT = 120  # tagging tasks queue behind the greetings on the one worker: they may trail the run
INF = float("inf")
WARMUP_ADDS = 10
# Each add blocks until its callback is answered (≤ 5 s, WeCom's limit): enough threads for 5 s of adds.
MAX_IN_FLIGHT = 200
WORKER_NAME = "bench-welcome@bench"
LOG_PROBLEM = re.compile(r": (WARNING|ERROR|CRITICAL)/")  # Celery's log format: "[time: LEVEL/process]"
SEND = "externalcontact/send_welcome_msg"
TEXT = "Hi {customer_name}, I am {staff_name}. Welcome to Siyu!"
LINK = {
    "title": "Our spring catalogue",
    "url": "https://example.com/catalogue",
    "description": "Everything new this season",
    "picture_url": "https://example.com/catalogue.png",
}
# The same link as WeCom's send_welcome_msg takes it (the floor sends it itself).
WECOM_LINK = {
    "msgtype": "link",
    "link": {
        "title": LINK["title"],
        "url": LINK["url"],
        "desc": LINK["description"],
        "picurl": LINK["picture_url"],
    },
}

SETUP = """
import json
from contacts.models import Staff, Tag
from contacts.services.channels import channel_create
from library.services import material_create
from scrm.celery import app
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Tenant
from scrm.wecom.ratelimit import get_limiter
from scrm.wecom.services import _drain_flag

tenant = Tenant.objects.get(slug="bench")
# Leftovers of earlier runs in the bench Redis (tenant ids restart at 1 in a fresh database): a stale
# drain flag would hold back this run's first drain for up to 30 s.
app.control.purge()
get_limiter().backend.delete(_drain_flag(tenant.id))
with tenant_context(tenant):
    staff = list(Staff.objects.filter(has_contact_permission=True, is_active=True).order_by("id"))
    tag = Tag.objects.filter(deleted=False).order_by("id").first()
    # The welcome's link is a material of the content library, as the dashboard makes it.
    link = material_create(kind="link", data=%r)
    welcome = {"text": %r, "attachments": [{"material_id": link.pk}]}
    way = channel_create(
        name="Bench channel", user_ids=[s.pk for s in staff], multi=True, tag_ids=[tag.pk], welcome=welcome
    )
staff_names = {s.userid: s.name for s in staff}
print(json.dumps({"state": way.state, "config_id": way.config_id, "staff": staff_names}))
"""

INSPECT = """
import json, time
from scrm.celery import app
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    inspect = app.control.inspect([%(name)r], timeout=1)
    stats = (inspect.stats() or {}).get(%(name)r)
    if stats:
        queues = (inspect.active_queues() or {}).get(%(name)r, [])
        names = sorted(q["name"] for q in queues)
        print(json.dumps({"concurrency": stats["pool"]["max-concurrency"], "queues": names}))
        break
"""

# The sandbox and the floor talk to local servers: an HTTP(S)_PROXY in the environment is not for them.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(url: str, body: dict | None = None, timeout: float = 30) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    with _DIRECT.open(urllib.request.Request(url, data=data), timeout=timeout) as response:
        return json.loads(response.read())


def shell(env: dict[str, str], code: str) -> dict | None:
    """Run ``code`` in ``manage.py shell``; its JSON line (the last one), None if it printed nothing."""
    lines = manage(env, "shell", "--no-imports", "-c", code).strip().splitlines()
    return json.loads(lines[-1]) if lines else None


class Worker:
    """One Celery worker, started as the Procfile starts it, in its own process group; logs to a file."""

    def __init__(self, env: dict[str, str], concurrency: int | None):
        self.command = [
            "celery",
            "--app",
            "scrm",
            "worker",
            "--loglevel",
            "WARNING",
            "--hostname",
            WORKER_NAME,
        ]
        if concurrency:
            self.command += ["--concurrency", str(concurrency)]
        # Kept after the run (its path is in the figures) for a look at what went wrong, if anything.
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 -- open for the worker's lifetime
            "w", prefix="bench-welcome-worker-", suffix=".log", delete=False
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", *self.command],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            answer = shell(env, INSPECT % {"name": WORKER_NAME})
            if answer is None:
                raise SystemExit(f"the Celery worker did not answer within 60 s; see {self.log.name}")
        except BaseException:
            self.stop()
            raise
        self.info = answer

    def stop(self) -> None:
        # SIGTERM to the main process only: Celery's warm shutdown lets the pool finish its tasks
        # (SIGTERM to the whole group would kill them mid-task).
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()

    def problems(self) -> int:
        """Warnings and errors the worker logged (a failed event, a task that died...)."""
        with open(self.log.name) as log:
            return sum(1 for line in log if LOG_PROBLEM.search(line))


class FloorGreeter:
    """The plainest greeter: greets inside the callback request, then answers (see the docstring)."""

    def __init__(self, api: str, staff_names: dict[str, str]):
        self.crypto = WeChatCrypto(DEFAULT_TOKEN, DEFAULT_AES_KEY, DEFAULT_CORP_ID)
        token = call(f"{api}gettoken?corpid={DEFAULT_CORP_ID}&corpsecret={DEFAULT_SECRET}")["access_token"]
        self.get_url = f"{api}externalcontact/get?access_token={token}&external_userid="
        self.send_url = f"{api}{SEND}?access_token={token}"
        self.staff_names = staff_names
        self.received: dict[str, float] = {}
        self.errors: list[str] = []
        greeter = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    greeter.greet(body, query)
                except Exception as e:  # counted and shown: the run goes on
                    greeter.errors.append(repr(e))
                self.send_response(200)
                self.send_header("Content-Length", "7")
                self.end_headers()
                self.wfile.write(b"success")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def greet(self, body: bytes, query: dict[str, str]) -> None:
        xml = self.crypto.decrypt_message(body, query["msg_signature"], query["timestamp"], query["nonce"])
        event = xmltodict.parse(xml)["xml"]
        received = time.time()
        customer = call(self.get_url + event["ExternalUserID"])["external_contact"]
        text = TEXT.format(customer_name=customer["name"], staff_name=self.staff_names[event["UserID"]])
        answer = call(
            self.send_url,
            {"welcome_code": event["WelcomeCode"], "text": {"content": text}, "attachments": [WECOM_LINK]},
        )
        if answer["errcode"]:
            raise RuntimeError(f"send_welcome_msg answered {answer}")
        self.received[event["WelcomeCode"]] = received

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def drive(sandbox: str, count: int, rate: float, config_id: str) -> dict:
    """``count`` scans of the code, the i-th started at i/rate s; their welcome codes and failures.

    A scan is the sandbox's customer-add with the code's ``config_id``: it picks the member (round robin)
    and puts the code's state in the event, as WeCom does."""

    def add() -> tuple[str | None, str | None, str | None]:
        try:
            answer = call(f"{sandbox}/sandbox/simulate/customer-add", {"config_id": config_id})
        except OSError as e:  # urllib's HTTPError and URLError included
            return None, None, f"customer-add: {e!r}"
        code, customer = answer["welcome_code"], answer["external_userid"]
        if not answer["callback"]["delivered"]:
            return code, customer, f"callback not delivered: {answer['callback']}"
        return code, customer, None

    futures = []
    busy_before, total_before = machine_busy()
    with ThreadPoolExecutor(MAX_IN_FLIGHT) as pool:
        start = time.monotonic()
        for i in range(count):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(add))
        sent = time.monotonic() - start
        results = [f.result() for f in futures]
    busy_after, total_after = machine_busy()
    return {
        "machine_busy_pct": round(100 * (busy_after - busy_before) / (total_after - total_before), 1),
        "codes": [code for code, _, _ in results if code],
        "customer_of": {code: customer for code, customer, _ in results if code},
        "errors": [error for _, _, error in results if error],
        "achieved_rate": round(count / sent, 1) if count > 1 and sent else None,
    }


def greeted_at(sandbox: str, codes: list[str], since: float) -> dict[str, float]:
    """When the sandbox recorded a send_welcome_msg for each of ``codes``, waiting until every code was
    used or has expired (20 s after the last add, plus a second for the last calls in flight)."""
    wanted, deadline = set(codes), time.time() + WELCOME_CODE_TTL + 1
    while True:
        records = call(f"{sandbox}/sandbox/records/{SEND}?since={since}")["records"]
        found = {r["body"]["welcome_code"]: r["at"] for r in records if r["body"]["welcome_code"] in wanted}
        if len(found) == len(wanted) or time.time() > deadline:
            return found
        time.sleep(0.5)


def percentiles(values: list[float]) -> dict:
    """p50/p95/max in ms, as bench.common.summarise takes them; inf (never happened) shows as null."""
    values = sorted(values)

    def ms(value: float) -> float | None:
        return round(value * 1000, 1) if value != INF else None

    if not values:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None}
    return {
        "p50_ms": ms(statistics.median(values)),
        "p95_ms": ms(values[max(int(len(values) * 0.95) - 1, 0)]),
        "max_ms": ms(values[-1]),
    }


def latencies(codes: list[str], received: dict[str, float], greeted: dict[str, float]) -> dict:
    """Receipt → greeting over every add (never greeted = infinitely late), and the share within 20 s."""
    values = [greeted[c] - received[c] if c in greeted and c in received else INF for c in codes]
    return {
        "adds": len(values),
        "greeted": sum(1 for v in values if v != INF),
        "never_greeted": sum(1 for v in values if v == INF),
        "within_20s_pct": round(100 * sum(1 for v in values if v <= WELCOME_CODE_TTL) / len(values), 2),
        **percentiles(values),
    }


def sends(sandbox: str) -> tuple[int, int]:
    """send_welcome_msg calls the sandbox got, and how many it accepted (recorded)."""
    summary = call(f"{sandbox}/sandbox/summary")
    return summary["calls"].get(SEND, 0), summary["records"].get(SEND, 0)


def tagged_at(sandbox: str, customers: list[str], since: float) -> dict[str, float]:
    """When each of ``customers`` got its first mark_tag (the channel's auto-tag), waiting up to
    AUTOTAG_WAIT seconds after the greetings for the tagging tasks still queued."""
    wanted, deadline = set(customers), time.time() + AUTOTAG_WAIT
    while True:
        records = call(f"{sandbox}/sandbox/records/externalcontact/mark_tag?since={since}")["records"]
        found: dict[str, float] = {}
        for record in records:
            customer = record["body"].get("external_userid")
            if customer in wanted:
                found.setdefault(customer, record["at"])
        if len(found) == len(wanted) or time.time() > deadline:
            return found
        time.sleep(0.5)


def inbox(database_url: str, codes: list[str], greeted: dict[str, float]) -> dict:
    """The app's receipt of each add event, the statuses of those events, and where the time went:
    receipt → its handler's start (the inbox, Redis, the Celery hop, the batch ahead of it), and the
    handler's start → the greeting (re-reading the customer, the upsert, the send)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT payload->>'WelcomeCode', extract(epoch FROM received_at)::float8,"
            " extract(epoch FROM claimed_at)::float8, status"
            " FROM wecom_callbackevent WHERE change_type = 'add_external_contact'"
            " AND payload->>'WelcomeCode' = ANY(%s)",
            [codes],
        ).fetchall()
    statuses: dict[str, int] = {}
    for *_, status in rows:
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "received": {code: at for code, at, _, _ in rows},
        "statuses": statuses,
        "receipt_to_handler_start": percentiles([started - at for _, at, started, _ in rows if started]),
        "handler_start_to_greeted": percentiles(
            [greeted[code] - started for code, _, started, _ in rows if started and code in greeted]
        ),
    }


def welcome_rows(database_url: str, codes: list[str]) -> dict:
    """The app's own account of the greetings: Welcome rows by status, and their latency_ms."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT status, latency_ms FROM contacts_welcome WHERE welcome_code = ANY(%s)", [codes]
        ).fetchall()
    statuses: dict[str, int] = {}
    for status, _ in rows:
        statuses[status] = statuses.get(status, 0) + 1
    return {"statuses": statuses, **percentiles([ms / 1000 for _, ms in rows if ms is not None])}


def cpu_seconds(*, group: int | None = None, pid: int | None = None) -> float:
    """CPU time (user + system) used so far by a live process group's processes, or by one process."""
    total = 0
    paths = Path("/proc").glob("[0-9]*/stat") if group is not None else [Path(f"/proc/{pid}/stat")]
    for path in paths:
        try:
            # After "(command)": state, ppid, pgrp, ... utime and stime are the 12th and 13th.
            fields = path.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone since the listing
        if group is None or int(fields[2]) == group:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """Busy and total CPU time of the whole machine so far (every process, the bench's or not)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK"), sum(values) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU time used by some processes over a stretch of time, in ms per add, and by everything else
    on the machine meanwhile (PostgreSQL and Redis, and whatever else runs there)."""

    def __init__(self, **processes: dict):
        self.processes = processes
        self.before = {name: cpu_seconds(**which) for name, which in processes.items()}
        self.machine_before = machine_busy()[0]

    def ms_per_add(self, adds: int) -> dict[str, float]:
        used = {name: cpu_seconds(**which) - self.before[name] for name, which in self.processes.items()}
        used["everything_else"] = machine_busy()[0] - self.machine_before - sum(used.values())
        return {name: round(1000 * seconds / adds, 1) for name, seconds in used.items()}


def phase(sandbox: str, count: int, rate: float, config_id: str) -> dict:
    """Warm up, then drive ``count`` adds and wait for their greetings; what happened to them."""
    warmup = drive(sandbox, WARMUP_ADDS, rate, config_id)
    greeted_at(sandbox, warmup["codes"], time.time() - 60)
    calls_before, records_before = sends(sandbox)
    since = time.time()
    run = drive(sandbox, count, rate, config_id)
    greeted = greeted_at(sandbox, run["codes"], since)
    calls_after, records_after = sends(sandbox)
    rejected = (calls_after - calls_before) - (records_after - records_before)
    return {**run, "since": since, "greeted": greeted, "send_welcome_msg_rejected": rejected}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--adds", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="adds per second")
    parser.add_argument("--concurrency", type=int, default=None, help="worker processes (Celery's default)")
    args = parser.parse_args()

    database_url = fresh_database("siyu_bench_welcome")
    env = app_env(database_url)
    manage(env, "migrate", "--noinput")
    sandbox = SandboxProcess(env, customers=200, staff=20)
    server = worker = floor = None
    try:
        base = sandbox.base_url
        api = f"{base}/cgi-bin/"
        manage(env, "create_tenant", "--slug", "bench", "--name", "Bench", "--corp-id", DEFAULT_CORP_ID,
               "--secret", DEFAULT_SECRET, "--agent-id", DEFAULT_AGENT_ID, "--token", DEFAULT_TOKEN,
               "--aes-key", DEFAULT_AES_KEY, "--api-base", api)  # fmt: skip
        manage(env, "sync_tenant", "bench")
        channel = shell(env, SETUP % (LINK, TEXT))

        floor = FloorGreeter(api, channel["staff"])
        call(f"{base}/sandbox/callback-url", {"callback_url": floor.url})
        floor_meter = CpuMeter(bench={"pid": os.getpid()}, sandbox={"pid": sandbox.process.pid})
        floor_run = phase(base, args.adds, args.rate, channel["config_id"])
        floor_cpu = floor_meter.ms_per_add(args.adds + WARMUP_ADDS)
        floor_figures = {
            **latencies(floor_run["codes"], floor.received, floor_run["greeted"]),
            "achieved_rate": floor_run["achieved_rate"],
            "machine_busy_pct_during_adds": floor_run["machine_busy_pct"],
            "cpu_ms_per_add": floor_cpu,
            "errors": len(floor.errors) + len(floor_run["errors"]) + floor_run["send_welcome_msg_rejected"],
        }
        floor.stop()
        floor = None

        server = Gunicorn(env, workers=2)
        callback_url = f"http://127.0.0.1:{server.port}/wecom/callback/bench/"
        call(f"{base}/sandbox/callback-url", {"callback_url": callback_url})
        worker = Worker(env, args.concurrency)
        meter = CpuMeter(
            worker={"group": worker.process.pid},
            gunicorn={"group": server.process.pid},
            sandbox={"pid": sandbox.process.pid},
            bench={"pid": os.getpid()},
        )
        run = phase(base, args.adds, args.rate, channel["config_id"])
        tag_times = tagged_at(base, list(run["customer_of"].values()), run["since"])
        cpu = meter.ms_per_add(args.adds + WARMUP_ADDS)  # every greeting and tag of the phase done
        events = inbox(database_url, run["codes"], run["greeted"])
        welcomes = welcome_rows(database_url, run["codes"])
    finally:
        for process in (worker, server, floor):
            if process is not None:
                process.stop()
        sandbox.stop()

    app_figures = {
        **latencies(run["codes"], events["received"], run["greeted"]),
        "achieved_rate": run["achieved_rate"],
        "machine_busy_pct_during_adds": run["machine_busy_pct"],
        "receipt_to_handler_start": events["receipt_to_handler_start"],
        "handler_start_to_greeted": events["handler_start_to_greeted"],
    }
    tag_delays = [
        tag_times[run["customer_of"][c]] - events["received"][c]
        if run["customer_of"][c] in tag_times
        else INF
        for c in run["codes"]
        if c in events["received"]
    ]
    auto_tags = {
        "tagged": sum(1 for d in tag_delays if d != INF),
        "not_tagged_after_wait": sum(1 for d in tag_delays if d == INF),
        **percentiles(tag_delays),
    }
    figures = {
        "setup": {
            "adds": args.adds,
            "rate_per_s": args.rate,
            "channel_members": len(channel["staff"]),
            "worker": {"command": " ".join(worker.command), **worker.info, "log": worker.log.name},
            "gunicorn_workers": 2,
        },
        "welcome (callback receipt -> send_welcome_msg recorded)": app_figures,
        "floor (greet inside the callback: get + send_welcome_msg)": floor_figures,
        "cpu ms per add (greetings and auto-tags)": cpu,
        "app's own Welcome rows (latency_ms)": welcomes,
        "auto-tag (callback receipt -> mark_tag recorded)": auto_tags,
        "errors": {
            "adds_failed_or_undelivered": len(run["errors"]),
            "send_welcome_msg_rejected_by_wecom": run["send_welcome_msg_rejected"],
            "events_not_in_inbox": len(run["codes"]) - len(events["received"]),
            "inbox_statuses": events["statuses"],
            "worker_log_warnings_and_errors": worker.problems(),
            "first_errors": run["errors"][:5],
        },
        "ratios": {
            "p50_vs_floor": _ratio(app_figures["p50_ms"], floor_figures["p50_ms"]),
            "p95_vs_floor": _ratio(app_figures["p95_ms"], floor_figures["p95_ms"]),
        },
        "goals": {
            "100%_within_20s": app_figures["within_20s_pct"] == 100,
            "p95<=2s": app_figures["p95_ms"] is not None and app_figures["p95_ms"] <= 2000,
        },
    }
    report("bench/welcome.py", figures)


def _ratio(value: float | None, floor: float | None) -> float | None:
    return round(value / floor, 2) if value is not None and floor else None


if __name__ == "__main__":
    main()
