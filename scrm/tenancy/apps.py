from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "scrm.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy"

    def ready(self) -> None:
        from . import checks  # noqa: F401 -- registers the tenant-index system check
