"""The contact filters over facets: what an operator segmenting customers relies on."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import ValidationError

from contacts.selectors import contacts_matching
from scrm.tenancy.models import DataScope, Role
from scrm.tenancy.principal import Principal


def admin(tenant):
    return Principal(tenant=tenant, role=Role.ADMIN)


def names(qs):
    return sorted(c.name for c in qs)


def test_tags_all_any_none_staff_and_search(build_a, tenant_a):
    b = build_a
    ann, bob = b.staff("ann"), b.staff("bob", departments=(3,))
    vip, new, cold = b.tag("VIP"), b.tag("新客"), b.tag("沉睡")
    b.contact("王芳", staff=ann, tags=[vip, new], remark="老客户王", mobiles=["13800000001"])
    b.contact("李雷", staff=bob, tags=[vip])
    b.contact("韩梅梅", staff=[ann, bob], tags=[cold])
    f = lambda **kw: names(contacts_matching(principal=admin(tenant_a), filters=kw))  # noqa: E731
    assert f(tags_all=f"{vip.pk},{new.pk}") == ["王芳"]
    assert f(tags_any=f"{new.pk},{cold.pk}") == ["王芳", "韩梅梅"]
    assert f(tags_none=str(vip.pk)) == ["韩梅梅"]
    assert f(staff="bob") == ["李雷", "韩梅梅"]
    b.department(3)
    assert f(department="3") == ["李雷", "韩梅梅"]
    assert f(search="老客户") == ["王芳"]
    assert f(search="0001") == ["王芳"]
    assert f(search="梅") == ["韩梅梅"]


def test_a_department_means_its_whole_branch(build_a, tenant_a, alice_client):
    """Staff sit in leaf departments: filtering by 销售中心 must find the people of its sub-teams."""
    b = build_a
    b.department(1, "总部", parent=0)
    b.department(2, "销售中心", parent=1)
    b.department(3, "华东", parent=2)
    b.department(4, "市场部", parent=1)
    b.contact("王芳", staff=b.staff("ann", departments=(3,)))
    b.contact("李雷", staff=b.staff("cat", departments=(4,)))
    f = lambda **kw: names(contacts_matching(principal=admin(tenant_a), filters=kw))  # noqa: E731
    assert f(department="2") == ["王芳"]
    assert f(department="3") == ["王芳"]
    assert f(department="4") == ["李雷"]
    assert f(department="1") == ["李雷", "王芳"]
    staff = alice_client.get("/api/v1/staff/?department=2").json()["results"]
    assert [s["userid"] for s in staff] == ["ann"]
    staff = alice_client.get("/api/v1/staff/?department=1").json()["results"]
    assert sorted(s["userid"] for s in staff) == ["ann", "cat"]


def test_unknown_ids_are_errors_naming_the_parameter(build_a, tenant_a):
    build_a.staff("ann")
    with pytest.raises(ValidationError) as exc:
        list(contacts_matching(principal=admin(tenant_a), filters={"tags_all": "999999"}))
    assert "tags_all" in exc.value.detail
    with pytest.raises(ValidationError) as exc:
        list(contacts_matching(principal=admin(tenant_a), filters={"staff": "nobody"}))
    assert "staff" in exc.value.detail
    with pytest.raises(ValidationError) as exc:
        list(contacts_matching(principal=admin(tenant_a), filters={"added_after": "2024-13-40"}))
    assert "added_after" in exc.value.detail


def test_sales_scope_sees_only_own_customers_including_lost_ones(build_a, tenant_a):
    b = build_a
    ann, bob = b.staff("ann"), b.staff("bob")
    b.contact("A1", staff=ann)
    b.contact("B1", staff=bob)
    b.contact("B-lost", staff=bob, follow_status="deleted_by_customer")
    sales = Principal(tenant=tenant_a, role=Role.SALES, data_scope=DataScope.SELF, wecom_userid="bob")
    assert names(contacts_matching(principal=sales, filters={})) == ["B-lost", "B1"]
    assert names(contacts_matching(principal=sales, filters={"status": "lost"})) == ["B-lost"]
    nobody = Principal(tenant=tenant_a, role=Role.SALES, data_scope=DataScope.SELF)
    assert names(contacts_matching(principal=nobody, filters={})) == []
