from django.apps import AppConfig


class MomentsConfig(AppConfig):
    name = "moments"
    verbose_name = "Moments"
