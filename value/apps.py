from django.apps import AppConfig


class ValueConfig(AppConfig):
    # The customer as an asset: profile fields, orders and custom events from integrators, value,
    # activity score and tiers, points and levels.
    name = "value"
