from django.urls import include, path
from rest_framework.routers import SimpleRouter

from scrm.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401
from tests.tenantapp.apis import WidgetViewSet

router = SimpleRouter()
router.register("widgets", WidgetViewSet, basename="widget")

urlpatterns = [path("api/v1/test/", include(router.urls)), *urlpatterns]
