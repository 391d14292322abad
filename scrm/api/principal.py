from __future__ import annotations

from scrm.tenancy.authentication import ApiKeyUser
from scrm.tenancy.principal import Principal, principal_for_api_key, principal_for_session

_ATTR = "_siyu_principal"


def forget_principal(request) -> None:
    """Drop the cached principal (after the session's active tenant changed)."""
    if _ATTR in vars(request):
        delattr(request, _ATTR)


def get_principal(request) -> Principal | None:
    """The request's principal, resolved once (after DRF authentication) and cached on the request."""
    if hasattr(request, _ATTR):
        return getattr(request, _ATTR)
    user = request.user
    if isinstance(user, ApiKeyUser):
        principal = principal_for_api_key(user.api_key)
    elif user is not None and user.is_authenticated:
        principal = principal_for_session(request, user)
    else:
        principal = None
    setattr(request, _ATTR, principal)
    return principal
