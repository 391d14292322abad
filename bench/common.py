"""Shared pieces of the benchmarks: a throwaway PostgreSQL database, a gunicorn server, a load generator."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")


def fresh_database(name: str) -> str:
    """Drop and create a database for one benchmark run; returns its URL."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}" + os.environ.get("BENCH_DB_OPTIONS", "")


def app_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        DEBUG="false",
        SECRET_KEY="bench-only-secret-key",
        FIELD_ENCRYPTION_KEY="rYJ3b-kvtBF2vQBhNUYi2Oyr0M4l2mbfpXQ6ZUhzBxk=",
        DJANGO_SETTINGS_MODULE="scrm.settings.base",
        THROTTLE_WRITE_RATE="100000000/min",
        WECOM_SANDBOX_ALLOWED="true",  # the bench's WeCom is the sandbox on 127.0.0.1
        SECURE_SSL_REDIRECT="false",  # and its web server plain http on 127.0.0.1
        SECURE_COOKIES="false",
        LOG_LEVEL="WARNING",
        **extra,
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    def __init__(self, env: dict[str, str], workers: int = 2):
        self.port = free_port()
        env = {**env, "PORT": str(self.port), "WEB_CONCURRENCY": str(workers)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "scrm.wsgi", "--config", "python:scrm.gunicorn_conf",
             "--access-logfile", "/dev/null"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not start")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def _worker(args: tuple[int, list[tuple[str, str, bytes]], int]) -> tuple[list[float], list[int]]:
    """One load-generator process: ``threads`` keep-alive connections sending its share of requests."""
    port, requests, threads = args
    chunks = [requests[i::threads] for i in range(threads)]

    def run(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies, statuses = [], []
        for method, path, body in chunk:
            start = time.perf_counter()
            conn.request(method, path, body=body, headers={"Content-Type": "text/xml"} if body else {})
            response = conn.getresponse()
            response.read()
            latencies.append(time.perf_counter() - start)
            statuses.append(response.status)
        return latencies, statuses

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(run, chunks))
    return [x for lat, _ in results for x in lat], [s for _, st in results for s in st]


def load(port: int, requests: list[tuple[str, str, bytes]], *, processes: int = 2, threads: int = 8) -> dict:
    """Send every request from separate processes (not the server's); returns throughput and latencies."""
    shares = [requests[i::processes] for i in range(processes)]
    start = time.perf_counter()
    with Pool(processes) as pool:
        results = pool.map(_worker, [(port, share, threads) for share in shares])
    return summarise(results, time.perf_counter() - start)


def summarise(results: list[tuple[list[float], list[int]]], elapsed: float) -> dict:
    """Throughput and latency percentiles of load workers' ``(latencies, statuses)`` results."""
    latencies = sorted(x for lat, _ in results for x in lat)
    statuses = [s for _, st in results for s in st]
    return {
        "requests": len(latencies),
        "ok": sum(1 for s in statuses if s == 200),
        "seconds": round(elapsed, 2),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


def report(name: str, figures: dict) -> None:
    print(f"\n== {name} ==")
    print(json.dumps(figures, indent=2, ensure_ascii=False))
