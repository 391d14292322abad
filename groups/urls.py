from django.urls import include, path

# One module of routes per area, each owning its own router (groups/apis/).
urlpatterns = [
    path("", include("groups.apis.groups")),
    path("", include("groups.apis.join_ways")),
    path("", include("groups.apis.welcome_templates")),
    path("", include("groups.apis.transfers")),
]
