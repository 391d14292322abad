"""Mass messages: a campaign to 100,000 customers followed by 50 members, planned, dispatched and its
results read in full, against a sandbox corp served over HTTP by its own process.

Steps (one fresh PostgreSQL database): the contacts sync (not measured); then, measured, the plan and
the dispatch (``dispatch_start``, Celery eager: ``campaign_plan_write`` and one ``add_msg_template``
per (member, chunk)); every member then confirms through the sandbox's control route (not measured);
then, measured, the first full results poll (``campaign_poll``: ``get_groupmsg_task`` per task,
``get_groupmsg_send_result`` pages of 1,000, the recipients' statuses, a Touch and a ContactEvent per
customer who got it); then a repeated poll with nothing new, and one more that reads and compares
every page again (the tasks marked incomplete first).

Floor, measured in the same run: the same WeCom calls with plain urllib and no database (one
add_msg_template per chunk, with the same recipients and another text; the task reads and every
result page of the campaign's tasks), plus a COPY of the recipient rows (target, status, send time)
into a scratch table.

A second reference, for where the time goes: the rows the feature must write (100,000 recipient rows
planned, their statuses, a Touch and a ContactEvent each) written the plainest way into copies of its
tables with the same indexes ("write floor").

Goals (issue 15): WeCom calls for the dispatch = the (member, chunk) tasks, and the sandbox holds
exactly one task per chunk; for the results ≤ ⌈recipients/1,000⌉ + members, plus the task reads; plan
+ dispatch + first poll ≤ 3× the floor; the repeated poll writes 0 rows (pg_stat_user_tables on
campaigns_* and contacts_contactevent; the campaign row's own schedule, ``next_poll_at``/``polls``, is
bookkeeping and shown apart).

    python bench/campaigns.py [--customers 100000] [--staff 50]
"""

from __future__ import annotations

import argparse
import hashlib
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

TEXT = "双十二会员日：全场 8 折，到店出示本消息再送礼品一份。"
FLOOR_TEXT = "floor: " + TEXT
BOOKKEEPING = ("campaigns_campaign",)
REREAD_BOOKKEEPING = ("campaigns_campaign", "campaigns_campaigntask")
COUNTED = ("contacts_contactevent",)  # written by the poll beside the campaigns_* tables


class SandboxProcess:
    """``manage.py wecom_sandbox`` in its own process; every member may send to customers."""

    def __init__(self, env: dict[str, str], *, customers: int, staff: int, latency_ms: int = 0):
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "wecom_sandbox", "--port", "0", "--seed", "1",
             "--staff", str(staff), "--followers", str(staff),
             "--contacts", str(customers), "--groups", "10"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        line = self.process.stdout.readline()
        if "serving at" not in line:
            raise SystemExit(f"the sandbox did not start: {line}{self.process.stderr.read()}")
        self.base_url = line.split("serving at ")[1].split()[0].rstrip("/")
        self.api = f"{self.base_url}/cgi-bin/"
        if latency_ms:
            self.control("faults", {"apis": {"externalcontact/add_msg_template": {"latency_ms": latency_ms}}})

    def control(self, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base_url}/sandbox/{path}", data=data)
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    def mass_messages(self, text: str) -> list[dict]:
        digest = hashlib.sha256(text.encode()).hexdigest()
        return [
            m for m in self.control("records/mass-messages")["mass_messages"] if m["text_sha256"] == digest
        ]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def targets_sha256(targets: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(targets)).encode()).hexdigest()


def _call(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=120) as response:
        answer = json.loads(response.read())
    if answer.get("errcode"):
        raise SystemExit(f"floor: {url} answered {answer}")
    return answer


def floor(
    database_url: str, api: str, chunks: list[tuple[str, list[str]]], sent: list[tuple[str, str]]
) -> dict:
    """The plainest version of the same work: the dispatch's and the first poll's WeCom calls with
    urllib, and one COPY of the recipients' results. ``chunks``: (sender, recipients) per task;
    ``sent``: (msgid, userid) of the campaign's confirmed tasks, whose results it reads."""
    start = time.perf_counter()
    token = _call(f"{api}gettoken?corpid={DEFAULT_CORP_ID}&corpsecret={DEFAULT_SECRET}")["access_token"]
    calls = {"dispatch": 0, "results": 0}
    for sender, recipients in chunks:
        _call(
            f"{api}externalcontact/add_msg_template?access_token={token}",
            {"chat_type": "single", "sender": sender, "external_userid": recipients,
             "text": {"content": FLOOR_TEXT}},
        )  # fmt: skip
        calls["dispatch"] += 1
    dispatched = time.perf_counter()
    rows = []
    for msgid, userid in sent:
        _call(f"{api}externalcontact/get_groupmsg_task?access_token={token}", {"msgid": msgid, "limit": 1000})
        calls["results"] += 1
        cursor = ""
        while True:
            page = _call(
                f"{api}externalcontact/get_groupmsg_send_result?access_token={token}",
                {"msgid": msgid, "userid": userid, "cursor": cursor, "limit": 1000},
            )
            calls["results"] += 1
            rows.extend((r["external_userid"], r["status"], r.get("send_time", 0)) for r in page["send_list"])
            cursor = page.get("next_cursor") or ""
            if not cursor:
                break
    fetched = time.perf_counter()
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE bench_floor (target text, status int, send_time bigint)")
        with conn.cursor().copy("COPY bench_floor FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    end = time.perf_counter()
    return {
        "seconds": round(end - start, 2),
        "dispatch_seconds": round(dispatched - start, 2),
        "results_seconds": round(fetched - dispatched, 2),
        "copy_seconds": round(end - fetched, 2),
        "rows": len(rows),
        "calls": calls,
    }


def write_floor(database_url: str, tenant_id: int, campaign_id: int, tasks: list[tuple]) -> dict:
    """The rows the feature must write, the plainest way, into copies of its tables (same columns and
    indexes, no foreign keys, no Django): the plan's recipient rows (COPY), then per task the status
    UPDATE, the Touch rows and the ContactEvent rows (COPY), one transaction per task. ``tasks``:
    (task id, staff id, msgid, [(target, contact_id)]) per task."""
    tables = ("campaigns_campaignrecipient", "campaigns_touch", "contacts_contactevent")
    with psycopg.connect(database_url) as conn:
        for table in tables:
            conn.execute(f"CREATE TABLE floor_{table} (LIKE {table} INCLUDING ALL)")
        conn.commit()
        start = time.perf_counter()
        columns = "tenant_id, campaign_id, task_id, contact_id, target, status"
        with conn.cursor().copy(f"COPY floor_campaigns_campaignrecipient ({columns}) FROM STDIN") as copy:
            for task_id, _, _, rows in tasks:
                for target, contact_id in rows:
                    copy.write_row((tenant_id, campaign_id, task_id, contact_id, target, "planned"))
        conn.commit()
        planned = time.perf_counter()
        event_columns = "tenant_id, contact_id, type, occurred_at, staff_id, channel, payload, created_at"
        for task_id, staff_id, msgid, rows in tasks:
            targets = [target for target, _ in rows]
            conn.execute(
                "UPDATE floor_campaigns_campaignrecipient SET status = 'sent', sent_at = now()"
                " WHERE tenant_id = %s AND task_id = %s AND target = ANY(%s)",
                [tenant_id, task_id, targets],
            )
            conn.execute(
                "INSERT INTO floor_campaigns_touch (tenant_id, target, kind, source, at)"
                " SELECT %s, t, 'mass_message', %s, now() FROM unnest(%s::text[]) AS t",
                [tenant_id, msgid, targets],
            )
            payload = json.dumps({"campaign_id": campaign_id, "msgid": msgid})
            with conn.cursor().copy(f"COPY floor_contacts_contactevent ({event_columns}) FROM STDIN") as copy:
                for _, contact_id in rows:
                    copy.write_row(
                        (tenant_id, contact_id, "mass_message_received", "now", staff_id, "", payload, "now")
                    )
            conn.commit()
        end = time.perf_counter()
    return {
        "seconds": round(end - start, 2),
        "plan_copy_seconds": round(planned - start, 2),
        "results_seconds": round(end - planned, 2),
    }


def table_writes(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return dict(
            conn.execute(
                "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables"
                " WHERE relname LIKE 'campaigns\\_%%' OR relname = ANY(%s)",
                [list(COUNTED)],
            ).fetchall()
        )


def _flush_stats() -> None:
    """The table statistics of this process's connection reach pg_stat_user_tables when it closes."""
    from django.db import connection

    connection.close()
    time.sleep(0.7)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--staff", type=int, default=50)
    args = parser.parse_args()

    database_url = fresh_database("siyu_bench_campaigns")
    env = app_env(database_url, CELERY_TASK_ALWAYS_EAGER="true")
    manage(env, "migrate", "--noinput")
    sandbox = SandboxProcess(env, customers=args.customers, staff=args.staff)
    try:
        manage(env, "create_tenant", "--slug", "bench", "--name", "Bench", "--corp-id", DEFAULT_CORP_ID,
               "--secret", DEFAULT_SECRET, "--api-base", sandbox.api)  # fmt: skip
        synced = json.loads(manage(env, "sync_tenant", "bench").strip().splitlines()[-1])
        figures = run(env, database_url, sandbox)
        figures["corp"] = {"customers": synced["contacts"], "follows": synced["follows"], "staff": args.staff}
    finally:
        sandbox.stop()
    report("bench/campaigns.py", figures)


def run(env: dict[str, str], database_url: str, sandbox: SandboxProcess) -> dict:
    os.environ.update(env)
    import django

    django.setup()
    from campaigns.models import Campaign, CampaignRecipient, CampaignTask, Dispatch
    from campaigns.services.dispatch import dispatch_start
    from campaigns.services.results import campaign_poll
    from scrm.tenancy.context import tenant_context
    from scrm.tenancy.models import Tenant

    tenant = Tenant.objects.get(slug="bench")
    with tenant_context(tenant):
        campaign = Campaign.objects.create(name="Bench", audience={"filters": {}}, text=TEXT)
        start = time.perf_counter()
        dispatch_start(campaign=campaign)  # eager: planned and dispatched when it commits, here
        dispatch_seconds = time.perf_counter() - start
        campaign.refresh_from_db()
        run_row = Dispatch.objects.get(campaign=campaign)
        tasks = list(CampaignTask.objects.filter(campaign=campaign).select_related("staff").order_by("pk"))
        rows = {
            task.pk: sorted(CampaignRecipient.objects.filter(task=task).values_list("target", "contact_id"))
            for task in tasks
        }
        recipients = {pk: [target for target, _ in task_rows] for pk, task_rows in rows.items()}
    held = sandbox.mass_messages(TEXT)
    wanted = sorted((t.staff.userid, targets_sha256(recipients[t.pk])) for t in tasks)
    one_per_chunk = sorted((m["creator"], m["targets_sha256"]) for m in held) == wanted
    for task in tasks:
        sandbox.control("simulate/staff-confirm-msg", {"msgid": task.msgid, "userid": task.staff.userid})

    with tenant_context(tenant):
        start = time.perf_counter()
        first = campaign_poll(campaign=campaign)
        poll_seconds = time.perf_counter() - start
    _flush_stats()
    floor_figures = floor(
        database_url,
        sandbox.api,
        [(t.staff.userid, recipients[t.pk]) for t in tasks],
        [(t.msgid, t.staff.userid) for t in tasks],
    )
    writes_floor = write_floor(
        database_url, tenant.pk, campaign.pk, [(t.pk, t.staff_id, t.msgid, rows[t.pk]) for t in tasks]
    )
    before = table_writes(database_url)
    with tenant_context(tenant):
        start = time.perf_counter()
        again = campaign_poll(campaign=campaign)
        again_seconds = time.perf_counter() - start
        campaign.refresh_from_db()
    _flush_stats()
    after = table_writes(database_url)
    delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    # Again, every page read and compared (as if no task were complete): still nothing to write.
    with tenant_context(tenant):
        CampaignTask.objects.filter(campaign=campaign).update(results_complete=False, result_cursor="")
    _flush_stats()
    before = table_writes(database_url)
    with tenant_context(tenant):
        start = time.perf_counter()
        reread = campaign_poll(campaign=Campaign.objects.get(pk=campaign.pk))
        reread_seconds = time.perf_counter() - start
    _flush_stats()
    after = table_writes(database_url)
    reread_delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}

    members = len({t.staff_id for t in tasks})
    total = campaign.recipients
    ours = dispatch_seconds + poll_seconds
    results_budget = math.ceil(total / 1000) + members + len(tasks)
    return {
        "campaign": {
            "recipients": total,
            "members": members,
            "tasks": len(tasks),
            "sent": campaign.sent,
            "not_friend": campaign.not_friend,
            "over_limit": campaign.over_limit,
            "status_after_poll": campaign.status,
        },
        "plan + dispatch": {
            "seconds": round(dispatch_seconds, 2),
            "wecom_calls": run_row.api_calls,
            "sandbox_tasks": len(held),
        },
        "first full poll": {
            "seconds": round(poll_seconds, 2),
            "wecom_calls": first.api_calls,
            "recipients_written": first.changed,
            "newly_sent": first.newly_sent,
        },
        "repeated poll": {
            "seconds": round(again_seconds, 3),
            "wecom_calls": again.api_calls,
            "rows_written": sum(n for name, n in delta.items() if name not in BOOKKEEPING),
            "rows_written_by_table": {n: v for n, v in delta.items() if v and n not in BOOKKEEPING},
            "bookkeeping_rows": {name: delta.get(name, 0) for name in BOOKKEEPING},
        },
        "repeated poll, every page read again": {
            "seconds": round(reread_seconds, 2),
            "wecom_calls": reread.api_calls,
            # The task rows this bench marked incomplete are marked complete again: not results.
            "rows_written": sum(n for name, n in reread_delta.items() if name not in REREAD_BOOKKEEPING),
            "bookkeeping_rows": {name: reread_delta.get(name, 0) for name in REREAD_BOOKKEEPING},
        },
        "floor (urllib calls + COPY)": floor_figures,
        "write floor (the same rows, plain SQL, same indexes)": writes_floor,
        "ratios": {
            "ours_vs_floor": round(ours / floor_figures["seconds"], 2),
            "ours_vs_floor_plus_write_floor": round(
                ours / (floor_figures["seconds"] + writes_floor["seconds"]), 2
            ),
        },
        "goals": {
            "dispatch_calls==tasks": run_row.api_calls == len(tasks),
            "one_sandbox_task_per_(member,chunk)": one_per_chunk,
            "results_calls<=ceil(recipients/1000)+members+task_reads": first.api_calls <= results_budget,
            "ours<=3x_floor": ours <= 3 * floor_figures["seconds"],
            "repeated_poll_rows_written==0": sum(n for k, n in delta.items() if k not in BOOKKEEPING) == 0,
            "reread_poll_rows_written==0": sum(
                n for k, n in reread_delta.items() if k not in REREAD_BOOKKEEPING
            )
            == 0,
        },
    }


if __name__ == "__main__":
    main()
