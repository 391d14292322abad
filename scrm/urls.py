from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from scrm import frontend
from scrm.api import errors, health
from scrm.wecom.callbacks import wecom_callback

api_v1 = [
    path("", include("scrm.tenancy.urls")),
    path("", include("scrm.wecom.urls")),
    path("", include("library.urls")),
    path("", include("contacts.urls")),
    path("", include("groups.urls")),
    path("", include("campaigns.urls")),
    path("", include("moments.urls")),
    path("", include("value.urls")),
    path("", include("sop.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("wecom/callback/<slug:slug>/", wecom_callback, name="wecom-callback"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file (?script): no inline script, so the
    # Content-Security-Policy can forbid them.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # Everything else is a dashboard route (client-side routing). Unknown API paths stay JSON 404s,
    # and so does a missing file (an old bundle after a release): HTML in its place would break the
    # page with a syntax error instead of the dashboard's "reload" screen.
    re_path(
        r"^(?!api/|static/|wecom/|assets/|healthz$|readyz$)(?!.*\.\w+/?$)",
        frontend.spa_index,
        name="dashboard",
    ),
]

handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error
