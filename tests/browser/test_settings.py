"""Settings (admins): the WeCom connection and its test, callback secrets, API keys, members, sync
history and the callback inbox, driven through the dashboard against tenant A on the sandbox corp."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
import xmltodict
from playwright.sync_api import Page, expect
from wechatpy.enterprise.crypto import WeChatCrypto

from contacts.models import SyncRun
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import ApiKey, Membership, Role, Tenant
from scrm.wecom import handlers
from scrm.wecom.models import CallbackEvent, EventStatus
from tests.browser.conftest import shoot
from tests.helpers import PASSWORD, sandbox_control

CHECKS = ["token", "staff", "tags", "contact_ways", "groups"]


def open_settings(page: Page, dashboard, login, tab: str) -> None:
    login(page, dashboard.admin)
    page.locator(".ant-menu").get_by_text("Settings", exact=True).click()
    expect(page).to_have_url(re.compile(r"/settings/wecom$"))  # /settings opens the first tab
    expect(page.get_by_role("heading", level=3, name="Settings")).to_be_visible()
    if tab != "WeCom connection":
        page.get_by_role("tab", name=tab).click()
    expect(page.get_by_role("tab", name=tab, selected=True)).to_be_visible()


def api_status(url: str, key: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            json.loads(response.read())
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_connection_test_passes_then_names_a_wrong_secret(dashboard, page, login):
    open_settings(page, dashboard, login, "WeCom connection")
    expect(page.get_by_label("Corp ID")).to_have_value(dashboard.sandbox.corp_id)
    expect(page.get_by_role("textbox", name="Callback URL")).to_have_value(
        re.compile(rf"/wecom/callback/{dashboard.tenant.slug}/$")
    )

    page.get_by_role("button", name="Test connection").click()
    result = page.get_by_test_id("connection-result")
    expect(result.get_by_role("status")).to_have_text("Every permission works")
    for check in CHECKS:
        expect(page.get_by_test_id(f"check-{check}")).to_contain_text("OK")
    shoot(page, "settings-wecom")

    # The secret is write-only: the form shows it is set, and a new one replaces it.
    secret = page.get_by_label("Corp secret")
    expect(secret).to_have_value("")
    secret.fill("not-the-right-secret")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Settings saved")).to_be_visible()
    dashboard.tenant.refresh_from_db()
    assert dashboard.tenant.corp_secret == "not-the-right-secret"

    page.get_by_role("button", name="Test connection").click()
    expect(result.get_by_role("alert")).to_have_text("Some permissions fail: see the hints below")
    token = page.get_by_test_id("check-token")
    expect(token).to_contain_text("Failed")
    expect(token).to_contain_text("errcode 40001")
    expect(token).to_contain_text("The app secret is wrong")
    # Nothing else can be tried without a token.
    expect(page.get_by_test_id("check-staff")).to_have_count(0)


def test_field_errors_land_on_their_fields(dashboard, page, login):
    open_settings(page, dashboard, login, "WeCom connection")
    page.get_by_role("button", name="Advanced").click()
    page.get_by_label("API base").fill("not a url")
    page.get_by_role("button", name="Save").click()
    # The API refuses it (the form has no URL rule of its own) and the message sits under the field.
    api_base = page.locator(".ant-form-item").filter(has=page.get_by_label("API base"))
    expect(api_base.locator(".ant-form-item-explain-error")).not_to_be_empty()
    expect(page.get_by_text("Settings saved")).to_have_count(0)
    dashboard.tenant.refresh_from_db()
    assert dashboard.tenant.api_base.startswith(dashboard.sandbox.base_url)


def test_callback_secrets_are_generated_shown_once_and_saved(dashboard, page, login):
    open_settings(page, dashboard, login, "WeCom connection")
    token_field, key_field = (
        page.get_by_label("Token", exact=True),
        page.get_by_label("EncodingAESKey", exact=True),
    )
    expect(token_field).to_have_value("")  # stored secrets are never sent back

    generate = page.get_by_role("button", name="Generate")
    generate.first.click()
    generate.last.click()
    token, aes_key = token_field.input_value(), key_field.input_value()
    assert re.fullmatch(r"[A-Za-z0-9]{32}", token), token
    assert re.fullmatch(r"[A-Za-z0-9+/]{43}", aes_key), aes_key
    expect(page.get_by_text("Copy the new Token and EncodingAESKey into WeCom now")).to_be_visible()
    expect(page.get_by_role("button", name="Copy Token")).to_be_enabled()
    # Generated values are unsaved changes: the connection test still uses the stored settings.
    expect(page.get_by_text("Unsaved changes: the test uses the saved settings.")).to_be_visible()

    # New callback secrets break callbacks until WeCom has them too: saving asks first.
    page.get_by_role("button", name="Save").click()
    confirm = page.get_by_role("dialog").filter(has_text="Save the new callback Token and EncodingAESKey?")
    expect(confirm).to_contain_text("fail verification and are not received until the same values are pasted")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    assert Tenant.objects.get(pk=dashboard.tenant.pk).callback_token != token  # nothing saved
    page.get_by_role("button", name="Save").click()
    confirm.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Settings saved")).to_be_visible()
    expect(page.get_by_text("Unsaved changes: the test uses the saved settings.")).to_have_count(0)
    expect(token_field).to_have_value("")  # shown once: gone after saving
    expect(key_field).to_have_value("")
    tenant = Tenant.objects.get(pk=dashboard.tenant.pk)
    assert (tenant.callback_token, tenant.encoding_aes_key) == (token, aes_key)
    # WeCom's crypto (wechatpy) takes them: a message sealed with them opens again.
    crypto = WeChatCrypto(token, aes_key, tenant.corp_id)
    sealed = xmltodict.parse(
        crypto.encrypt_message("<xml><Content>hi</Content></xml>", "n0nce", "1700000000")
    )
    signature = sealed["xml"]["MsgSignature"]
    opened = crypto.decrypt_message(xmltodict.unparse(sealed), signature, "1700000000", "n0nce")
    assert "<Content>hi</Content>" in opened


def test_an_api_key_is_shown_once_works_and_stops_working_when_revoked(dashboard, page, login):
    open_settings(page, dashboard, login, "API keys")
    expect(page.get_by_text("No API keys yet")).to_be_visible()
    page.get_by_role("button", name="Create API key").first.click()
    dialog = page.get_by_role("dialog", name="Create an API key")
    dialog.get_by_label("Name").fill("CRM sync")
    dialog.get_by_role("button", name="Create").click()

    shown = page.get_by_role("dialog", name="API key “CRM sync” created")
    expect(shown.get_by_role("alert")).to_contain_text("it will not be shown again")
    key = shown.get_by_test_id("new-api-key").input_value()
    prefix = ApiKey.unscoped.get(tenant=dashboard.tenant, name="CRM sync").prefix
    assert key.startswith(f"{prefix}.")
    expect(shown.get_by_role("button", name="Copy key")).to_be_visible()
    contacts_url = f"{dashboard.url}/api/v1/contacts/"
    assert api_status(contacts_url, key) == 200
    shoot(page, "settings-api-keys")
    shown.get_by_role("button", name="I have saved the key").click()
    expect(shown).to_be_hidden()

    # Only the prefix is listed from now on.
    row = page.get_by_role("row").filter(has_text="CRM sync")
    expect(row).to_contain_text(f"{prefix}.…")
    expect(row).to_contain_text("Active")
    expect(page.get_by_text(key)).to_have_count(0)

    row.get_by_role("button", name="Revoke CRM sync").click()
    page.get_by_role("tooltip").get_by_role("button", name="Revoke").click()
    expect(row).to_contain_text("Revoked")
    assert api_status(contacts_url, key) == 401


def test_an_admin_invites_a_member_who_accepts_then_changes_its_role_and_removes_it(
    dashboard, page, login, browser
):
    open_settings(page, dashboard, login, "Members")
    table = page.get_by_role("table", name="Members")
    expect(table).to_contain_text("alice")
    expect(table).to_contain_text("bob")

    page.get_by_role("button", name="Invite member").click()
    dialog = page.get_by_role("dialog", name="Invite a member")
    dialog.get_by_label("Username").fill("carol")
    dialog.get_by_label("Email").fill("carol@example.com")
    dialog.get_by_label("Initial password").fill(PASSWORD)
    role = dialog.locator(".ant-form-item").filter(has=page.get_by_role("combobox", name="Role"))
    expect(role).to_contain_text("Operator")  # by default
    dialog.get_by_role("button", name="Invite member").click()
    expect(dialog).to_be_hidden()
    # Not a member until carol says yes: a pending invitation the admin can take back.
    pending = page.get_by_role("table", name="Pending invitations")
    expect(pending.get_by_role("row").filter(has_text="carol")).to_contain_text("Operator")
    expect(table).not_to_contain_text("carol")
    assert not Membership.unscoped.filter(tenant=dashboard.tenant, user__username="carol").exists()
    shoot(page, "settings-members-invited")

    # carol signs in with the initial password: with no tenant yet, she lands on her invitations.
    context = browser.new_context(locale="en-US")
    try:
        carol_page = context.new_page()
        carol_page.goto(f"{dashboard.url}/login")
        carol_page.get_by_label("Username").fill("carol")
        carol_page.get_by_label("Password").fill(PASSWORD)
        carol_page.get_by_role("button", name="Log in").click()
        expect(carol_page).to_have_url(re.compile(r"/invitations$"))
        invitation = carol_page.get_by_role("row").filter(has_text="Tenant A")
        expect(invitation).to_contain_text("Operator")
        shoot(carol_page, "invitations")
        invitation.get_by_role("button", name="Accept the invitation of Tenant A").click()
        expect(carol_page.get_by_test_id("user-menu")).to_contain_text("carol · Operator")
        expect(carol_page).not_to_have_url(re.compile(r"/invitations$"))
    finally:
        context.close()

    page.reload()
    table = page.get_by_role("table", name="Members")
    row = table.get_by_role("row").filter(has_text="carol")
    expect(row).to_contain_text("Operator")
    expect(row).to_contain_text("All customers")
    expect(page.get_by_role("table", name="Pending invitations")).to_have_count(0)
    with tenant_context(dashboard.tenant):
        carol = Membership.objects.select_related("user").get(user__username="carol")
    assert (carol.role, carol.user.email) == (Role.OPERATOR, "carol@example.com")
    assert carol.user.check_password(PASSWORD)
    shoot(page, "settings-members")

    # A sales member sees only its own customers, which needs its WeCom userid: the API says so
    # on the field.
    row.get_by_role("button", name="Edit carol").click()
    dialog = page.get_by_role("dialog", name="Edit carol")
    dialog.get_by_label("Role").click()
    page.locator(".ant-select-dropdown:visible").get_by_title("Sales", exact=True).click()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.locator(".ant-form-item-explain-error")).to_contain_text("needs its WeCom userid")
    userid = next(
        s.userid
        for s in dashboard.sandbox.state.staff.values()
        if s.has_contact_permission and s.userid != Membership.unscoped.get(user=dashboard.sales).wecom_userid
    )
    dialog.get_by_label("WeCom userid").fill(userid)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("Sales")
    expect(row).to_contain_text("Customers I follow")
    expect(row).to_contain_text(userid)

    row.get_by_role("button", name="Remove carol").click()
    page.get_by_role("tooltip").get_by_role("button", name="Remove").click()
    expect(page.get_by_role("row").filter(has_text="carol")).to_have_count(0)
    assert not Membership.unscoped.filter(tenant=dashboard.tenant, user__username="carol").exists()


def test_sync_now_runs_a_sync_and_shows_how_it_went(dashboard, page, login):
    open_settings(page, dashboard, login, "Sync history")
    expect(page.get_by_text("Nothing has been synced yet")).to_be_visible()
    # A slow WeCom, so the run is seen running.
    sandbox_control(dashboard.sandbox, "faults", {"apis": {"*": {"latency_ms": 600}}})
    page.get_by_role("button", name="Sync now").first.click()

    running = page.get_by_test_id("active-sync")
    expect(running).to_contain_text("Running", timeout=30_000)
    expect(running.get_by_role("progressbar", name="Sync progress")).to_be_visible()
    expect(page.get_by_role("button", name="Sync now")).to_be_disabled()  # one run at a time

    row = page.get_by_role("row").filter(has_text="#")
    expect(row.first).to_contain_text("Succeeded", timeout=90_000)
    with tenant_context(dashboard.tenant):
        run = SyncRun.objects.get()
    assert run.status == "succeeded", run.errors
    assert run.created > 0
    assert run.api_calls > 0
    row = page.get_by_role("row").filter(has_text=f"#{run.id}")
    for value in (run.created, run.api_calls):
        expect(row.get_by_role("cell", name=str(value), exact=True).first).to_be_visible()
    expect(row).to_contain_text("Manual · alice")
    expect(page.get_by_role("button", name="Sync now")).to_be_enabled()
    expect(page.get_by_test_id("active-sync")).to_have_count(0)
    shoot(page, "settings-sync")


@pytest.fixture
def failing_handler(monkeypatch, settings):
    """add_external_contact fails (as in tests/wecom) until ``state["fail"]`` is cleared."""
    settings.WECOM_EVENT_MAX_ATTEMPTS = 2
    state = {"fail": True}
    original = handlers.handler_for("change_external_contact", "add_external_contact")

    def handler(*, tenant, event):
        if state["fail"]:
            raise RuntimeError("handler failed")
        if original is not None:
            original(tenant=tenant, event=event)

    monkeypatch.setitem(handlers._handlers, ("change_external_contact", "add_external_contact"), handler)
    return state


def test_a_parked_callback_event_is_replayed_from_the_inbox(dashboard, page, login, failing_handler):
    salesperson = Membership.unscoped.get(user=dashboard.sales).wecom_userid
    sandbox_control(dashboard.sandbox, "simulate/customer-add", {"userid": salesperson, "name": "Parked Pat"})
    with tenant_context(dashboard.tenant):
        event = CallbackEvent.objects.get(change_type="add_external_contact")
    assert (event.status, event.attempts) == (EventStatus.PARKED, 2)

    open_settings(page, dashboard, login, "Callback inbox")
    page.get_by_role("button", name="Failed and parked only").click()
    expect(page).to_have_url(re.compile(r"status=failed&status=parked"))
    row = page.get_by_role("row").filter(has_text=f"{event.id}").filter(has_text="add_external_contact")
    expect(row).to_contain_text("Parked, needs replay")
    expect(row).to_contain_text("handler failed")
    shoot(page, "settings-callbacks")

    row.get_by_role("button", name=f"Details of event #{event.id}").focus()  # from the keyboard
    page.keyboard.press("Enter")
    detail = page.get_by_test_id("event-detail")
    expect(detail).to_contain_text("RuntimeError('handler failed')")
    expect(detail.get_by_label("Payload")).to_contain_text(event.payload["ExternalUserID"])
    page.keyboard.press("Escape")
    expect(detail).to_be_hidden()

    failing_handler["fail"] = False  # the cause is fixed
    row.get_by_role("button", name=f"Replay event #{event.id}").click()
    page.get_by_role("tooltip").get_by_role("button", name="Replay").click()
    expect(page.get_by_text(f"Event #{event.id} queued again")).to_be_visible()
    # Done now, so it leaves the failed-and-parked view; without the filter it shows as done.
    expect(page.get_by_text("No event matches")).to_be_visible()
    page.get_by_role("button", name="Clear filter").click()
    expect(page.get_by_role("row").filter(has_text="add_external_contact")).to_contain_text("Done")
    with tenant_context(dashboard.tenant):
        event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == (EventStatus.DONE, 1, "")


def test_an_admin_changing_their_own_role_sees_the_session_follow(dashboard, page, login):
    # Another admin keeps the tenant managed, so alice may step down.
    Membership.unscoped.filter(tenant=dashboard.tenant, user=dashboard.sales).update(role=Role.ADMIN)
    open_settings(page, dashboard, login, "Members")
    page.get_by_role("button", name="Edit alice").click()
    dialog = page.get_by_role("dialog", name="Edit alice")
    dialog.get_by_label("Role").click()
    page.locator(".ant-select-dropdown:visible").get_by_title("Operator", exact=True).click()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    # The session is read again at once: an operator has no Settings.
    expect(page.locator(".ant-menu").get_by_text("Settings", exact=True)).to_have_count(0)
    expect(page.get_by_role("table")).to_have_count(0)


def test_an_admin_removing_themself_leaves_settings(dashboard, page, login):
    Membership.unscoped.filter(tenant=dashboard.tenant, user=dashboard.sales).update(role=Role.ADMIN)
    open_settings(page, dashboard, login, "Members")
    page.get_by_role("button", name="Remove alice").click()
    tooltip = page.get_by_role("tooltip")
    expect(tooltip).to_contain_text("This is your own account: you will lose access")
    tooltip.get_by_role("button", name="Remove").click()
    expect(page).not_to_have_url(re.compile(r"/settings"))
    expect(page.locator(".ant-menu").get_by_text("Settings", exact=True)).to_have_count(0)
    assert not Membership.unscoped.filter(tenant=dashboard.tenant, user=dashboard.admin).exists()
