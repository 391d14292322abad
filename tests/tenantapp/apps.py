from django.apps import AppConfig


class TenantAppConfig(AppConfig):
    """A tests-only app with two tenant-owned models and a viewset built like every real one will be.

    The shared machinery (scoped managers, the base viewset, pagination, the error shape, data scope)
    is tested through it, so those tests do not depend on any domain app existing.
    """

    name = "tests.tenantapp"
    label = "tenantapp"
