"""The kill test: a real Celery worker dispatching a 50-member campaign is SIGKILLed 20 times; WeCom
(the sandbox, its own process) must end up holding exactly one task per (member, chunk).

A solo-pool worker (``celery --app scrm worker --pool solo``) runs ``campaigns.dispatch_run`` against
PostgreSQL, Redis (broker) and the sandbox, whose ``add_msg_template`` answers after ``--latency-ms``
(so most kills land while WeCom is creating a task: after WeCom has it, before the worker could write
its msgid). After each kill the bench waits for that call to land in the sandbox, makes the dispatch
stale (its heartbeat moved back past ``STALE_AFTER``: in production a dead worker's dispatch goes
stale after 5 minutes, far longer than the 10-second WeCom timeout, so no call of the dead worker is
still in flight when it is resumed), runs the stale sweep (``durable_requeue_stale``, as the beat
does) and starts a new worker. At the end it reads the sandbox's records (``records/mass-messages``)
and the task rows.

    python bench/campaigns_kill.py [--customers 20000] [--staff 50] [--kills 20] [--latency-ms 600]

Reported: kills, tasks, the WeCom tasks the sandbox holds for the campaign (duplicates and missing
ones, which must be 0), and what each kill left behind: the tasks claimed with no msgid then, of which
how many the next run adopted (found in WeCom) and how many it created (not found: the worker died
before its call reached WeCom).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import psycopg

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.campaigns import SandboxProcess, targets_sha256
from bench.common import ROOT, app_env, fresh_database, manage, report
from scrm.wecom.sandbox import DEFAULT_CORP_ID, DEFAULT_SECRET

TEXT = "kill test: 会员日专享优惠，限时三天。"
FINISHED = ("succeeded", "partial", "failed")


class Worker:
    """One Celery worker process (solo pool: the task runs in the process we kill)."""

    def __init__(self, env: dict[str, str], log_path: str):
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "a")  # noqa: SIM115 -- handed to the child, closed when it ends
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "--app", "scrm", "worker", "--pool", "solo", "--queues",
             "bulk,default", "--loglevel", "WARNING", "--without-mingle", "--without-gossip",
             "--without-heartbeat", "--hostname", f"kill{random.randrange(10**6)}@bench"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--staff", type=int, default=50)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=600)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    database_url = fresh_database("siyu_bench_campaigns_kill")
    env = app_env(database_url)
    manage(env, "migrate", "--noinput")
    sandbox = SandboxProcess(env, customers=args.customers, staff=args.staff, latency_ms=args.latency_ms)
    log_path = "/tmp/siyu-bench-campaigns-kill-worker.log"
    open(log_path, "w").close()
    worker = Worker(env, log_path)
    try:
        manage(env, "create_tenant", "--slug", "bench", "--name", "Bench", "--corp-id", DEFAULT_CORP_ID,
               "--secret", DEFAULT_SECRET, "--api-base", sandbox.api)  # fmt: skip
        manage(env, "sync_tenant", "bench")
        subprocess.run(
            [sys.executable, "-m", "celery", "--app", "scrm", "purge", "-f", "--queues", "bulk,default"],
            cwd=ROOT, env=env, capture_output=True, check=False,
        )  # fmt: skip
        figures = run(env, database_url, sandbox, worker, args, rng)
    finally:
        worker.stop()
        sandbox.stop()
    report("bench/campaigns_kill.py", figures)


def _dispatch(conn: psycopg.Connection, dispatch_id: int) -> tuple[str, str | None, int]:
    row = conn.execute(
        "SELECT status, claim_token::text, done FROM campaigns_dispatch WHERE id = %s", [dispatch_id]
    ).fetchone()
    return row[0], row[1], row[2]


def run(env, database_url, sandbox, worker, args, rng) -> dict:
    os.environ.update(env)
    import django

    django.setup()
    from campaigns.models import Campaign, CampaignRecipient, CampaignTask, Dispatch
    from campaigns.services.dispatch import dispatch_start
    from scrm.durable import durable_requeue_stale
    from scrm.tenancy.context import tenant_context
    from scrm.tenancy.models import Tenant

    tenant = Tenant.objects.get(slug="bench")
    start = time.perf_counter()
    with tenant_context(tenant):
        campaign = Campaign.objects.create(name="Kill test", audience={"filters": {}}, text=TEXT)
        dispatch = dispatch_start(campaign=campaign)  # enqueued to Redis as it commits
    conn = psycopg.connect(database_url, autocommit=True)
    kills, left_claimed = 0, {}  # task id -> attempts when a kill left it claimed with no msgid
    latency = args.latency_ms / 1000
    while kills < args.kills:
        _, before, _ = _dispatch(conn, dispatch.pk)
        worker.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status, token, _ = _dispatch(conn, dispatch.pk)
            if status in FINISHED or (status == "running" and token != before):
                break
            time.sleep(0.05)
        if status in FINISHED:
            break
        time.sleep(rng.uniform(0.1, 3 * latency))  # somewhere in the next few tasks
        worker.kill()
        kills += 1
        for pk, attempts in conn.execute(
            "SELECT id, attempts FROM campaigns_campaigntask WHERE campaign_id = %s AND status = 'claimed'"
            " AND msgid = ''",
            [campaign.pk],
        ).fetchall():
            left_claimed.setdefault(pk, attempts)
        # The dead worker's call lands in WeCom (STALE_AFTER ≫ the HTTP timeout in production), then
        # the dispatch is taken for dead and the beat's sweep sends it again.
        time.sleep(latency + 0.5)
        conn.execute(
            "UPDATE campaigns_dispatch SET heartbeat_at = now() - interval '10 minutes',"
            " created_at = LEAST(created_at, now() - interval '10 minutes') WHERE id = %s",
            [dispatch.pk],
        )
        durable_requeue_stale()
    worker.start()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and _dispatch(conn, dispatch.pk)[0] not in FINISHED:
        time.sleep(0.2)
    worker.stop()
    seconds = time.perf_counter() - start
    status = _dispatch(conn, dispatch.pk)[0]

    with tenant_context(tenant):
        campaign.refresh_from_db()
        tasks = list(CampaignTask.objects.filter(campaign=campaign).select_related("staff"))
        wanted = Counter()
        for task in tasks:
            targets = list(CampaignRecipient.objects.filter(task=task).values_list("target", flat=True))
            wanted[(task.staff.userid, targets_sha256(targets))] += 1
        run_row = Dispatch.objects.get(pk=dispatch.pk)
    held = sandbox.mass_messages(TEXT)
    got = Counter((m["creator"], m["targets_sha256"]) for m in held)
    duplicates = sum(n - 1 for key, n in got.items() if n > 1)
    missing = sum(1 for key in wanted if key not in got)
    stray = sum(n for key, n in got.items() if key not in wanted)
    msgids_match = {t.msgid for t in tasks} == {m["msgid"] for m in held}
    after = {t.pk: t for t in tasks}
    adopted = sum(1 for pk, attempts in left_claimed.items() if after[pk].attempts == attempts)
    return {
        "kills": kills,
        "seconds": round(seconds, 1),
        "dispatch": {
            "status": status,
            "done": run_row.done,
            "total": run_row.total,
            "api_calls": run_row.api_calls,
        },
        "campaign": {"status": campaign.status, "members": campaign.members, "tasks": len(tasks)},
        "task_statuses": dict(Counter(t.status for t in tasks)),
        "sandbox": {"wecom_tasks": len(held), "duplicates": duplicates, "missing": missing, "stray": stray},
        "kills_left_claimed_without_msgid": len(left_claimed),
        "adopted_from_wecom": adopted,
        "created_after_not_found": len(left_claimed) - adopted,
        "goals": {
            "all_kills_during_dispatch": kills >= args.kills,
            "dispatch_finished": status in ("succeeded", "partial"),
            "exactly_one_wecom_task_per_(member,chunk)": duplicates == 0 and missing == 0 and stray == 0,
            "every_msgid_kept": msgids_match,
        },
    }


if __name__ == "__main__":
    main()
