from django.urls import include, path

# One module of routes per area (sop/apis/).
urlpatterns = [
    path("", include("sop.apis.sops")),
    path("", include("sop.apis.tasks")),
]
