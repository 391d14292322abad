"""Channel codes (渠道活码) in the dashboard: create one with a welcome (its attachment picked from the
content library) and auto-tags, see its QR, and watch a simulated customer arrive, get greeted and
tagged; the default welcome; sales members kept out.

The tenant's WeCom is the in-process sandbox, so the channel page offers the simulator. What WeCom
was asked (add_contact_way, send_welcome_msg, mark_tag) is read from the sandbox's records.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from contacts.models import ContactWay, Staff, Tag, Welcome
from contacts.services.welcome import welcome_default_get
from library import services as library
from scrm.tenancy.context import tenant_context
from tests.browser.conftest import records, shoot

# A save goes to WeCom (the sandbox) first; a simulated scan runs the whole add flow.
WRITE = 15_000
ARRIVAL = 20_000


def type_and_pick(page: Page, picker, text: str) -> None:
    """Type into a searchable select and take the highlighted match (keyboard only)."""
    picker.click()
    picker.fill(text)
    dropdown = page.locator(".ant-select-dropdown:visible")
    expect(dropdown.locator(".ant-select-item-option-active")).to_contain_text(text)
    picker.press("Enter")
    picker.press("Escape")
    # Closed (its animation over), so the next picker's dropdown is the only one.
    expect(dropdown).to_have_count(0)


def field(page: Page, label: str):
    """The form item (label, control and its messages) of a labelled control."""
    return page.locator(".ant-form-item").filter(has=page.get_by_label(label, exact=True))


def pick(page: Page, *titles: str) -> None:
    """In the open material picker, tick these materials and add them."""
    picker = page.get_by_role("dialog").filter(has=page.get_by_test_id("picker-count"))
    for title in titles:
        picker.get_by_role("listitem", name=f"Pick {title}").click()
    picker.get_by_role("button", name="Add", exact=True).click()
    expect(picker).to_have_count(0)


def test_admin_creates_a_channel_and_watches_a_simulated_customer_arrive(synced, page, login):
    dashboard = synced
    with tenant_context(dashboard.tenant):
        first, second = Staff.objects.filter(has_contact_permission=True, is_active=True).order_by("pk")[:2]
        tag = Tag.objects.filter(deleted=False).order_by("pk").first()
        spring = library.material_create(
            kind="link", data={"title": "Spring offer", "url": "https://shop.example.cn/spring"}
        )
        autumn = library.material_create(
            kind="link", data={"title": "Autumn offer", "url": "https://shop.example.cn/autumn"}
        )
    login(page, dashboard.admin)
    page.locator(".ant-menu").get_by_role("link", name="Channels").click()
    expect(page.get_by_role("heading", name="Channel codes", level=3)).to_be_visible()
    expect(page.get_by_test_id("empty")).to_contain_text("No channel codes yet")
    shoot(page, "channels-empty")

    page.get_by_role("button", name="Create your first channel code").click()
    expect(page.get_by_role("heading", name="New channel code", level=3)).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Shop poster")
    members = page.get_by_label("Members", exact=True)
    type_and_pick(page, members, first.name)
    type_and_pick(page, members, second.name)
    type_and_pick(page, page.get_by_label("Tag new customers with"), tag.name)

    # The text, with a placeholder inserted where the cursor is, and a link.
    text = page.get_by_label("Welcome text")
    text.fill("Hello ")
    page.get_by_role("button", name="Customer name").click()
    expect(text).to_have_value("Hello {customer_name}")
    text.press("End")
    text.press_sequentially(", I am {staff_name}.")
    # An attachment from the content library: the autumn link.
    page.get_by_role("button", name="Add from the library").click()
    pick(page, "Autumn offer")
    attachment = page.get_by_role("group", name="Attachment 1")
    expect(attachment).to_contain_text("Autumn offer")

    # The preview: the sample customer, the first member chosen, the link card.
    preview = page.get_by_test_id("welcome-preview")
    expect(preview.get_by_test_id("preview-text")).to_have_text(f"Hello Li Hua, I am {first.name}.")
    expect(preview.get_by_test_id("preview-link")).to_contain_text("Autumn offer")

    # Meanwhile a colleague deletes that link from the library: the API refuses it, the message is on
    # the attachment, and nothing was created.
    with tenant_context(dashboard.tenant):
        library.material_delete(material=autumn)
    page.get_by_role("button", name="Create in WeCom").click()
    expect(attachment.locator(".ant-form-item-explain-error")).to_contain_text(
        "No such material", timeout=WRITE
    )
    with tenant_context(dashboard.tenant):
        assert not ContactWay.objects.exists()
    assert records(dashboard, "add_contact_way") == []
    shoot(page, "channel-form-error")

    page.get_by_role("button", name="Remove attachment 1").click()
    page.get_by_role("button", name="Add from the library").click()
    pick(page, "Spring offer")
    expect(page.get_by_role("group", name="Attachment 1")).to_contain_text("Spring offer")
    expect(preview.get_by_test_id("preview-link")).to_contain_text("Spring offer")
    shoot(page, "channel-form")
    page.get_by_role("button", name="Create in WeCom").click()

    # The detail page, with the QR image WeCom (the sandbox) serves.
    expect(page.get_by_role("heading", name="Shop poster", level=3)).to_be_visible(timeout=WRITE)
    with tenant_context(dashboard.tenant):
        way = ContactWay.objects.get(name="Shop poster")
    assert (way.multi, way.user_ids, way.tag_ids) == (True, [first.pk, second.pk], [tag.pk])
    assert way.welcome["text"] == "Hello {customer_name}, I am {staff_name}."
    assert way.welcome["attachments"] == [{"material_id": spring.pk}]
    qr = page.get_by_test_id("qr-image")
    expect(qr).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    expect(page.get_by_role("link", name="Download PNG")).to_have_attribute(
        "href", f"/api/v1/channels/{way.pk}/qr/?download=1"
    )
    shoot(page, "channel-detail")

    # A customer scans the code: added to a member, greeted, tagged, within seconds.
    page.get_by_role("button", name="Simulate a customer scanning this code").click()
    simulation = page.get_by_test_id("simulation")
    expect(simulation.get_by_test_id("simulate-added")).to_contain_text("Attributed", timeout=ARRIVAL)
    expect(simulation.get_by_test_id("simulate-greeted")).to_contain_text("Sent", timeout=ARRIVAL)
    expect(simulation.get_by_test_id("simulate-tagged")).to_contain_text(tag.name, timeout=ARRIVAL)
    expect(simulation.get_by_test_id("simulate-summary")).to_contain_text("All done", timeout=ARRIVAL)
    with tenant_context(dashboard.tenant):
        greeting = Welcome.objects.select_related("contact", "staff").get(contact_way=way)
    assert greeting.status == "sent"
    customer, member = greeting.contact, greeting.staff
    assert member.pk in (first.pk, second.pk)
    expect(simulation).to_contain_text(f"{customer.name} added {member.name}")
    # What the customer received, with their own name and the member's.
    expect(simulation.get_by_test_id("preview-text")).to_have_text(
        f"Hello {customer.name}, I am {member.name}."
    )
    shoot(page, "channel-simulate")

    # The sandbox got the rendered text and the link, and the auto-tag for that customer.
    [sent] = [b for b in records(dashboard, "send_welcome_msg") if b["welcome_code"] == greeting.welcome_code]
    assert sent["text"]["content"] == f"Hello {customer.name}, I am {member.name}."
    assert sent["attachments"][0]["link"]["url"] == "https://shop.example.cn/spring"
    marks = [b for b in records(dashboard, "mark_tag") if b["external_userid"] == customer.external_userid]
    assert marks
    assert all(tag.wecom_id in b.get("add_tag", []) for b in marks)

    # The greetings table has them; their name opens the customer, whose timeline shows the welcome.
    greetings = page.get_by_test_id("greetings-card")
    row = greetings.get_by_role("row").filter(has_text=customer.name)
    expect(row).to_contain_text("Sent")
    row.get_by_role("link", name=customer.name).click()
    drawer = page.get_by_role("dialog")
    expect(drawer).to_contain_text(customer.external_userid)
    drawer.get_by_role("tab", name="Timeline").click()
    welcomed = drawer.get_by_test_id("timeline-event").filter(has_text="Welcome message sent")
    expect(welcomed).to_contain_text("Shop poster")

    # The list: the code with its QR, members, tag and the new customer in its figures.
    page.goto(f"{dashboard.url}/channels")
    listed = page.get_by_role("row").filter(has_text="Shop poster")
    expect(listed).to_contain_text(first.name)
    expect(listed).to_contain_text(tag.name)
    expect(listed.locator("td").nth(4)).to_have_text("1")
    thumb = listed.get_by_test_id("qr-thumb")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    shoot(page, "channels-list")

    # Editing: the kind is fixed; a new name goes to WeCom as the code's remark.
    listed.get_by_role("button", name="Edit Shop poster").click()
    expect(page.get_by_role("heading", name="Edit: Shop poster", level=3)).to_be_visible()
    expect(page.get_by_role("radio", name="One member")).to_be_disabled()
    expect(page.get_by_label("Welcome text")).to_have_value("Hello {customer_name}, I am {staff_name}.")
    page.get_by_label("Name", exact=True).fill("Shop poster (spring)")
    # A schedule rule (office hours on workdays, with the code's members) and a daily cap.
    page.get_by_role("button", name="Advanced: schedule, daily cap and backup members").click()
    page.get_by_role("button", name="Add a rule").click()
    rule = page.get_by_role("group", name="Rule 1")
    expect(rule).to_contain_text("Mon–Fri 09:00–18:00")
    rule.get_by_role("checkbox", name="Sat").check()
    expect(rule).to_contain_text("Mon–Sat 09:00–18:00")
    page.get_by_label("Customers per member per day").fill("5")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", name="Shop poster (spring)", level=3)).to_be_visible(timeout=WRITE)
    updates = records(dashboard, "update_contact_way")
    assert updates[-1]["config_id"] == way.config_id
    assert updates[-1]["remark"] == "Shop poster (spring)"
    way.refresh_from_db()
    assert way.schedule == [
        {"weekdays": [1, 2, 3, 4, 5, 6], "start": "09:00", "end": "18:00", "user_ids": [first.pk, second.pk]}
    ]
    assert way.daily_cap == 5
    expect(page.get_by_test_id("qr-card")).to_be_visible()

    # The same page in Chinese.
    page.get_by_text("中文", exact=True).click()
    expect(page.get_by_test_id("stats-card")).to_contain_text("渠道数据")
    expect(page.get_by_test_id("greetings-card")).to_contain_text("已发送")
    shoot(page, "channel-detail-zh")


def test_default_welcome_is_edited_with_errors_on_their_field(dashboard, page, login):
    login(page, dashboard.admin, "/channels/welcome")
    expect(page.get_by_role("heading", name="Default welcome", level=3)).to_be_visible()
    preview = page.get_by_test_id("welcome-preview")
    expect(preview.get_by_test_id("preview-note")).to_contain_text("No default welcome")

    text = page.get_by_label("Welcome text")
    text.fill("Hi {nickname}")
    expect(preview.get_by_test_id("preview-text")).to_have_text("Hi {nickname}")
    page.get_by_role("button", name="Save").click()
    expect(field(page, "Welcome text").locator(".ant-form-item-explain-error")).to_contain_text(
        "Unknown placeholder", timeout=WRITE
    )
    with tenant_context(dashboard.tenant):
        assert welcome_default_get(tenant=dashboard.tenant) == {}

    text.fill("Hi {customer_name}, welcome!")
    expect(field(page, "Welcome text").locator(".ant-form-item-explain-error")).to_have_count(0)
    expect(preview.get_by_test_id("preview-text")).to_have_text("Hi Li Hua, welcome!")

    # A text of the library replaces what was typed.
    with tenant_context(dashboard.tenant):
        library.material_create(
            kind="text", data={"title": "Greeting", "text": "Hi {customer_name}, welcome!"}
        )
    text.fill("")
    page.get_by_role("button", name="Use a text of the library").click()
    pick(page, "Greeting")
    expect(text).to_have_value("Hi {customer_name}, welcome!")

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Default welcome saved")).to_be_visible(timeout=WRITE)
    with tenant_context(dashboard.tenant):
        saved = welcome_default_get(tenant=dashboard.tenant)
    assert saved == {"text": "Hi {customer_name}, welcome!", "attachments": []}
    shoot(page, "welcome-default")


def test_sales_members_have_no_channel_pages(dashboard, page, login):
    login(page, dashboard.sales)
    expect(page.locator(".ant-menu")).to_contain_text("My customers")
    expect(page.locator(".ant-menu").get_by_text("Channels", exact=True)).to_have_count(0)
    page.goto(f"{dashboard.url}/channels")
    expect(page.get_by_text("You do not have access to this page")).to_be_visible()
    expect(page.get_by_role("table")).to_have_count(0)
