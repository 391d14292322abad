"""Before the suite: check that PostgreSQL and Redis answer, and say how to start whichever does not."""

import os
import socket
import sys
from urllib.parse import urlparse

HOW_TO_START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
}


def answers(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=3
        ):
            return True
    except OSError:
        return False


def main() -> int:
    services = {
        "PostgreSQL": (os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/siyu"), 5432),
        "Redis": (os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1"), 6379),
    }
    missing = [name for name, (url, port) in services.items() if not answers(url, port)]
    for name in missing:
        url = services[name][0]
        print(f"{name} does not answer at {url}.", file=sys.stderr)
        print(f"  Start it with:  {HOW_TO_START[name]}", file=sys.stderr)
        print("  or point TEST_DATABASE_URL / TEST_REDIS_URL at a running server.", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
