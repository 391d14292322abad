"""gunicorn settings, the same for `make run` (Procfile) and docker-compose; knobs from the environment."""

import os

bind = f"{os.environ.get('BIND_HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads, not sync workers. A sync worker serves one request at a time: two clients that declare a
# body and never send it held both workers of a 2-worker server until the timeout, and the whole API
# with them. A gthread worker waits for a new connection's first bytes in its poller rather than in a
# thread, and serves other requests on its other threads while one waits for a slow body. In
# production nginx (deploy/nginx.conf) buffers whole requests before they reach gunicorn; this is the
# second line there, and the only one for `make run`.
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
accesslog = "-"
# Preloading imports Django once before forking: faster start and shared memory pages.
preload_app = True
# gunicorn's control socket lives at one path per user (~/.gunicorn/gunicorn.ctl): servers running side
# by side (make run, the e2e test, benchmarks, two checkouts) would fight over it, and nothing uses it.
control_socket_disable = True
