from django.urls import include, path

# One module of routes per area (moments/apis/); the fixed paths before ``moments/{id}/``.
urlpatterns = [
    path("", include("moments.apis.settings")),
    path("", include("moments.apis.reports")),
    path("", include("moments.apis.tasks")),
    path("", include("moments.apis.moments")),
]
