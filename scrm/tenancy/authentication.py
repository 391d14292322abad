from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework_api_key.crypto import KeyGenerator

from .models import ApiKey

key_generator = KeyGenerator(prefix_length=8, secret_key_length=40)
# Writing last_used_at on every request would turn every read into a write; a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyUser(AnonymousUser):
    """``request.user`` for API-key calls: authenticated, but not a Django user (no id, no session)."""

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.username = f"apikey:{api_key.prefix}"

    @property
    def is_anonymous(self) -> bool:
        return False

    @property
    def is_authenticated(self) -> bool:
        return True

    def __str__(self) -> str:
        return self.username


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <prefix>.<secret>``."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: expected 'Bearer <key>'.")
        try:
            key = header[1].decode()
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid API key.") from exc
        api_key = self._lookup(key)
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.unscoped.filter(pk=api_key.pk).update(last_used_at=now)
        return ApiKeyUser(api_key), api_key

    def _lookup(self, key: str) -> ApiKey:
        prefix, _, _ = key.partition(".")
        # Before authentication no tenant is known; the key's prefix is globally unique.
        api_key = ApiKey.unscoped.select_related("tenant").filter(prefix=prefix).first()
        if (
            api_key is None
            or not key_generator.verify(key, api_key.hashed_key)
            or api_key.revoked
            or not api_key.tenant.is_active
        ):
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return api_key

    def authenticate_header(self, request) -> str:
        # Makes unauthenticated requests 401 (with this challenge) rather than 403.
        return f'{self.keyword} realm="api"'
