from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from scrm.api import errors, health
from scrm.wecom.callbacks import wecom_callback

api_v1 = [
    path("", include("scrm.tenancy.urls")),
    path("", include("scrm.wecom.urls")),
    path("", include("contacts.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("wecom/callback/<slug:slug>/", wecom_callback, name="wecom-callback"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # Until the dashboard lands (its own issue), the root shows the API documentation.
    path("", RedirectView.as_view(pattern_name="api-docs", permanent=False)),
]

handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error
