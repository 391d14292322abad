"""A campaign through the API against the in-process WeCom sandbox: draft, preview, send now (the tasks
made in WeCom), remind one member and then everyone, a member sends, results read back, cancel."""

from __future__ import annotations

import pytest

from campaigns.models import CampaignTask
from scrm.tenancy.context import tenant_context
from tests.campaigns.sandboxed import confirm, connected, mass_messages, synced  # noqa: F401 -- fixtures reused here
from tests.helpers import sandbox_control
from tests.wecom.conftest import sandbox, sandbox_factory  # noqa: F401 -- fixtures reused here

pytestmark = pytest.mark.django_db
URL = "/api/v1/campaigns/"


def test_a_campaign_from_draft_to_results(
    synced,  # noqa: F811
    sandbox,  # noqa: F811
    alice,
    client_for,
    django_capture_on_commit_callbacks,
):
    client = client_for(alice)
    audience = {"filters": {"status": "active"}}
    preview = client.post(
        f"{URL}preview/", {"chat_type": "single", "audience": audience}, format="json"
    ).json()
    assert preview["will_receive"] > 0

    created = client.post(
        URL,
        {"name": "春季上新", "chat_type": "single", "audience": audience, "text": "春季新品上市"},
        format="json",
    ).json()
    base = f"{URL}{created['id']}/"
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(f"{base}send/", {}, format="json")
    assert sent.status_code == 200, sent.content

    detail = client.get(base).json()
    assert detail["status"] == "sent"
    assert detail["dispatch"]["finished"] is True
    # What was sent is what the preview said.
    assert {k: detail["plan"][k] for k in ("will_receive", "members", "tasks", "skipped")} == {
        k: preview[k] for k in ("will_receive", "members", "tasks", "skipped")
    }
    assert len(mass_messages(sandbox)) == detail["tasks"]

    tasks = client.get(f"{base}tasks/").json()["results"]
    assert all(t["status"] == "created" and t["msgid"] and t["can_remind"] for t in tasks)
    first = tasks[0]
    reminded = client.post(f"{base}tasks/{first['id']}/remind/")
    assert reminded.status_code == 200, reminded.content
    assert (reminded.json()["reminders_left"], len(reminded.json()["reminded_at"])) == (2, 1)

    everyone = client.post(f"{base}remind/").json()
    assert everyone["members_reminded"] == detail["members"]

    with tenant_context(synced):
        task = CampaignTask.objects.select_related("staff").get(pk=first["id"])
    confirm(sandbox, task)
    with django_capture_on_commit_callbacks(execute=True):
        refreshed = client.post(f"{base}refresh/")
    assert refreshed.status_code == 202, refreshed.content
    detail = client.get(base).json()
    assert detail["sent"] + detail["not_friend"] + detail["over_limit"] == first["recipients"]
    sent_rows = client.get(f"{base}recipients/", {"status": "sent", "staff": first["staff"]["id"]}).json()
    assert len(sent_rows["results"]) == min(detail["sent"], 50)

    cancelled = client.post(f"{base}cancel/").json()
    assert cancelled["campaign"]["status"] == "cancelled"
    assert cancelled["tasks_cancelled"] == detail["tasks"] - 1  # the confirmed one was sent already
    assert sandbox_control(sandbox, "records/mass-messages")["mass_messages"]
