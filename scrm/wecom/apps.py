from django.apps import AppConfig


class WecomConfig(AppConfig):
    name = "scrm.wecom"
    label = "wecom"
    verbose_name = "WeCom gateway"
