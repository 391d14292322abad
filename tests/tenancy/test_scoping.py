"""The fail-closed tenant scoping every tenant-owned table relies on."""

import pytest
from django.db import connection
from django.test.utils import isolate_apps

from scrm.tenancy.checks import check_tenant_indexes, tenant_index_errors
from scrm.tenancy.context import TenantNotSetError, get_current_tenant, tenant_context
from scrm.tenancy.models import ApiKey, Membership, Tenant, TenantModel
from tests.tenantapp.models import Folder, Widget

# Built at import time with no tenant in context, like a viewset's class-level queryset.
IMPORT_TIME_QUERYSET = Widget.objects.select_related("folder").order_by("id")


@pytest.fixture
def widgets(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        Widget.objects.create(name="a1")
        Widget.objects.create(name="a2")
    with tenant_context(tenant_b):
        Widget.objects.create(name="b1")


@pytest.mark.parametrize(
    "query",
    [
        lambda: list(Widget.objects.all()),
        lambda: Widget.objects.count(),
        lambda: Widget.objects.exists(),
        lambda: Widget.objects.filter(name="a1").first(),
        lambda: Widget.objects.get(name="a1"),
        lambda: Widget.objects.update(name="x"),
        lambda: Widget.objects.filter(name="a1").delete(),
        lambda: list(Widget.objects.values_list("name", flat=True)),
        lambda: list(Widget.objects.iterator()),
        lambda: Widget.objects.aggregate(n=__import__("django").db.models.Count("id")),
        lambda: Widget.objects.create(name="orphan"),
    ],
    ids=[
        "list",
        "count",
        "exists",
        "first",
        "get",
        "update",
        "delete",
        "values",
        "iterator",
        "aggregate",
        "create",
    ],
)
def test_query_without_tenant_raises(widgets, query):
    assert get_current_tenant() is None
    with pytest.raises(TenantNotSetError):
        query()


def test_scoped_queries_see_only_their_tenant(widgets, tenant_a, tenant_b):
    with tenant_context(tenant_a):
        assert sorted(Widget.objects.values_list("name", flat=True)) == ["a1", "a2"]
        assert Widget.objects.count() == 2
        assert not Widget.objects.filter(name="b1").exists()
        assert Widget.objects.update(name="renamed") == 2
    with tenant_context(tenant_b):
        assert list(Widget.objects.values_list("name", flat=True)) == ["b1"]
    assert Widget.unscoped.filter(name="renamed").count() == 2


def test_import_time_queryset_is_scoped_when_used_in_a_request(widgets, tenant_a, tenant_b):
    with pytest.raises(TenantNotSetError):
        list(IMPORT_TIME_QUERYSET)
    with tenant_context(tenant_b):
        assert [w.name for w in IMPORT_TIME_QUERYSET.all()] == ["b1"]
        # Evaluating the shared import-time object itself would pick no tenant: it must raise, not leak.
        with pytest.raises(TenantNotSetError):
            list(IMPORT_TIME_QUERYSET)
    with tenant_context(tenant_a):
        assert [w.name for w in IMPORT_TIME_QUERYSET.filter(name__startswith="a")] == ["a1", "a2"]


def test_a_queryset_scoped_to_one_tenant_refuses_to_serve_another(widgets, tenant_a, tenant_b):
    with tenant_context(tenant_a):
        declared_in_a = Widget.objects.order_by("id")  # e.g. a class attribute imported inside a task
    with tenant_context(tenant_b), pytest.raises(TenantNotSetError, match="scoped to tenant"):
        list(declared_in_a.all())
    with tenant_context(tenant_a):
        assert list(declared_in_a.all().values_list("name", flat=True)) == ["a1", "a2"]


def test_context_is_reset_after_an_exception(tenant_a):
    seen = []

    def fail_inside():
        with tenant_context(tenant_a):
            seen.append(get_current_tenant())
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        fail_inside()
    assert seen == [tenant_a]
    assert get_current_tenant() is None


def test_create_takes_the_tenant_in_context_and_refuses_another(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        widget = Widget.objects.create(name="mine")
        assert widget.tenant_id == tenant_a.id
        with pytest.raises(ValueError, match="other than the one in context"):
            Widget.objects.create(name="theirs", tenant=tenant_b)
    assert Widget.unscoped.filter(tenant=tenant_b).count() == 0


def test_bulk_create_takes_the_tenant_in_context_and_refuses_another(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        Widget.objects.bulk_create([Widget(name="w1"), Widget(name="w2", tenant=tenant_a)])
        with pytest.raises(ValueError, match="other than the one in context"):
            Widget.objects.bulk_create([Widget(name="w3"), Widget(name="theirs", tenant=tenant_b)])
    assert sorted(Widget.unscoped.filter(tenant=tenant_a).values_list("name", flat=True)) == ["w1", "w2"]
    assert Widget.unscoped.filter(tenant=tenant_b).count() == 0


def test_related_lookups_do_not_cross_tenants(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        folder = Folder.objects.create(name="f")
        Widget.objects.create(name="w", folder=folder)
    with tenant_context(tenant_b):
        assert not Widget.objects.filter(folder=folder).exists()
        assert not Folder.objects.filter(pk=folder.pk).exists()


def test_deleting_a_tenant_cascades_without_a_context(widgets, tenant_a, alice):
    tenant_a.delete()
    assert Widget.unscoped.filter(tenant_id=tenant_a.id).count() == 0
    assert Membership.unscoped.filter(tenant_id=tenant_a.id).count() == 0
    assert Widget.unscoped.count() == 1


def test_secrets_are_encrypted_at_rest(tenant_a):
    with connection.cursor() as cursor:
        cursor.execute("SELECT corp_secret FROM tenancy_tenant WHERE id = %s", [tenant_a.id])
        (stored,) = cursor.fetchone()
    assert "secret-of-a" not in stored
    assert stored.startswith("gAAAA")  # a Fernet token
    assert Tenant.objects.get(pk=tenant_a.pk).corp_secret == "secret-of-a"


def test_api_keys_are_stored_hashed(tenant_a, key_client_for):
    from scrm.tenancy import services

    _, key = services.api_key_create(tenant=tenant_a, role="admin", name="k")
    row = ApiKey.unscoped.get(prefix=key.split(".")[0])
    assert key not in row.hashed_key
    assert key.split(".")[1] not in row.hashed_key


@isolate_apps("tests.tenantapp")
def test_a_tenant_model_without_a_tenant_led_index_fails_the_system_check():
    from django.db import models

    class Gadget(TenantModel):
        name = models.CharField(max_length=10)

        class Meta(TenantModel.Meta):
            app_label = "tenantapp"
            indexes = [models.Index(fields=["name", "tenant"], name="gadget_name_tenant")]

    class Gizmo(TenantModel):
        name = models.CharField(max_length=10)

        class Meta(TenantModel.Meta):
            app_label = "tenantapp"
            constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="gizmo_unique")]

    errors = tenant_index_errors([Gadget, Gizmo])
    assert [(e.id, e.obj) for e in errors] == [("tenancy.E001", Gadget)]
    # And the project's own models all pass.
    assert check_tenant_indexes() == []
