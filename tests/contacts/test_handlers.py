"""Incremental sync: each callback handler after the sandbox acted the change out (its control API),
called as the inbox calls it. Every handler re-reads WeCom, and a duplicate delivery changes nothing."""

from __future__ import annotations

import time

import pytest
from django.db import transaction

from contacts import sync
from contacts.facets import contacts_refresh
from contacts.models import (
    Contact,
    ContactEvent,
    ContactStatus,
    EventType,
    Follow,
    FollowStatus,
    Notification,
    Tag,
    TagGroup,
)
from scrm.tenancy.context import tenant_context
from scrm.wecom.handlers import handler_for
from scrm.wecom.models import CallbackEvent
from tests.contacts.builders import run_sync
from tests.helpers import sandbox_control


def handle(tenant, **fields) -> None:
    """Run the registered handler on an event, inside a transaction, as the callback inbox does."""
    fields.setdefault("CreateTime", str(int(time.time())))
    change_type = fields.get("ChangeType", "")
    handler = handler_for(fields["Event"], change_type)
    assert handler is not None, fields
    event = CallbackEvent(tenant=tenant, event=fields["Event"], change_type=change_type, payload=fields)
    with tenant_context(tenant), transaction.atomic():
        handler(tenant=tenant, event=event)


def contact_event(tenant, change_type: str, userid: str, external_userid: str, **extra) -> None:
    handle(
        tenant,
        Event="change_external_contact",
        ChangeType=change_type,
        UserID=userid,
        ExternalUserID=external_userid,
        **extra,
    )


@pytest.fixture
def synced(connected, sandbox):
    run_sync(connected)
    return connected


def a_follow(sandbox, followers: int = 1) -> tuple[str, str]:
    contact = next(c for c in sandbox.state.contacts.values() if len(c.follows) == followers)
    return next(iter(contact.follows)), contact.external_userid


def snapshot(tenant):
    with tenant_context(tenant):
        # What the handlers derived (facets, status, search text) is what contacts.facets derives.
        assert contacts_refresh(Contact.objects.values_list("id", flat=True)) == 0
        return (
            sorted(Follow.objects.values_list("id", "status", "remark", "tag_ids", "updated_at")),
            ContactEvent.objects.count(),
            Contact.objects.count(),
        )


def test_a_customer_adding_a_member_through_a_channel_code(synced, sandbox):
    userid, _ = a_follow(sandbox)
    added = sandbox_control(
        sandbox, "simulate/customer-add", {"userid": userid, "state": "ch_live", "name": "新客户"}
    )
    ext = added["external_userid"]
    contact_event(
        synced, "add_external_contact", userid, ext, State="ch_live", WelcomeCode=added["welcome_code"]
    )
    with tenant_context(synced):
        follow = Follow.objects.select_related("contact", "staff").get(contact__external_userid=ext)
        [event] = ContactEvent.objects.filter(contact=follow.contact)
    assert follow.contact.name == "新客户"
    assert (follow.staff.userid, follow.state, follow.add_way, follow.status) == (
        userid,
        "ch_live",
        1,
        "active",
    )
    assert (event.type, event.channel, event.staff_id) == (EventType.ADDED, "ch_live", follow.staff_id)
    assert "c:ch_live" in follow.contact.facets

    before = snapshot(synced)
    contact_event(
        synced, "add_external_contact", userid, ext, State="ch_live", WelcomeCode=added["welcome_code"]
    )
    assert snapshot(synced) == before


def test_an_existing_customer_adding_a_second_member(synced, sandbox):
    userid, ext = a_follow(sandbox)
    other = next(u for u, s in sandbox.state.staff.items() if u != userid and s.has_contact_permission)
    sandbox_control(sandbox, "simulate/customer-add", {"userid": other, "external_userid": ext})
    contact_event(synced, "add_external_contact", other, ext, State="")
    with tenant_context(synced):
        assert sorted(
            Follow.objects.filter(contact__external_userid=ext).values_list("staff__userid", flat=True)
        ) == sorted([userid, other])
        assert ContactEvent.objects.filter(contact__external_userid=ext, type=EventType.ADDED).count() == 2


def test_editing_a_customer_in_the_wecom_app(synced, sandbox):
    userid, ext = a_follow(sandbox)
    tag = next(t for t in sandbox.state.tags if t not in sandbox.state.contacts[ext].follows[userid].tag_ids)
    sandbox_control(
        sandbox,
        "simulate/contact-edit",
        {
            "userid": userid,
            "external_userid": ext,
            "remark": "王总",
            "remark_mobiles": ["13900000000"],
            "add_tag": [tag],
        },
    )
    contact_event(synced, "edit_external_contact", userid, ext)
    with tenant_context(synced):
        follow = Follow.objects.select_related("contact").get(contact__external_userid=ext)
        tag_pk = Tag.objects.get(wecom_id=tag).pk
    assert follow.remark == "王总"
    assert follow.remark_mobiles == ["13900000000"]
    assert tag in follow.tag_ids
    assert f"t:{tag_pk}" in follow.contact.facets
    assert "13900000000" in follow.contact.search_text
    # Tagging done in the WeCom app is on the timeline like Siyu's own (SOPs trigger on it).
    with tenant_context(synced):
        [tagged] = ContactEvent.objects.filter(contact=follow.contact, type=EventType.TAGGED)
    assert tagged.payload["tags"] == [{"id": tag_pk, "name": Tag.unscoped.get(pk=tag_pk).name}]
    assert (tagged.payload["staff"], tagged.payload["source"]) == (userid, "wecom")

    before = snapshot(synced)
    contact_event(synced, "edit_external_contact", userid, ext)
    assert snapshot(synced) == before


def test_untagging_in_the_wecom_app_is_an_untagged_event(synced, sandbox):
    userid, ext = next(
        (u, c.external_userid)
        for c in sandbox.state.contacts.values()
        for u, f in c.follows.items()
        if len(c.follows) == 1 and f.tag_ids
    )
    removed = sandbox.state.contacts[ext].follows[userid].tag_ids[0]
    sandbox_control(
        sandbox, "simulate/contact-edit", {"userid": userid, "external_userid": ext, "remove_tag": [removed]}
    )
    contact_event(synced, "edit_external_contact", userid, ext)
    with tenant_context(synced):
        events = list(
            ContactEvent.objects.filter(contact__external_userid=ext).values_list("type", "payload")
        )
    untagged = [payload for type_, payload in events if type_ == EventType.UNTAGGED]
    assert [t["id"] for t in untagged[0]["tags"]] == [Tag.unscoped.get(wecom_id=removed).pk]
    assert not [t for t, _ in events if t == EventType.TAGGED]


def test_a_member_deleting_a_customer(synced, sandbox):
    userid, ext = a_follow(sandbox)
    sandbox_control(sandbox, "simulate/staff-delete", {"userid": userid, "external_userid": ext})
    contact_event(synced, "del_external_contact", userid, ext)
    with tenant_context(synced):
        follow = Follow.objects.select_related("contact").get(contact__external_userid=ext)
        [event] = ContactEvent.objects.filter(contact=follow.contact).exclude(type=EventType.ADDED)
    assert follow.status == FollowStatus.DELETED_BY_STAFF
    assert follow.ended_at is not None
    assert follow.contact.status == ContactStatus.LOST
    assert event.type == EventType.DELETED_BY_STAFF

    before = snapshot(synced)
    contact_event(synced, "del_external_contact", userid, ext)
    assert snapshot(synced) == before


def test_a_deletion_by_transfer_is_a_transfer(synced, sandbox):
    userid, ext = a_follow(sandbox)
    sandbox_control(
        sandbox,
        "simulate/staff-delete",
        {"userid": userid, "external_userid": ext, "source": "DELETE_BY_TRANSFER"},
    )
    contact_event(synced, "del_external_contact", userid, ext, Source="DELETE_BY_TRANSFER")
    with tenant_context(synced):
        follow = Follow.objects.get(contact__external_userid=ext)
        types = list(ContactEvent.objects.filter(contact_id=follow.contact_id).values_list("type", flat=True))
    assert follow.status == FollowStatus.TRANSFERRED
    assert EventType.TRANSFERRED in types


def test_a_customer_deleting_a_member_is_churn(synced, sandbox, alice):
    userid, ext = a_follow(sandbox)
    state = sandbox.state.contacts[ext].follows[userid].state
    sandbox_control(sandbox, "simulate/customer-delete", {"userid": userid, "external_userid": ext})
    contact_event(synced, "del_follow_user", userid, ext)
    with tenant_context(synced):
        follow = Follow.objects.select_related("contact").get(contact__external_userid=ext)
        [event] = ContactEvent.objects.filter(contact=follow.contact, type=EventType.LOST)
        [note] = Notification.objects.filter(recipient=alice)
    assert follow.status == FollowStatus.DELETED_BY_CUSTOMER
    assert follow.ended_at is not None
    assert follow.contact.status == ContactStatus.LOST
    assert event.channel == state
    assert event.payload["days"] == (follow.ended_at - follow.added_at).days
    assert note.kind == "churn"
    assert note.contact_id == follow.contact_id

    before = snapshot(synced)
    contact_event(synced, "del_follow_user", userid, ext)
    assert snapshot(synced) == before
    with tenant_context(synced):
        assert Notification.objects.count() == 1


def test_a_late_deletion_event_does_not_end_a_follow_wecom_still_has(synced, sandbox):
    """The customer deleted the member and added them again; the deletion event arrives last."""
    userid, ext = a_follow(sandbox)
    contact_event(synced, "del_follow_user", userid, ext)
    with tenant_context(synced):
        assert Follow.objects.get(contact__external_userid=ext).status == FollowStatus.ACTIVE
        assert not ContactEvent.objects.filter(type=EventType.LOST).exists()


def test_a_failed_transfer_is_recorded_once(synced, sandbox):
    userid, ext = a_follow(sandbox)
    for _ in range(2):  # WeCom delivers it twice
        contact_event(
            synced, "transfer_fail", userid, ext, FailReason="customer_refused", CreateTime="1790000000"
        )
    with tenant_context(synced):
        [event] = ContactEvent.objects.filter(type=EventType.TRANSFER_FAILED)
    assert event.payload == {"reason": "customer_refused"}
    assert event.staff.userid == userid


def tag_event(tenant, change_type: str, tag_type: str, wecom_id: str) -> None:
    handle(tenant, Event="change_external_tag", ChangeType=change_type, Id=wecom_id, TagType=tag_type)


def test_tags_created_renamed_and_deleted_in_the_admin_console(synced, sandbox):
    group_id = next(g for g, group in sandbox.state.tag_groups.items() if not group.deleted)
    created = sandbox_control(
        sandbox,
        "simulate/tag-change",
        {"change_type": "create", "tag_type": "tag", "group_id": group_id, "name": "新标签"},
    )
    tag_event(synced, "create", "tag", created["id"])
    with tenant_context(synced):
        tag = Tag.objects.select_related("group").get(wecom_id=created["id"])
    assert (tag.name, tag.group.wecom_id, tag.deleted) == ("新标签", group_id, False)

    sandbox_control(
        sandbox,
        "simulate/tag-change",
        {"change_type": "update", "tag_type": "tag", "id": tag.wecom_id, "name": "改名"},
    )
    tag_event(synced, "update", "tag", tag.wecom_id)
    before = snapshot(synced)
    tag_event(synced, "update", "tag", tag.wecom_id)
    assert snapshot(synced) == before
    with tenant_context(synced):
        tag.refresh_from_db()
    assert tag.name == "改名"

    # Deleting a tag customers carry: flagged deleted, gone from their follows and facets.
    userid, ext = a_follow(sandbox)
    used = sandbox.state.contacts[ext].follows[userid].tag_ids[0]
    sandbox_control(sandbox, "simulate/tag-change", {"change_type": "delete", "tag_type": "tag", "id": used})
    tag_event(synced, "delete", "tag", used)
    with tenant_context(synced):
        gone = Tag.objects.get(wecom_id=used)
        follow = Follow.objects.select_related("contact").get(contact__external_userid=ext)
        carrying = Contact.objects.filter(facets__has_key=f"t:{gone.pk}").count()
    assert gone.deleted is True
    assert used not in follow.tag_ids
    assert carrying == 0


def test_a_deleted_group_and_a_shuffle(synced, sandbox):
    group = next(g for g in sandbox.state.tag_groups.values() if not g.deleted)
    with tenant_context(synced):
        before = dict(Tag.objects.filter(group__wecom_id=group.group_id).values_list("wecom_id", "order"))
    sandbox_control(sandbox, "simulate/tag-change", {"change_type": "shuffle", "id": group.group_id})
    tag_event(synced, "shuffle", "tag_group", group.group_id)
    with tenant_context(synced):
        orders = dict(Tag.objects.filter(group__wecom_id=group.group_id).values_list("wecom_id", "order"))
    assert orders == {t: sandbox.state.tags[t].order for t in group.tag_ids} != before
    tags_in_group = len(group.tag_ids)

    sandbox_control(
        sandbox,
        "simulate/tag-change",
        {"change_type": "delete", "tag_type": "tag_group", "id": group.group_id},
    )
    tag_event(synced, "delete", "tag_group", group.group_id)
    with tenant_context(synced):
        row = TagGroup.objects.get(wecom_id=group.group_id)
        assert row.deleted is True
        assert not Tag.objects.filter(group=row, deleted=False).exists()
        assert Tag.objects.filter(group=row).count() == tags_in_group  # flagged, never deleted


def test_a_tag_known_only_after_customers_carry_it_reaches_their_facets(synced, sandbox):
    userid, ext = a_follow(sandbox)
    group_id = next(g for g, group in sandbox.state.tag_groups.items() if not group.deleted)
    created = sandbox_control(
        sandbox,
        "simulate/tag-change",
        {"change_type": "create", "tag_type": "tag", "group_id": group_id, "name": "晚到的标签"},
    )
    sandbox_control(
        sandbox,
        "simulate/contact-edit",
        {"userid": userid, "external_userid": ext, "add_tag": [created["id"]]},
    )
    # The edit's callback is handled before the tag's create callback: out of order, as WeCom may be.
    contact_event(synced, "edit_external_contact", userid, ext)
    tag_event(synced, "create", "tag", created["id"])
    with tenant_context(synced):
        tag = Tag.objects.get(wecom_id=created["id"])
        contact = Contact.objects.get(external_userid=ext)
        assert f"t:{tag.pk}" in contact.facets  # so the tags filter finds the customer
    snapshot(synced)


def test_a_late_del_follow_user_after_the_nightly_sync_closed_the_follow_is_still_churn(
    synced, sandbox, alice
):
    userid, ext = a_follow(sandbox)
    with sandbox.state.lock:  # the customer deleted the member; the callback is late
        del sandbox.state.contacts[ext].follows[userid]
    assert run_sync(synced).closed == 1
    contact_event(synced, "del_follow_user", userid, ext)
    with tenant_context(synced):
        follow = Follow.objects.get(contact__external_userid=ext, staff__userid=userid)
        assert follow.status == FollowStatus.DELETED_BY_CUSTOMER
        assert ContactEvent.objects.filter(contact=follow.contact, type=EventType.LOST).count() == 1
        assert Notification.objects.filter(recipient=alice, contact=follow.contact).exists()
    # A duplicate of the event changes nothing more.
    before = snapshot(synced)
    contact_event(synced, "del_follow_user", userid, ext)
    assert snapshot(synced) == before


@pytest.mark.django_db(transaction=True)
def test_an_add_and_an_edit_handled_at_once_record_one_added_event(synced, sandbox, monkeypatch):
    """The inbox drains events concurrently: two writers of one new customer must not both add it."""
    import contextlib
    import threading

    from django.db import connection

    from scrm.wecom.api import api_for

    userid = next(u for u, s in sandbox.state.staff.items() if s.has_contact_permission and s.status == 1)
    ext = sandbox_control(sandbox, "simulate/customer-add", {"userid": userid, "name": "并发客户"})[
        "external_userid"
    ]
    barrier = threading.Barrier(2, timeout=3)
    real = sync.require_current_tenant

    def both_at_once(*args, **kwargs):
        # Line the two writers up before each step that needs the tenant (their reads and writes),
        # as far as they get there together; one blocked behind the other just goes on after a while.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(sync, "require_current_tenant", both_at_once)
    errors = []

    def writer():
        try:
            with tenant_context(synced), transaction.atomic():
                sync.contact_sync_one(api=api_for(synced), external_userid=ext)
        except Exception as exc:  # the assertion below reports it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with tenant_context(synced):
        assert ContactEvent.objects.filter(contact__external_userid=ext, type=EventType.ADDED).count() == 1
        assert Follow.objects.filter(contact__external_userid=ext).count() == 1
