from __future__ import annotations

from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from scrm.api.permissions import IsTenantAdmin
from scrm.api.principal import forget_principal, get_principal
from scrm.api.throttling import LoginFailureLimiter
from scrm.api.viewsets import TenantAPIView, TenantViewMixin

from . import services
from .authentication import ApiKeyUser
from .filters import ApiKeyFilter, MemberFilter
from .models import ApiKey, Membership
from .principal import SESSION_TENANT_KEY
from .serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    LoginSerializer,
    MemberCreateSerializer,
    MemberSerializer,
    MemberUpdateSerializer,
    MeSerializer,
    SwitchTenantSerializer,
    TenantSettingsSerializer,
)


def _me_payload(request) -> dict:
    principal = get_principal(request)
    user = request.user
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "active_tenant": principal.tenant if principal else None,
        "role": principal.role if principal else None,
        "memberships": principal.memberships if principal else [],
        "csrf_token": get_token(request._request),
    }


class SessionOnlyMixin:
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if isinstance(request.user, ApiKeyUser):
            raise exceptions.PermissionDenied("This endpoint is for dashboard sessions, not API keys.")


@extend_schema(tags=["auth"])
class CsrfView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        summary="Get a CSRF token (and cookie) before logging in",
        responses=inline_serializer("CsrfToken", {"csrf_token": serializers.CharField()}),
    )
    def get(self, request):
        return Response({"csrf_token": get_token(request._request)})


@extend_schema(tags=["auth"])
class LoginView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    def get_authenticate_header(self, request):
        # With no authenticators DRF would turn a failed login into a 403; a wrong password is a 401.
        return 'Session realm="api"'

    @extend_schema(summary="Log in with a session", request=LoginSerializer, responses=MeSerializer)
    def post(self, request):
        # Login CSRF: the dashboard fetched a token from /auth/csrf/ first; DRF's check is reused.
        SessionAuthentication().enforce_csrf(request)
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username = serializer.validated_data["username"]
        limiter = LoginFailureLimiter(request, username)
        limiter.check()
        user = authenticate(
            request._request, username=username, password=serializer.validated_data["password"]
        )
        if user is None:
            limiter.record_failure()
            raise exceptions.AuthenticationFailed("Wrong username or password.")
        limiter.reset()
        login(request._request, user)
        request.user = user
        return Response(MeSerializer(_me_payload(request)).data)


@extend_schema(tags=["auth"])
class LogoutView(SessionOnlyMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Log out", request=None, responses={204: None})
    def post(self, request):
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["auth"])
class MeView(SessionOnlyMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="The logged-in user, their memberships and active tenant", responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(_me_payload(request)).data)


@extend_schema(tags=["auth"])
class SwitchTenantView(SessionOnlyMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Switch the active tenant", request=SwitchTenantSerializer, responses=MeSerializer)
    def post(self, request):
        serializer = SwitchTenantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        slug = serializer.validated_data["tenant"]
        membership = next((m for m in get_principal(request).memberships if m.tenant.slug == slug), None)
        if membership is None:
            raise exceptions.ValidationError(
                {"tenant": f"You are not a member of an active tenant {slug!r}."}
            )
        request.session[SESSION_TENANT_KEY] = membership.tenant_id
        # The principal cached for this request predates the switch.
        forget_principal(request)
        return Response(MeSerializer(_me_payload(request)).data)


@extend_schema(tags=["members"])
class MemberViewSet(
    TenantViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Members of the active tenant (admins only)."""

    queryset = Membership.objects.select_related("user")
    serializer_class = MemberSerializer
    permission_classes = [IsTenantAdmin]
    filterset_class = MemberFilter
    ordering_fields = ["id", "created_at", "role"]
    ordering = ["id"]

    @extend_schema(
        summary="Add a user to the tenant", request=MemberCreateSerializer, responses={201: MemberSerializer}
    )
    def create(self, request):
        serializer = MemberCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        membership = services.member_add_user(
            tenant=self.principal.tenant,
            username=data["username"],
            password=data.get("password"),
            email=data["email"],
            role=data["role"],
            data_scope=data.get("data_scope"),
            wecom_userid=data["wecom_userid"],
            department_ids=data["department_ids"],
        )
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Change a member's role or data scope", request=MemberUpdateSerializer)
    def partial_update(self, request, pk=None):
        serializer = MemberUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.membership_update(membership=self.get_object(), data=serializer.validated_data)
        return Response(MemberSerializer(membership).data)

    @extend_schema(summary="Remove a member from the tenant (the user account stays)")
    def destroy(self, request, pk=None):
        services.membership_remove(membership=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["api keys"])
class ApiKeyViewSet(
    TenantViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """API keys of the active tenant (admins only). The full key is returned once, at creation."""

    queryset = ApiKey.objects.select_related("created_by")
    serializer_class = ApiKeySerializer
    permission_classes = [IsTenantAdmin]
    filterset_class = ApiKeyFilter
    ordering_fields = ["created_at", "last_used_at", "name"]
    ordering = ["-created_at", "-id"]

    @extend_schema(
        summary="Create an API key", request=ApiKeyCreateSerializer, responses={201: ApiKeyCreatedSerializer}
    )
    def create(self, request):
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = request.user if not isinstance(request.user, ApiKeyUser) else None
        api_key, key = services.api_key_create(
            tenant=self.principal.tenant, created_by=user, **serializer.validated_data
        )
        api_key.key = key
        return Response(ApiKeyCreatedSerializer(api_key).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Revoke an API key (cannot be undone)", request=None, responses=ApiKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        api_key = services.api_key_revoke(api_key=self.get_object())
        return Response(ApiKeySerializer(api_key).data)


@extend_schema(tags=["tenant"])
class TenantSettingsView(TenantAPIView):
    """The active tenant's name and WeCom connection settings (admins only)."""

    serializer_class = TenantSettingsSerializer
    permission_classes = [IsTenantAdmin]

    def get_object(self):
        return self.principal.tenant

    @extend_schema(summary="Read tenant settings (secrets are never returned, only whether set)")
    def get(self, request):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(summary="Update tenant settings; empty secrets keep the stored value")
    def patch(self, request):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        tenant = services.tenant_settings_update(tenant=self.get_object(), data=serializer.validated_data)
        return Response(self.get_serializer(tenant).data)
