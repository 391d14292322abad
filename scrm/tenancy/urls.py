from django.urls import path
from rest_framework.routers import SimpleRouter

from . import apis

router = SimpleRouter(trailing_slash=True)
router.register("members", apis.MemberViewSet, basename="member")
router.register("invitations", apis.InvitationViewSet, basename="invitation")
router.register("auth/invitations", apis.MyInvitationViewSet, basename="my-invitation")
router.register("api-keys", apis.ApiKeyViewSet, basename="api-key")

urlpatterns = [
    path("auth/csrf/", apis.CsrfView.as_view(), name="auth-csrf"),
    path("auth/login/", apis.LoginView.as_view(), name="auth-login"),
    path("auth/logout/", apis.LogoutView.as_view(), name="auth-logout"),
    path("auth/me/", apis.MeView.as_view(), name="auth-me"),
    path("auth/switch-tenant/", apis.SwitchTenantView.as_view(), name="auth-switch-tenant"),
    path("tenant/", apis.TenantSettingsView.as_view(), name="tenant-settings"),
    *router.urls,
]
