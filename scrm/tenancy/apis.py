from __future__ import annotations

from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from scrm.api import serializers
from scrm.api.permissions import IsTenantAdmin
from scrm.api.principal import forget_principal, get_principal
from scrm.api.throttling import LoginFailureLimiter
from scrm.api.viewsets import TenantAPIView, TenantViewMixin

from . import selectors, services
from .actors import Actor
from .authentication import ApiKeyUser
from .filters import ApiKeyFilter, InvitationFilter, MemberFilter
from .models import ApiKey, Invitation, Membership
from .principal import SESSION_TENANT_KEY
from .serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    InvitationCreateSerializer,
    InvitationSerializer,
    LoginSerializer,
    MemberSerializer,
    MemberUpdateSerializer,
    MeSerializer,
    MyInvitationSerializer,
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
    """Members of the active tenant (admins only). People join by accepting an invitation."""

    queryset = Membership.objects.select_related("user")
    serializer_class = MemberSerializer
    permission_classes = [IsTenantAdmin]
    filterset_class = MemberFilter
    ordering_fields = ["id", "created_at", "role"]
    ordering = ["id"]

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


@extend_schema(tags=["members"])
class InvitationViewSet(
    TenantViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Invitations of the active tenant (admins only): a user joins when they accept theirs."""

    queryset = Invitation.objects.select_related("created_by", "created_by_api_key")
    serializer_class = InvitationSerializer
    permission_classes = [IsTenantAdmin]
    filterset_class = InvitationFilter
    ordering_fields = ["id", "created_at"]
    ordering = ["-id"]

    @extend_schema(
        summary="Invite a user (an existing account, or a new one created with the password given)",
        description=(
            "The invitation waits until the account's owner signs in and accepts it. The answer is the "
            "same whether or not the username exists; for an existing account the password and email "
            "are ignored."
        ),
        request=InvitationCreateSerializer,
        responses={201: InvitationSerializer},
    )
    def create(self, request):
        serializer = InvitationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = services.invitation_create(
            tenant=self.principal.tenant, actor=Actor.of(self.principal), **serializer.validated_data
        )
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Take back a pending invitation", request=None, responses=InvitationSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        invitation = services.invitation_revoke(invitation=self.get_object())
        return Response(InvitationSerializer(invitation).data)


# The view has no model queryset of its own (each user's is computed), so the id's type is spelled out.
INVITATION_ID = OpenApiParameter("id", int, OpenApiParameter.PATH)


@extend_schema(tags=["auth"])
class MyInvitationViewSet(SessionOnlyMixin, viewsets.GenericViewSet):
    """The signed-in user's pending invitations, from any tenant: accept or decline each one."""

    permission_classes = [IsAuthenticated]
    serializer_class = MyInvitationSerializer
    pagination_class = None  # a handful at most
    filter_backends: list = []
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return selectors.invitations_pending_for(self.request.user)

    @extend_schema(summary="My pending invitations")
    def list(self, request):
        return Response(MyInvitationSerializer(self.get_queryset(), many=True).data)

    @extend_schema(
        summary="Accept an invitation: become a member of its tenant",
        request=None,
        parameters=[INVITATION_ID],
    )
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        invitation = self.get_object()
        services.invitation_accept(invitation=invitation, user=request.user)
        invitation.refresh_from_db()
        return Response(MyInvitationSerializer(invitation).data)

    @extend_schema(summary="Decline an invitation", request=None, parameters=[INVITATION_ID])
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        invitation = services.invitation_decline(invitation=self.get_object(), user=request.user)
        return Response(MyInvitationSerializer(invitation).data)


@extend_schema(tags=["api keys"])
class ApiKeyViewSet(
    TenantViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """API keys of the active tenant (admins only). The full key is returned once, at creation."""

    queryset = ApiKey.objects.select_related("created_by", "created_by_api_key")
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
        api_key, key = services.api_key_create(
            tenant=self.principal.tenant, actor=Actor.of(self.principal), **serializer.validated_data
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
