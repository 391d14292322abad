"""SOP automations in the dashboard.

An admin creates an SOP from the new-customer template, sees a wait with no duration marked in place
on its step card by the API's draft error and fixes it, adds a step, drags it elsewhere in its list
and deletes it (leaving unsaved asks first), reads the trigger and goal in the settings panel,
publishes the SOP and enrols a customer only bob's salesperson follows. The engine then runs
(``sop_run_due`` called here, with its clock given): the step cards' live counts follow the customer
through the first reminder, the wait and the second reminder, the report shows the same, and the
reminders appear in "Today's SOP tasks", where the admin marks one done; bob, a sales member, has the
tasks page and not the SOPs in his navigation, and skips the other with a (required) reason.

A second test opens every template in the builder (the group SOP's schedule, the birthday SOP's
missing date field, which publishing names on the trigger's field) and reads the list in Chinese.

The engine's clock is set to 10:00 in the tenant's zone on a day whose next day is a weekday, so the
reminders are outside the template's quiet hours and the business-hours wait opens at once.
"""

from __future__ import annotations

import datetime as dt
import re

from django.db.models import Count, Q
from playwright.sync_api import Page, expect

from campaigns.services.settings import tenant_zone
from contacts.models import Contact, ContactStatus, FollowStatus
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Membership
from sop.models import EnrolmentStatus, Sop, SopEnrolment, SopStatus, SopTask, SopTaskStatus
from sop.services.engine import sop_run_due
from sop.templates import TEMPLATES
from tests.browser.conftest import shoot

API = "/api/v1"
TEMPLATE = "新客户 7 天培育"


def answer(page: Page, method: str, path_pattern: str):
    """Waits for the API's answer to ``method`` on a path matching ``path_pattern`` (no query)."""
    pattern = re.compile(path_pattern)
    return page.expect_response(
        lambda r: r.request.method == method and bool(pattern.search(r.url.split("?")[0]))
    )


def card(page: Page, step_id: str):
    return page.locator(f'[data-testid="step-card"][data-step-id="{step_id}"]')


def counts(page: Page, step_id: str, waiting: int, done: int, skipped: int = 0) -> None:
    box = card(page, step_id).get_by_test_id("step-counts")
    expect(box.get_by_test_id("count-waiting")).to_have_text(f"Waiting {waiting}")
    expect(box.get_by_test_id("count-done")).to_have_text(f"Done {done}")
    expect(box.get_by_test_id("count-skipped")).to_have_text(f"Skipped {skipped}")


def cards_of(page: Page, list_path: str):
    """The step cards directly in one list, in their order on the page."""
    return page.locator(
        f'[data-testid="step-list"][data-list="{list_path}"] > div > [data-testid="step-card"]'
    )


def top_cards(page: Page):
    return cards_of(page, "steps")


def step_ids(page: Page, list_path: str) -> list[str]:
    return cards_of(page, list_path).evaluate_all("cards => cards.map(c => c.dataset.stepId)")


def engine_clock(tenant) -> dt.datetime:
    """10:00 in the tenant's zone, on a day after today whose next day is Monday to Friday."""
    with tenant_context(tenant):
        zone = tenant_zone(tenant=tenant)
    day = dt.datetime.now(zone).date() + dt.timedelta(days=1)
    while (day + dt.timedelta(days=1)).isoweekday() > 5:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(10, 0), tzinfo=zone)


def walk(steps: list[dict]) -> list[dict]:
    """Every step of a definition's list, nested ones included."""
    out = []
    for step in steps:
        out.append(step)
        out += walk(step.get("then", [])) + walk(step.get("else", []))
        for branch in step.get("branches", []):
            out += walk(branch.get("steps", []))
    return out


def run_engine(now: dt.datetime) -> None:
    """Passes until nothing more is due at ``now`` (a pass chains a bounded number of steps)."""
    for _ in range(10):
        if sop_run_due(now=now).claimed == 0:
            return
    raise AssertionError("the engine kept finding due steps")


def test_admin_builds_publishes_and_watches_a_customer_pass_through(synced, page: Page, login):
    dashboard = synced
    with tenant_context(dashboard.tenant):
        # A customer only bob's salesperson follows: the SOP's owning member whatever the sender rule.
        salesperson = Membership.objects.get(user=dashboard.sales).wecom_userid
        customer = (
            Contact.objects.filter(status=ContactStatus.ACTIVE)
            .annotate(
                active_follows=Count("follows", filter=Q(follows__status=FollowStatus.ACTIVE)),
                by_bob=Count(
                    "follows",
                    filter=Q(follows__status=FollowStatus.ACTIVE, follows__staff__userid=salesperson),
                ),
            )
            .filter(active_follows=1, by_bob=1)
            .order_by("id")
            .first()
        )
        assert customer is not None, "no customer followed by bob's salesperson alone"

    login(page, dashboard.admin)
    page.locator(".ant-menu").get_by_role("link", name="SOP automations").click()
    expect(page).to_have_url(re.compile(r"/sop$"))
    expect(page.get_by_text("No SOPs yet")).to_be_visible()

    # From the template: its name, kind and description fill the form.
    page.get_by_role("button", name="New SOP").first.click()
    dialog = page.get_by_role("dialog", name="New SOP")
    dialog.get_by_role("radio", name=re.compile(TEMPLATE)).click()
    expect(dialog.get_by_label("Name")).to_have_value(TEMPLATE)
    with answer(page, "POST", rf"{API}/sops/$") as created:
        dialog.get_by_role("button", name="Create").click()
    assert created.value.status == 201, created.value.text()
    expect(page).to_have_url(re.compile(r"/sop/\d+$"))
    with tenant_context(dashboard.tenant):
        sop = Sop.objects.get()
    assert (sop.template, sop.status) == ("new_customer_nurture", SopStatus.DRAFT)

    # The flow: the template's ten steps; the branch's two lists side by side.
    expect(page.get_by_test_id("step-card")).to_have_count(10)
    assert step_ids(page, "steps") == [
        "welcome",
        "wait-1d",
        "open-1",
        "intro",
        "wait-2d",
        "bought",
        "wait-4d",
        "open-7",
        "follow-up",
    ]
    assert step_ids(page, "steps.5.else") == ["offer"]
    expect(page.locator('[data-testid="flow-column"][data-list="steps.5.then"]')).to_contain_text("No steps")

    # A wait of nothing: the API's error (steps.1.days) marks that card and its field.
    card(page, "wait-1d").click()
    panel = page.get_by_test_id("step-panel")
    panel.get_by_label("Days", exact=True).fill("0")
    with answer(page, "PATCH", rf"{API}/sops/{sop.pk}/$") as saved:
        page.get_by_role("button", name="Save draft").click()
    assert saved.value.status == 200, saved.value.text()
    expect(card(page, "wait-1d")).to_have_attribute("data-invalid", "true")
    expect(card(page, "wait-1d").get_by_test_id("field-error")).to_contain_text("days")
    expect(panel.get_by_test_id("field-error")).to_be_visible()
    expect(page.get_by_test_id("draft-errors")).to_contain_text("1 problem")
    shoot(page, "sop-builder-error")
    panel.get_by_label("Days", exact=True).fill("1")
    page.get_by_role("button", name="Done").click()
    with answer(page, "PATCH", rf"{API}/sops/{sop.pk}/$") as saved:
        page.get_by_role("button", name="Save draft").click()
    assert saved.value.status == 200, saved.value.text()
    expect(card(page, "wait-1d")).not_to_have_attribute("data-invalid", "true")
    expect(page.get_by_test_id("draft-errors")).to_have_count(0)

    # Add a wait at the end of the main list, drag it before the last reminder, then delete it.
    page.get_by_role("button", name="Add a step at the end (steps)").click()
    page.get_by_role("menuitem", name="Wait", exact=True).click()
    expect(page.get_by_test_id("step-panel")).to_be_visible()
    page.get_by_role("button", name="Done").click()
    assert step_ids(page, "steps")[-1] == "wait-1"
    card(page, "wait-1").drag_to(page.locator('[data-testid="add-gap"][data-list="steps"][data-index="8"]'))
    expect(top_cards(page).nth(8)).to_have_attribute("data-step-id", "wait-1")
    assert step_ids(page, "steps")[-2:] == ["wait-1", "follow-up"]
    card(page, "wait-1").click()
    page.get_by_role("button", name="Delete step").click()
    page.locator(".ant-popconfirm").get_by_role("button", name="Delete").click()
    expect(page.get_by_test_id("step-card")).to_have_count(10)
    # Unsaved: leaving asks first.
    page.get_by_role("link", name="SOPs").click()
    leave = page.get_by_role("dialog").filter(has_text="Leave without saving your changes?")
    leave.get_by_role("button", name="Cancel").click()
    expect(leave).to_be_hidden()
    expect(page).to_have_url(re.compile(rf"/sop/{sop.pk}$"))

    # The trigger and the goal are in the settings panel.
    page.get_by_test_id("trigger-card").click()
    settings = page.get_by_role("dialog", name="Trigger and settings")
    expect(settings.get_by_role("combobox", name="Trigger")).to_be_visible()
    expect(settings.get_by_role("tabpanel", name="Trigger")).to_contain_text("A customer event")
    expect(settings.get_by_role("tabpanel", name="Trigger")).to_contain_text("Added as a customer")
    settings.get_by_role("tab", name="Exit and goal").click()
    expect(settings.get_by_test_id("criterion").first).to_contain_text("Purchased")
    shoot(page, "sop-settings")
    settings.get_by_role("button", name="Close").click()
    expect(settings).to_be_hidden()

    # Publish: a version, live; the cards show their (empty) live counts.
    page.get_by_role("button", name="Publish").click()
    with answer(page, "POST", rf"{API}/sops/{sop.pk}/publish/$") as published:
        page.locator(".ant-popconfirm").get_by_role("button", name="Publish").click()
    assert published.value.status == 200, published.value.text()
    expect(page.get_by_test_id("sop-status")).to_have_text("Live")
    expect(page.get_by_test_id("live-version")).to_have_text("Live version v1")
    counts(page, "welcome", waiting=0, done=0)

    # Enrol the customer by hand.
    page.get_by_role("button", name="Enrol customers").click()
    dialog = page.get_by_role("dialog", name="Enrol customers")
    dialog.get_by_label("Customer ids").fill(str(customer.pk))
    with answer(page, "POST", rf"{API}/sops/{sop.pk}/enrol/$") as enrolled:
        dialog.get_by_role("button", name="Enrol").click()
    assert enrolled.value.status == 200, enrolled.value.text()
    assert enrolled.value.json()["enrolled"] == 1
    expect(page.get_by_text("1 customer enrolled")).to_be_visible()
    with tenant_context(dashboard.tenant):
        enrolment = SopEnrolment.objects.get(sop=sop)
    assert (enrolment.contact_id, enrolment.status) == (customer.pk, EnrolmentStatus.ACTIVE)

    # The engine: the welcome reminder runs, the customer waits a day.
    start = engine_clock(dashboard.tenant)
    run_engine(start)
    page.reload()
    counts(page, "welcome", waiting=0, done=1)
    counts(page, "wait-1d", waiting=1, done=0)
    counts(page, "intro", waiting=0, done=0)
    shoot(page, "sop-builder-counts")

    # The reminder is a task: the member's list shows it with its content; it is marked done.
    page.locator(".ant-menu").get_by_role("link", name="Today's SOP tasks").click()
    expect(page).to_have_url(re.compile(r"/sop/tasks$"))
    page.get_by_text("All", exact=True).click()
    task_row = page.get_by_test_id("sop-task").filter(has_text="当天：欢迎跟进")
    expect(task_row).to_contain_text(customer.name)
    expect(task_row.get_by_test_id("task-text")).to_contain_text("打个招呼")
    expect(task_row.get_by_test_id("task-status")).to_have_text("To do")
    with answer(page, "POST", rf"{API}/sop-tasks/\d+/done/$") as done:
        task_row.get_by_role("button", name="Done").click()
    assert done.value.status == 200, done.value.text()
    expect(task_row.get_by_test_id("task-status")).to_have_text("Done")
    with tenant_context(dashboard.tenant):
        task = SopTask.objects.get(sop=sop)
    assert (task.contact_id, task.status, task.done_via) == (customer.pk, SopTaskStatus.DONE, "member")
    shoot(page, "sop-tasks")

    # A day later: the wait ends, business hours are open, the second reminder runs.
    run_engine(start + dt.timedelta(days=1, minutes=1))
    page.goto(f"{dashboard.url}/sop/{sop.pk}")
    counts(page, "wait-1d", waiting=0, done=1)
    counts(page, "open-1", waiting=0, done=1)
    counts(page, "intro", waiting=0, done=1)
    counts(page, "wait-2d", waiting=1, done=0)

    # The report says the same.
    page.get_by_role("button", name="Report").click()
    expect(page).to_have_url(re.compile(rf"/sop/{sop.pk}/report$"))
    expect(page.get_by_test_id("report-active")).to_contain_text("1")
    intro = page.locator('[data-testid="report-step"][data-step-id="intro"]')
    expect(intro).to_contain_text("第 1 天：介绍产品")
    expect(page.get_by_text("Member completion")).to_be_visible()
    shoot(page, "sop-report")

    page.goto(f"{dashboard.url}/sop/tasks?due=all")
    expect(page.get_by_test_id("sop-task").filter(has_text="第 1 天：介绍产品")).to_contain_text(
        customer.name
    )

    # bob, the sales member who follows the customer: his navigation has his tasks, not the SOPs; he
    # skips the second reminder with a reason.
    page.get_by_test_id("user-menu").click()
    page.get_by_role("menuitem", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    login(page, dashboard.sales)
    menu = page.locator(".ant-menu")
    expect(menu.get_by_role("link", name="SOP automations")).to_have_count(0)
    menu.get_by_role("link", name="Today's SOP tasks").click()
    page.get_by_text("All", exact=True).click()
    intro_task = page.get_by_test_id("sop-task").filter(has_text="第 1 天：介绍产品")
    expect(intro_task.get_by_test_id("task-status")).to_have_text("To do")
    intro_task.get_by_role("button", name="Skip").click()
    dialog = page.get_by_role("dialog", name="Skip the task")
    dialog.get_by_role("button", name="Skip").click()
    expect(dialog.get_by_text("Give a reason")).to_be_visible()
    dialog.get_by_label("Reason").fill("客户出差，下周再联系")
    with answer(page, "POST", rf"{API}/sop-tasks/\d+/skip/$") as skipped:
        dialog.get_by_role("button", name="Skip").click()
    assert skipped.value.status == 200, skipped.value.text()
    expect(intro_task.get_by_test_id("task-status")).to_have_text("Skipped")
    expect(intro_task).to_contain_text("客户出差，下周再联系")
    with tenant_context(dashboard.tenant):
        task = SopTask.objects.get(sop=sop, status=SopTaskStatus.SKIPPED)
    assert task.reason == "客户出差，下周再联系"


def test_every_template_opens_in_the_builder_and_the_list_reads_in_chinese(dashboard, page: Page, login):
    """Each template's flow draws (the group SOP's schedule, the birthday SOP's missing date field named
    on the trigger); the list shows them all, in Chinese too."""
    with tenant_context(dashboard.tenant):
        sops = {
            key: Sop.objects.create(
                name=template.name, kind=template.kind, template=key, draft=template.draft()
            )
            for key, template in TEMPLATES.items()
        }
    login(page, dashboard.admin)
    page.goto(f"{dashboard.url}/sop")
    rows = page.get_by_role("table").get_by_role("row")
    expect(rows).to_have_count(1 + len(TEMPLATES))
    expect(rows.filter(has_text="社群每日早安")).to_contain_text("Group SOP")
    expect(rows.filter(has_text="生日关怀")).to_contain_text("Draft")

    for sop in sops.values():
        page.goto(f"{dashboard.url}/sop/{sop.pk}")
        expect(page.get_by_test_id("step-card")).to_have_count(len(walk(sop.draft["steps"])))
    # The group SOP (the last one opened): its trigger is a schedule, its settings have no exit or goal.
    page.get_by_test_id("trigger-card").click()
    settings = page.get_by_role("dialog", name="Trigger and settings")
    expect(settings.get_by_role("tabpanel", name="Trigger")).to_contain_text("A schedule")
    settings.get_by_role("tab", name="Exit and goal").click()
    expect(settings).to_contain_text("Group SOPs have no exit or goal conditions.")
    settings.get_by_role("button", name="Close").click()

    # Birthday care names a date field this tenant does not have: publishing says where.
    page.goto(f"{dashboard.url}/sop/{sops['birthday_care'].pk}")
    page.get_by_role("button", name="Publish").click()
    with answer(page, "POST", rf"{API}/sops/{sops['birthday_care'].pk}/publish/$") as published:
        page.locator(".ant-popconfirm").get_by_role("button", name="Publish").click()
    assert published.value.status == 400, published.value.text()
    alert = page.get_by_test_id("draft-errors")
    expect(alert).to_contain_text("trigger.field")
    alert.get_by_text(re.compile(r"^trigger\.field")).click()
    settings = page.get_by_role("dialog", name="Trigger and settings")
    expect(settings.get_by_role("tabpanel", name="Trigger").get_by_test_id("field-error")).to_be_visible()
    shoot(page, "sop-birthday-field-error")
    settings.get_by_role("button", name="Close").click()

    page.get_by_text("中文", exact=True).click()
    page.goto(f"{dashboard.url}/sop")
    expect(page.get_by_role("heading", name="SOP 自动化")).to_be_visible()
    expect(page.get_by_role("table").get_by_role("row").filter(has_text="社群每日早安")).to_contain_text(
        "群SOP"
    )
    expect(page.locator(".ant-menu")).to_contain_text("今日SOP任务")
