from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    # Registered now so the layout is stable; its models arrive with its own issue.
    name = "analytics"
