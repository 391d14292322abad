"""Routes of the contacts app, one module per area; each defines ``urlpatterns``."""
