"""gunicorn settings, the same for `make run` (Procfile) and docker-compose; knobs from the environment."""

import os

bind = f"{os.environ.get('BIND_HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
accesslog = "-"
# Preloading imports Django once before forking: faster start and shared memory pages.
preload_app = True
# gunicorn's control socket lives at one path per user (~/.gunicorn/gunicorn.ctl): servers running side
# by side (make run, the e2e test, benchmarks, two checkouts) would fight over it, and nothing uses it.
control_socket_disable = True
