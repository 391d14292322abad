from __future__ import annotations

from django.conf import settings
from django.db import models
from encrypted_model_fields.fields import EncryptedCharField

from .context import TenantNotSetError, get_current_tenant, require_current_tenant


class Tenant(models.Model):
    """One WeCom corp. Secrets are Fernet-encrypted at rest and never leave through the API."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, unique=True)
    is_active = models.BooleanField(default=True)
    corp_id = models.CharField(max_length=64, blank=True)
    corp_secret = EncryptedCharField(max_length=128, blank=True)
    agent_id = models.CharField(max_length=32, blank=True)
    callback_token = EncryptedCharField(max_length=64, blank=True)
    encoding_aes_key = EncryptedCharField(max_length=64, blank=True)
    # Blank means settings.WECOM_API_BASE (the real WeCom, or the sandbox in the demo).
    api_base = models.URLField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.slug

    @property
    def callback_url(self) -> str:
        return f"{settings.PUBLIC_URL}/wecom/callback/{self.slug}/"


class TenantQuerySet(models.QuerySet):
    """Fail-closed tenant scoping, applied lazily.

    A queryset made while a tenant is in context is filtered by that tenant at once. One made with
    no tenant in context (a viewset's class-level ``queryset``, a FilterSet's field resolution at
    import) is *pending*: every queryset derived from it later (``.all()``, ``.filter()``, ...)
    inside a tenant context gets that tenant's filter, and evaluating it while still pending raises
    ``TenantNotSetError``. So import-time declarations work, and no query ever runs unscoped.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._tenant_pending = False
        self._scoped_tenant_id: int | None = None

    def _clone(self):
        clone = super()._clone()
        clone._tenant_pending = self._tenant_pending
        clone._scoped_tenant_id = self._scoped_tenant_id
        tenant = get_current_tenant()
        if clone._tenant_pending:
            if tenant is not None:
                clone.query.add_q(models.Q(tenant_id=tenant.pk))
                clone._tenant_pending = False
                clone._scoped_tenant_id = tenant.pk
        elif tenant is not None and clone._scoped_tenant_id not in (None, tenant.pk):
            # Built for one tenant, reused in another: say so loudly. (A class-level queryset declared
            # while a tenant was in context, say by a module imported inside a task, would otherwise
            # quietly return nothing, or worse, another tenant's rows through a query without a view.)
            raise TenantNotSetError(
                f"{self.model.__name__} queryset was scoped to tenant {clone._scoped_tenant_id} "
                f"and reused in tenant {tenant.pk}."
            )
        return clone

    def _require_scoped(self) -> None:
        if self._tenant_pending:
            require_current_tenant()  # raises: there is no tenant to scope by
            # A tenant is in context but this queryset was made outside it: derive a fresh one.
            raise TenantNotSetError(
                f"{self.model.__name__} queryset was built with no tenant in context; "
                "call .all() on it inside the tenant context."
            )

    def _fetch_all(self):
        self._require_scoped()
        super()._fetch_all()

    def count(self):
        self._require_scoped()
        return super().count()

    def exists(self):
        self._require_scoped()
        return super().exists()

    def aggregate(self, *args, **kwargs):
        self._require_scoped()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs):
        self._require_scoped()
        return super().update(**kwargs)

    def delete(self):
        self._require_scoped()
        return super().delete()

    def iterator(self, chunk_size=None):
        self._require_scoped()
        return super().iterator(chunk_size=chunk_size)

    def explain(self, **options):
        self._require_scoped()
        return super().explain(**options)

    def create(self, **kwargs):
        # Rows created through the scoped manager belong to the tenant in context, never another.
        current = require_current_tenant()
        given = kwargs.setdefault("tenant", current)
        if given.pk != current.pk:
            raise ValueError("Refusing to create a row for a tenant other than the one in context.")
        return super().create(**kwargs)

    def bulk_create(self, objs, *args, **kwargs):
        # Same rule for bulk inserts and upserts: rows without a tenant get the one in context.
        current = require_current_tenant()
        objs = list(objs)
        for obj in objs:
            if obj.tenant_id is None:
                obj.tenant = current
            elif obj.tenant_id != current.pk:
                raise ValueError("Refusing to bulk-create rows for a tenant other than the one in context.")
        return super().bulk_create(objs, *args, **kwargs)


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """The default manager of tenant models: scoped to the tenant in context (see TenantQuerySet)."""

    def get_queryset(self) -> TenantQuerySet:
        queryset = super().get_queryset()
        tenant = get_current_tenant()
        if tenant is None:
            queryset._tenant_pending = True
            return queryset
        queryset = queryset.filter(tenant_id=tenant.pk)
        queryset._scoped_tenant_id = tenant.pk
        return queryset


class TenantModel(models.Model):
    """Base of every tenant-owned table.

    ``objects`` is scoped to the current tenant; ``unscoped`` is the explicit, greppable escape hatch
    for system jobs and authentication (which runs before a tenant is known). The base manager (used
    for cascades and forward relations) is the unscoped one, so deleting a tenant works.
    """

    # No index of its own: every tenant table has a composite index or unique constraint led by
    # tenant (enforced by the tenancy.E001 system check), which serves tenant lookups and cascades,
    # and a lone tenant_id index would only cost one more write per row on the busiest tables.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)

    unscoped = models.Manager()
    objects = TenantManager()  # the default manager, named in Meta (declaration order does not matter)

    class Meta:
        abstract = True
        default_manager_name = "objects"
        base_manager_name = "unscoped"


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    OPERATOR = "operator", "Operator"
    SALES = "sales", "Sales"


class DataScope(models.TextChoices):
    ALL = "all", "All customers"
    DEPARTMENTS = "departments", "Customers of my departments"
    SELF = "self", "Customers I follow"


class Membership(TenantModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    data_scope = models.CharField(max_length=16, choices=DataScope.choices, default=DataScope.ALL)
    # The WeCom member this user is: what "customers I follow" means for a sales member.
    wecom_userid = models.CharField(max_length=64, blank=True)
    # WeCom department ids whose staff's customers a `departments`-scoped member sees.
    department_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user_per_tenant"),
            models.UniqueConstraint(
                fields=["tenant", "wecom_userid"],
                condition=~models.Q(wecom_userid=""),
                name="membership_unique_wecom_userid_per_tenant",
            ),
        ]
        indexes = [models.Index(fields=["user", "tenant"], name="membership_user_tenant")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.tenant_id} ({self.role})"


class ApiKey(TenantModel):
    """An integrator's key: ``<prefix>.<secret>``; only the prefix and a SHA-512 hash are stored."""

    name = models.CharField(max_length=100)
    role = models.CharField(max_length=16, choices=Role.choices)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    hashed_key = models.CharField(max_length=150, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # An admin key may create keys too (scrm.tenancy.actors: a member or a key, never both).
    created_by_api_key = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="apikey_tenant_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class AuditEntry(TenantModel):
    """Who did what sensitive thing (exported customers, transferred them, ...), kept for review."""

    action = models.CharField(max_length=64)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        ordering = ["-id"]
        indexes = [models.Index(fields=["tenant", "action", "-id"], name="auditentry_tenant_action")]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_user_id or self.actor_api_key_id}"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    REVOKED = "revoked", "Revoked"


class Invitation(TenantModel):
    """A tenant admin's offer of membership to the account named ``username``.

    Nobody joins a tenant without saying yes: the account's owner accepts (or declines) it when signed
    in. It names a username, not a user, so making one tells the admin nothing about whether such an
    account exists (another tenant's users are none of their business).
    """

    username = models.CharField(max_length=150)
    role = models.CharField(max_length=16, choices=Role.choices)
    data_scope = models.CharField(max_length=16, choices=DataScope.choices)
    wecom_userid = models.CharField(max_length=64, blank=True)
    department_ids = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=16, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "username"],
                condition=models.Q(status="pending"),
                name="invitation_one_pending_per_username",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "-id"], name="invitation_tenant_status"),
            # A signed-in user's own invitations, across tenants.
            models.Index(fields=["username", "status"], name="invitation_username_status"),
        ]

    def __str__(self) -> str:
        return f"{self.username}@{self.tenant_id} ({self.status})"
