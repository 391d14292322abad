"""Churn alerts: who is told when a customer deletes a staff member, the optional WeCom app message,
the notification bell's API and the contacts settings that switch the message on."""

from __future__ import annotations

import datetime as dt

from contacts.models import Follow, FollowStatus, Notification
from contacts.services.churn import churn_notify
from contacts.services.settings import contact_settings_get, contact_settings_update
from scrm.tenancy import services as tenancy_services
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Role
from tests.helpers import PASSWORD, assert_problem


def lose(tenant, contact, staff) -> Follow:
    with tenant_context(tenant):
        follow = Follow.objects.select_related("contact", "staff", "tenant").get(contact=contact, staff=staff)
        follow.status = FollowStatus.DELETED_BY_CUSTOMER
        follow.ended_at = follow.added_at + dt.timedelta(days=40)
        follow.save()
        return follow


def member(tenant, username, role, **kwargs):
    user, _ = tenancy_services.user_get_or_create(username=username, password=PASSWORD)
    tenancy_services.membership_add(tenant=tenant, user=user, role=role, **kwargs)
    return user


def test_admins_and_the_staff_members_managers_are_notified_not_other_sales(
    tenant_a, alice, bob, build_a, django_capture_on_commit_callbacks
):
    b = build_a
    b.staff("lead3", departments=(3,), leader_department_ids=[3])
    b.staff("lead4", departments=(4,), leader_department_ids=[4])
    seller = b.staff("seller", name="小王", departments=(3,))
    manager = member(tenant_a, "manager", Role.OPERATOR, wecom_userid="lead3")
    member(tenant_a, "other-manager", Role.OPERATOR, wecom_userid="lead4")
    contact = b.contact("王芳", staff=seller, state="ch_store_qr")
    follow = lose(tenant_a, contact, seller)

    with tenant_context(tenant_a), django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert churn_notify(follow=follow) == 2
    assert callbacks == []  # the app message is off by default
    with tenant_context(tenant_a):
        notes = list(Notification.objects.order_by("recipient__username"))
    assert [n.recipient for n in notes] == [alice, manager]
    assert notes[0].kind == "churn"
    assert notes[0].title == "王芳 deleted 小王"
    assert notes[0].contact == contact
    assert notes[0].data["days_followed"] == 40
    assert notes[0].data["channel"] == "ch_store_qr"


def test_the_app_message_reaches_the_staff_member_through_wecom_when_switched_on(
    connected, alice, alice_client, build_a, sandbox, django_capture_on_commit_callbacks
):
    userid = next(iter(sandbox.state.staff))
    seller = build_a.staff(userid)
    connected.agent_id = sandbox.agent_id
    connected.save()
    follow = lose(connected, build_a.contact("李雷", staff=seller, remark="李总"), seller)
    response = alice_client.patch("/api/v1/contact-settings/", {"churn_app_message": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["churn_app_message"] is True

    with tenant_context(connected), django_capture_on_commit_callbacks(execute=True):
        churn_notify(follow=follow)
    [sent] = sandbox.records("message/send")
    assert sent["body"]["touser"] == userid
    assert "李总" in sent["body"]["text"]["content"]


def test_a_failing_app_message_does_not_lose_the_in_app_alert(
    connected, alice, build_a, sandbox, django_capture_on_commit_callbacks
):
    seller = build_a.staff(next(iter(sandbox.state.staff)))
    connected.agent_id = "999"  # not the sandbox app's: WeCom answers 40056
    connected.save()
    follow = lose(connected, build_a.contact("韩梅梅", staff=seller), seller)
    with tenant_context(connected):
        contact_settings_update(
            settings=contact_settings_get(tenant=connected), data={"churn_app_message": True}
        )
        with django_capture_on_commit_callbacks(execute=True):
            assert churn_notify(follow=follow) == 1
        assert Notification.objects.count() == 1
    assert sandbox.records("message/send") == []


def notify(tenant, user, title="t"):
    with tenant_context(tenant):
        return Notification.objects.create(recipient=user, kind="churn", title=title)


def test_the_bell_lists_only_my_notifications_and_marks_them_read(
    tenant_a, tenant_b, alice, bob, charlie, alice_client, bob_client, charlie_client
):
    mine = [notify(tenant_a, alice, "first"), notify(tenant_a, alice, "second")]
    notify(tenant_a, bob, "bob's")
    theirs = notify(tenant_b, charlie, "charlie's")

    listed = alice_client.get("/api/v1/notifications/").json()["results"]
    assert [n["title"] for n in listed] == ["second", "first"]
    assert alice_client.get("/api/v1/notifications/unread-count/").json() == {"count": 2}
    response = alice_client.post(f"/api/v1/notifications/{mine[0].pk}/read/")
    assert response.status_code == 200
    assert response.json()["read_at"] is not None
    unread = alice_client.get("/api/v1/notifications/?unread=true").json()["results"]
    assert [n["title"] for n in unread] == ["second"]
    assert alice_client.post("/api/v1/notifications/read-all/").json() == {"count": 1}
    assert alice_client.get("/api/v1/notifications/unread-count/").json() == {"count": 0}

    assert [n["title"] for n in bob_client.get("/api/v1/notifications/").json()["results"]] == ["bob's"]
    assert_problem(bob_client.post(f"/api/v1/notifications/{mine[1].pk}/read/"), 404, "not_found")
    assert_problem(charlie_client.post(f"/api/v1/notifications/{mine[1].pk}/read/"), 404, "not_found")
    assert_problem(alice_client.post(f"/api/v1/notifications/{theirs.pk}/read/"), 404, "not_found")
    assert charlie_client.post("/api/v1/notifications/read-all/").json() == {"count": 1}
    with tenant_context(tenant_a):
        assert Notification.objects.filter(recipient=alice, read_at__isnull=True).count() == 0
        assert Notification.objects.filter(recipient=bob, read_at__isnull=True).count() == 1


def test_api_keys_have_no_bell(tenant_a, key_client_for):
    response = key_client_for(tenant_a).get("/api/v1/notifications/")
    assert_problem(response, 403, "permission_denied")


def test_contacts_settings_are_per_tenant_and_admin_only(alice_client, bob_client, charlie_client):
    assert alice_client.get("/api/v1/contact-settings/").json()["nightly_sync"] is True
    assert (
        alice_client.patch("/api/v1/contact-settings/", {"nightly_sync": False}, format="json").status_code
        == 200
    )
    assert alice_client.get("/api/v1/contact-settings/").json()["nightly_sync"] is False
    assert charlie_client.get("/api/v1/contact-settings/").json()["nightly_sync"] is True
    assert_problem(bob_client.get("/api/v1/contact-settings/"), 403, "permission_denied")
    assert_problem(
        bob_client.patch("/api/v1/contact-settings/", {"nightly_sync": True}, format="json"),
        403,
        "permission_denied",
    )
    bad = alice_client.patch("/api/v1/contact-settings/", {"nightly_sync": "maybe"}, format="json")
    assert assert_problem(bad, 400, "validation_error")["errors"][0]["path"] == "nightly_sync"
