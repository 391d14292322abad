from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "scrm.api"
    label = "scrm_api"
    verbose_name = "API conventions"

    def ready(self) -> None:
        # Registers the OpenAPI description of the Bearer API-key scheme with drf-spectacular.
        from . import schema  # noqa: F401
