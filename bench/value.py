"""Customer value: a full recompute of 1,000,000 customers' scores, tiers and value over 10,000,000
events, then an incremental pass after 100,000 new events.

Setup (not measured; one fresh PostgreSQL database of this run's own, dropped at the end): 50 members,
7 channel codes, ``VALUE_BENCH_CUSTOMERS`` customers (5% lost, a third with a unionid) each with one
follow, and ``VALUE_BENCH_EVENTS`` ContactEvents: one ``added`` per customer, 3% purchases (each with
its ``Order``, some refunded in part or in full, a few in another currency) and the rest drawn from
every event type (interactions and not: welcomes, tags, mass messages...), at times skewed towards the
last months, on customers drawn with a power law (a few very active, many quiet). Generated in the
server with INSERT … SELECT generate_series (the events' secondary indexes dropped for the load and
built again after it), then VACUUM ANALYZE. The points cursor is moved past the
generated events (earning points is not what is measured here: no rule is set either).

Measured, in this process through the services (``value_recompute_full``,
``value_recompute_incremental``):
- the first full pass (every customer's row inserted, no tier event: first computation);
- the nightly full pass a day later (time moved: rows whose figures changed are rewritten, the tiers
  that moved recorded as ``tier_changed`` events);
- ``VALUE_BENCH_NEW_EVENTS`` new events COPYed (interactions on random customers), then the
  incremental pass (only their customers), then a full pass at the same ``now`` that must find
  nothing to change (the incremental pass computed exactly what a full one does).

Floor, in the same run: one GROUP BY over the tenant's events into a scratch table (contact, count,
latest time), with the pass's work_mem; the full passes are reported as multiples of it.
Goals (issue 17): full recompute ≤ 60 s and ≤ 3× the floor; incremental ≤ 5 s.

    python bench/value.py           # env: VALUE_BENCH_CUSTOMERS=1000000 VALUE_BENCH_EVENTS=10000000
                                    #      VALUE_BENCH_NEW_EVENTS=100000
    VALUE_BENCH_SCALE=0.1 python bench/value.py   # a quick run: every size × 0.1
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sys
import time

import psycopg

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.common import PG_ADMIN_URL, app_env, fresh_database, manage, report

SCALE = float(os.environ.get("VALUE_BENCH_SCALE", "1"))
CUSTOMERS = int(os.environ.get("VALUE_BENCH_CUSTOMERS", str(int(1_000_000 * SCALE))))
EVENTS = int(os.environ.get("VALUE_BENCH_EVENTS", str(int(10_000_000 * SCALE))))
NEW_EVENTS = int(os.environ.get("VALUE_BENCH_NEW_EVENTS", str(int(100_000 * SCALE))))
STAFF, CHANNELS = 50, 7
PURCHASE_SHARE = 0.03
SEED = 17
# Every event type with a relative frequency: interactions (which the score counts) and the others.
TYPES = {
    "moment_liked": 20,
    "moment_commented": 6,
    "custom": 15,
    "group_joined": 4,
    "note": 5,
    "welcomed": 10,
    "tagged": 15,
    "untagged": 3,
    "mass_message_received": 18,
    "stage_changed": 2,
    "profile_changed": 2,
}
NEW_TYPES = ("moment_liked", "moment_commented", "custom", "note", "group_joined")


def _weighted_type_sql() -> str:
    """A SQL CASE drawing a type by TYPES' weights from a uniform ``r`` in [0, 1)."""
    total = sum(TYPES.values())
    cases, edge = [], 0
    for name, weight in TYPES.items():
        edge += weight
        cases.append(f"WHEN r < {edge / total:.6f} THEN '{name}'")
    return "CASE " + " ".join(cases) + f" ELSE '{name}' END"


def generate(conn: psycopg.Connection, tenant_id: int) -> dict:
    t = tenant_id
    started = time.perf_counter()
    conn.execute("SET maintenance_work_mem = '512MB'")
    conn.execute("SELECT setseed(0.17)")
    conn.execute(
        """INSERT INTO contacts_staff (tenant_id, userid, name, avatar, position, department_ids,
               leader_department_ids, is_active, wecom_status, directory_status, has_contact_permission,
               created_at, updated_at)
           SELECT %s, 'staff' || s, '员工' || s, '', '', '[1]', '[]', true, 1, 'listed', true, now(), now()
           FROM generate_series(0, %s) s""",
        (t, STAFF - 1),
    )
    conn.execute(
        """INSERT INTO contacts_contactway (tenant_id, name, state, config_id, qr_code, multi, skip_verify,
               user_ids, department_ids, schedule, backup_user_ids, tag_ids, welcome, applied_userids,
               applied_party, created_at, updated_at)
           SELECT %s, '渠道活码 ' || c, 'ch_' || c, '', '', false, true, '[]', '[]', '[]', '[]', '[]', '{}',
                  '[]', '[]', now(), now()
           FROM generate_series(0, %s) c""",
        (t, CHANNELS - 1),
    )
    # Added over the last 400 days (some within the week: new customers).
    conn.execute(
        f"""INSERT INTO contacts_contact (tenant_id, external_userid, name, avatar, type, gender, unionid,
               corp_name, corp_full_name, position, stage_id, status, first_added_at, facets, search_text,
               profile, created_at, updated_at)
            SELECT {t}, 'wm' || lpad(g::text, 30, '0'), '客户' || g, '', 1, g % 3,
                   CASE WHEN g % 3 = 0 THEN 'o' || g ELSE '' END, '', '', '', NULL,
                   CASE WHEN g % 20 = 0 THEN 'lost' ELSE 'active' END,
                   now() - interval '1 hour'
                         - (((g * 2654435761) % 4294967291) / 4294967291.0) * interval '400 days',
                   '{{}}', '客户' || g, '{{}}', now(), now()
            FROM generate_series(1, {CUSTOMERS}) g"""
    )
    cmin = conn.execute("SELECT min(id) FROM contacts_contact").fetchone()[0]
    staff_min = conn.execute("SELECT min(id) FROM contacts_staff").fetchone()[0]
    conn.execute(
        f"""INSERT INTO contacts_follow (tenant_id, contact_id, staff_id, remark, description,
               remark_corp_name, remark_mobiles, add_way, oper_userid, state, tag_ids, added_at, status,
               ended_at, updated_at)
            SELECT {t}, c.id, {staff_min} + floor({STAFF} * power(random(), 2))::int, '', '', '', '[]', 1, '',
                   CASE WHEN c.id % 4 = 0 THEN '' ELSE 'ch_' || c.id % {CHANNELS} END, '[]', c.first_added_at,
                   CASE WHEN c.status = 'lost' THEN 'deleted_by_customer' ELSE 'active' END, NULL, now()
            FROM contacts_contact c WHERE c.tenant_id = {t}"""
    )
    # A customer drawn with a power law over the ids: a few very active, many quiet.
    customer = f"{cmin} + floor({CUSTOMERS} * power(random(), 3))::int"
    # Times skewed towards now: most events in the last months, some a year ago.
    occurred = "now() - power(random(), 2) * interval '365 days'"
    orders = int(EVENTS * PURCHASE_SHARE)
    conn.execute(
        f"""INSERT INTO value_order (tenant_id, source, external_id, contact_id, amount, currency, items,
               refunded_amount, status, paid_at, refunded_at, created_at, updated_at)
            SELECT {t}, 'shop', 'O-' || o, x.contact_id, x.amount,
                   CASE WHEN o % 50 = 0 THEN 'USD' ELSE 'CNY' END, '[]',
                   CASE WHEN o % 30 = 0 THEN x.amount WHEN o % 10 = 0 THEN round(x.amount / 3, 2)
                        ELSE 0 END,
                   CASE WHEN o % 30 = 0 THEN 'refunded' WHEN o % 10 = 0 THEN 'partially_refunded'
                        ELSE 'paid' END,
                   x.paid_at, NULL, now(), now()
            FROM (SELECT o, {customer} AS contact_id, round((10 + random() * 2990)::numeric, 2) AS amount,
                         {occurred} AS paid_at
                  FROM generate_series(1, {orders}) o) x"""
    )
    before = "now() - interval '1 hour'"  # created well before the passes' lag
    # The events' secondary indexes are dropped for the load and built again after it (the same
    # indexes, built sorted: minutes faster than maintaining six of them row by row).
    indexes = conn.execute(
        """SELECT indexname, indexdef FROM pg_indexes
           WHERE tablename = 'contacts_contactevent' AND indexname <> 'contacts_contactevent_pkey'"""
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    conn.execute(
        f"""INSERT INTO contacts_contactevent (tenant_id, contact_id, type, staff_id, channel, actor_id,
               actor_api_key_id, payload, occurred_at, created_at)
            SELECT {t}, c.id, 'added', NULL::bigint, '', NULL::integer, NULL::bigint, '{{}}'::jsonb,
                   c.first_added_at, {before}
            FROM contacts_contact c WHERE c.tenant_id = {t}
            UNION ALL
            SELECT {t}, o.contact_id, 'purchased', NULL::bigint, '', NULL::integer, NULL::bigint,
                   jsonb_build_object('order_id', o.id, 'source', o.source, 'external_id', o.external_id,
                                      'amount', o.amount::text, 'currency', o.currency),
                   o.paid_at, {before}
            FROM value_order o WHERE o.tenant_id = {t}"""
    )
    rest = max(0, EVENTS - CUSTOMERS - orders)
    conn.execute(
        f"""INSERT INTO contacts_contactevent (tenant_id, contact_id, type, staff_id, channel, actor_id,
               actor_api_key_id, payload, occurred_at, created_at)
            SELECT {t}, {customer}, {_weighted_type_sql()}, NULL, '', NULL, NULL, '{{}}', {occurred}, {before}
            FROM (SELECT random() AS r FROM generate_series(1, {rest})) x"""
    )
    for _, definition in indexes:
        conn.execute(definition)
    generated = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    for table in ("contacts_contact", "contacts_follow", "contacts_contactevent", "value_order"):
        conn.execute(f"VACUUM ANALYZE {table}")
    counts = {
        table: conn.execute(f"SELECT count(*) FROM {table} WHERE tenant_id = %s", (t,)).fetchone()[0]
        for table in ("contacts_contact", "contacts_contactevent", "value_order")
    }
    return {
        "customers": counts["contacts_contact"],
        "events": counts["contacts_contactevent"],
        "orders": counts["value_order"],
        "generate_seconds": generated,
        "vacuum_analyze_seconds": round(time.perf_counter() - started, 1),
    }


def floor(conn: psycopg.Connection, tenant_id: int, work_mem: str) -> float:
    """One GROUP BY over the tenant's events into a scratch table."""
    with conn.transaction():
        conn.execute(f"SET LOCAL work_mem = '{work_mem}'")
        started = time.perf_counter()
        conn.execute(
            """CREATE TEMP TABLE floor_scratch ON COMMIT DROP AS
               SELECT contact_id, count(*) AS events, max(occurred_at) AS last_at
               FROM contacts_contactevent WHERE tenant_id = %s GROUP BY contact_id""",
            (tenant_id,),
        )
        return time.perf_counter() - started


def new_events(conn: psycopg.Connection, tenant_id: int, count: int) -> float:
    """``count`` interactions on random customers, COPYed as ``events_record_rows`` writes them."""
    rng = random.Random(SEED)
    cmin, cmax = conn.execute(
        "SELECT min(id), max(id) FROM contacts_contact WHERE tenant_id = %s", (tenant_id,)
    ).fetchone()
    now = dt.datetime.now(dt.UTC)
    created = now - dt.timedelta(minutes=1)  # past the incremental pass's lag
    started = time.perf_counter()
    columns = (
        "tenant_id, contact_id, type, occurred_at, staff_id, channel, payload, actor_id, actor_api_key_id, "
        "created_at"
    )
    with (
        conn.transaction(),
        conn.cursor() as cursor,
        cursor.copy(f"COPY contacts_contactevent ({columns}) FROM STDIN") as copy,
    ):
        for _ in range(count):
            copy.write_row(
                (tenant_id, rng.randint(cmin, cmax), rng.choice(NEW_TYPES),
                 now - dt.timedelta(seconds=rng.randrange(3600)), None, "", "{}", None, None, created)
            )  # fmt: skip
    return time.perf_counter() - started


def _load() -> list[float]:
    return [round(x, 1) for x in os.getloadavg()]


def measure(database_url: str) -> dict:
    env = app_env(database_url)
    manage(env, "migrate", "--noinput")
    manage(env, "create_tenant", "--slug", "bench", "--name", "Bench")
    with psycopg.connect(database_url, autocommit=True) as conn:
        tenant_id = conn.execute("SELECT id FROM tenancy_tenant WHERE slug = 'bench'").fetchone()[0]
        data = generate(conn, tenant_id)

    os.environ.update(env)
    import django

    django.setup()
    from celery import current_app

    current_app.conf.broker_url = "memory://localhost/"  # nothing is queued; never reach a Redis
    from django.db import connection
    from django.utils import timezone

    from contacts.models import ContactEvent, EventCursor
    from scrm.tenancy.context import tenant_context
    from scrm.tenancy.models import Tenant
    from value.services import scoring

    tenant = Tenant.objects.get(pk=tenant_id)
    with tenant_context(tenant):
        newest = ContactEvent.objects.order_by("-id").values_list("id", flat=True).first()
        EventCursor.objects.create(consumer="value.points", position=newest)

    # Where a pass's time goes: its two statements (computing the figures into a temporary table, then
    # writing the rows that changed and the tier events) and earning points (no rule: reading the new
    # events only), shown apart.
    split = {"compute": 0.0, "write": 0.0, "points_earn": 0.0}
    points_earn = scoring.points_earn

    def timed_points_earn(**kwargs):
        started = time.perf_counter()
        try:
            return points_earn(**kwargs)
        finally:
            split["points_earn"] += time.perf_counter() - started

    scoring.points_earn = timed_points_earn

    def statement_timer(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if sql.lstrip().startswith("CREATE TEMPORARY TABLE value_pass"):
                split["compute"] += time.perf_counter() - started
            elif sql.lstrip().startswith("WITH up AS"):
                split["write"] += time.perf_counter() - started

    def timed(func, **kwargs) -> tuple[float, object, dict]:
        for key in split:
            split[key] = 0.0
        started = time.perf_counter()
        with connection.execute_wrapper(statement_timer):
            result = func(tenant=tenant, **kwargs)
        return time.perf_counter() - started, result, dict(split)

    def pass_figures(seconds, result, parts, floor_seconds=None) -> dict:
        figures = {
            "seconds": round(seconds, 2),
            "customers_computed": result.contacts,
            "rows_written": result.written,
            "tier_changes": result.tier_changes,
            "of_which_seconds": {name: round(value, 2) for name, value in parts.items()},
        }
        if floor_seconds:
            figures["vs_floor"] = round(seconds / floor_seconds, 2)
        return figures

    with psycopg.connect(database_url, autocommit=True) as conn:
        floor(conn, tenant_id, scoring.PASS_WORK_MEM)  # warm-up: the table into the cache
        floor_seconds = floor(conn, tenant_id, scoring.PASS_WORK_MEM)

    load_before = _load()
    now = timezone.now()
    first = pass_figures(*timed(scoring.value_recompute_full, now=now), floor_seconds)
    nightly_now = now + dt.timedelta(days=1)
    nightly = pass_figures(*timed(scoring.value_recompute_full, now=nightly_now), floor_seconds)
    with psycopg.connect(database_url, autocommit=True) as conn:
        copy_seconds = new_events(conn, tenant_id, NEW_EVENTS)
        conn.execute("ANALYZE contacts_contactevent")
        floor_after = floor(conn, tenant_id, scoring.PASS_WORK_MEM)
    incremental = pass_figures(*timed(scoring.value_recompute_incremental, now=nightly_now))
    check = pass_figures(*timed(scoring.value_recompute_full, now=nightly_now), floor_after)
    figures = {
        # Other work on the machine slows every figure (the ratios less): the load around the passes.
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": _load(),
        },
        "data": data,
        "floor (one GROUP BY over the events into a scratch table)": {
            "seconds": round(floor_seconds, 2),
            "seconds_after_new_events": round(floor_after, 2),
            "work_mem": scoring.PASS_WORK_MEM,
        },
        "full pass, first computation (every row inserted)": first,
        "full pass a day later (the nightly pass)": nightly,
        "new events": {"count": NEW_EVENTS, "copy_seconds": round(copy_seconds, 2)},
        "incremental pass after the new events": incremental,
        "full pass at the same now after it (must change nothing)": check,
        "goals": {
            "full<=60s": max(first["seconds"], nightly["seconds"]) <= 60,
            "full<=3x_floor": max(first["vs_floor"], nightly["vs_floor"]) <= 3,
            "incremental<=5s": incremental["seconds"] <= 5,
            "incremental_equals_full": (check["rows_written"], check["tier_changes"]) == (0, 0),
        },
    }
    return figures


def main() -> None:
    # A database of this run's own (two runs at once must not drop each other's), dropped at the end.
    name = f"siyu_bench_value_{os.getpid()}"
    database_url = fresh_database(name)
    try:
        figures = measure(database_url)
    finally:
        # FORCE ends this process's own Django connection too.
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    report("bench/value.py", figures)


if __name__ == "__main__":
    main()
