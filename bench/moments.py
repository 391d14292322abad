"""Moments: a full tracking pass over a 2,000-member corp, then a pass with nothing new.

Setup (not measured; one fresh PostgreSQL database): a sandbox corp of ``MOMENTS_BENCH_MEMBERS``
members (all with the customer-contact permission) and ``MOMENTS_BENCH_CUSTOMERS`` customers is
generated in this process and reshaped so its Moments are exactly what is measured: its generated
history is dropped and ``MOMENTS_BENCH_OWN_POSTS`` members' own posts of the last 29 days are added,
each with ``MOMENTS_BENCH_INTERACTIONS`` likes and comments by the author's customers. It is saved to a
data file and served by ``manage.py wecom_sandbox`` in its own process on 127.0.0.1; the tenant is
synced (``sync_tenant``). Then one corp task for every member is composed, published and submitted
(``moment_task_create``/``moment_task_publish``/``task_submit``/``task_job_check``, the Celery broker
in memory: nothing is queued anywhere) and ``MOMENTS_BENCH_PUBLISHED`` of the members publish it
through the sandbox's control route.

Measured: the full tracking pass, as the daily sync and the beat tick do it — ``member_moments_sync``
(every post of the last 30 days becomes a Moment) and ``moments_poll`` of every Moment in the tick's
groups of ``POLL_GROUP`` (the corp post's
publish statuses, who can see each published copy, and every copy's likes and comments, as
interactions and ContactEvents). Then the same pass again with nothing new in WeCom: rows written to
``moments_*`` and ``contacts_contactevent`` (``pg_stat_user_tables``), the Moments' own poll schedule
and the sync's row shown apart as bookkeeping.

Floor, in the same run: the same WeCom reads with plain urllib and no database (``get_moment_list``
pages, ``get_moment_task`` pages, one ``get_moment_send_result`` page per published copy of the corp
post, one ``get_moment_comments`` per published copy), then one COPY each of the same rows
(publications, reach, interactions, events) into scratch tables. WeCom calls are compared with the
pages needed (the floor's count).

    python bench/moments.py          # env: MOMENTS_BENCH_MEMBERS=2000 MOMENTS_BENCH_CUSTOMERS=20000
                                     #      MOMENTS_BENCH_OWN_POSTS=500 MOMENTS_BENCH_INTERACTIONS=50
                                     #      MOMENTS_BENCH_PUBLISHED=0.9
                                     #      MOMENTS_BENCH_PROFILE=/tmp/moments.prof (cProfile)
"""

from __future__ import annotations

import cProfile
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.common import PG_ADMIN_URL, ROOT, app_env, fresh_database, manage, report
from scrm.wecom.sandbox import DEFAULT_CORP_ID, DEFAULT_SECRET

MEMBERS = int(os.environ.get("MOMENTS_BENCH_MEMBERS", "2000"))
CUSTOMERS = int(os.environ.get("MOMENTS_BENCH_CUSTOMERS", "20000"))
OWN_POSTS = int(os.environ.get("MOMENTS_BENCH_OWN_POSTS", "500"))
INTERACTIONS = int(os.environ.get("MOMENTS_BENCH_INTERACTIONS", "50"))
PUBLISHED = float(os.environ.get("MOMENTS_BENCH_PUBLISHED", "0.9"))
# A file to write a cProfile of the first (full) pass to (read it with ``python -m pstats``).
PROFILE = os.environ.get("MOMENTS_BENCH_PROFILE", "")
SEED = 16
TEXT = "新品上市：春季限定礼盒，老客户到店出示本条朋友圈再送小礼品一份。"
DAY = 86400
LIST_PAGE, TASK_PAGE, SEND_PAGE = 20, 1000, 5000  # the read APIs' maximum page sizes (DOC 93333)
# Written by every poll whatever changed (the Moment's next_poll_at/polls/last_polled_at) and by every
# sync (where it got to): bookkeeping, not data.
BOOKKEEPING = ("moments_moment", "moments_membersync")
COUNTED = ("contacts_contactevent",)


def build_corp(path: Path) -> dict[str, int]:
    """Generate the corp, keep only the members' own posts measured, and save it to ``path``."""
    from scrm.wecom.sandbox import Sandbox
    from scrm.wecom.sandbox.endpoints_marketing import Interaction, Moment, book
    from scrm.wecom.sandbox.generator import make_id

    sandbox = Sandbox(seed=1, staff=MEMBERS, followers=MEMBERS, contacts=CUSTOMERS, groups=0, data_file=path)
    state = sandbox.state
    rng = random.Random(SEED)
    customers: dict[str, list[str]] = {}
    for contact in state.contacts.values():
        for userid in contact.follows:
            customers.setdefault(userid, []).append(contact.external_userid)
    authors = sorted(customers)
    marketing = book(state)
    marketing.moments.clear()
    now = int(time.time())
    interactions = 0
    for _ in range(OWN_POSTS):
        author = rng.choice(authors)
        created = now - rng.randrange(3600, 29 * DAY)
        post = Moment(
            moment_id=make_id(state, "mom", 30), creator=author, create_time=created, create_type=1,
            visible_type=1, text=rng.choice(("到店有礼", "新品试用", "周末活动")), senders=[author],
            published={author: created},
        )  # fmt: skip
        mine = customers[author]
        likers = rng.sample(mine, k=min(len(mine), INTERACTIONS // 2))
        # Distinct (customer, second) pairs: WeCom gives interactions no id, so two comments by one
        # customer in the same second are one interaction to anyone reading them.
        seen: set[tuple[str, int]] = set()
        while len(seen) < INTERACTIONS:
            n = len(seen)
            who = likers[n] if n < len(likers) else rng.choice(mine)
            at = created + rng.randrange(60, min(2 * DAY, now - created))
            if (who, at) in seen:
                continue
            seen.add((who, at))
            into = post.likes if n < len(likers) else post.comments
            into.append(Interaction(userid=author, create_time=at, external_userid=who))
        interactions += len(post.likes) + len(post.comments)
        marketing.moments[post.moment_id] = post
    sandbox.save()
    return {
        "members": MEMBERS,
        "customers": len(state.contacts),
        "own_posts": OWN_POSTS,
        "interactions": interactions,
    }


class SandboxProcess:
    """``manage.py wecom_sandbox`` serving the saved corp in its own process."""

    def __init__(self, env: dict[str, str], data: Path):
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "wecom_sandbox", "--port", "0", "--data", str(data)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        line = self.process.stdout.readline()
        if "serving at" not in line:
            raise SystemExit(f"the sandbox did not start: {line}{self.process.stderr.read()}")
        self.base_url = line.split("serving at ")[1].split()[0].rstrip("/")
        self.api = f"{self.base_url}/cgi-bin/"

    def control(self, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base_url}/sandbox/{path}", data=data)
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _call(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=120) as response:
        answer = json.loads(response.read())
    if answer.get("errcode"):
        raise SystemExit(f"floor: {url} answered {answer}")
    return answer


def floor(database_url: str, api: str, start: int, end: int, corp_moment_id: str) -> dict:
    """The same reads with urllib, then one COPY per kind of row: the plainest version of the pass."""
    began = time.perf_counter()
    token = _call(f"{api}gettoken?corpid={DEFAULT_CORP_ID}&corpsecret={DEFAULT_SECRET}")["access_token"]
    calls = {
        "get_moment_list": 0,
        "get_moment_task": 0,
        "get_moment_send_result": 0,
        "get_moment_comments": 0,
    }

    def read(name: str, body: dict) -> dict:
        calls[name] += 1
        return _call(f"{api}externalcontact/{name}?access_token={token}", body)

    posts: list[dict] = []
    cursor = ""
    while True:
        page = read("get_moment_list", {"start_time": start, "end_time": end, "filter_type": 2,
                                        "cursor": cursor, "limit": LIST_PAGE})  # fmt: skip
        posts += page["moment_list"]
        cursor = page.get("next_cursor") or ""
        if not cursor:
            break
    statuses: list[tuple[str, int]] = []
    cursor = ""
    while True:
        page = read("get_moment_task", {"moment_id": corp_moment_id, "cursor": cursor, "limit": TASK_PAGE})
        statuses += [(t["userid"], t["publish_status"]) for t in page["task_list"]]
        cursor = page.get("next_cursor") or ""
        if not cursor:
            break
    copies = [(corp_moment_id, userid) for userid, status in statuses if status == 1]
    own = [(p["moment_id"], p["creator"]) for p in posts if p["create_type"] == 1]
    copies += own
    reach: list[tuple[str, str, str]] = []
    for userid, status in statuses:
        cursor = ""
        while status == 1:
            page = read("get_moment_send_result", {"moment_id": corp_moment_id, "userid": userid,
                                                   "cursor": cursor, "limit": SEND_PAGE})  # fmt: skip
            reach += [(corp_moment_id, userid, c["external_userid"]) for c in page["customer_list"]]
            cursor = page.get("next_cursor") or ""
            if not cursor:
                break
    interactions: list[tuple[str, str, str, str, str, int]] = []
    for moment_id, userid in copies:
        answer = read("get_moment_comments", {"moment_id": moment_id, "userid": userid})
        for kind, items in (("like", answer["like_list"]), ("comment", answer["comment_list"])):
            interactions += [
                (moment_id, userid, kind, i.get("external_userid", ""), i.get("userid", ""), i["create_time"])
                for i in items
            ]
    fetched = time.perf_counter()
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE floor_publication (moment_id text, userid text, published boolean)")
        conn.execute("CREATE TABLE floor_reach (moment_id text, userid text, external_userid text)")
        conn.execute("CREATE TABLE floor_interaction (moment_id text, userid text, kind text,"
                     " external_userid text, by_userid text, occurred_at bigint)")  # fmt: skip
        conn.execute("CREATE TABLE floor_event (external_userid text, type text, payload jsonb)")
        with conn.cursor().copy("COPY floor_publication FROM STDIN") as copy:
            for userid, status in statuses:
                copy.write_row((corp_moment_id, userid, status == 1))
            for moment_id, userid in own:
                copy.write_row((moment_id, userid, True))
        for table, rows in (("floor_reach", reach), ("floor_interaction", interactions)):
            with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        with conn.cursor().copy("COPY floor_event FROM STDIN") as copy:
            for moment_id, _, kind, external_userid, _, _ in interactions:
                if external_userid:
                    copy.write_row((external_userid, f"moment_{kind}d", json.dumps({"moment_id": moment_id})))
    end = time.perf_counter()
    return {
        "seconds": round(end - began, 2),
        "reads_seconds": round(fetched - began, 2),
        "copy_seconds": round(end - fetched, 2),
        "calls": calls,
        "rows": {"publications": len(statuses) + len(own),
                 "reach": len(reach), "interactions": len(interactions)},
    }  # fmt: skip


def table_writes(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return dict(
            conn.execute(
                "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables"
                " WHERE relname LIKE 'moments\\_%%' OR relname = ANY(%s)",
                [list(COUNTED)],
            ).fetchall()
        )


def _flush_stats() -> None:
    """The table statistics of this process's connection reach pg_stat_user_tables when it closes."""
    from django.db import connection

    connection.close()
    time.sleep(0.7)


def main() -> None:
    # A database of this run's own (two runs at once must not drop each other's), dropped at the end.
    name = f"siyu_bench_moments_{os.getpid()}"
    database_url = fresh_database(name)
    try:
        figures = measure(database_url)
    finally:
        # FORCE ends this process's own Django connection too.
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    report("bench/moments.py", figures)


def measure(database_url: str) -> dict:
    env = app_env(database_url)
    manage(env, "migrate", "--noinput")
    with tempfile.TemporaryDirectory(prefix="siyu-bench-moments-") as tmp:
        data = Path(tmp) / "corp.pickle"
        started = time.perf_counter()
        corp = build_corp(data)
        corp["generated_seconds"] = round(time.perf_counter() - started, 1)
        sandbox = SandboxProcess(env, data)
        try:
            manage(env, "create_tenant", "--slug", "bench", "--name", "Bench", "--corp-id", DEFAULT_CORP_ID,
                   "--secret", DEFAULT_SECRET, "--api-base", sandbox.api)  # fmt: skip
            started = time.perf_counter()
            synced = json.loads(manage(env, "sync_tenant", "bench").strip().splitlines()[-1])
            corp["synced_seconds"] = round(time.perf_counter() - started, 1)
            corp["synced_follows"] = synced["follows"]
            figures = run(env, database_url, sandbox)
        finally:
            sandbox.stop()
    figures["corp"] = corp
    return figures


def run(env: dict[str, str], database_url: str, sandbox: SandboxProcess) -> dict:
    os.environ.update(env)
    import django

    django.setup()
    from celery import current_app

    # The services queue their Celery steps on commit; here nothing runs them: the bench calls each
    # step itself, and an in-memory broker keeps the messages from reaching any Redis.
    current_app.conf.broker_url = "memory://localhost/"

    from moments.models import Moment, MomentInteraction, MomentPublication, MomentReach, TaskStatus
    from moments.services.compose import moment_task_create, moment_task_publish
    from moments.services.submit import task_job_check, task_submit
    from moments.services.tracking import POLL_GROUP, member_moments_sync, moments_poll

    def poll_all(moments) -> list:
        """Every Moment polled as the beat tick's tasks poll them: a tenant's in groups of POLL_GROUP."""
        moments = list(moments)
        groups = [moments[i : i + POLL_GROUP] for i in range(0, len(moments), POLL_GROUP)]
        results = [moments_poll(moments=group) for group in groups]
        errors = [e for r in results for e in r.errors]
        if errors:
            raise SystemExit(f"polls failed: {errors[:3]}")
        return results

    from scrm.tenancy.actors import SYSTEM
    from scrm.tenancy.context import tenant_context
    from scrm.tenancy.models import Tenant

    tenant = Tenant.objects.get(slug="bench")
    sandbox.control("settings/marketing", {"moment_job_seconds": 0})
    with tenant_context(tenant):
        task = moment_task_publish(task=moment_task_create(actor=SYSTEM, data={"text": TEXT}))
        task_submit(task=task)
        task.refresh_from_db()
        task_job_check(task=task)
        task.refresh_from_db()
        if task.status != TaskStatus.PUBLISHING:
            raise SystemExit(f"the corp task did not reach WeCom: {task.status} {task.error}")
        corp_moment = task.moment
    started = time.perf_counter()
    rng = random.Random(SEED)
    everyone = _task_userids(sandbox, corp_moment.moment_id)
    publishers = rng.sample(everyone, k=round(len(everyone) * PUBLISHED))
    for userid in publishers:
        sandbox.control(
            "simulate/staff-publish-moment", {"userid": userid, "moment_id": corp_moment.moment_id}
        )
    published_seconds = time.perf_counter() - started
    window_end = int(time.time())

    _flush_stats()
    profile = cProfile.Profile() if PROFILE else None
    with tenant_context(tenant):
        started = time.perf_counter()
        if profile:
            profile.enable()
        sync = member_moments_sync(tenant=tenant)
        synced_seconds = time.perf_counter() - started
        results = poll_all(Moment.objects.order_by("pk"))
        first_seconds = time.perf_counter() - started
        if profile:
            profile.disable()
            profile.dump_stats(PROFILE)
        rows = {
            "moments": Moment.objects.count(),
            "publications": MomentPublication.objects.count(),
            "reach": MomentReach.objects.count(),
            "interactions": MomentInteraction.objects.count(),
        }
        sync_calls = sync.api_calls
    _flush_stats()
    floor_figures = floor(database_url, sandbox.api, window_end - 30 * DAY, window_end, corp_moment.moment_id)

    before = table_writes(database_url)
    with tenant_context(tenant):
        started = time.perf_counter()
        again_sync = member_moments_sync(tenant=tenant)
        again = poll_all(Moment.objects.order_by("pk"))
        again_seconds = time.perf_counter() - started
    _flush_stats()
    after = table_writes(database_url)
    delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    with psycopg.connect(database_url) as conn:
        events = conn.execute(
            "SELECT count(*) FROM contacts_contactevent WHERE type IN ('moment_liked', 'moment_commented')"
        ).fetchone()[0]

    ours_calls = sync_calls + sum(r.api_calls for r in results)
    needed = sum(floor_figures["calls"].values())
    data_writes = sum(n for name, n in delta.items() if name not in BOOKKEEPING)
    return {
        "corp task": {
            "members": len(everyone),
            "published": len(publishers),
            "publish_simulation_seconds": round(published_seconds, 1),
        },
        "full tracking pass": {
            "seconds": round(first_seconds, 2),
            "member_sync_seconds": round(synced_seconds, 2),
            "wecom_calls": ours_calls,
            "wecom_calls_member_sync": sync_calls,
            "pages_needed": needed,
            "pages_needed_by_api": floor_figures["calls"],
            "rows": rows,
            "contact_events": events,
            "rows_written_by_polls": sum(r.rows_written for r in results),
            "new_interactions": sum(r.new_interactions for r in results),
        },
        "repeat pass, nothing new": {
            "seconds": round(again_seconds, 2),
            "wecom_calls": again_sync.api_calls + sum(r.api_calls for r in again),
            "rows_written": data_writes,
            "rows_written_by_table": {n: v for n, v in delta.items() if v and n not in BOOKKEEPING},
            "bookkeeping_rows": {name: delta.get(name, 0) for name in BOOKKEEPING},
        },
        "floor (urllib reads + COPY)": floor_figures,
        "ratios": {
            "ours_vs_floor": round(first_seconds / floor_figures["seconds"], 2),
            "wecom_calls_vs_pages_needed": round(ours_calls / needed, 3),
        },
        "goals": {
            "wecom_calls<=pages_needed": ours_calls <= needed,
            "repeat_pass_rows_written==0": data_writes == 0,
            # Every interaction here is by a customer Siyu knows: each is one ContactEvent.
            "events==interactions": events == rows["interactions"] == floor_figures["rows"]["interactions"],
        },
    }


def _task_userids(sandbox: SandboxProcess, moment_id: str) -> list[str]:
    """Who was asked to publish the corp post, read through the API as the floor reads it."""
    token = _call(f"{sandbox.api}gettoken?corpid={DEFAULT_CORP_ID}&corpsecret={DEFAULT_SECRET}")[
        "access_token"
    ]
    userids: list[str] = []
    cursor = ""
    while True:
        page = _call(f"{sandbox.api}externalcontact/get_moment_task?access_token={token}",
                     {"moment_id": moment_id, "cursor": cursor, "limit": TASK_PAGE})  # fmt: skip
        userids += [t["userid"] for t in page["task_list"]]
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return userids


if __name__ == "__main__":
    main()
