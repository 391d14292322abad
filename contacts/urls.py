from django.urls import include, path

# One module of routes per area, each owning its own router (contacts/apis/).
urlpatterns = [
    path("", include("contacts.apis.contacts")),
    path("", include("contacts.apis.tags")),
    path("", include("contacts.apis.jobs")),
    path("", include("contacts.apis.sync")),
    path("", include("contacts.apis.notifications")),
    path("", include("contacts.apis.overview")),
    path("", include("contacts.apis.channels")),
]
