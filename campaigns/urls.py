from django.urls import include, path

# One module of routes per area (campaigns/apis/).
urlpatterns = [
    path("", include("campaigns.apis.campaigns")),
    path("", include("campaigns.apis.settings")),
]
