"""Filled in by its issue-17 part."""

urlpatterns: list = []
