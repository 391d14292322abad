"""Every write of the tenancy app. Views and commands call these; transactions live here."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .authentication import key_generator
from .context import tenant_context
from .models import ApiKey, AuditEntry, DataScope, Membership, Role, Tenant

User = get_user_model()

SECRET_FIELDS = ("corp_secret", "callback_token", "encoding_aes_key")
SETTINGS_FIELDS = ("name", "corp_id", "agent_id", "api_base", *SECRET_FIELDS)


def tenant_create(*, slug: str, name: str, **wecom_settings: str) -> Tenant:
    unknown = set(wecom_settings) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"Unknown tenant settings: {sorted(unknown)}")
    tenant = Tenant(slug=slug, name=name, **{k: v for k, v in wecom_settings.items() if v is not None})
    tenant.full_clean()
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
    data_scope = data_scope or (DataScope.SELF if role == Role.SALES else DataScope.ALL)
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


@transaction.atomic
def member_add_user(
    *, tenant: Tenant, username: str, password: str | None, email: str = "", role: str, **membership
) -> Membership:
    """Add a user to the tenant, creating the account if the username is new.

    One transaction: a membership that fails validation must not leave a new account behind.
    """
    user, _ = user_get_or_create(username=username, password=password, email=email)
    return membership_add(tenant=tenant, user=user, role=role, **membership)


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


def api_key_create(
    *, tenant: Tenant, role: str, name: str, created_by: User | None = None
) -> tuple[ApiKey, str]:
    """Returns the key row and the full key; the key is not stored and can never be shown again."""
    if role not in Role.values:
        raise ValidationError({"role": f"Role must be one of {', '.join(Role.values)}."})
    key, prefix, hashed_key = key_generator.generate()
    api_key = ApiKey.unscoped.create(
        tenant=tenant, role=role, name=name, prefix=prefix, hashed_key=hashed_key, created_by=created_by
    )
    return api_key, key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def audit_record(*, principal, action: str, data: dict) -> AuditEntry:
    """Record a sensitive action by the request's principal (a session user or an API key)."""
    return AuditEntry.objects.create(
        action=action,
        actor_user=principal.user if principal.api_key is None else None,
        actor_api_key=principal.api_key,
        data=data,
    )
