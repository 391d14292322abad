"""The dashboard: the built React app (frontend/dist) served by this same process.

whitenoise serves its files at the site root (WHITENOISE_ROOT); every other path that is not the API,
the static files or WeCom's callbacks is a client route, answered with ``index.html`` so that a
shared or reloaded URL such as ``/customers?tags_all=3`` opens the right page.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>Siyu SCRM</title>
<h1>The dashboard is not built</h1>
<p><code>make run</code> builds it (<code>frontend/dist</code>).
The API is up: <a href="/api/docs/">/api/docs/</a>.</p>
"""


@require_safe
def spa_index(request: HttpRequest) -> HttpResponse:
    index = settings.FRONTEND_DIST / "index.html"
    try:
        html = index.read_bytes()
    except FileNotFoundError:
        return HttpResponse(NOT_BUILT, status=503)
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    # index.html names the current hashed bundles: a browser must never keep an old copy.
    response["Cache-Control"] = "no-cache"
    return response
