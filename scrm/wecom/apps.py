from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class WecomConfig(AppConfig):
    name = "scrm.wecom"
    label = "wecom"
    verbose_name = "WeCom gateway"

    def ready(self) -> None:
        # Every app's handlers.py registers its callback handlers with scrm.wecom.handlers.
        autodiscover_modules("handlers")
