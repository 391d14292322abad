"""Customer groups full sync: 2,000 groups of 200 members each from a sandbox corp served by its own
process, synced into a fresh PostgreSQL database by a child process (as a worker runs ``groups.sync_full``).

The sandbox's generator makes groups skewed small (tens of members); here every group is filled up to
200 with WeChat users who are nobody's customers (as those who scan a group's QR code are), so the
corp holds 400,000 member stays. The contacts sync runs first (not measured), as in production: the
groups' owners are its staff.

Floor, measured in the same run: the groups' WeCom calls (groupchat/list, then groupchat/get with
need_name=1 for every group, as many at once as the sync makes) with plain urllib and no database,
plus a COPY of the same member rows into a scratch table. It leaves out the statistics calls the full
sync also makes (one per group owner), so the full sync's ratio to it is pessimistic.

Then a second sync with nothing changed in WeCom, which must write no row. Checked two ways: the
tables' contents before and after (row count, max(updated_at) and a checksum of every row of the
groups_* tables, contacts_contactevent and contacts_staff), which does not depend on when PostgreSQL
flushes its statistics, and the pg_stat_user_tables deltas (inserts, updates, deletes) of the same
tables, shown per table; the run's own row, contacts_syncrun, is bookkeeping and shown apart. Before
it, the statistics the first sync stored are marked as fetched after 06:00 China time, as the daily
task leaves them: earlier in the day a re-sync asks WeCom for yesterday's figures again (not final
yet), one call and one row per owner.

    python bench/groups.py [--groups 2000] [--members 200] [--latency-ms 0]

``--latency-ms`` adds that much to each groupchat/get in the sandbox (WeCom answers in tens of ms from
a server in China; the sandbox in microseconds), to show what the sync's parallel gets hide.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import psycopg

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.common import ROOT, app_env, fresh_database, manage, report
from scrm.wecom.sandbox import DEFAULT_CORP_ID, DEFAULT_SECRET

BOOKKEEPING = ("contacts_syncrun", "contacts_syncrunseen")
# The tables a no-change re-sync must not write, and how to tell (count, last write, checksum).
CHECKED = (
    "groups_group",
    "groups_groupmember",
    "groups_groupstatday",
    "groups_grouptagging",
    "contacts_contactevent",
    "contacts_staff",
)
STAFF = 50
CUSTOMERS = 10_000


# --- the sandbox process ------------------------------------------------------------------------


def serve_sandbox(groups: int, members: int) -> None:
    """Child process: a sandbox corp whose groups all have ``members`` members; prints its URL."""
    from scrm.wecom.sandbox import Sandbox
    from scrm.wecom.sandbox.endpoints_groups import bump_member_version
    from scrm.wecom.sandbox.generator import new_external_userid
    from scrm.wecom.sandbox.state import GroupMember

    sandbox = Sandbox(seed=1, staff=STAFF, contacts=CUSTOMERS, groups=groups)
    rng = random.Random(7)
    now = int(time.time())
    for chat in sandbox.state.groups.values():
        while len(chat.members) < members:
            joined = rng.randint(chat.create_time, now - 86400)
            member = GroupMember(
                userid=new_external_userid(rng),
                type=2,
                join_time=joined,
                join_scene=rng.choice((1, 2, 3)),
                name=f"微信用户{rng.randrange(10**6):06d}",
                group_nickname=rng.choice(("", "", "", "小王", "Lily", "晴天")),
            )
            if member.join_scene in (1, 2):
                member.invitor = chat.owner
            chat.members.append(member)
        bump_member_version(chat)
    url = sandbox.serve_in_thread(port=0)
    print(f"serving at {url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


class SandboxProcess:
    def __init__(self, env: dict[str, str], *, groups: int, members: int):
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-sandbox", "--groups", str(groups), "--members", str(members)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        line = self.process.stdout.readline()
        if "serving at" not in line:
            raise SystemExit(f"the sandbox did not start: {line}{self.process.stderr.read()}")
        self.base_url = line.split("serving at ")[1].split()[0].rstrip("/")

    def call(self, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base_url}{path}", data=data)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


# --- the floor ----------------------------------------------------------------------------------


def _call(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=60) as response:
        answer = json.loads(response.read())
    if answer.get("errcode"):
        raise SystemExit(f"floor: {url} answered {answer}")
    return answer


def floor(database_url: str, api: str, workers: int) -> dict:
    """The same calls as the sync with urllib (``workers`` gets at once), then COPY of the members."""
    start = time.perf_counter()
    token = _call(f"{api}gettoken?corpid={DEFAULT_CORP_ID}&corpsecret={DEFAULT_SECRET}")["access_token"]
    chat_ids, cursor, calls = [], "", 1
    while True:
        page = _call(
            f"{api}externalcontact/groupchat/list?access_token={token}",
            {"status_filter": 0, "limit": 1000, "cursor": cursor},
        )
        calls += 1
        chat_ids += [c["chat_id"] for c in page["group_chat_list"]]
        cursor = page.get("next_cursor") or ""
        if not cursor:
            break

    def get(chat_id: str) -> dict:
        url = f"{api}externalcontact/groupchat/get?access_token={token}"
        return _call(url, {"chat_id": chat_id, "need_name": 1})["group_chat"]

    with ThreadPoolExecutor(workers) as pool:
        chats = list(pool.map(get, chat_ids))
    calls += len(chat_ids)
    fetched = time.perf_counter()
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "CREATE TABLE bench_floor (chat_id text, userid text, type int, name text, unionid text,"
            " group_nickname text, join_time bigint, join_scene int, invitor text, state text)"
        )
        with conn.cursor().copy("COPY bench_floor FROM STDIN") as copy:
            for chat in chats:
                for m in chat["member_list"]:
                    copy.write_row(
                        (chat["chat_id"], m["userid"], m["type"], m.get("name", ""), m.get("unionid", ""),
                         m.get("group_nickname", ""), m["join_time"], m.get("join_scene", 0),
                         (m.get("invitor") or {}).get("userid", ""), m.get("state", ""))
                    )  # fmt: skip
    end = time.perf_counter()
    return {
        "seconds": round(end - start, 2),
        "fetch_seconds": round(fetched - start, 2),
        "copy_seconds": round(end - fetched, 2),
        "groups": len(chats),
        "members": sum(len(c["member_list"]) for c in chats),
        "calls": calls,
        "get_workers": workers,
    }


# --- the sync, in a child process ---------------------------------------------------------------


def child_sync(slug: str, get_workers: int | None) -> None:
    """Child process: one full groups sync of the tenant in the foreground; prints a JSON line."""
    import django

    django.setup()
    from contacts import sync as contacts_sync
    from contacts.models import SyncKind
    from groups import sync
    from groups.models import Group, GroupMember
    from scrm.tenancy.context import tenant_context
    from scrm.tenancy.models import Tenant
    from scrm.wecom.errors import WeComRateLimitedError

    if get_workers:  # measuring other pool sizes than the default
        sync.GET_WORKERS, sync.GETS_AHEAD = get_workers, 4 * get_workers
    tenant = Tenant.objects.get(slug=slug)
    started = time.perf_counter()
    with tenant_context(tenant):
        run = contacts_sync.sync_run_start(
            tenant=tenant, trigger="command", enqueue=False, kind=SyncKind.GROUPS
        )
        phases: dict[str, float] = {}

        def progress(run) -> None:
            phases.setdefault(run.phase, time.perf_counter())

        waited = 0.0
        while True:
            try:
                run = sync.groups_sync_execute(contacts_sync.sync_run_claim(run.pk), progress=progress)
                break
            except WeComRateLimitedError as exc:  # the limiter's per-minute budget: as the worker would
                time.sleep(exc.retry_after)
                waited += exc.retry_after
        seconds = time.perf_counter() - started
        marks = sorted(phases.items(), key=lambda item: item[1])
        phase_seconds = {name: round(end - begin, 2) for (name, begin), (_, end) in pairwise(marks)}
        summary = {
            "status": run.status,
            "errors": run.errors,
            "created": run.created,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "closed": run.closed,
            "api_calls": run.api_calls,
            "seconds": round(seconds, 2),
            "phase_seconds": phase_seconds,
            "rate_limit_wait_seconds": round(waited, 1),
            "groups": Group.objects.count(),
            "current_members": GroupMember.objects.filter(left_at__isnull=True).count(),
            "get_workers": sync.GET_WORKERS,
        }
    print(json.dumps(summary, ensure_ascii=False))


def table_writes(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return dict(
            conn.execute(
                "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables"
                " WHERE relname LIKE 'groups\\_%' OR relname IN"
                " ('contacts_contactevent', 'contacts_staff', 'contacts_syncrun', 'contacts_syncrunseen')"
            ).fetchall()
        )


def table_contents(database_url: str) -> dict[str, list]:
    """Per checked table: row count, max(updated_at) when it has one, and an order-independent checksum
    of every row's text (any column of any row changed, added or removed changes it)."""
    contents = {}
    with psycopg.connect(database_url, autocommit=True) as conn:
        for table in CHECKED:
            columns = {
                name
                for (name,) in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s", [table]
                )
            }
            last = "max(updated_at)::text" if "updated_at" in columns else "NULL"
            row = conn.execute(
                f"SELECT count(*), {last}, coalesce(sum(hashtextextended(t::text, 0)), 0)::text"
                f" FROM {table} AS t"
            ).fetchone()
            contents[table] = list(row)
    return contents


def statistics_mark_final(database_url: str) -> int:
    """As the 06:15 daily fetch leaves them: the stored statistics are final (see the docstring)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute("UPDATE groups_groupstatday SET fetched_at = now() + interval '1 day'").rowcount
        # This session's table counters are flushed before it answers again: the re-sync's
        # pg_stat_user_tables baseline includes this update.
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")
        return rows


def run_sync(env: dict[str, str], database_url: str, get_workers: int | None) -> dict:
    contents_before = table_contents(database_url)
    before = table_writes(database_url)
    start = time.perf_counter()
    workers = ["--get-workers", str(get_workers)] if get_workers else []
    process = subprocess.Popen(
        [sys.executable, __file__, "--child-sync", "bench", *workers],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    out = process.stdout.read()
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"the groups sync failed:\n{out[-2000:]}\n{err[-4000:]}")
    time.sleep(0.5)  # the child's table statistics are flushed as it exits (the contents are checked too)
    after = table_writes(database_url)
    delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    contents_after = table_contents(database_url)
    summary = json.loads(out.strip().splitlines()[-1])
    if summary["status"] != "succeeded":
        raise SystemExit(f"the groups sync did not succeed: {summary}")
    return {
        "summary": summary,
        "process_seconds": round(seconds, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "rows_written": sum(n for name, n in delta.items() if name not in BOOKKEEPING),
        "rows_written_by_table": {name: n for name, n in delta.items() if n and name not in BOOKKEEPING},
        "bookkeeping_rows": {name: delta.get(name, 0) for name in BOOKKEEPING},
        "tables_changed": [name for name in CHECKED if contents_before[name] != contents_after[name]],
        "rows_after": {name: contents_after[name][0] for name in CHECKED},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument(
        "--get-workers", type=int, default=None, help="gets at once, sync and floor (default: groups.sync's)"
    )
    parser.add_argument("--serve-sandbox", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-sync", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sandbox:
        serve_sandbox(args.groups, args.members)
        return
    if args.child_sync:
        child_sync(args.child_sync, args.get_workers)
        return

    database_url = fresh_database("siyu_bench_groups")
    env = app_env(database_url)
    manage(env, "migrate", "--noinput")
    started = time.perf_counter()
    sandbox = SandboxProcess(env, groups=args.groups, members=args.members)
    generated = time.perf_counter() - started
    try:
        if args.latency_ms:
            sandbox.call(
                "/sandbox/faults",
                {"apis": {"externalcontact/groupchat/get": {"latency_ms": args.latency_ms}}},
            )
        api = f"{sandbox.base_url}/cgi-bin/"
        manage(env, "create_tenant", "--slug", "bench", "--name", "Bench", "--corp-id", DEFAULT_CORP_ID,
               "--secret", DEFAULT_SECRET, "--api-base", api)  # fmt: skip
        manage(env, "sync_tenant", "bench")  # the contacts (and staff) first, as in production
        counts = sandbox.call("/sandbox/summary")["counts"]
        full = run_sync(env, database_url, args.get_workers)
        statistics_mark_final(database_url)
        again = run_sync(env, database_url, args.get_workers)
        # The floor after the syncs, with as many gets at once as they made (same sandbox, same calls).
        floor_figures = floor(database_url, api, full["summary"]["get_workers"])
    finally:
        sandbox.stop()

    summary, resummary = full["summary"], again["summary"]
    members = floor_figures["members"]
    owners = full["rows_written_by_table"].get("groups_groupstatday", 0) // 30
    exact = (
        (summary["groups"], summary["current_members"])
        == (counts["groups"], members)
        == (
            resummary["groups"],
            resummary["current_members"],
        )
    )
    ratio = summary["seconds"] / floor_figures["seconds"]
    figures = {
        "corp": {
            "groups": counts["groups"],
            "members": members,
            "group_owners": owners,
            "sandbox_generation_seconds": round(generated, 1),
            "groupchat_get_latency_ms": args.latency_ms,
        },
        "floor (the groups' calls with urllib, no statistics calls, no database + COPY of the members)": (
            floor_figures
        ),
        "full sync": full,
        "no-change re-sync": again,
        "ratios": {
            "full_vs_floor": round(ratio, 2),
            "full_vs_floor_fetch": round(summary["seconds"] / floor_figures["fetch_seconds"], 2),
            "resync_vs_full": round(resummary["seconds"] / summary["seconds"], 2),
            "resync_vs_floor_fetch": round(resummary["seconds"] / floor_figures["fetch_seconds"], 2),
        },
        "goals": {
            "mirror_exact": exact,
            # one list page per 1,000 groups, one get per group, one statistics call per owner
            "calls==ceil(groups/1000)+groups+owners": summary["api_calls"]
            == math.ceil(counts["groups"] / 1000) + counts["groups"] + owners,
            "resync_calls==ceil(groups/1000)+groups": resummary["api_calls"]
            == math.ceil(counts["groups"] / 1000) + counts["groups"],
            # Both: the pg_stat counters, and the contents (counts, last writes, checksums) unchanged.
            "resync_rows_written==0": again["rows_written"] == 0 and again["tables_changed"] == [],
            "floor_as_parallel_as_the_sync": floor_figures["get_workers"] == summary["get_workers"],
        },
    }
    report("bench/groups.py", figures)
    if not figures["goals"]["resync_rows_written==0"]:
        raise SystemExit("the no-change re-sync wrote rows")


if __name__ == "__main__":
    main()
