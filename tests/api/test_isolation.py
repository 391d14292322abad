"""Tenant isolation and data scope through a route built like every real one (DESIGN.md §3).

Another tenant's objects do not exist for the caller: 404, never 403, on every object route, and
never in a list. The tenant comes from the principal, never from the body; related objects in input
are looked up within the tenant. Inside a tenant, sales members see only their (departments') rows.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from scrm.tenancy import services
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import DataScope, Role
from scrm.tenancy.principal import Principal, principal_for_api_key
from scrm.tenancy.scope import apply_data_scope, data_scope_q
from tests.helpers import PASSWORD, assert_problem
from tests.tenantapp.models import Folder, Widget

WIDGETS = "/api/v1/test/widgets/"

pytestmark = pytest.mark.django_db


def make_widget(tenant, name="w", **fields) -> Widget:
    return Widget.unscoped.create(tenant=tenant, name=name, **fields)


def detail(widget) -> str:
    return f"{WIDGETS}{widget.pk}/"


def result_ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def add_member(tenant, username, role, **kwargs):
    user, _ = services.user_get_or_create(username=username, password=PASSWORD)
    services.membership_add(tenant=tenant, user=user, role=role, **kwargs)
    return user


# --- Across tenants --------------------------------------------------------------------------


@pytest.fixture
def alices_widget(tenant_a, alice):
    return make_widget(tenant_a, "alice's", owner_userid="alice")


def test_owner_reaches_its_widget(alice_client, alices_widget):
    response = alice_client.get(detail(alices_widget))
    assert response.status_code == 200
    assert response.json()["name"] == "alice's"


def test_other_tenant_gets_404_on_get(charlie_client, alices_widget):
    assert_problem(charlie_client.get(detail(alices_widget)), 404, "not_found")


def test_other_tenant_gets_404_on_patch_and_nothing_changes(charlie_client, alices_widget):
    response = charlie_client.patch(detail(alices_widget), {"name": "pwned"}, format="json")
    assert_problem(response, 404, "not_found")
    alices_widget.refresh_from_db()
    assert alices_widget.name == "alice's"


def test_other_tenant_gets_404_on_put_and_nothing_changes(charlie_client, alices_widget):
    response = charlie_client.put(
        detail(alices_widget), {"name": "pwned", "owner_userid": "c"}, format="json"
    )
    assert_problem(response, 404, "not_found")
    alices_widget.refresh_from_db()
    assert (alices_widget.name, alices_widget.owner_userid) == ("alice's", "alice")


def test_other_tenant_gets_404_on_delete_and_the_row_survives(charlie_client, alices_widget):
    assert_problem(charlie_client.delete(detail(alices_widget)), 404, "not_found")
    assert Widget.unscoped.filter(pk=alices_widget.pk).exists()


def test_404_for_another_tenants_row_is_identical_to_a_missing_row(charlie_client, alices_widget):
    foreign = charlie_client.get(detail(alices_widget))
    missing = charlie_client.get(f"{WIDGETS}{alices_widget.pk + 10_000}/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()


def test_lists_never_show_another_tenants_rows(alice_client, charlie_client, tenant_a, tenant_b):
    mine = {make_widget(tenant_a, f"a{n}").pk for n in range(3)}
    theirs = {make_widget(tenant_b, f"b{n}").pk for n in range(2)}
    assert result_ids(alice_client.get(WIDGETS)) == mine
    assert result_ids(charlie_client.get(WIDGETS)) == theirs


def test_list_filters_cannot_reach_another_tenant(charlie_client, alices_widget):
    assert result_ids(charlie_client.get(WIDGETS, {"name": "alice's"})) == set()
    assert result_ids(charlie_client.get(WIDGETS, {"owner_userid": "alice"})) == set()


def test_api_key_of_another_tenant_gets_404_and_an_empty_list(key_client_for, tenant_b, alices_widget):
    client = key_client_for(tenant_b, Role.ADMIN)
    assert_problem(client.get(detail(alices_widget)), 404, "not_found")
    assert_problem(client.patch(detail(alices_widget), {"name": "x"}, format="json"), 404, "not_found")
    assert_problem(client.delete(detail(alices_widget)), 404, "not_found")
    assert result_ids(client.get(WIDGETS)) == set()
    alices_widget.refresh_from_db()
    assert alices_widget.name == "alice's"


def test_api_key_of_the_tenant_sees_its_widgets(key_client_for, tenant_a, alices_widget):
    client = key_client_for(tenant_a, Role.ADMIN)
    assert client.get(detail(alices_widget)).status_code == 200
    assert result_ids(client.get(WIDGETS)) == {alices_widget.pk}


def test_revoked_api_key_is_401(tenant_a, alices_widget):
    api_key, key = services.api_key_create(tenant=tenant_a, role=Role.ADMIN, name="integration")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get(detail(alices_widget)).status_code == 200
    services.api_key_revoke(api_key=api_key)
    assert_problem(client.get(detail(alices_widget)), 401, "authentication_failed")
    assert_problem(client.get(WIDGETS), 401, "authentication_failed")


def test_api_key_of_a_deactivated_tenant_is_401(tenant_a, alices_widget, key_client_for):
    client = key_client_for(tenant_a, Role.ADMIN)
    assert client.get(WIDGETS).status_code == 200
    tenant_a.is_active = False
    tenant_a.save(update_fields=["is_active"])
    assert_problem(client.get(WIDGETS), 401, "authentication_failed")
    assert_problem(client.get(detail(alices_widget)), 401, "authentication_failed")


def test_session_of_a_deactivated_tenant_has_no_access(tenant_a, alice_client, alices_widget):
    tenant_a.is_active = False
    tenant_a.save(update_fields=["is_active"])
    # The user is still logged in, but no longer a member of any active tenant.
    response = alice_client.get(detail(alices_widget))
    assert_problem(response, 403, "permission_denied")
    assert "alice's" not in response.content.decode()
    assert_problem(alice_client.get(WIDGETS), 403, "permission_denied")


# --- Input ------------------------------------------------------------------------------------


def test_tenant_in_the_body_is_ignored_on_create(alice_client, tenant_a, tenant_b):
    response = alice_client.post(WIDGETS, {"name": "sneaky", "tenant": tenant_b.pk}, format="json")
    assert response.status_code == 201, response.content
    assert "tenant" not in response.json()
    widget = Widget.unscoped.get(pk=response.json()["id"])
    assert widget.tenant_id == tenant_a.pk
    assert not Widget.unscoped.filter(tenant=tenant_b).exists()


def test_tenant_in_the_body_is_ignored_on_update(alice_client, tenant_a, tenant_b, alices_widget):
    response = alice_client.patch(detail(alices_widget), {"tenant": tenant_b.pk, "name": "n"}, format="json")
    assert response.status_code == 200, response.content
    alices_widget.refresh_from_db()
    assert alices_widget.tenant_id == tenant_a.pk
    assert alices_widget.name == "n"


def test_api_key_creates_in_its_own_tenant(key_client_for, tenant_a, tenant_b):
    client = key_client_for(tenant_b, Role.ADMIN)
    response = client.post(WIDGETS, {"name": "by key", "tenant": tenant_a.pk}, format="json")
    assert response.status_code == 201, response.content
    assert Widget.unscoped.get(pk=response.json()["id"]).tenant_id == tenant_b.pk


def test_folder_of_the_same_tenant_is_accepted(alice_client, tenant_a):
    folder = Folder.unscoped.create(tenant=tenant_a, name="mine")
    response = alice_client.post(WIDGETS, {"name": "w", "folder": folder.pk}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["folder"] == folder.pk
    assert response.json()["folder_name"] == "mine"


def test_folder_of_another_tenant_is_a_400_on_folder(alice_client, tenant_a, tenant_b):
    foreign = Folder.unscoped.create(tenant=tenant_b, name="theirs")
    response = alice_client.post(WIDGETS, {"name": "w", "folder": foreign.pk}, format="json")
    body = assert_problem(response, 400, "validation_error")
    assert body["errors"][0]["path"] == "folder"
    assert body["errors"][0]["code"] == "does_not_exist"
    assert "theirs" not in response.content.decode()
    assert not Widget.unscoped.filter(tenant=tenant_a).exists()


def test_folder_of_another_tenant_is_refused_on_update(alice_client, tenant_b, alices_widget):
    foreign = Folder.unscoped.create(tenant=tenant_b, name="theirs")
    response = alice_client.patch(detail(alices_widget), {"folder": foreign.pk}, format="json")
    body = assert_problem(response, 400, "validation_error")
    assert body["errors"][0]["path"] == "folder"
    alices_widget.refresh_from_db()
    assert alices_widget.folder_id is None


def test_folder_of_another_tenant_answers_like_a_missing_folder(alice_client, tenant_b):
    foreign = Folder.unscoped.create(tenant=tenant_b, name="theirs")
    foreign_error = alice_client.post(WIDGETS, {"name": "w", "folder": foreign.pk}, format="json").json()
    missing_error = alice_client.post(WIDGETS, {"name": "w", "folder": foreign.pk + 10_000}, format="json")
    assert foreign_error["errors"][0]["code"] == missing_error.json()["errors"][0]["code"]


# --- Data scope inside a tenant ---------------------------------------------------------------


@pytest.fixture
def team_widgets(tenant_a):
    """Widgets of tenant A owned by various WeCom members, in various departments."""
    return {
        "bob": make_widget(tenant_a, "bob's", owner_userid="bob", department_id=3),
        "dora": make_widget(tenant_a, "dora's", owner_userid="dora", department_id=3),
        "eve": make_widget(tenant_a, "eve's", owner_userid="eve", department_id=7),
        "frank": make_widget(tenant_a, "frank's", owner_userid="frank", department_id=8),
        "nobody": make_widget(tenant_a, "unowned"),
    }


def test_sales_with_self_scope_lists_only_its_own(bob_client, team_widgets):
    assert result_ids(bob_client.get(WIDGETS)) == {team_widgets["bob"].pk}


def test_sales_with_self_scope_gets_404_on_others_rows(bob_client, team_widgets):
    assert bob_client.get(detail(team_widgets["bob"])).status_code == 200
    for owner in ("dora", "eve", "frank", "nobody"):
        assert_problem(bob_client.get(detail(team_widgets[owner])), 404, "not_found")
    response = bob_client.patch(detail(team_widgets["eve"]), {"name": "mine now"}, format="json")
    assert_problem(response, 404, "not_found")
    assert_problem(bob_client.delete(detail(team_widgets["eve"])), 404, "not_found")
    team_widgets["eve"].refresh_from_db()
    assert team_widgets["eve"].name == "eve's"


def test_sales_filter_cannot_widen_its_scope(bob_client, team_widgets):
    assert result_ids(bob_client.get(WIDGETS, {"owner_userid": "eve"})) == set()


def test_sales_with_department_scope_sees_its_own_and_its_departments(tenant_a, client_for, team_widgets):
    dora = add_member(
        tenant_a,
        "dora",
        Role.SALES,
        data_scope=DataScope.DEPARTMENTS,
        wecom_userid="dora",
        department_ids=[7],
    )
    client = client_for(dora)
    expected = {team_widgets["dora"].pk, team_widgets["eve"].pk}
    assert result_ids(client.get(WIDGETS)) == expected
    assert client.get(detail(team_widgets["eve"])).status_code == 200
    assert_problem(client.get(detail(team_widgets["frank"])), 404, "not_found")
    # Department 3 is dora's own rows' department, but not one of her scoped departments.
    assert_problem(client.get(detail(team_widgets["bob"])), 404, "not_found")


def test_admin_sees_everything_in_its_tenant(alice_client, team_widgets):
    assert result_ids(alice_client.get(WIDGETS)) == {w.pk for w in team_widgets.values()}


def test_operator_sees_everything_in_its_tenant(tenant_a, client_for, team_widgets):
    olga = add_member(tenant_a, "olga", Role.OPERATOR)
    client = client_for(olga)
    assert result_ids(client.get(WIDGETS)) == {w.pk for w in team_widgets.values()}
    assert client.get(detail(team_widgets["frank"])).status_code == 200


def test_sales_api_key_sees_nothing(tenant_a, key_client_for, team_widgets):
    # A key belongs to no WeCom member: with the sales role it follows nobody.
    client = key_client_for(tenant_a, Role.SALES)
    assert result_ids(client.get(WIDGETS)) == set()
    assert_problem(client.get(detail(team_widgets["bob"])), 404, "not_found")


def test_operator_api_key_sees_everything(tenant_a, key_client_for, team_widgets):
    client = key_client_for(tenant_a, Role.OPERATOR)
    assert result_ids(client.get(WIDGETS)) == {w.pk for w in team_widgets.values()}


# --- The data-scope hook itself ---------------------------------------------------------------


def scoped_names(tenant, principal, **fields) -> set[str]:
    with tenant_context(tenant):
        queryset = Widget.objects.filter(data_scope_q(principal, **fields))
        return set(queryset.values_list("name", flat=True))


def test_data_scope_q_sales_without_wecom_userid_sees_nothing(tenant_a, team_widgets):
    principal = Principal(tenant=tenant_a, role=Role.SALES, data_scope=DataScope.SELF, wecom_userid="")
    assert scoped_names(tenant_a, principal, userid_field="owner_userid") == set()
    # Not even the rows whose owner is blank, which an unguarded owner_userid="" filter would match.
    assert scoped_names(
        tenant_a, principal, userid_field="owner_userid", department_field="department_id"
    ) == (set())


def test_data_scope_q_sales_with_departments_but_no_userid_sees_only_the_departments(tenant_a, team_widgets):
    principal = Principal(
        tenant=tenant_a, role=Role.SALES, data_scope=DataScope.DEPARTMENTS, department_ids=(7, 8)
    )
    names = scoped_names(tenant_a, principal, userid_field="owner_userid", department_field="department_id")
    assert names == {"eve's", "frank's"}


def test_data_scope_q_department_scope_without_department_field_is_self(tenant_a, team_widgets):
    principal = Principal(
        tenant=tenant_a,
        role=Role.SALES,
        data_scope=DataScope.DEPARTMENTS,
        wecom_userid="dora",
        department_ids=(7,),
    )
    assert scoped_names(tenant_a, principal, userid_field="owner_userid") == {"dora's"}


def test_data_scope_q_admin_and_operator_are_unrestricted(tenant_a, team_widgets):
    everything = {w.name for w in team_widgets.values()}
    for role in (Role.ADMIN, Role.OPERATOR):
        principal = Principal(tenant=tenant_a, role=role, data_scope=DataScope.SELF, wecom_userid="bob")
        assert data_scope_q(principal, userid_field="owner_userid") == data_scope_q(
            Principal(tenant=tenant_a, role=Role.ADMIN), userid_field="owner_userid"
        )
        assert scoped_names(tenant_a, principal, userid_field="owner_userid") == everything


def test_apply_data_scope_for_a_sales_key_principal_is_empty(tenant_a, team_widgets):
    api_key, _ = services.api_key_create(tenant=tenant_a, role=Role.SALES, name="k")
    principal = principal_for_api_key(api_key)
    with tenant_context(tenant_a):
        scoped = apply_data_scope(
            Widget.objects.all(), principal, userid_field="owner_userid", department_field="department_id"
        )
        assert list(scoped) == []
