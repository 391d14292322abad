"""Contacts full sync: a sandbox corp of 100,000 customers over 50 staff, served over HTTP by its own
process, synced into a fresh PostgreSQL database by ``manage.py sync_tenant`` (its own process).

Floor, measured in the same run: the same ``batch/get_by_user`` walk (100 staff per call, pages of
100) with plain HTTP calls, plus a COPY of the same rows into a scratch table. Then a second sync with
nothing changed in WeCom. Goals (issue 4): full sync ≤ 2.5× the floor; WeCom calls ≤ ⌈customers/100⌉
+ O(staff); the no-change re-sync writes 0 rows in contacts tables in ≤ 0.5× the full sync's time;
the sync process's peak RSS ≤ 300 MB.

    python bench/sync.py [--customers 100000] [--staff 50]

Rows written are read from pg_stat_user_tables (n_tup_ins + n_tup_upd + n_tup_del) on contacts_*
tables, except the run's own bookkeeping (contacts_syncrun, contacts_syncrunseen), shown apart.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import urllib.request

import psycopg

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.common import ROOT, app_env, fresh_database, manage, report
from scrm.wecom.sandbox import DEFAULT_CORP_ID, DEFAULT_SECRET

BOOKKEEPING = ("contacts_syncrun", "contacts_syncrunseen")


class SandboxProcess:
    """``manage.py wecom_sandbox`` in its own process (the sync talks to it over HTTP, as to WeCom)."""

    def __init__(self, env: dict[str, str], *, customers: int, staff: int):
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "wecom_sandbox", "--port", "0", "--seed", "1",
             "--staff", str(staff), "--contacts", str(customers), "--groups", "10"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        line = self.process.stdout.readline()
        if "serving at" not in line:
            raise SystemExit(f"the sandbox did not start: {line}{self.process.stderr.read()}")
        self.base_url = line.split("serving at ")[1].split()[0].rstrip("/")

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(f"{self.base_url}{path}", timeout=60) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _call(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=60) as response:
        answer = json.loads(response.read())
    if answer.get("errcode"):
        raise SystemExit(f"floor: {url} answered {answer}")
    return answer


FLOOR_COLUMNS = (
    "external_userid text, name text, avatar text, type int, gender int, unionid text, corp_name text, "
    "corp_full_name text, position text, userid text, remark text, description text, "
    "remark_corp_name text, remark_mobiles text, add_way int, oper_userid text, state text, "
    "tag_ids text, createtime bigint"
)


def floor(database_url: str, api: str) -> dict:
    """The plainest sync: walk batch/get_by_user with urllib, COPY every row into a scratch table."""
    start = time.perf_counter()
    token = _call(f"{api}gettoken?corpid={DEFAULT_CORP_ID}&corpsecret={DEFAULT_SECRET}")["access_token"]
    userids = sorted(_call(f"{api}externalcontact/get_follow_user_list?access_token={token}")["follow_user"])
    rows, calls = [], 2
    for i in range(0, len(userids), 100):
        cursor = ""
        while True:
            page = _call(
                f"{api}externalcontact/batch/get_by_user?access_token={token}",
                {"userid_list": userids[i : i + 100], "cursor": cursor, "limit": 100},
            )
            calls += 1
            for entry in page["external_contact_list"]:
                c, f = entry["external_contact"], entry["follow_info"]
                rows.append(
                    (c["external_userid"], c.get("name", ""), c.get("avatar", ""), c.get("type", 1),
                     c.get("gender", 0), c.get("unionid", ""), c.get("corp_name", ""),
                     c.get("corp_full_name", ""), c.get("position", ""), f["userid"], f.get("remark", ""),
                     f.get("description", ""), f.get("remark_corp_name", ""),
                     json.dumps(f.get("remark_mobiles", [])), f.get("add_way", 0), f.get("oper_userid", ""),
                     f.get("state", ""), json.dumps(f.get("tag_id", [])), f.get("createtime", 0))
                )  # fmt: skip
            cursor = page.get("next_cursor") or ""
            if not cursor:
                break
    fetched = time.perf_counter()
    with psycopg.connect(database_url) as conn:
        conn.execute(f"CREATE TABLE bench_floor ({FLOOR_COLUMNS})")
        with conn.cursor().copy("COPY bench_floor FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    end = time.perf_counter()
    return {
        "seconds": round(end - start, 2),
        "fetch_seconds": round(fetched - start, 2),
        "copy_seconds": round(end - fetched, 2),
        "rows": len(rows),
        "calls": calls,
    }


def table_writes(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return dict(
            conn.execute(
                "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables"
                " WHERE relname LIKE 'contacts\\_%'"
            ).fetchall()
        )


def run_sync(env: dict[str, str], database_url: str) -> dict:
    """``manage.py sync_tenant`` in a child process: its JSON line, wall time, peak RSS, rows written."""
    before = table_writes(database_url)
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "sync_tenant", "bench"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    out = process.stdout.read()
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)  # this child's own peak RSS, not the sandbox's
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if process.returncode:
        raise SystemExit(f"sync_tenant failed:\n{out[-2000:]}\n{err[-4000:]}")
    time.sleep(0.5)  # the child's table statistics are flushed as it exits
    after = table_writes(database_url)
    delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    return {
        "summary": json.loads(out.strip().splitlines()[-1]),
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "rows_written": sum(n for name, n in delta.items() if name not in BOOKKEEPING),
        "rows_written_by_table": {name: n for name, n in delta.items() if n and name not in BOOKKEEPING},
        "bookkeeping_rows": {name: delta.get(name, 0) for name in BOOKKEEPING},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--staff", type=int, default=50)
    args = parser.parse_args()

    database_url = fresh_database("siyu_bench_sync")
    env = app_env(database_url)
    manage(env, "migrate", "--noinput")
    sandbox = SandboxProcess(env, customers=args.customers, staff=args.staff)
    try:
        api = f"{sandbox.base_url}/cgi-bin/"
        manage(env, "create_tenant", "--slug", "bench", "--name", "Bench", "--corp-id", DEFAULT_CORP_ID,
               "--secret", DEFAULT_SECRET, "--api-base", api)  # fmt: skip
        counts = sandbox.get("/sandbox/summary")["counts"]
        floor_figures = floor(database_url, api)
        full = run_sync(env, database_url)
        again = run_sync(env, database_url)
    finally:
        sandbox.stop()

    customers, follows, staff = counts["contacts"], counts["follows"], counts["follow_users"]
    summary, resummary = full["summary"], again["summary"]
    exact = (
        (summary["contacts"], summary["follows"])
        == (customers, follows)
        == (
            resummary["contacts"],
            resummary["follows"],
        )
    )
    ratio = full["seconds"] / floor_figures["seconds"]
    figures = {
        "corp": {"customers": customers, "follows": follows, "staff_with_customers": staff},
        "floor (urllib walk + COPY)": floor_figures,
        "full sync": full,
        "no-change re-sync": again,
        "ratios": {
            "full_vs_floor": round(ratio, 2),
            "resync_vs_full": round(again["seconds"] / full["seconds"], 2),
            "calls_vs_ceil_customers_over_100": round(summary["api_calls"] / math.ceil(customers / 100), 2),
            "calls_vs_ceil_follows_over_100": round(summary["api_calls"] / math.ceil(follows / 100), 2),
        },
        "goals": {
            "mirror_exact": exact,
            "full<=2.5x_floor": ratio <= 2.5,
            # WeCom pages follows, not customers: a customer with two followers comes twice.
            "calls<=ceil(follows/100)+O(staff)": summary["api_calls"] <= math.ceil(follows / 100) + staff + 5,
            "calls<=ceil(customers/100)+O(staff)": summary["api_calls"]
            <= math.ceil(customers / 100) + staff + 5,
            "resync_rows_written==0": again["rows_written"] == 0,
            "resync<=0.5x_full": again["seconds"] <= 0.5 * full["seconds"],
            "peak_rss<=300MB": max(full["peak_rss_mb"], again["peak_rss_mb"]) <= 300,
        },
    }
    report("bench/sync.py", figures)


if __name__ == "__main__":
    main()
