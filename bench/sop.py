"""SOP engine: 100,000 enrolments with three steps due within one hour, run by worker processes against
PostgreSQL and a sandbox corp served over HTTP by its own process; then the chaos run.

Steps (one fresh PostgreSQL database; the contacts sync is not measured):

1. **Throughput.** A live SOP of three actions (a reminder to the member, 10 points, a mass-message
   task for the member: WeCom is called for the first and the last), 100,000 customers enrolled with
   their first step due at a random moment of the hour before now: every step is due. ``--workers``
   processes (2: the machine's cores) run the engine's pass (``sop_run_due`` + ``deliveries_send``) until
   nothing is due. Figure: step executions per second (every step run done or skipped / wall time).
2. **Delay.** 5,000 more enrolments, first step due uniformly over the next 180 seconds (83 steps/s,
   the rate of 300,000 steps an hour), the workers running the production loop (``sop.tick``'s body:
   a pass, then a one-second sleep when nothing is due). Figure: p50/p95/max of executed_at − due_at.
3. **Floor**, in the same run: the same number of rows claimed and marked done with bare SQL by the
   same number of processes (``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT 500)``, then
   ``UPDATE … SET status = 'done'``) in a scratch table shaped like the step runs, with the same index.
4. **Chaos** (``--chaos``, part of ``make bench``): 10,000 enrolments, the workers SIGKILLed 20 times at
   random moments and restarted; what a killed worker had claimed is made stale (its claim moved back
   past the 5-minute lease, as time would) so the next pass reclaims it. Then: every enrolment
   completed (zero lost steps) and the sandbox holds each (step, customer) at most once (zero
   duplicate actions), read from its records of ``add_msg_template`` and ``message/send``.

Goals (issue 18): ≥ 200 step executions/s; p95 delay ≤ 5 s; chaos: 0 duplicates, 0 lost.

    python bench/sop.py [--customers 100000] [--staff 50] [--workers 2] [--chaos-enrolments 10000]
                        [--kills 20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter

import psycopg

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.campaigns import SandboxProcess
from bench.common import ROOT, app_env, fresh_database, manage, report
from scrm.wecom.sandbox import DEFAULT_CORP_ID, DEFAULT_SECRET

REMIND_TEXT = "SOP bench: 请问候您的新客户，介绍本周新品。"
TASK_TEXT = "SOP bench: 本周新品 8 折，回复 1 了解详情。"


def definition(tag: str) -> dict:
    # The texts carry the run's tag so that the chaos run's sandbox records are told from the others.
    return {
        "trigger": {"type": "manual"},
        "steps": [
            {"id": "remind", "type": "action", "action": "remind", "text": f"{REMIND_TEXT} [{tag}]"},
            {"id": "points", "type": "action", "action": "grant_points", "points": 10, "note": "bench"},
            {"id": "task", "type": "action", "action": "mass_task", "text": f"{TASK_TEXT} [{tag}]"},
        ],
        "reenrol": "always",
    }


# A worker process. "until_idle" (throughput): the engine's pass in a loop until nothing is due.
# "loop" (delay, chaos): production as it runs — the beat starts ``sop.tick`` every 30 s, the tick works
# while steps are due within its 25 s and returns when none is.
WORKER = r"""
import sys, time, django
django.setup()
from django.utils import timezone
from sop import tasks
from sop.services import engine
mode, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
idle_since = None
while time.monotonic() < deadline:
    if mode == "loop":
        started = time.monotonic()
        tasks.tick()
        time.sleep(max(0.0, 30 - (time.monotonic() - started)))
        continue
    now = timezone.now()
    engine.step_runs_reclaim_stale(now=now)
    result = engine.sop_run_due(now=now, batch=500)
    engine.deliveries_send(now=timezone.now())
    if result.claimed:
        idle_since = None
        continue
    idle_since = idle_since or time.monotonic()
    if time.monotonic() - idle_since > 2:
        break
    time.sleep(1)
"""


class Workers:
    def __init__(self, env: dict[str, str], count: int):
        self.env, self.count = env, count
        self.processes: list[subprocess.Popen] = []
        self.log = open("/tmp/siyu-bench-sop-worker.log", "a")  # noqa: SIM115 -- closed by stop()

    def start(self, mode: str, seconds: float, count: int | None = None) -> None:
        for _ in range(count or self.count):
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-c", WORKER, mode, str(seconds)],
                    cwd=ROOT,
                    env=self.env,
                    start_new_session=True,
                    stdout=subprocess.DEVNULL,
                    stderr=self.log,
                )
            )

    def wait(self, timeout: float) -> None:
        for process in self.processes:
            process.wait(timeout=timeout)
        self.processes = []

    def kill_one(self, rng: random.Random) -> bool:
        alive = [p for p in self.processes if p.poll() is None]
        if not alive:
            return False
        victim = rng.choice(alive)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        self.processes.remove(victim)
        return True

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=60)
        self.processes = []
        self.log.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--staff", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--delay-enrolments", type=int, default=5_000)
    parser.add_argument("--delay-seconds", type=int, default=180)
    parser.add_argument("--chaos-enrolments", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()

    database_url = fresh_database("siyu_bench_sop")
    env = app_env(database_url)
    manage(env, "migrate", "--noinput")
    sandbox = SandboxProcess(env, customers=args.customers, staff=args.staff)
    workers = Workers(env, args.workers)
    try:
        manage(env, "create_tenant", "--slug", "bench", "--name", "Bench", "--corp-id", DEFAULT_CORP_ID,
               "--secret", DEFAULT_SECRET, "--api-base", sandbox.api, "--agent-id", "1000002")  # fmt: skip
        synced = json.loads(manage(env, "sync_tenant", "bench").strip().splitlines()[-1])
        figures = run(env, database_url, sandbox, workers, args)
        figures["corp"] = {"customers": synced["contacts"], "staff": args.staff, "workers": args.workers}
    finally:
        workers.stop()
        sandbox.stop()
    report("bench/sop.py", figures)


def _setup(tag: str):
    from django.utils import timezone

    from contacts.models import Follow, FollowStatus
    from sop.models import Sop, SopKind, SopStatus, SopVersion

    now = timezone.now()
    sop = Sop.objects.create(name=f"Bench {tag}", kind=SopKind.CUSTOMER, status=SopStatus.LIVE)
    version = SopVersion.objects.create(sop=sop, number=1, definition=definition(tag))
    sop.live_version = version
    sop.draft = version.definition
    sop.save(update_fields=["live_version", "draft"])
    owners = dict(
        Follow.objects.filter(status=FollowStatus.ACTIVE)
        .order_by("contact_id", "added_at", "id")
        .distinct("contact_id")
        .values_list("contact_id", "staff_id")
    )
    return sop, version, owners, now


def _enrol(sop, version, owners: dict[int, int], contact_ids: list[int], starts: list, now) -> int:
    from sop.services.engine import NewEnrolment, enrolments_create

    made = 0
    for start in range(0, len(contact_ids), 5_000):
        items = [
            NewEnrolment(contact_id=pk, group_id=None, staff_id=owners[pk], occurrence="", start_at=due)
            for pk, due in zip(contact_ids[start : start + 5_000], starts[start : start + 5_000], strict=True)
        ]
        made += enrolments_create(sop=sop, version=version, items=items, now=now)
    return made


def _statuses(conn: psycopg.Connection, sop_id: int) -> dict[str, int]:
    return dict(
        conn.execute("SELECT status, count(*) FROM sop_sopsteprun WHERE sop_id = %s GROUP BY 1", [sop_id])
    )


def _floor(database_url: str, rows: int, processes: int) -> dict:
    """Bare SQL: claim and mark `rows` due rows, `processes` at once, 500 a claim."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_floor_steps")
        conn.execute(
            "CREATE TABLE bench_floor_steps (id bigserial PRIMARY KEY, status varchar(12) NOT NULL,"
            " due_at timestamptz NOT NULL, claimed_at timestamptz, executed_at timestamptz)"
        )
        conn.execute(
            "INSERT INTO bench_floor_steps (status, due_at)"
            " SELECT 'pending', now() - random() * interval '1 hour' FROM generate_series(1, %s)",
            [rows],
        )
        conn.execute("CREATE INDEX bench_floor_due ON bench_floor_steps (due_at) WHERE status = 'pending'")
        conn.execute("VACUUM ANALYZE bench_floor_steps")
    script = r"""
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    while True:
        ids = [r[0] for r in conn.execute(
            "UPDATE bench_floor_steps SET status = 'claimed', claimed_at = now() WHERE id IN ("
            " SELECT id FROM bench_floor_steps WHERE status = 'pending' AND due_at <= now()"
            " ORDER BY due_at LIMIT 500 FOR UPDATE SKIP LOCKED) RETURNING id")]
        if not ids:
            break
        conn.execute(
            "UPDATE bench_floor_steps SET status = 'done', executed_at = now() WHERE id = ANY(%s)", [ids])
"""
    started = time.perf_counter()
    children = [subprocess.Popen([sys.executable, "-c", script, database_url]) for _ in range(processes)]
    for child in children:
        child.wait(timeout=1800)
    seconds = time.perf_counter() - started
    with psycopg.connect(database_url, autocommit=True) as conn:
        done = conn.execute("SELECT count(*) FROM bench_floor_steps WHERE status = 'done'").fetchone()[0]
        conn.execute("DROP TABLE bench_floor_steps")
    return {"rows": done, "seconds": round(seconds, 2), "per_second": round(done / seconds, 1)}


def _sandbox_actions(sandbox: SandboxProcess, tag: str) -> dict:
    """(step, target) pairs the sandbox received for this run's texts, with how many times each."""
    pairs: Counter = Counter()
    for record in sandbox.control("records/externalcontact/add_msg_template")["records"]:
        body = record["body"]
        if tag in (body.get("text") or {}).get("content", ""):
            for target in body.get("external_userid") or []:
                pairs[("task", target)] += 1
    reminders: Counter = Counter()
    for record in sandbox.control("records/message/send")["records"]:
        body = record["body"]
        if tag in json.dumps(body, ensure_ascii=False):
            reminders[body.get("touser", "")] += 1
    return {"task_pairs": pairs, "reminders": reminders}


def run(env, database_url, sandbox, workers: Workers, args) -> dict:
    os.environ.update(env)
    import django

    django.setup()
    from django.utils import timezone

    from contacts.models import Contact
    from scrm.tenancy.context import tenant_context
    from scrm.tenancy.models import Tenant

    rng = random.Random(args.seed)
    tenant = Tenant.objects.get(slug="bench")
    conn = psycopg.connect(database_url, autocommit=True)
    figures: dict = {}

    # 1. Throughput: everything due.
    with tenant_context(tenant):
        sop, version, owners, now = _setup("throughput")
        contact_ids = sorted(Contact.objects.filter(pk__in=list(owners)).values_list("pk", flat=True))
        contact_ids = contact_ids[: args.customers]
        starts = [now - dt_seconds(rng.uniform(0, 3600)) for _ in contact_ids]
        started = time.perf_counter()
        enrolled = _enrol(sop, version, owners, contact_ids, starts, now)
        enrol_seconds = time.perf_counter() - started
    conn.execute("VACUUM ANALYZE sop_sopsteprun")
    started = time.perf_counter()
    workers.start("until_idle", 3600)
    workers.wait(timeout=3600)
    seconds = time.perf_counter() - started - 2  # the workers' idle wait before they stop
    statuses = _statuses(conn, sop.pk)
    executed = statuses.get("done", 0) + statuses.get("skipped", 0)
    rate = executed / seconds
    figures["throughput"] = {
        "enrolments": enrolled,
        "enrol_seconds": round(enrol_seconds, 2),
        "step_runs": statuses,
        "seconds": round(seconds, 1),
        "steps_per_second": round(rate, 1),
        "deliveries": dict(
            conn.execute("SELECT kind, count(*) FROM sop_sopdelivery WHERE sop_id = %s GROUP BY 1", [sop.pk])
        ),
    }

    # 2. Delay: due over the next minutes at the hour's rate, the production loop.
    with tenant_context(tenant):
        sop2, version2, owners, now = _setup("delay")
        chosen = rng.sample(contact_ids, min(args.delay_enrolments, len(contact_ids)))
        lead = 10  # seconds for the enrolment itself before the first is due
        starts = [now + dt_seconds(lead + rng.uniform(0, args.delay_seconds)) for _ in chosen]
        _enrol(sop2, version2, owners, chosen, starts, timezone.now())
    workers.start("loop", lead + args.delay_seconds + 30)
    workers.wait(timeout=lead + args.delay_seconds + 120)
    delays = [
        float(row[0])
        for row in conn.execute(
            "SELECT extract(epoch FROM executed_at - due_at) FROM sop_sopsteprun"
            " WHERE sop_id = %s AND executed_at IS NOT NULL",
            [sop2.pk],
        )
    ]
    delays.sort()
    p95 = delays[int(0.95 * (len(delays) - 1))] if delays else None
    figures["delay"] = {
        "enrolments": len(chosen),
        "step_runs": _statuses(conn, sop2.pk),
        "over_seconds": args.delay_seconds,
        "p50_seconds": round(statistics.median(delays), 2) if delays else None,
        "p95_seconds": round(p95, 2) if p95 is not None else None,
        "max_seconds": round(delays[-1], 2) if delays else None,
    }

    # 3. The floor.
    floor = _floor(database_url, executed, args.workers)
    figures["floor (bare SQL claim + mark, same processes)"] = floor

    # 4. Chaos.
    if args.chaos_enrolments:
        figures["chaos"] = chaos(conn, tenant, sandbox, workers, contact_ids, args, rng)

    figures["ratios"] = {"floor_rate_vs_engine_rate": round(floor["per_second"] / rate, 2)}
    figures["goals"] = {
        "steps_per_second>=200": rate >= 200,
        "p95_delay<=5s": p95 is not None and p95 <= 5,
    }
    if "chaos" in figures:
        figures["goals"]["chaos_zero_duplicates"] = figures["chaos"]["duplicate_actions"] == 0
        figures["goals"]["chaos_zero_lost_steps"] = figures["chaos"]["lost_steps"] == 0
    return figures


def dt_seconds(seconds: float):
    import datetime as dt

    return dt.timedelta(seconds=seconds)


def chaos(conn, tenant, sandbox, workers: Workers, contact_ids, args, rng) -> dict:
    from django.utils import timezone

    from scrm.tenancy.context import tenant_context
    from value.models import PointsEntry

    tag = f"chaos-{rng.randrange(10**6)}"
    began = timezone.now()
    with tenant_context(tenant):
        sop, version, owners, now = _setup(tag)
        chosen = rng.sample(contact_ids, min(args.chaos_enrolments, len(contact_ids)))
        _enrol(sop, version, owners, chosen, [now] * len(chosen), timezone.now())
    started = time.perf_counter()
    kills = 0
    workers.start("loop", 3600)
    while kills < args.kills:
        time.sleep(rng.uniform(0.1, 0.8))
        pending = conn.execute(
            "SELECT count(*) FROM sop_sopsteprun WHERE sop_id = %s AND status IN ('pending', 'claimed')",
            [sop.pk],
        ).fetchone()[0]
        unsent = conn.execute(
            "SELECT count(*) FROM sop_sopdelivery WHERE sop_id = %s AND status IN ('open', 'claimed')",
            [sop.pk],
        ).fetchone()[0]
        if not pending and not unsent:
            break
        if workers.kill_one(rng):
            kills += 1
        # What the dead worker held is taken for dead: in production after the 5-minute lease.
        conn.execute(
            "UPDATE sop_sopsteprun SET claimed_at = claimed_at - interval '10 minutes'"
            " WHERE sop_id = %s AND status = 'claimed'",
            [sop.pk],
        )
        conn.execute(
            "UPDATE sop_sopdelivery SET claimed_at = claimed_at - interval '10 minutes'"
            " WHERE sop_id = %s AND status = 'claimed'",
            [sop.pk],
        )
        workers.start("loop", 3600, count=1)
    # Let the survivors finish; a final reclaim for anything the last kill held.
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        conn.execute(
            "UPDATE sop_sopsteprun SET claimed_at = claimed_at - interval '10 minutes'"
            " WHERE sop_id = %s AND status = 'claimed' AND claimed_at < now() - interval '30 seconds'",
            [sop.pk],
        )
        conn.execute(
            "UPDATE sop_sopdelivery SET claimed_at = claimed_at - interval '10 minutes'"
            " WHERE sop_id = %s AND status = 'claimed' AND claimed_at < now() - interval '30 seconds'",
            [sop.pk],
        )
        open_work = conn.execute(
            "SELECT (SELECT count(*) FROM sop_sopsteprun"
            "        WHERE sop_id = %s AND status IN ('pending', 'claimed'))"
            " + (SELECT count(*) FROM sop_sopdelivery WHERE sop_id = %s AND status IN ('open', 'claimed'))",
            [sop.pk, sop.pk],
        ).fetchone()[0]
        if not open_work:
            break
        time.sleep(1)
    workers.stop()
    seconds = time.perf_counter() - started
    enrolments = dict(
        conn.execute("SELECT status, count(*) FROM sop_sopenrolment WHERE sop_id = %s GROUP BY 1", [sop.pk])
    )
    steps = _statuses(conn, sop.pk)
    actions = _sandbox_actions(sandbox, tag)
    duplicate_tasks = sum(n - 1 for n in actions["task_pairs"].values() if n > 1)
    with tenant_context(tenant):
        granted = Counter(
            # The earlier phases granted points to some of the same customers, before this one began.
            PointsEntry.objects.filter(
                note="bench", contact_id__in=chosen, created_at__gte=began
            ).values_list("contact_id", flat=True)
        )
    duplicate_points = sum(n - 1 for n in granted.values() if n > 1)
    # A reminder is one app message per delivery: more messages than sent deliveries is a duplicate.
    sent_reminders = conn.execute(
        "SELECT count(*) FROM sop_sopdelivery WHERE sop_id = %s AND kind = 'reminder' AND status = 'sent'",
        [sop.pk],
    ).fetchone()[0]
    duplicate_reminders = max(0, sum(actions["reminders"].values()) - sent_reminders)
    lost = enrolments.get("active", 0) + steps.get("pending", 0) + steps.get("claimed", 0)
    return {
        "enrolments": len(chosen),
        "kills": kills,
        "seconds": round(seconds, 1),
        "enrolment_statuses": enrolments,
        "step_runs": steps,
        "deliveries": dict(
            conn.execute(
                "SELECT status, count(*) FROM sop_sopdelivery WHERE sop_id = %s GROUP BY 1", [sop.pk]
            )
        ),
        "sandbox_task_recipients": sum(actions["task_pairs"].values()),
        "sandbox_reminder_messages": sum(actions["reminders"].values()),
        "points_granted": sum(granted.values()),
        "duplicates": {
            "tasks": duplicate_tasks,
            "points": duplicate_points,
            "reminders": duplicate_reminders,
        },
        "duplicate_actions": duplicate_tasks + duplicate_points + duplicate_reminders,
        "lost_steps": lost,
    }


if __name__ == "__main__":
    main()
