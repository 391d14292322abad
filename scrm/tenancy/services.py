"""Every write of the tenancy app. Views and commands call these; transactions live here."""

from __future__ import annotations

import base64
import binascii

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from scrm.wecom.client import api_base_allowed

from .actors import SYSTEM, Actor
from .authentication import key_generator
from .context import tenant_context
from .models import (
    ApiKey,
    AuditEntry,
    DataScope,
    Invitation,
    InvitationStatus,
    Membership,
    Role,
    Tenant,
)

User = get_user_model()

SECRET_FIELDS = ("corp_secret", "callback_token", "encoding_aes_key")
SETTINGS_FIELDS = ("name", "corp_id", "agent_id", "api_base", *SECRET_FIELDS)


def _aes_key_valid(value: str) -> bool:
    # WeCom's EncodingAESKey: exactly 43 characters of the standard base64 alphabet, 32 bytes once the
    # missing "=" is added back. Anything else fails only later, on WeCom's first callback.
    if len(value) != 43:
        return False
    try:
        return len(base64.b64decode(value + "=", validate=True)) == 32
    except binascii.Error:
        return False


def _validate_wecom_settings(*, tenant: Tenant, fields: tuple[str, ...]) -> None:
    """WeCom's rules for the settings in ``fields``, and the deployment's for the API base.

    Only the fields being written are checked, so a tenant saved under older rules can still be renamed.
    """
    errors = {}
    if (
        "encoding_aes_key" in fields
        and tenant.encoding_aes_key
        and not _aes_key_valid(tenant.encoding_aes_key)
    ):
        errors["encoding_aes_key"] = "EncodingAESKey is 43 characters of base64 (a 32-byte key)."
    token = tenant.callback_token
    if "callback_token" in fields and token and not (token.isascii() and token.isalnum()):
        errors["callback_token"] = "The callback token is letters and digits only (WeCom's rule)."
    if "api_base" in fields and tenant.api_base and not api_base_allowed(tenant.api_base):
        # The server calls this address on the admin's behalf: only the deployment's WeCom bases.
        errors["api_base"] = "This deployment does not allow this API base (WECOM_ALLOWED_API_BASES)."
    if errors:
        raise ValidationError(errors)


def tenant_create(*, slug: str, name: str, **wecom_settings: str) -> Tenant:
    unknown = set(wecom_settings) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"Unknown tenant settings: {sorted(unknown)}")
    tenant = Tenant(slug=slug, name=name, **{k: v for k, v in wecom_settings.items() if v is not None})
    tenant.full_clean()
    _validate_wecom_settings(tenant=tenant, fields=SETTINGS_FIELDS)
    tenant.save()
    return tenant


def tenant_settings_update(*, tenant: Tenant, data: dict) -> Tenant:
    """Update name and WeCom settings. Secrets are only replaced when a new non-empty value is given,
    so a form that shows secrets as "set" can be saved without re-typing them."""
    changed = []
    for field in SETTINGS_FIELDS:
        if field not in data:
            continue
        value = data[field]
        if field in SECRET_FIELDS and not value:
            continue
        setattr(tenant, field, value)
        changed.append(field)
    if changed:
        tenant.full_clean()
        _validate_wecom_settings(tenant=tenant, fields=tuple(changed))
        tenant.save(update_fields=changed)
    return tenant


def user_get_or_create(*, username: str, password: str | None = None, email: str = "") -> tuple[User, bool]:
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user, False
    if not password:
        raise ValidationError({"password": "A password is required to create a new user."})
    try:
        validate_password(password)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc  # a field error, with its path
    user = User(username=username, email=email)
    user.full_clean(exclude=["password"])
    user.set_password(password)
    user.save()
    return user, True


def user_set_password(*, user: User, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])


def _validate_scope(*, role: str, data_scope: str, wecom_userid: str) -> None:
    if role == Role.SALES and data_scope == DataScope.ALL:
        raise ValidationError(
            {"data_scope": "A sales member sees only its own or its departments' customers."}
        )
    if data_scope in (DataScope.SELF, DataScope.DEPARTMENTS) and not wecom_userid:
        raise ValidationError(
            {"wecom_userid": "A member scoped to its own customers needs its WeCom userid."}
        )


@transaction.atomic
def membership_add(
    *,
    tenant: Tenant,
    user: User,
    role: str,
    data_scope: str | None = None,
    wecom_userid: str = "",
    department_ids: list[int] | None = None,
) -> Membership:
    data_scope = data_scope or _default_scope(role)
    _validate_scope(role=role, data_scope=data_scope, wecom_userid=wecom_userid)
    with tenant_context(tenant):
        if Membership.objects.filter(user=user).exists():
            raise ValidationError({"username": f"{user.username} is already a member of this tenant."})
        if wecom_userid and Membership.objects.filter(wecom_userid=wecom_userid).exists():
            raise ValidationError({"wecom_userid": f"Another member already is WeCom user {wecom_userid}."})
        return Membership.objects.create(
            tenant=tenant,
            user=user,
            role=role,
            data_scope=data_scope,
            wecom_userid=wecom_userid,
            department_ids=department_ids or [],
        )


def _default_scope(role: str) -> str:
    return DataScope.SELF if role == Role.SALES else DataScope.ALL


@transaction.atomic
def invitation_create(
    *,
    tenant: Tenant,
    actor: Actor,
    username: str,
    role: str,
    password: str | None = None,
    email: str = "",
    data_scope: str | None = None,
    wecom_userid: str = "",
    department_ids: list[int] | None = None,
) -> Invitation:
    """Invite the account named ``username`` into the tenant; its owner accepts when signed in.

    With a password, an account of that name is created first if there is none (a new colleague
    signs in with it and accepts). If there is one, it is left alone: the password and email are
    ignored, and nobody joins without its owner's consent. Either way the caller gets the same
    answer, after the same work (the password is validated and hashed in both cases), so inviting
    is not a way to learn which usernames exist.
    """
    data_scope = data_scope or _default_scope(role)
    _validate_scope(role=role, data_scope=data_scope, wecom_userid=wecom_userid)
    try:
        User.username_validator(username)
    except ValidationError as exc:
        raise ValidationError({"username": exc.messages}) from exc
    hashed = None
    if password:
        try:
            validate_password(password)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
        hashed = make_password(password)
    with tenant_context(tenant):
        # What this tenant already knows about itself: its members and its invitations.
        if Membership.objects.filter(user__username=username).exists():
            raise ValidationError({"username": f"{username} is already a member of this tenant."})
        if Invitation.objects.filter(username=username, status=InvitationStatus.PENDING).exists():
            raise ValidationError({"username": f"{username} is already invited."})
        if wecom_userid and Membership.objects.filter(wecom_userid=wecom_userid).exists():
            raise ValidationError({"wecom_userid": f"Another member already is WeCom user {wecom_userid}."})
        if hashed is not None:
            User.objects.get_or_create(username=username, defaults={"email": email, "password": hashed})
        return Invitation.objects.create(
            username=username,
            role=role,
            data_scope=data_scope,
            wecom_userid=wecom_userid,
            department_ids=department_ids or [],
            **actor.as_fields("created_by"),
        )


def _lock_pending(invitation: Invitation) -> Invitation:
    locked = Invitation.unscoped.select_for_update().get(pk=invitation.pk)
    if locked.status != InvitationStatus.PENDING:
        raise ValidationError({"status": f"This invitation is {locked.status}, no longer pending."})
    return locked


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """The invited account's owner says yes: it becomes a member, with the role it was offered."""
    invitation = _lock_pending(invitation)
    if invitation.username != user.get_username():
        raise ValueError("An invitation is accepted by the account it names, and only by it.")
    membership = membership_add(
        tenant=invitation.tenant,
        user=user,
        role=invitation.role,
        data_scope=invitation.data_scope,
        wecom_userid=invitation.wecom_userid,
        department_ids=invitation.department_ids,
    )
    _respond(invitation, InvitationStatus.ACCEPTED)
    return membership


@transaction.atomic
def invitation_decline(*, invitation: Invitation, user: User) -> Invitation:
    invitation = _lock_pending(invitation)
    if invitation.username != user.get_username():
        raise ValueError("An invitation is declined by the account it names, and only by it.")
    return _respond(invitation, InvitationStatus.DECLINED)


@transaction.atomic
def invitation_revoke(*, invitation: Invitation) -> Invitation:
    """The tenant takes a pending invitation back; it can no longer be accepted."""
    return _respond(_lock_pending(invitation), InvitationStatus.REVOKED)


def _respond(invitation: Invitation, status: str) -> Invitation:
    invitation.status = status
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["status", "responded_at"])
    return invitation


def _ensure_an_admin_remains(membership: Membership, *, new_role: str | None) -> None:
    if membership.role != Role.ADMIN or new_role == Role.ADMIN:
        return
    others = Membership.unscoped.filter(tenant_id=membership.tenant_id, role=Role.ADMIN).exclude(
        pk=membership.pk
    )
    if not others.exists():
        raise ValidationError({"role": "A tenant must keep at least one admin."})


@transaction.atomic
def membership_update(*, membership: Membership, data: dict) -> Membership:
    # Lock the tenant's admins so two concurrent demotions cannot both pass the last-admin check.
    list(Membership.unscoped.select_for_update().filter(tenant_id=membership.tenant_id, role=Role.ADMIN))
    role = data.get("role", membership.role)
    data_scope = data.get("data_scope", membership.data_scope)
    wecom_userid = data.get("wecom_userid", membership.wecom_userid)
    _ensure_an_admin_remains(membership, new_role=role)
    _validate_scope(role=role, data_scope=data_scope, wecom_userid=wecom_userid)
    if (
        wecom_userid
        and Membership.unscoped.filter(tenant_id=membership.tenant_id, wecom_userid=wecom_userid)
        .exclude(pk=membership.pk)
        .exists()
    ):
        raise ValidationError({"wecom_userid": f"Another member already is WeCom user {wecom_userid}."})
    membership.role = role
    membership.data_scope = data_scope
    membership.wecom_userid = wecom_userid
    membership.department_ids = data.get("department_ids", membership.department_ids)
    membership.save()
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    list(Membership.unscoped.select_for_update().filter(tenant_id=membership.tenant_id, role=Role.ADMIN))
    _ensure_an_admin_remains(membership, new_role=None)
    membership.delete()


def api_key_create(*, tenant: Tenant, role: str, name: str, actor: Actor = SYSTEM) -> tuple[ApiKey, str]:
    """Returns the key row and the full key; the key is not stored and can never be shown again."""
    if role not in Role.values:
        raise ValidationError({"role": f"Role must be one of {', '.join(Role.values)}."})
    key, prefix, hashed_key = key_generator.generate()
    api_key = ApiKey.unscoped.create(
        tenant=tenant,
        role=role,
        name=name,
        prefix=prefix,
        hashed_key=hashed_key,
        **actor.as_fields("created_by"),
    )
    return api_key, key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def audit_record(*, actor: Actor, action: str, data: dict) -> AuditEntry:
    """Record a sensitive action and who did it (a member or an API key)."""
    return AuditEntry.objects.create(
        action=action, actor_user=actor.user, actor_api_key=actor.api_key, data=data
    )
