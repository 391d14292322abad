"""Contacts list under load: 1,000,000 contacts, filtered by two tags + a staff member, 50 per page.

The contacts (with their facets: ~5 of 38 tags, one of 50 staff with a Pareto-like share, departments,
channels), their follows, staff, departments and tags are generated straight into PostgreSQL with
INSERT … SELECT generate_series, then ANALYZEd. gunicorn (2 sync workers) answers
``GET /api/v1/contacts/?tags_all=a,b&staff=s&page_size=50`` authenticated with an API key (so cursor
pagination), from two other processes with 8 keep-alive connections each. The filters vary over the
popular tags and staff members so no single plan or cache line carries the run.

Floor, in the same run and under the same concurrency: the same SQL the list runs for its rows, sent
raw through psycopg and JSON-encoded. Goals (issue 4): p95 ≤ 100 ms, ≥ 200 requests/s, ≤ 4× the floor.

    python bench/contacts_api.py [--contacts 1000000] [--requests 6000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool

import psycopg

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.common import PG_ADMIN_URL, Gunicorn, app_env, fresh_database, manage, report, summarise

STAFF, TAGS, DEPARTMENTS = 50, 38, 10
# Staff member of contact number g: a power law, the first members having most customers (Pareto-like),
# drawn from a hash of g (not random()) so the follows can be derived from the contacts again.
STAFF_OF = "floor(" + str(STAFF) + " * power((({g} * 2654435761) % 4294967291) / 4294967291.0, 3))::int"


def generate(conn: psycopg.Connection, tenant_id: int, contacts: int) -> dict:
    """Staff, departments, tags, contacts and follows; returns the ids the requests filter on."""
    t = tenant_id
    conn.execute(
        """INSERT INTO contacts_department (tenant_id, wecom_id, name, parent_wecom_id, "order", updated_at)
           SELECT %s, d, '部门' || d, CASE WHEN d = 1 THEN 0 ELSE 1 END, 0, now()
           FROM generate_series(1, %s) d""",
        (t, DEPARTMENTS + 1),
    )
    conn.execute(
        """INSERT INTO contacts_staff (tenant_id, userid, name, avatar, position, department_ids,
               leader_department_ids, is_active, has_contact_permission, created_at, updated_at,
               directory_status, wecom_status)
           SELECT %s, 'staff' || s, '员工' || s, '', '', jsonb_build_array(2 + s %% %s), '[]', true, true,
                  now(), now(), 'listed', 1
           FROM generate_series(0, %s) s""",
        (t, DEPARTMENTS, STAFF - 1),
    )
    conn.execute(
        """INSERT INTO contacts_taggroup (tenant_id, wecom_id, name, "order", deleted, updated_at)
           SELECT %s, 'etg' || i, '标签组' || i, 0, false, now() FROM generate_series(0, 5) i""",
        (t,),
    )
    conn.execute(
        """INSERT INTO contacts_tag (tenant_id, group_id, wecom_id, name, "order", deleted, updated_at)
           SELECT %s, (SELECT min(id) FROM contacts_taggroup) + i %% 6, 'et' || i, '标签' || i, 0, false,
                  now()
           FROM generate_series(0, %s) i""",
        (t, TAGS - 1),
    )
    tag_base = conn.execute("SELECT min(id) FROM contacts_tag").fetchone()[0]
    # ~5 tags per contact, drawn with a skew (lower tag numbers are more common), keys deduplicated by jsonb.
    tag_keys = ", ".join([f"'t:' || ({tag_base} + floor({TAGS} * power(random(), 2))::int), 1"] * 5)
    staff = STAFF_OF.format(g="g")
    start = time.perf_counter()
    conn.execute(
        f"""INSERT INTO contacts_contact (tenant_id, external_userid, name, avatar, type, gender, unionid,
               corp_name, corp_full_name, position, stage_id, status, first_added_at, facets, search_text,
               created_at, updated_at)
            SELECT {t}, 'wm' || lpad(g::text, 30, '0'), '客户' || g, '', 1 + (g % 7 = 0)::int, g % 3, '',
                   '', '', '', NULL, CASE WHEN g % 20 = 0 THEN 'lost' ELSE 'active' END,
                   now() - (g % 1000) * interval '1 day',
                   jsonb_build_object({tag_keys}, 's:staff' || {staff}, 1,
                                      'd:' || (2 + {staff} % {DEPARTMENTS}), 1, 'c:ch_' || g % 7, 1,
                                      'w:' || g % 4, 1),
                   '客户' || g, now(), now()
            FROM generate_series(1, {contacts}) g"""
    )
    conn.execute(
        f"""INSERT INTO contacts_follow (tenant_id, contact_id, staff_id, remark, description,
               remark_corp_name, remark_mobiles, add_way, oper_userid, state, tag_ids, added_at, status,
               ended_at, updated_at)
            SELECT {t}, c.id, st.id, '', '', '', '[]', 1, '', 'ch_' || c.g % 7, '[]', c.first_added_at,
                   CASE WHEN c.status = 'lost' THEN 'deleted_by_customer' ELSE 'active' END, NULL, now()
            FROM (SELECT id, status, first_added_at, substr(external_userid, 3)::bigint AS g
                  FROM contacts_contact) c
            JOIN contacts_staff st ON st.userid = 'staff' || {STAFF_OF.format(g="c.g")}"""
    )
    conn.execute("ANALYZE")
    seconds = round(time.perf_counter() - start, 1)
    popular_staff = [
        row[0]
        for row in conn.execute(
            "SELECT s.userid FROM contacts_staff s JOIN contacts_follow f ON f.staff_id = s.id "
            "GROUP BY s.userid ORDER BY count(*) DESC LIMIT 8"
        )
    ]
    return {"tag_base": tag_base, "staff": popular_staff, "generate_seconds": seconds}


def request_params(ids: dict, count: int) -> list[tuple[int, int, str]]:
    """(tag, tag, staff) triples over the ~10 most common tags and the 8 busiest staff members."""
    base = ids["tag_base"]
    pairs = [(base + a, base + b) for a in range(10) for b in range(a + 1, 10)]
    return [(*pairs[i % len(pairs)], ids["staff"][i % len(ids["staff"])]) for i in range(count)]


FLOOR_SQL = """
SELECT c.id, c.external_userid, c.name, c.avatar, c.type, c.gender, c.corp_name, c.status, c.stage_id,
       s.name, c.first_added_at, c.facets
FROM contacts_contact c LEFT OUTER JOIN contacts_stage s ON s.id = c.stage_id
WHERE c.tenant_id = %(tenant)s AND c.facets ?& %(tags)s AND c.facets ? %(staff)s
ORDER BY c.id DESC LIMIT 51
"""


def _api_worker(args) -> tuple[list[float], list[int]]:
    port, key, paths, threads = args
    chunks = [paths[i::threads] for i in range(threads)]

    def run(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies, statuses = [], []
        for path in chunk:
            start = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
            response = conn.getresponse()
            response.read()
            latencies.append(time.perf_counter() - start)
            statuses.append(response.status)
        return latencies, statuses

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(run, chunks))
    return [x for lat, _ in results for x in lat], [s for _, st in results for s in st]


def _floor_worker(args) -> tuple[list[float], list[int]]:
    url, tenant_id, params, threads = args
    chunks = [params[i::threads] for i in range(threads)]

    def run(chunk):
        latencies = []
        with psycopg.connect(url, autocommit=True) as conn:
            for a, b, staff in chunk:
                start = time.perf_counter()
                rows = conn.execute(
                    FLOOR_SQL, {"tenant": tenant_id, "tags": [f"t:{a}", f"t:{b}"], "staff": f"s:{staff}"}
                ).fetchall()
                json.dumps({"results": rows[:50]}, default=str, ensure_ascii=False).encode()
                latencies.append(time.perf_counter() - start)
        return latencies, [200] * len(latencies)

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(run, chunks))
    return [x for lat, _ in results for x in lat], [s for _, st in results for s in st]


def _measure(worker, shares: list, processes: int) -> dict:
    start = time.perf_counter()
    with Pool(processes) as pool:
        results = pool.map(worker, shares)
    return summarise(results, time.perf_counter() - start)


def load_api(port: int, key: str, params, *, processes: int = 2, threads: int = 8) -> dict:
    paths = [f"/api/v1/contacts/?tags_all={a},{b}&staff={s}&page_size=50" for a, b, s in params]
    return _measure(
        _api_worker, [(port, key, paths[i::processes], threads) for i in range(processes)], processes
    )


def load_floor(url: str, tenant_id: int, params, *, processes: int = 2, threads: int = 8) -> dict:
    shares = [(url, tenant_id, params[i::processes], threads) for i in range(processes)]
    return _measure(_floor_worker, shares, processes)


def plan_summary(conn: psycopg.Connection, tenant_id: int, tags: list[int], staff: str) -> dict:
    explain = conn.execute(
        "EXPLAIN (ANALYZE, FORMAT JSON) " + FLOOR_SQL,
        {"tenant": tenant_id, "tags": [f"t:{t}" for t in tags], "staff": f"s:{staff}"},
    ).fetchone()[0]
    matching = conn.execute(
        "SELECT count(*) FROM contacts_contact WHERE facets ?& %s AND facets ? %s",
        ([f"t:{t}" for t in tags], f"s:{staff}"),
    ).fetchone()[0]
    return {
        "matching_contacts": matching,
        "uses_contact_facets_gin": "contact_facets_gin" in json.dumps(explain),
        "execution_ms": round(explain[0]["Execution Time"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--reuse", action="store_true", help="Keep the data of the previous run.")
    args = parser.parse_args()

    name = "siyu_bench_contacts"
    if args.reuse:
        database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}" + os.environ.get("BENCH_DB_OPTIONS", "")
        env = app_env(database_url)
    else:
        database_url = fresh_database(name)
        env = app_env(database_url)
        manage(env, "migrate", "--noinput")
        manage(env, "create_tenant", "--slug", "bench", "--name", "Bench")
    key = manage(env, "create_api_key", "--tenant", "bench", "--role", "operator").strip().splitlines()[-1]
    with psycopg.connect(database_url, autocommit=True) as conn:
        tenant_id = conn.execute("SELECT id FROM tenancy_tenant WHERE slug = 'bench'").fetchone()[0]
        if args.reuse:
            ids = {
                "tag_base": conn.execute("SELECT min(id) FROM contacts_tag").fetchone()[0],
                "generate_seconds": None,
            }
            ids["staff"] = [f"staff{i}" for i in range(8)]
        else:
            ids = generate(conn, tenant_id, args.contacts)
        params = request_params(ids, args.requests)
        base = ids["tag_base"]
        busiest, quieter = ids["staff"][0], ids["staff"][7]
        plans = {
            "two common tags + the busiest member": plan_summary(conn, tenant_id, [base, base + 1], busiest),
            "two mid tags + the busiest member": plan_summary(conn, tenant_id, [base + 5, base + 6], busiest),
            "two rare tags + a quieter member": plan_summary(
                conn, tenant_id, [base + 36, base + 37], quieter
            ),
        }
    scenarios = {
        "one filter (2 most common tags + the busiest member)": [params[0]] * len(params),
        "varied filters (45 pairs of the 10 most common tags x 8 busiest members)": params,
    }
    data = {
        "contacts": args.contacts,
        "staff": STAFF,
        "tags": TAGS,
        "generate_seconds": ids["generate_seconds"],
    }
    figures = {"data": data, "plans": plans}
    server = Gunicorn(env, workers=2)
    try:
        load_api(server.port, key, params[:300])  # warm-up: imports, connections, caches
        results = {name: load_api(server.port, key, mix) for name, mix in scenarios.items()}
    finally:
        server.stop()
    load_floor(database_url, tenant_id, params[:300])
    for name, mix in scenarios.items():
        api, floor = results[name], load_floor(database_url, tenant_id, mix)
        figures[name] = {
            "list API (gunicorn, 2 workers)": api,
            "floor (same SQL via psycopg + json, same concurrency)": floor,
            "throughput_vs_floor": round(floor["per_second"] / api["per_second"], 2),
            "p95_vs_floor": round(api["p95_ms"] / max(floor["p95_ms"], 0.01), 2),
            "goals": {
                "p95_ms<=100": api["p95_ms"] <= 100,
                "requests_per_second>=200": api["per_second"] >= 200,
                "<=4x_floor": floor["per_second"] / api["per_second"] <= 4,
                "every_request_answered_200": api["ok"] == api["requests"],
            },
        }
    report("bench/contacts_api.py", figures)


if __name__ == "__main__":
    main()
