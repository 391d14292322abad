"""Ingestion of orders and custom events through the API: ``POST /api/v1/events/`` in batches of 1,000.

Setup (not measured; one fresh PostgreSQL database): ``VALUE_INGEST_CUSTOMERS`` customers with a
unionid, an external_userid and a remark mobile on their follow, generated straight into PostgreSQL
(``INSERT … SELECT generate_series``) and ANALYZEd. The batches are built in this process: 60% orders
(a tenth of them pushed already partly refunded: a purchase and a refund event), 40% custom events;
customers named by id, external_userid, unionid and mobile in turn, and 2% by a unionid no customer
has (kept pending: no event). Every batch is new (no duplicates), as a shop's hourly push is.

Measured: gunicorn (2 workers, as ``make run``) answers the batches sent by ``VALUE_INGEST_CLIENTS``
keep-alive connections from another process, with an operator API key, each batch in one request;
events/s = the ContactEvents written (counted in the database) over the wall time. Every answer must be
200 with no failed item.

Floor, in the same run and at the same concurrency: the same rows (orders, custom events and their
ContactEvents, with the contact ids already known) COPYed with psycopg into copies of the three tables
(``CREATE TABLE … (LIKE … INCLUDING ALL)``: the same columns, defaults and indexes), one transaction
per batch. Goal (issue 17): ≥ 2,000 events/s through the API.

    python bench/value_ingest.py    # env: VALUE_INGEST_CUSTOMERS=100000 VALUE_INGEST_BATCHES=100
                                    #      VALUE_INGEST_CLIENTS=2
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from multiprocessing import Pool

import psycopg

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.common import PG_ADMIN_URL, Gunicorn, app_env, fresh_database, manage, report

CUSTOMERS = int(os.environ.get("VALUE_INGEST_CUSTOMERS", "100000"))
BATCHES = int(os.environ.get("VALUE_INGEST_BATCHES", "100"))
CLIENTS = int(os.environ.get("VALUE_INGEST_CLIENTS", "2"))
BATCH = 1000
SEED = 17
ORDER_SHARE, REFUNDED_SHARE, UNKNOWN_SHARE = 0.6, 0.1, 0.02
KINDS = ("id", "external_userid", "unionid", "mobile")
ZONE = dt.timezone(dt.timedelta(hours=8))


def generate(conn: psycopg.Connection, tenant_id: int, customers: int) -> dict[str, int]:
    """Staff, customers and their follows; returns the first contact id (ids are consecutive)."""
    conn.execute(
        """INSERT INTO contacts_staff (tenant_id, userid, name, avatar, position, department_ids,
               leader_department_ids, is_active, wecom_status, directory_status, has_contact_permission,
               created_at, updated_at)
           SELECT %s, 'staff' || s, '员工' || s, '', '', '[1]', '[]', true, 1, 'listed', true, now(), now()
           FROM generate_series(0, 19) s""",
        (tenant_id,),
    )
    conn.execute(
        """INSERT INTO contacts_contact (tenant_id, external_userid, name, avatar, type, gender, unionid,
               corp_name, corp_full_name, position, stage_id, status, first_added_at, facets, search_text,
               profile, created_at, updated_at)
           SELECT %s, 'wm' || lpad(g::text, 30, '0'), '客户' || g, '', 1, 0, 'o' || lpad(g::text, 27, '0'),
                  '', '', '', NULL, 'active', now() - (g %% 400) * interval '1 day',
                  jsonb_build_object('s:staff' || g %% 20, 1), '客户' || g, '{}', now(), now()
           FROM generate_series(1, %s) g""",
        (tenant_id, customers),
    )
    conn.execute(
        """INSERT INTO contacts_follow (tenant_id, contact_id, staff_id, remark, description,
               remark_corp_name, remark_mobiles, add_way, oper_userid, state, tag_ids, added_at, status,
               ended_at, updated_at)
           SELECT c.tenant_id, c.id, st.id, '', '', '', jsonb_build_array('1' || lpad(c.g::text, 10, '0')),
                  1, '', '', '[]', c.first_added_at, 'active', NULL, now()
           FROM (SELECT id, tenant_id, first_added_at, substr(external_userid, 3)::bigint AS g
                 FROM contacts_contact) c
           JOIN contacts_staff st ON st.userid = 'staff' || c.g % 20"""
    )
    # VACUUM, not only ANALYZE: a bulk load leaves the remark mobiles' GIN index with a long pending
    # list that every lookup scans, which a live database's autovacuum keeps short.
    conn.execute("VACUUM ANALYZE contacts_contact")
    conn.execute("VACUUM ANALYZE contacts_follow")
    first = conn.execute("SELECT min(id) FROM contacts_contact").fetchone()[0]
    return {"first_id": first}


def identity(kind: str, g: int, first_id: int) -> dict:
    return {
        "id": {"id": first_id + g - 1},
        "external_userid": {"external_userid": "wm" + str(g).zfill(30)},
        "unionid": {"unionid": "o" + str(g).zfill(27)},
        "mobile": {"mobile": "1" + str(g).zfill(10)},
    }[kind]


def build_batches(first_id: int) -> tuple[list[list[dict]], list[list[tuple]]]:
    """The batches the API gets, and per batch the rows the floor COPYs: ("order"|"custom"|"event", ...)."""
    rng = random.Random(SEED)
    # Paid times 30 s apart from 90 days ago: all in the past, whatever the size.
    paid = dt.datetime.now(ZONE).replace(microsecond=0) - dt.timedelta(days=90)
    batches, floor = [], []
    n = 0
    for b in range(BATCHES):
        items, rows = [], []
        for i in range(BATCH):
            n += 1
            g = rng.randint(1, CUSTOMERS)
            contact_id = first_id + g - 1
            kind = KINDS[n % 4]
            customer = identity(kind, g, first_id)
            unknown = rng.random() < UNKNOWN_SHARE
            if unknown:
                customer = {"unionid": f"o-nobody-{b}-{i}"}
            at = paid + dt.timedelta(seconds=30 * n)
            if rng.random() < ORDER_SHARE:
                amount = f"{rng.randint(1000, 500000) / 100:.2f}"
                refunded = rng.random() < REFUNDED_SHARE
                item = {
                    "type": "order",
                    "source": "shop",
                    "external_id": f"O-{n}",
                    "customer": customer,
                    "amount": amount,
                    "currency": "CNY",
                    "items": [{"sku": f"SKU{n % 50}", "name": "礼盒", "quantity": 1, "price": amount}],
                    "status": "refunded" if refunded else "paid",
                    "occurred_at": at.isoformat(),
                }
                if refunded:
                    item["refunded_amount"] = "5.00"
                    item["refunded_at"] = (at + dt.timedelta(hours=1)).isoformat()
                if not unknown:
                    rows.append(("order", contact_id, f"O-{n}", amount, item["items"], refunded, at))
            else:
                item = {
                    "type": "custom",
                    "source": "app",
                    "external_id": f"E-{n}",
                    "customer": customer,
                    "name": "viewed_product",
                    "properties": {"sku": f"SKU{n % 50}", "page": "detail"},
                    "occurred_at": at.isoformat(),
                }
                if not unknown:
                    rows.append(("custom", contact_id, f"E-{n}", item["properties"], at))
            items.append(item)
        batches.append(items)
        floor.append(rows)
    return batches, floor


# --- the API ------------------------------------------------------------------------------------------


def _api_worker(args) -> tuple[list[float], list[tuple[int, int]]]:
    """One connection sending its share of the batches; (latencies, (status, failed items))."""
    port, key, bodies = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    latencies, outcomes = [], []
    for body in bodies:
        start = time.perf_counter()
        conn.request(
            "POST",
            "/api/v1/events/",
            body=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        answer = response.read()
        latencies.append(time.perf_counter() - start)
        failed = json.loads(answer).get("failed", -1) if response.status == 200 else -1
        outcomes.append((response.status, failed))
    return latencies, outcomes


def load_api(port: int, key: str, batches: list[list[dict]]) -> dict:
    bodies = [json.dumps({"events": items}, ensure_ascii=False).encode() for items in batches]
    shares = [(port, key, bodies[i::CLIENTS]) for i in range(CLIENTS)]
    start = time.perf_counter()
    with Pool(CLIENTS) as pool:
        results = pool.map(_api_worker, shares)
    elapsed = time.perf_counter() - start
    latencies = sorted(x for lat, _ in results for x in lat)
    outcomes = [o for _, out in results for o in out]
    return {
        "seconds": elapsed,
        "batches": len(latencies),
        "batches_ok": sum(1 for status, failed in outcomes if status == 200 and failed == 0),
        "statuses": dict(Counter(status for status, _ in outcomes)),
        "failed_items": sum(failed for status, failed in outcomes if status == 200),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1),
        "body_kb": round(statistics.mean(len(b) for b in bodies) / 1024, 1),
    }


# --- the floor ----------------------------------------------------------------------------------------

SCRATCH = {
    "value_order": "bench_floor_order",
    "value_customevent": "bench_floor_customevent",
    "contacts_contactevent": "bench_floor_contactevent",
}


def floor_tables(conn: psycopg.Connection) -> None:
    for table, scratch in SCRATCH.items():
        conn.execute(f"DROP TABLE IF EXISTS {scratch}")
        conn.execute(f"CREATE TABLE {scratch} (LIKE {table} INCLUDING ALL)")


def _floor_worker(args) -> int:
    url, tenant_id, batches = args
    written = 0
    with psycopg.connect(url) as conn:
        for rows in batches:
            now = dt.datetime.now(dt.UTC)
            orders = [r for r in rows if r[0] == "order"]
            customs = [r for r in rows if r[0] == "custom"]
            ids = [r[0] for r in conn.execute(
                "SELECT nextval(pg_get_serial_sequence('value_order', 'id')) FROM generate_series(1, %s)",
                (len(orders),),
            )]  # fmt: skip
            events = []
            with conn.cursor().copy(
                "COPY bench_floor_order (id, tenant_id, source, external_id, contact_id, amount, currency, "
                "items, refunded_amount, status, paid_at, refunded_at, created_at, updated_at) FROM STDIN"
            ) as copy:
                for pk, (_, contact, ext, amount, lines, refunded, at) in zip(ids, orders, strict=True):
                    refund_at = at + dt.timedelta(hours=1) if refunded else None
                    copy.write_row(
                        (pk, tenant_id, "shop", ext, contact, amount, "CNY", json.dumps(lines),
                         "5.00" if refunded else "0", "partially_refunded" if refunded else "paid", at,
                         refund_at, now, now)
                    )  # fmt: skip
                    base = {"order_id": pk, "source": "shop", "external_id": ext}
                    events.append((contact, "purchased", at, {**base, "amount": amount, "currency": "CNY"}))
                    if refunded:
                        payload = {**base, "amount": "5.00", "refunded_total": "5.00"}
                        events.append((contact, "refunded", refund_at, payload))
            with conn.cursor().copy(
                "COPY bench_floor_customevent (tenant_id, source, external_id, contact_id, name, properties, "
                "occurred_at, created_at) FROM STDIN"
            ) as copy:
                for _, contact, ext, properties, at in customs:
                    copy.write_row(
                        (tenant_id, "app", ext, contact, "viewed_product", json.dumps(properties), at, now)
                    )
                    payload = {"name": "viewed_product", "source": "app", "external_id": ext}
                    events.append((contact, "custom", at, {**payload, "properties": properties}))
            with conn.cursor().copy(
                "COPY bench_floor_contactevent (tenant_id, contact_id, type, occurred_at, staff_id, channel, "
                "payload, actor_id, actor_api_key_id, created_at) FROM STDIN"
            ) as copy:
                for contact, type_, at, payload in events:
                    copy.write_row(
                        (tenant_id, contact, type_, at, None, "", json.dumps(payload), None, None, now)
                    )
            conn.commit()
            written += len(events)
    return written


def load_floor(url: str, tenant_id: int, floor: list[list[tuple]]) -> dict:
    shares = [(url, tenant_id, floor[i::CLIENTS]) for i in range(CLIENTS)]
    start = time.perf_counter()
    with Pool(CLIENTS) as pool:
        written = sum(pool.map(_floor_worker, shares))
    return {"seconds": time.perf_counter() - start, "events": written}


def main() -> None:
    name = f"siyu_bench_value_ingest_{os.getpid()}"
    database_url = fresh_database(name)
    try:
        run(database_url)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(database_url: str) -> None:
    env = app_env(database_url)
    manage(env, "migrate", "--noinput")
    manage(env, "create_tenant", "--slug", "bench", "--name", "Bench")
    key = manage(env, "create_api_key", "--tenant", "bench", "--role", "operator").strip().splitlines()[-1]
    with psycopg.connect(database_url, autocommit=True) as conn:
        tenant_id = conn.execute("SELECT id FROM tenancy_tenant WHERE slug = 'bench'").fetchone()[0]
        started = time.perf_counter()
        ids = generate(conn, tenant_id, CUSTOMERS)
        generated = round(time.perf_counter() - started, 1)
        batches, floor = build_batches(ids["first_id"])
        floor_tables(conn)
    floor_run = load_floor(database_url, tenant_id, floor)

    server = Gunicorn(env, workers=2)
    try:
        warm = [[{**item, "external_id": f"warm-{item['external_id']}"} for item in batches[0][:200]]] * 2
        load_api(server.port, key, warm)  # imports, connections, caches (its rows are not counted)
        with psycopg.connect(database_url, autocommit=True) as conn:
            before = conn.execute("SELECT count(*) FROM contacts_contactevent").fetchone()[0]
            pending_before = conn.execute("SELECT count(*) FROM value_pendingevent").fetchone()[0]
        api = load_api(server.port, key, batches)
        with psycopg.connect(database_url, autocommit=True) as conn:
            events = conn.execute("SELECT count(*) FROM contacts_contactevent").fetchone()[0] - before
            pending = conn.execute("SELECT count(*) FROM value_pendingevent").fetchone()[0] - pending_before
    finally:
        server.stop()

    api_rate = events / api["seconds"]
    floor_rate = floor_run["events"] / floor_run["seconds"]
    report(
        "bench/value_ingest.py",
        {
            "data": {
                "customers": CUSTOMERS,
                "batches": BATCHES,
                "items_per_batch": BATCH,
                "clients": CLIENTS,
                "generate_seconds": generated,
                "mix": "60% orders (10% of them refunded on push), 40% custom events; customers by id, "
                "external_userid, unionid and mobile in turn; 2% unknown (pending)",
                # Everything shares the machine's cores: a busy machine slows the API and the floor.
                "cpus": os.cpu_count(),
                "load_average_1min_at_end": round(os.getloadavg()[0], 1),
            },
            "API (gunicorn, 2 workers, operator API key)": {
                **{k: round(v, 2) if isinstance(v, float) else v for k, v in api.items()},
                "events_written": events,
                "pending_kept": pending,
                "events_per_second": round(api_rate),
                "items_per_second": round(BATCHES * BATCH / api["seconds"]),
            },
            "floor (the same rows COPYed, one transaction per batch, same concurrency)": {
                "seconds": round(floor_run["seconds"], 2),
                "events_written": floor_run["events"],
                "events_per_second": round(floor_rate),
            },
            "api_vs_floor": round(floor_rate / api_rate, 2),
            "goals": {
                "events_per_second>=2000": api_rate >= 2000,
                "every_batch_200_with_no_failed_item": api["batches_ok"] == api["batches"],
                "same_events_as_floor": events == floor_run["events"],
            },
        },
    )


if __name__ == "__main__":
    main()
