from rest_framework import exceptions, permissions

from scrm.tenancy.models import Role

from .principal import get_principal


class IsTenantMember(permissions.BasePermission):
    """Authenticated, with an active tenant (a membership, or an API key)."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            raise exceptions.NotAuthenticated()
        principal = get_principal(request)
        if principal is None or principal.tenant is None:
            raise exceptions.PermissionDenied("You are not a member of any active tenant.")
        return True


class IsTenantAdmin(IsTenantMember):
    message = "Only tenant admins can do this."

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and get_principal(request).role == Role.ADMIN


class IsTenantAdminOrOperator(IsTenantMember):
    """Admins and operators: the people who run the corp's acquisition tools (codes, welcome messages)."""

    message = "Only tenant admins and operators can do this."

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and get_principal(request).role in (
            Role.ADMIN,
            Role.OPERATOR,
        )


class AdminWrites(IsTenantMember):
    """Every member reads; only admins change (tenant-wide settings)."""

    message = "Only tenant admins can change this."

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        return request.method in permissions.SAFE_METHODS or get_principal(request).role == Role.ADMIN


class OperatorWrites(IsTenantMember):
    """Every member reads (within its scope); admins and operators change (tags, the content library...)."""

    message = "Only tenant admins and operators can change this."

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        return request.method in permissions.SAFE_METHODS or get_principal(request).role in (
            Role.ADMIN,
            Role.OPERATOR,
        )


class RunnerActions(IsTenantMember):
    """Every member reads (within its scope); the actions a view lists in ``runner_actions`` are for
    admins and operators, who run campaigns and Moments (a sales member's writes answer 403)."""

    message = "Only tenant admins and operators can do this."

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        # Plain views (reports) have no action and no runner actions.
        return getattr(view, "action", None) not in getattr(view, "runner_actions", ()) or get_principal(
            request
        ).role in (Role.ADMIN, Role.OPERATOR)
