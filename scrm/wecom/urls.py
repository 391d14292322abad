from django.urls import path
from rest_framework.routers import SimpleRouter

from . import apis

router = SimpleRouter()
router.register("wecom/events", apis.CallbackEventViewSet, basename="wecom-event")

urlpatterns = [
    path("wecom/test-connection/", apis.ConnectionTestView.as_view(), name="wecom-test-connection"),
    *router.urls,
]
