"""Corp tags through the API: WeCom (the sandbox) first, local rows only for what WeCom accepted.

``mirror`` copies a slice of the sandbox corp into tenant A's tables (staff, tags, customers with
their follows) the way a full sync would, so these tests do not depend on the sync being built. It
also copies who made each tag, as if Siyu had created the app-made ones itself (a sync cannot tell:
WeCom lets an app edit and delete only its own tags, and its lists do not say whose a tag is).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from contacts.facets import contacts_refresh
from contacts.models import Contact, Follow, Staff, Tag, TagGroup
from contacts.sync import tag_change_apply, tags_sync
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Role
from scrm.wecom.api import api_for
from tests.helpers import assert_problem, sandbox_control

GROUPS_URL = "/api/v1/tag-groups/"
TAGS_URL = "/api/v1/tags/"


def mirror(sandbox, tenant, *, contacts: int = 40) -> list[Contact]:
    """Copy the sandbox's staff, live corp tags and its first ``contacts`` customers into ``tenant``."""
    state = sandbox.state
    with state.lock:
        staff = [
            (s.userid, s.name, list(s.department), s.status, s.has_contact_permission)
            for s in state.staff.values()
        ]
        groups = [
            (g.group_id, g.group_name, g.order, g.app_created)
            for g in state.tag_groups.values()
            if not g.deleted
        ]
        tags = [
            (t.id, t.group_id, t.name, t.order, t.app_created) for t in state.tags.values() if not t.deleted
        ]
        customers = [
            (
                c.external_userid,
                c.name,
                [
                    (
                        f.userid,
                        f.remark,
                        f.description,
                        list(f.tag_ids),
                        f.state,
                        f.add_way,
                        f.createtime,
                        list(f.remark_mobiles),
                    )
                    for f in c.follows.values()
                ],
            )
            for c in list(state.contacts.values())[:contacts]
        ]
    with tenant_context(tenant):
        members = {
            userid: Staff.objects.create(
                userid=userid,
                name=name,
                department_ids=depts,
                is_active=status == 1,
                has_contact_permission=permission,
            )
            for userid, name, depts, status, permission in staff
        }
        by_group = {
            gid: TagGroup.objects.create(wecom_id=gid, name=name, order=order, created_by_app=mine)
            for gid, name, order, mine in groups
        }
        for tid, gid, name, order, mine in tags:
            Tag.objects.create(wecom_id=tid, group=by_group[gid], name=name, order=order, created_by_app=mine)
        made = []
        for external_userid, name, follows in customers:
            contact = Contact.objects.create(external_userid=external_userid, name=name)
            for userid, remark, description, tag_ids, channel, add_way, created, mobiles in follows:
                Follow.objects.create(
                    contact=contact,
                    staff=members[userid],
                    remark=remark,
                    description=description,
                    tag_ids=sorted(tag_ids),
                    state=channel,
                    add_way=add_way,
                    remark_mobiles=mobiles,
                    added_at=dt.datetime.fromtimestamp(created, tz=dt.UTC) if created else timezone.now(),
                )
            made.append(contact)
        contacts_refresh([c.pk for c in made])
    return made


def sandbox_groups(sandbox) -> dict[str, dict]:
    with sandbox.state.lock:
        return {
            g.group_id: {
                "name": g.group_name,
                "order": g.order,
                "deleted": g.deleted,
                "tags": {t: sandbox.state.tags[t].name for t in g.tag_ids},
            }
            for g in sandbox.state.tag_groups.values()
        }


def local_snapshot(tenant) -> list[tuple]:
    with tenant_context(tenant):
        return sorted(
            [("g", g.wecom_id, g.name, g.order, g.deleted) for g in TagGroup.objects.all()]
            + [("t", t.wecom_id, t.name, t.order, t.deleted) for t in Tag.objects.all()]
        )


@pytest.fixture
def mirrored(connected, sandbox):
    mirror(sandbox, connected)
    return connected


@pytest.fixture
def operator_client(tenant_a, client_for):
    from scrm.tenancy import services

    user, _ = services.user_get_or_create(username="olivia", password="Correct-Horse-42")
    services.membership_add(tenant=tenant_a, user=user, role=Role.OPERATOR)
    return client_for(user)


# --- listing -----------------------------------------------------------------------------------


def test_groups_list_in_wecom_order_with_live_tags(
    mirrored, alice_client, sandbox, django_assert_max_num_queries
):
    with tenant_context(mirrored):
        group = TagGroup.objects.order_by("id").first()
        gone = Tag.objects.create(group=group, wecom_id="etgone", name="old", deleted=True)
        TagGroup.objects.create(wecom_id="etgdead", name="dead group", deleted=True, order=10**6)
    with django_assert_max_num_queries(8):
        response = alice_client.get(GROUPS_URL)
    assert response.status_code == 200
    body = response.json()
    with sandbox.state.lock:
        live = sorted(
            (g for g in sandbox.state.tag_groups.values() if not g.deleted),
            key=lambda g: (-g.order, g.create_time),
        )
        expected = [g.group_id for g in live]
    assert [g["wecom_id"] for g in body] == expected
    shown = next(g for g in body if g["id"] == group.pk)
    assert gone.pk not in [t["id"] for t in shown["tags"]]
    orders = [t["order"] for t in shown["tags"]]
    assert orders == sorted(orders, reverse=True)
    assert all(t["synced_at"] for t in shown["tags"])

    everything = alice_client.get(GROUPS_URL, {"include_deleted": "1"}).json()
    assert "etgdead" in [g["wecom_id"] for g in everything]
    assert gone.pk in [t["id"] for g in everything for t in g["tags"]]


def test_query_count_does_not_grow_with_groups(
    mirrored, alice_client, build_a, django_assert_max_num_queries
):
    for n in range(20):
        group = build_a.tag_group(f"extra {n}")
        build_a.tag(f"t{n}", group)
    with django_assert_max_num_queries(8):
        assert alice_client.get(GROUPS_URL).status_code == 200
    with django_assert_max_num_queries(8):
        assert alice_client.get(TAGS_URL).status_code == 200


def test_tags_list_filters_by_group(mirrored, bob_client):
    with tenant_context(mirrored):
        group = TagGroup.objects.order_by("id").first()
        wanted = set(group.tags.filter(deleted=False).values_list("id", flat=True))
    response = bob_client.get(TAGS_URL, {"group": group.pk, "page_size": 200})
    assert response.status_code == 200
    assert {t["id"] for t in response.json()["results"]} == wanted
    assert_problem(bob_client.get(TAGS_URL, {"group": "x"}), 400, "validation_error")


# --- writes go to WeCom first -------------------------------------------------------------------


def test_create_group_in_wecom_then_locally_with_wecoms_ids(mirrored, alice_client, sandbox):
    response = alice_client.post(
        GROUPS_URL,
        {
            "name": "会员等级",
            "order": 7,
            "tags": [{"name": "金卡", "order": 2}, {"name": "银卡", "order": 1}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    in_wecom = sandbox_groups(sandbox)[body["wecom_id"]]
    assert in_wecom["name"] == "会员等级"
    assert in_wecom["order"] == 7
    assert set(in_wecom["tags"].values()) == {"金卡", "银卡"}
    assert {t["wecom_id"]: t["name"] for t in body["tags"]} == in_wecom["tags"]
    assert [t["name"] for t in body["tags"]] == ["金卡", "银卡"]  # larger order first
    with tenant_context(mirrored):
        group = TagGroup.objects.get(pk=body["id"])
        assert group.wecom_id == body["wecom_id"]
        assert set(group.tags.values_list("wecom_id", flat=True)) == set(in_wecom["tags"])


def test_operator_may_write_tags_sales_may_not(mirrored, operator_client, bob_client, sandbox):
    body = {"name": "新组", "tags": [{"name": "甲"}]}
    denied = bob_client.post(GROUPS_URL, body, format="json")
    assert_problem(denied, 403, "permission_denied")
    assert "新组" not in [g["name"] for g in sandbox_groups(sandbox).values()]
    assert operator_client.post(GROUPS_URL, body, format="json").status_code == 201

    with tenant_context(mirrored):
        tag = Tag.objects.filter(deleted=False).first()
        group = tag.group
    assert_problem(
        bob_client.patch(f"{TAGS_URL}{tag.pk}/", {"name": "x"}, format="json"), 403, "permission_denied"
    )
    assert_problem(bob_client.delete(f"{TAGS_URL}{tag.pk}/"), 403, "permission_denied")
    assert_problem(
        bob_client.post(TAGS_URL, {"group": group.pk, "name": "y"}, format="json"), 403, "permission_denied"
    )
    assert_problem(
        bob_client.patch(f"{GROUPS_URL}{group.pk}/", {"order": 3}, format="json"), 403, "permission_denied"
    )
    assert_problem(bob_client.delete(f"{GROUPS_URL}{group.pk}/"), 403, "permission_denied")
    assert bob_client.get(f"{GROUPS_URL}{group.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"name": "", "tags": [{"name": "a"}]}, "name"),
        ({"name": "x" * 31, "tags": [{"name": "a"}]}, "name"),
        ({"name": "ok", "tags": []}, "tags"),
        ({"name": "ok", "tags": [{"name": "a"}, {"name": "a"}]}, "tags.1.name"),
        ({"name": "ok", "tags": [{"name": "b" * 31}]}, "tags.0.name"),
    ],
)
def test_invalid_group_is_refused_before_calling_wecom(mirrored, alice_client, sandbox, body, path):
    before = local_snapshot(mirrored)
    response = alice_client.post(GROUPS_URL, body, format="json")
    problem = assert_problem(response, 400, "validation_error")
    assert path in [e["path"] for e in problem["errors"]]
    assert sandbox.records("externalcontact/add_corp_tag") == []
    assert local_snapshot(mirrored) == before


def test_existing_group_name_is_refused_locally(mirrored, alice_client, sandbox):
    with tenant_context(mirrored):
        name = TagGroup.objects.first().name
    problem = assert_problem(
        alice_client.post(GROUPS_URL, {"name": name, "tags": [{"name": "new"}]}, format="json"),
        400,
        "validation_error",
    )
    assert [e["path"] for e in problem["errors"]] == ["name"]
    assert sandbox.records("externalcontact/add_corp_tag") == []


def test_wecom_refusal_surfaces_with_errcode_and_hint_and_changes_nothing(mirrored, alice_client, sandbox):
    with tenant_context(mirrored):
        tag = Tag.objects.filter(deleted=False, created_by_app=True).first()
        sibling = Tag.objects.filter(group=tag.group, deleted=False).exclude(pk=tag.pk).first()
    # Someone renamed a sibling in the admin console; our copy is stale, WeCom refuses the name.
    with sandbox.state.lock:
        sandbox.state.tags[sibling.wecom_id].name = "抢先"
    before = local_snapshot(mirrored)
    response = alice_client.patch(f"{TAGS_URL}{tag.pk}/", {"name": "抢先"}, format="json")
    problem = assert_problem(response, 400, "wecom_error")
    assert problem["errors"][0]["code"] == "wecom_40071"
    assert "already exists" in problem["errors"][0]["message"]
    assert local_snapshot(mirrored) == before

    sandbox.set_faults({"apis": {"externalcontact/add_corp_tag": {"errors": {"48002": 1.0}}}})
    response = alice_client.post(GROUPS_URL, {"name": "被拒", "tags": [{"name": "x"}]}, format="json")
    problem = assert_problem(response, 502, "wecom_error")
    assert problem["errors"][0]["code"] == "wecom_48002"
    assert "可调用接口的应用" in problem["errors"][0]["message"]
    assert local_snapshot(mirrored) == before

    sandbox.set_faults({"apis": {"externalcontact/add_corp_tag": {"errors": {"45009": 1.0}}}})
    response = alice_client.post(GROUPS_URL, {"name": "限流", "tags": [{"name": "x"}]}, format="json")
    assert_problem(response, 429, "wecom_error")
    assert int(response["Retry-After"]) > 0
    assert local_snapshot(mirrored) == before


def test_deleted_in_wecom_answers_40068_and_keeps_the_local_row(mirrored, alice_client, sandbox):
    with tenant_context(mirrored):
        tag = Tag.objects.filter(deleted=False, created_by_app=True).first()
    with sandbox.state.lock:
        sandbox.state.tags[tag.wecom_id].deleted = True
    problem = assert_problem(alice_client.delete(f"{TAGS_URL}{tag.pk}/"), 400, "wecom_error")
    assert problem["errors"][0]["code"] == "wecom_40068"
    with tenant_context(mirrored):
        assert not Tag.objects.get(pk=tag.pk).deleted


def test_rename_and_reorder_group_and_tag(mirrored, alice_client, sandbox):
    with tenant_context(mirrored):
        group = TagGroup.objects.filter(created_by_app=True).order_by("id").first()
        tag = group.tags.filter(deleted=False).first()
    response = alice_client.patch(f"{GROUPS_URL}{group.pk}/", {"name": "改名组", "order": 99}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "改名组"
    assert sandbox_groups(sandbox)[group.wecom_id]["name"] == "改名组"
    assert sandbox_groups(sandbox)[group.wecom_id]["order"] == 99
    assert alice_client.get(GROUPS_URL).json()[0]["id"] == group.pk  # the largest order comes first

    response = alice_client.patch(f"{TAGS_URL}{tag.pk}/", {"name": "改名标签"}, format="json")
    assert response.status_code == 200
    assert sandbox_groups(sandbox)[group.wecom_id]["tags"][tag.wecom_id] == "改名标签"
    with tenant_context(mirrored):
        assert Tag.objects.get(pk=tag.pk).name == "改名标签"


def test_add_tag_to_group(mirrored, alice_client, sandbox):
    with tenant_context(mirrored):
        group = TagGroup.objects.order_by("id").first()
        existing = group.tags.filter(deleted=False).first().name
    dup = alice_client.post(TAGS_URL, {"group": group.pk, "name": existing}, format="json")
    assert [e["path"] for e in assert_problem(dup, 400, "validation_error")["errors"]] == ["name"]
    assert_problem(
        alice_client.post(TAGS_URL, {"group": 999999, "name": "x"}, format="json"), 400, "validation_error"
    )
    response = alice_client.post(TAGS_URL, {"group": group.pk, "name": "新标签", "order": 4}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert sandbox_groups(sandbox)[group.wecom_id]["tags"][body["wecom_id"]] == "新标签"
    assert body["group"] == group.pk


def test_delete_group_marks_tags_deleted_and_refreshes_contacts(mirrored, alice_client, sandbox):
    with tenant_context(mirrored):
        mine = set(Tag.objects.filter(group__created_by_app=True).values_list("wecom_id", flat=True))
        follow = next(f for f in Follow.objects.select_related("contact") if mine.intersection(f.tag_ids))
        tag = Tag.objects.get(wecom_id=sorted(mine.intersection(follow.tag_ids))[0])
        group = tag.group
        assert f"t:{tag.pk}" in follow.contact.facets
    assert alice_client.delete(f"{GROUPS_URL}{group.pk}/").status_code == 204
    assert sandbox_groups(sandbox)[group.wecom_id]["deleted"]
    with tenant_context(mirrored):
        group.refresh_from_db()
        assert group.deleted
        assert not group.tags.filter(deleted=False).exists()
        follow.refresh_from_db()
        assert tag.wecom_id not in follow.tag_ids
        assert f"t:{tag.pk}" not in Contact.objects.get(pk=follow.contact_id).facets
    assert group.pk not in [g["id"] for g in alice_client.get(GROUPS_URL).json()]
    assert_problem(
        alice_client.patch(f"{GROUPS_URL}{group.pk}/", {"order": 1}, format="json"), 404, "not_found"
    )


def test_deleting_the_last_tag_deletes_the_group(mirrored, alice_client, sandbox):
    created = alice_client.post(
        GROUPS_URL, {"name": "单标签", "tags": [{"name": "唯一"}]}, format="json"
    ).json()
    tag_id = created["tags"][0]["id"]
    assert alice_client.delete(f"{TAGS_URL}{tag_id}/").status_code == 204
    assert sandbox_groups(sandbox)[created["wecom_id"]]["deleted"]
    with tenant_context(mirrored):
        assert TagGroup.objects.get(pk=created["id"]).deleted


# --- tenancy -----------------------------------------------------------------------------------


def test_other_tenant_sees_none_and_gets_404(mirrored, charlie_client, sandbox):
    with tenant_context(mirrored):
        group = TagGroup.objects.first()
        tag = group.tags.first()
    assert charlie_client.get(GROUPS_URL).json() == []
    assert charlie_client.get(TAGS_URL).json()["results"] == []
    for url in (f"{GROUPS_URL}{group.pk}/", f"{TAGS_URL}{tag.pk}/"):
        assert_problem(charlie_client.get(url), 404, "not_found")
        assert_problem(charlie_client.patch(url, {"name": "mine"}, format="json"), 404, "not_found")
        assert_problem(charlie_client.delete(url), 404, "not_found")
    # Another tenant's group id is unknown when adding a tag.
    response = charlie_client.post(TAGS_URL, {"group": group.pk, "name": "x"}, format="json")
    assert [e["path"] for e in assert_problem(response, 400, "validation_error")["errors"]] == ["group"]
    assert sandbox.records("externalcontact/edit_corp_tag") == []
    assert sandbox.records("externalcontact/del_corp_tag") == []


# --- only the tags Siyu created can be changed (wecom-api.md §3) -----------------------------------


def test_listings_say_which_tags_siyu_may_change(mirrored, alice_client):
    groups = {g["name"]: g for g in alice_client.get(GROUPS_URL).json()}
    assert groups["客户等级"]["editable"] is False  # made by an admin in the WeCom console
    assert all(t["editable"] is False for t in groups["客户等级"]["tags"])
    assert groups["生命周期"]["editable"] is True  # made through the app
    # The app's own tag inside an admin's group: the tag is editable, its group is not.
    source = groups["客户来源"]
    assert source["editable"] is False
    assert {t["name"] for t in source["tags"] if t["editable"]} == {"抖音"}
    created = alice_client.post(GROUPS_URL, {"name": "会员等级", "tags": [{"name": "金卡"}]}, format="json")
    assert created.json()["editable"] is True
    assert created.json()["tags"][0]["editable"] is True
    tag = alice_client.get(f"{TAGS_URL}{created.json()['tags'][0]['id']}/").json()
    assert tag["editable"] is True


@pytest.mark.parametrize("auth", ["session", "api_key"])
def test_changing_a_tag_siyu_did_not_create_is_refused_before_wecom(
    mirrored, alice_client, key_client_for, sandbox, auth
):
    client = alice_client if auth == "session" else key_client_for(mirrored, Role.OPERATOR)
    with tenant_context(mirrored):
        group = TagGroup.objects.get(name="客户等级")
        tag = group.tags.filter(deleted=False).first()
    before = local_snapshot(mirrored)
    for response in (
        client.patch(f"{TAGS_URL}{tag.pk}/", {"name": "改名"}, format="json"),
        client.patch(f"{TAGS_URL}{tag.pk}/", {"order": 9}, format="json"),
        client.delete(f"{TAGS_URL}{tag.pk}/"),
        client.patch(f"{GROUPS_URL}{group.pk}/", {"name": "改名"}, format="json"),
        client.delete(f"{GROUPS_URL}{group.pk}/"),
    ):
        problem = assert_problem(response, 409, "tag_not_editable")
        assert "not created through Siyu" in problem["detail"]
        assert "WeCom admin console" in problem["detail"]
    assert sandbox.records("externalcontact/edit_corp_tag") == []
    assert sandbox.records("externalcontact/del_corp_tag") == []
    assert local_snapshot(mirrored) == before
    # Putting the tag on a customer stays allowed.
    with tenant_context(mirrored):
        contact = Contact.objects.filter(follows__isnull=False).first()
    response = client.post(f"/api/v1/contacts/{contact.pk}/tags/", {"add": [tag.pk]}, format="json")
    assert response.status_code == 200, response.content
    assert any(tag.wecom_id in r["body"]["add_tag"] for r in sandbox.records("externalcontact/mark_tag"))


def test_a_group_holding_a_tag_made_elsewhere_cannot_be_deleted(mirrored, alice_client, sandbox):
    created = alice_client.post(
        GROUPS_URL, {"name": "活动", "tags": [{"name": "双十一"}]}, format="json"
    ).json()
    # An admin adds a tag to Siyu's group in the console; the callback's re-read brings it here.
    answer = sandbox_control(
        sandbox,
        "simulate/tag-change",
        {"change_type": "create", "tag_type": "tag", "group_id": created["wecom_id"], "name": "618"},
    )
    with tenant_context(mirrored):
        tag_change_apply(api=api_for(mirrored), change_type="create", tag_type="tag", wecom_id=answer["id"])
    shown = alice_client.get(f"{GROUPS_URL}{created['id']}/").json()
    assert shown["editable"] is True
    assert {t["name"]: t["editable"] for t in shown["tags"]} == {"双十一": True, "618": False}
    problem = assert_problem(alice_client.delete(f"{GROUPS_URL}{created['id']}/"), 409, "tag_not_editable")
    assert "'618'" in problem["detail"]
    assert sandbox.records("externalcontact/del_corp_tag") == []
    # The group itself can still be renamed, and Siyu's own tag deleted.
    assert (
        alice_client.patch(f"{GROUPS_URL}{created['id']}/", {"name": "大促"}, format="json").status_code
        == 200
    )
    assert alice_client.delete(f"{TAGS_URL}{created['tags'][0]['id']}/").status_code == 204


def test_a_sync_keeps_who_made_each_tag(connected, sandbox, alice_client):
    with tenant_context(connected):
        tags_sync(api_for(connected))
    made = alice_client.post(
        GROUPS_URL, {"name": "会员等级", "tags": [{"name": "金卡"}]}, format="json"
    ).json()
    with tenant_context(connected):
        tags_sync(api_for(connected))  # again: Siyu's group is still Siyu's
        assert TagGroup.objects.get(pk=made["id"]).created_by_app is True
        assert Tag.objects.get(pk=made["tags"][0]["id"]).created_by_app is True
        # Found in WeCom (an admin's, or the app's from before Siyu knew it): not Siyu's to change.
        others = TagGroup.objects.exclude(pk=made["id"])
        assert others.exists()
        assert not others.exclude(created_by_app=False).exists()
        assert not Tag.objects.exclude(group_id=made["id"]).exclude(created_by_app=False).exists()


def test_a_tag_of_unknown_origin_is_tried_and_remembered_when_wecom_refuses(mirrored, alice_client, sandbox):
    """Tags from before Siyu kept track (NULL) are editable until WeCom says they are not the app's."""
    with tenant_context(mirrored):
        mine = Tag.objects.filter(created_by_app=True).first()
        theirs = Tag.objects.filter(created_by_app=False).first()
        Tag.objects.filter(pk__in=[mine.pk, theirs.pk]).update(created_by_app=None)
    assert alice_client.get(f"{TAGS_URL}{theirs.pk}/").json()["editable"] is True
    response = alice_client.patch(f"{TAGS_URL}{mine.pk}/", {"name": "改名了"}, format="json")
    assert response.status_code == 200, response.content
    problem = assert_problem(
        alice_client.patch(f"{TAGS_URL}{theirs.pk}/", {"name": "改名了"}, format="json"),
        409,
        "tag_not_editable",
    )
    assert "not created through Siyu" in problem["detail"]
    # WeCom was asked both times (it refused the second: the sandbox records only what it accepted).
    assert sandbox.calls["externalcontact/edit_corp_tag"] == 2
    assert [r["body"]["id"] for r in sandbox.records("externalcontact/edit_corp_tag")] == [mine.wecom_id]
    assert alice_client.get(f"{TAGS_URL}{theirs.pk}/").json()["editable"] is False
    with tenant_context(mirrored):
        assert Tag.objects.get(pk=theirs.pk).name == theirs.name
