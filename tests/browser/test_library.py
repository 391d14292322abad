"""The content library (素材库) in the dashboard: a folder, an uploaded image listed with its picture,
a link whose wrong URL is refused on its field, the image picked in a welcome, its usage shown, and a
delete refused while the welcome uses it; sales members kept out."""

from __future__ import annotations

import io

import segno
from playwright.sync_api import Page, expect

from contacts.services.welcome import welcome_default_get
from library.models import Material
from scrm.tenancy.context import tenant_context
from tests.browser.conftest import shoot
from tests.browser.test_channels import WRITE, field, pick


def loaded(page: Page, image) -> None:
    expect(image).to_be_visible(timeout=WRITE)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())


def test_admin_uploads_an_image_and_greets_with_it(dashboard, page, login):
    login(page, dashboard.admin)
    page.locator(".ant-menu").get_by_role("link", name="Content library").click()
    expect(page.get_by_role("heading", name="Content library", level=3)).to_be_visible()
    expect(page.get_by_test_id("empty")).to_contain_text("The library has no materials yet")

    # A folder, then an image uploaded into it.
    page.get_by_role("button", name="New folder").click()
    page.get_by_label("Folder name").fill("Welcome kit")
    page.get_by_role("button", name="Save").click()
    folders = page.get_by_role("menu", name="Folders")
    folders.get_by_text("Welcome kit").click()
    poster = io.BytesIO()
    segno.make_qr("welcome").save(poster, kind="png", scale=8)
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "welcome.png", "mimeType": "image/png", "buffer": poster.getvalue()}]
    )
    row = page.get_by_role("row").filter(has_text="welcome")
    expect(row).to_contain_text("Image", timeout=WRITE)
    expect(row.get_by_test_id("usage")).to_have_text("Not used")
    loaded(page, row.get_by_role("img", name="welcome"))
    expect(folders).to_contain_text("Welcome kit1")
    with tenant_context(dashboard.tenant):
        image = Material.objects.get(kind="image")
    assert (image.filename, image.content_type, image.folder.name) == (
        "welcome.png",
        "image/png",
        "Welcome kit",
    )

    # A link: a URL WeCom would not open is refused on its field.
    page.get_by_role("button", name="New material").click()
    page.get_by_role("menuitem", name="Link").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Title").fill("Spring offer")
    dialog.get_by_label("URL", exact=True).fill("ftp://x")
    dialog.get_by_role("button", name="Create").click()
    expect(field(page, "URL").locator(".ant-form-item-explain-error")).to_contain_text("http", timeout=WRITE)
    dialog.get_by_label("URL", exact=True).fill("https://shop.example.cn/spring")
    dialog.get_by_role("button", name="Create").click()
    expect(page.get_by_role("row").filter(has_text="Spring offer")).to_contain_text(
        "shop.example.cn", timeout=WRITE
    )
    shoot(page, "library")

    # Only links.
    page.get_by_label("Kind").click()
    page.locator(".ant-select-dropdown:visible").get_by_text("Link", exact=True).click()
    expect(page.get_by_role("row").filter(has_text="welcome.png")).to_have_count(0)
    expect(page.get_by_role("row").filter(has_text="Spring offer")).to_have_count(1)

    # The image, picked in the default welcome, shows in its preview and is saved as a reference.
    page.goto(f"{dashboard.url}/channels/welcome")
    page.get_by_label("Welcome text").fill("Hi {customer_name}!")
    page.get_by_role("button", name="Add from the library").click()
    pick(page, "welcome")
    loaded(page, page.get_by_test_id("welcome-preview").get_by_test_id("preview-image").locator("img"))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Default welcome saved")).to_be_visible(timeout=WRITE)
    with tenant_context(dashboard.tenant):
        assert welcome_default_get(tenant=dashboard.tenant) == {
            "text": "Hi {customer_name}!",
            "attachments": [{"material_id": image.pk}],
        }

    # Back in the library: it is used, and cannot be deleted while it is.
    page.goto(f"{dashboard.url}/library")
    row = page.get_by_role("row").filter(has_text="welcome.png")
    expect(row.get_by_test_id("usage")).to_have_text("Used in 1 places")
    row.get_by_role("button", name="Delete welcome").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_test_id("in-use")).to_contain_text("Default welcome")
    shoot(page, "library-in-use")
    with tenant_context(dashboard.tenant):
        assert Material.objects.get(pk=image.pk).deleted_at is None


def test_sales_members_have_no_library_page(dashboard, page, login):
    login(page, dashboard.sales)
    expect(page.locator(".ant-menu")).to_contain_text("My customers")
    expect(page.locator(".ant-menu").get_by_text("Content library", exact=True)).to_have_count(0)
    page.goto(f"{dashboard.url}/library")
    expect(page.get_by_text("You do not have access to this page")).to_be_visible()
