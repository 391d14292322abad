"""Callback intake: 20,000 encrypted WeCom events over HTTP to gunicorn (2 workers), from other processes.

Measures accepted events/s and p50/p99 time to the 200 beside a floor measured in the same run — the
same server answering a trivial view (/healthz) under the same load — and checks that every accepted
event is in the inbox exactly once. Goal (issue 3): ≥ 1,000 events/s, p99 < 100 ms, ≤ 3× the floor.

    python bench/callbacks.py [--events 20000]

BENCH_DB_OPTIONS='?options=-c%20synchronous_commit%3Doff' measures the same without waiting for the
WAL flush on commit: what the intake would gain by risking the last events acknowledged before a
database crash (Siyu does not run that way; the figure is for comparison only).
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import time
from urllib.parse import urlencode

import psycopg
from wechatpy.enterprise.crypto import WeChatCrypto

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.common import Gunicorn, app_env, fresh_database, load, manage, report

CORP, TOKEN = "wwbench0000000001", "BenchToken1"
AES_KEY = base64.b64encode(b"b" * 32).decode().rstrip("=")


def encrypted_events(count: int) -> list[tuple[str, str, bytes]]:
    crypto = WeChatCrypto(TOKEN, AES_KEY, CORP)
    now = int(time.time())
    requests = []
    for i in range(count):
        xml = (
            f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
            f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            "<Event><![CDATA[change_external_contact]]></Event>"
            "<ChangeType><![CDATA[add_external_contact]]></ChangeType>"
            f"<UserID><![CDATA[staff{i % 50}]]></UserID>"
            f"<ExternalUserID><![CDATA[wm{i:030d}]]></ExternalUserID>"
            f"<State><![CDATA[ch_{i % 7}]]></State><WelcomeCode><![CDATA[code{i}]]></WelcomeCode></xml>"
        )
        timestamp, nonce = str(now), str(100000 + i)
        reply = crypto.encrypt_message(xml, nonce, timestamp)  # WeCom's own envelope, as wechatpy builds it
        encrypt = reply.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
        signature = reply.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        query = urlencode({"msg_signature": signature, "timestamp": timestamp, "nonce": nonce})
        body = (
            f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><AgentID>1000002</AgentID>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        ).encode()
        requests.append(("POST", f"/wecom/callback/bench/?{query}", body))
    return requests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()

    database_url = fresh_database("siyu_bench_callbacks")
    env = app_env(database_url)
    manage(env, "migrate", "--noinput")
    manage(env, "create_tenant", "--slug", "bench", "--name", "Bench", "--corp-id", CORP, "--secret", "s",
           "--token", TOKEN, "--aes-key", AES_KEY)  # fmt: skip
    manage(env, "shell", "-c", "from scrm.celery import app; app.control.purge()")
    requests = encrypted_events(args.events)
    server = Gunicorn(env, workers=2)
    try:
        load(server.port, [("GET", "/healthz", b"")] * 500)  # warm-up: imports, connections
        floor = load(server.port, [("GET", "/healthz", b"")] * args.events)
        events = load(server.port, requests)
    finally:
        server.stop()
    with psycopg.connect(database_url) as conn:
        rows, unique = conn.execute(
            "SELECT count(*), count(DISTINCT dedupe_key) FROM wecom_callbackevent"
        ).fetchone()
    stored = {"rows": rows, "unique": unique}
    manage(env, "shell", "-c", "from scrm.celery import app; app.control.purge()")
    figures = {
        "events": events,
        "floor (/healthz, same server, same load)": floor,
        "inbox": {
            **stored,
            "accepted": events["ok"],
            "exactly_once": stored["rows"] == stored["unique"] == events["ok"],
        },
        "ratios": {
            "throughput_vs_floor": round(floor["per_second"] / events["per_second"], 2),
            "p99_vs_floor": round(events["p99_ms"] / max(floor["p99_ms"], 0.01), 2),
        },
        "goals": {
            "events_per_second>=1000": events["per_second"] >= 1000,
            "p99_ms<100": events["p99_ms"] < 100,
            "<=3x_floor": floor["per_second"] / events["per_second"] <= 3,
        },
    }
    report("bench/callbacks.py", figures)


if __name__ == "__main__":
    main()
