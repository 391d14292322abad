from django.urls import include, path

# One module of routes per area (value/apis/).
urlpatterns = [
    path("", include("value.apis.events")),
    path("", include("value.apis.fields")),
    path("", include("value.apis.points")),
    path("", include("value.apis.value")),
]
