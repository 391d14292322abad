"""Group tags: /api/v1/group-tags/ (CRUD with group_count), PUT /groups/{id}/tags/, POST /groups/bulk-tag/.

alice (admin of A) writes; bob (sales in A) reads, within the groups he owns, and gets 403 on writes;
charlie (admin of B) gets 404 on A's objects and cannot name A's tags or groups.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from groups.models import GroupTag, GroupTagging
from groups.serializers import BULK_MAX_GROUPS
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Role
from tests.helpers import assert_problem

TAGS = "/api/v1/group-tags/"
GROUPS = "/api/v1/groups/"
BULK = "/api/v1/groups/bulk-tag/"


def assert_invalid(response, path: str | None) -> dict:
    body = assert_problem(response, 400, "validation_error")
    assert path in [e["path"] for e in body["errors"]], body
    return body


def tagged(group) -> list[str]:
    with tenant_context(group.tenant):
        return sorted(GroupTagging.objects.filter(group=group).values_list("tag__name", flat=True))


@pytest.fixture
def world(tenant_a, tenant_b, alice, bob, build_group):
    with tenant_context(tenant_a):
        vip = GroupTag.objects.create(name="VIP", color="gold", order=2)
        east = GroupTag.objects.create(name="华东", color="blue", order=1)
        hot = GroupTag.objects.create(name="活跃", order=3)
    with tenant_context(tenant_b):
        b_tag = GroupTag.objects.create(name="B标签")
    ann_group = build_group(owner="ann", name="安娜的群")
    bob_group = build_group(owner="bob", name="鲍勃的群")
    third = build_group(owner="ann", name="第三个群")
    with tenant_context(tenant_a):
        for group, tags in ((ann_group, [vip, east]), (bob_group, [vip]), (third, [vip])):
            for tag in tags:
                GroupTagging.objects.create(group=group, tag=tag)
    b_group = build_group(tenant=tenant_b, owner="carl", name="B的群")
    return {
        "vip": vip, "east": east, "hot": hot, "b_tag": b_tag, "ann_group": ann_group, "bob_group": bob_group,
        "third": third, "b_group": b_group,
    }  # fmt: skip


# ==================================================================================================
# /group-tags/
# ==================================================================================================


def test_tags_in_order_with_their_group_count(alice_client, world):
    response = alice_client.get(TAGS)
    assert response.status_code == 200, response.content
    assert response.json()["results"] == [
        {"id": world["east"].pk, "name": "华东", "color": "blue", "order": 1, "group_count": 1},
        {"id": world["vip"].pk, "name": "VIP", "color": "gold", "order": 2, "group_count": 3},
        {"id": world["hot"].pk, "name": "活跃", "color": "", "order": 3, "group_count": 0},
    ]


def test_sales_reads_tags_counting_only_his_groups(bob_client, world):
    rows = {r["name"]: r["group_count"] for r in bob_client.get(TAGS).json()["results"]}
    assert rows == {"华东": 0, "VIP": 1, "活跃": 0}
    assert bob_client.get(f"{TAGS}{world['vip'].pk}/").json()["group_count"] == 1


def test_create_update_delete(alice_client, world):
    created = alice_client.post(TAGS, {"name": "新品", "color": "green", "order": 5}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body == {"id": body["id"], "name": "新品", "color": "green", "order": 5, "group_count": 0}
    patched = alice_client.patch(f"{TAGS}{body['id']}/", {"name": "新品上市"}, format="json")
    assert patched.status_code == 200, patched.content
    assert (patched.json()["name"], patched.json()["color"]) == ("新品上市", "green")
    put = alice_client.put(
        f"{TAGS}{world['vip'].pk}/", {"name": "VIP+", "color": "red", "order": 9}, format="json"
    )
    assert put.status_code == 200, put.content
    assert put.json() == {"id": world["vip"].pk, "name": "VIP+", "color": "red", "order": 9, "group_count": 3}
    assert alice_client.delete(f"{TAGS}{world['vip'].pk}/").status_code == 204
    assert tagged(world["ann_group"]) == ["华东"]  # the groups lost it
    assert tagged(world["bob_group"]) == []


def test_names_are_unique_in_the_tenant_only(alice_client, charlie_client, world):
    assert_invalid(alice_client.post(TAGS, {"name": "VIP"}, format="json"), "name")
    assert_invalid(alice_client.patch(f"{TAGS}{world['east'].pk}/", {"name": "VIP"}, format="json"), "name")
    assert alice_client.patch(f"{TAGS}{world['vip'].pk}/", {"name": "VIP"}, format="json").status_code == 200
    assert charlie_client.post(TAGS, {"name": "VIP"}, format="json").status_code == 201
    assert_invalid(alice_client.post(TAGS, {"name": "x" * 31}, format="json"), "name")
    assert_invalid(alice_client.post(TAGS, {}, format="json"), "name")


def test_operators_write_and_sales_only_read(bob_client, key_client_for, tenant_a, world):
    assert_problem(bob_client.post(TAGS, {"name": "mine"}, format="json"), 403, "permission_denied")
    assert_problem(
        bob_client.patch(f"{TAGS}{world['vip'].pk}/", {"name": "x"}, format="json"), 403, "permission_denied"
    )
    assert_problem(bob_client.delete(f"{TAGS}{world['vip'].pk}/"), 403, "permission_denied")
    operator = key_client_for(tenant_a, Role.OPERATOR)
    assert operator.post(TAGS, {"name": "运营建的"}, format="json").status_code == 201


@pytest.mark.parametrize("method", ["get", "patch", "put", "delete"])
def test_other_tenant_gets_404_on_a_tag(charlie_client, world, method):
    response = getattr(charlie_client, method)(f"{TAGS}{world['vip'].pk}/", {"name": "x"}, format="json")
    assert_problem(response, 404, "not_found")


def test_other_tenant_lists_only_its_own_tags(charlie_client, world):
    assert [r["name"] for r in charlie_client.get(TAGS).json()["results"]] == ["B标签"]


def test_tag_list_query_count_is_constant(alice_client, world, django_assert_max_num_queries):
    with tenant_context(world["vip"].tenant):
        GroupTag.objects.bulk_create(GroupTag(name=f"标签{i}", order=10 + i) for i in range(40))
    with django_assert_max_num_queries(4):
        assert len(alice_client.get(TAGS, {"page_size": 50}).json()["results"]) == 43


# ==================================================================================================
# PUT /groups/{id}/tags/
# ==================================================================================================


def test_put_sets_exactly_these_tags_and_answers_the_group(alice_client, world):
    group = world["ann_group"]
    response = alice_client.put(
        f"{GROUPS}{group.pk}/tags/", {"tag_ids": [world["hot"].pk, world["east"].pk]}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == group.pk
    assert [t["name"] for t in body["tags"]] == ["华东", "活跃"]  # in the tags' order
    assert tagged(group) == ["华东", "活跃"]
    assert alice_client.put(f"{GROUPS}{group.pk}/tags/", {"tag_ids": []}, format="json").json()["tags"] == []
    assert tagged(group) == []


def test_put_rejects_unknown_and_other_tenants_tags(alice_client, world):
    group = world["ann_group"]
    body = assert_invalid(
        alice_client.put(f"{GROUPS}{group.pk}/tags/", {"tag_ids": [world["b_tag"].pk]}, format="json"),
        "tag_ids",
    )
    assert str(world["b_tag"].pk) in body["errors"][0]["message"]
    assert_invalid(
        alice_client.put(f"{GROUPS}{group.pk}/tags/", {"tag_ids": ["x"]}, format="json"), "tag_ids.0"
    )
    assert_invalid(alice_client.put(f"{GROUPS}{group.pk}/tags/", {}, format="json"), "tag_ids")
    assert tagged(group) == ["VIP", "华东"]  # unchanged


def test_put_locks_the_group_before_rewriting_its_tags(alice_client, world):
    """Two PUTs on one group take turns (the group's row lock): each one's delete-then-insert sees
    the other's result, instead of both deleting and both inserting."""
    group = world["ann_group"]
    with CaptureQueriesContext(connection) as ctx:
        response = alice_client.put(
            f"{GROUPS}{group.pk}/tags/", {"tag_ids": [world["hot"].pk]}, format="json"
        )
    assert response.status_code == 200, response.content
    sql = [q["sql"] for q in ctx.captured_queries]
    lock = next(
        i
        for i, q in enumerate(sql)
        if q.startswith("SELECT") and 'FROM "groups_group"' in q and "FOR UPDATE" in q
    )
    writes = [i for i, q in enumerate(sql) if '"groups_grouptagging"' in q and not q.startswith("SELECT")]
    assert writes
    assert lock < min(writes)


def test_put_is_for_admins_and_operators(bob_client, charlie_client, world):
    own = world["bob_group"]
    assert_problem(
        bob_client.put(f"{GROUPS}{own.pk}/tags/", {"tag_ids": []}, format="json"), 403, "permission_denied"
    )
    assert tagged(own) == ["VIP"]
    response = charlie_client.put(f"{GROUPS}{world['ann_group'].pk}/tags/", {"tag_ids": []}, format="json")
    assert_problem(response, 404, "not_found")
    assert tagged(world["ann_group"]) == ["VIP", "华东"]


# ==================================================================================================
# POST /groups/bulk-tag/
# ==================================================================================================


def test_bulk_adds_and_removes_and_counts_only_changes(alice_client, world):
    ids = [world["ann_group"].pk, world["bob_group"].pk, world["third"].pk]
    response = alice_client.post(
        BULK,
        {"group_ids": ids, "add": [world["east"].pk, world["hot"].pk], "remove": [world["vip"].pk]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"groups": 3, "added": 5, "removed": 3}  # ann_group had 华东 already
    assert (
        tagged(world["ann_group"]) == tagged(world["bob_group"]) == tagged(world["third"]) == ["华东", "活跃"]
    )
    again = alice_client.post(BULK, {"group_ids": ids, "add": [world["east"].pk]}, format="json")
    assert again.json() == {"groups": 3, "added": 0, "removed": 0}


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (lambda w: {"group_ids": [w["ann_group"].pk]}, "add"),
        (lambda w: {"group_ids": [], "add": [w["hot"].pk]}, "group_ids"),
        (lambda w: {"group_ids": [w["b_group"].pk], "add": [w["hot"].pk]}, "group_ids.0"),
        (lambda w: {"group_ids": [w["ann_group"].pk], "add": [w["b_tag"].pk]}, "add"),
        (lambda w: {"group_ids": [w["ann_group"].pk], "remove": [999999]}, "remove"),
        (
            lambda w: {"group_ids": [w["ann_group"].pk], "add": [w["hot"].pk], "remove": [w["hot"].pk]},
            "remove",
        ),
        (lambda w: {"group_ids": list(range(1, BULK_MAX_GROUPS + 2)), "add": [w["hot"].pk]}, "group_ids"),
    ],
    ids=[
        "nothing_to_do",
        "no_groups",
        "other_tenants_group",
        "other_tenants_tag",
        "unknown_tag",
        "both",
        "too_many",
    ],
)
def test_bulk_input_is_checked(alice_client, world, body, path):
    assert_invalid(alice_client.post(BULK, body(world), format="json"), path)
    assert tagged(world["ann_group"]) == ["VIP", "华东"]


def test_bulk_is_for_admins_and_operators(bob_client, key_client_for, tenant_a, world):
    body = {"group_ids": [world["bob_group"].pk], "add": [world["hot"].pk]}
    assert_problem(bob_client.post(BULK, body, format="json"), 403, "permission_denied")
    assert tagged(world["bob_group"]) == ["VIP"]
    assert key_client_for(tenant_a, Role.OPERATOR).post(BULK, body, format="json").status_code == 200
    assert tagged(world["bob_group"]) == ["VIP", "活跃"]


def test_bulk_of_many_groups_runs_a_constant_number_of_queries(
    alice_client, world, build_group, django_assert_max_num_queries
):
    groups = [build_group(owner="ann") for _ in range(60)]
    body = {
        "group_ids": [g.pk for g in groups],
        "add": [world["hot"].pk, world["east"].pk],
        "remove": [world["vip"].pk],
    }
    with django_assert_max_num_queries(14):
        response = alice_client.post(BULK, body, format="json")
    assert response.json() == {"groups": 60, "added": 120, "removed": 0}
