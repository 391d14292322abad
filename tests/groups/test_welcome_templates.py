"""Group welcome templates: CRUD through WeCom (group_welcome_template/*), the text and attachment
(a material of the library) rules with field paths, the 100-per-corp limit, deletes of templates WeCom
lost — and the routes' roles (admins and operators) and tenant isolation."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from groups.models import GroupWelcomeTemplate
from groups.services import welcome_templates
from groups.services.welcome_templates import MAX_TEMPLATES
from scrm.tenancy.context import tenant_context
from tests.contacts.test_channels import PNG, _media_root  # noqa: F401 -- the fixture reused here
from tests.helpers import assert_problem

URL = "/api/v1/group-welcome-templates/"
ADD = "externalcontact/group_welcome_template/add"
MATERIALS = "/api/v1/materials/"
LINK = {"kind": "link", "title": "新人礼包", "url": "https://example.com/gift", "description": "点开领取"}


def upload(client) -> int:
    """An image of the library, by id."""
    form = {"kind": "image", "file": SimpleUploadedFile("poster.png", PNG)}
    response = client.post(MATERIALS, form, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def link(client, **fields) -> dict:
    """A link of the library, as an attachment."""
    response = client.post(MATERIALS, {**LINK, **fields}, format="json")
    assert response.status_code == 201, response.content
    return {"material_id": response.json()["id"]}


def new_template(client, **extra) -> dict:
    body = {"name": "欢迎新人", "text": "欢迎 %NICKNAME% 入群！", **extra}
    response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_read_update_delete(connected, sandbox, alice_client):
    gift = link(alice_client)
    created = new_template(alice_client, attachment=gift)
    wecom = sandbox.state.group_welcome_templates[created["template_id"]]
    assert wecom["text"] == {"content": "欢迎 %NICKNAME% 入群！"}
    assert wecom["link"] == {"title": "新人礼包", "url": "https://example.com/gift", "desc": "点开领取"}
    assert created["attachment"] == gift
    used = alice_client.get(f"{MATERIALS}{gift['material_id']}/").json()["used_by"]
    assert [(u["owner_type"], u["name"]) for u in used] == [("group_welcome", "欢迎新人")]
    assert alice_client.get(URL).json()["results"][0]["id"] == created["id"]
    assert alice_client.get(URL, {"q": "NICKNAME"}).json()["results"][0]["id"] == created["id"]

    one = f"{URL}{created['id']}/"
    changed = alice_client.patch(one, {"text": "你好 %NICKNAME%"}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["attachment"] == gift  # a partial update keeps what was not sent
    assert changed.json()["template_id"] == created["template_id"]  # an edit in place
    assert sandbox.state.group_welcome_templates[created["template_id"]]["text"] == {
        "content": "你好 %NICKNAME%"
    }

    assert alice_client.delete(one).status_code == 204
    assert created["template_id"] not in sandbox.state.group_welcome_templates
    assert_problem(alice_client.get(one), 404, "not_found")
    assert alice_client.get(f"{MATERIALS}{gift['material_id']}/").json()["used_by"] == []


def test_images_are_uploaded_to_wecom_and_miniprograms_need_theirs(connected, sandbox, alice_client):
    image = upload(alice_client)
    created = new_template(alice_client, name="海报", text="", attachment={"material_id": image})
    wecom = sandbox.state.group_welcome_templates[created["template_id"]]
    assert set(wecom) >= {"image"}
    assert "text" not in wecom
    assert wecom["image"]["media_id"]  # uploaded by the library (media/upload)
    mini = {
        "kind": "miniprogram",
        "appid": "wx0123456789abcdef",
        "page": "pages/index.html",
        "title": "小程序",
    }
    mini["cover"] = image
    program = alice_client.post(MATERIALS, mini, format="json").json()["id"]
    created = new_template(alice_client, name="小程序", attachment={"material_id": program})
    sent = sandbox.state.group_welcome_templates[created["template_id"]]["miniprogram"]
    assert (sent["appid"], sent["pic_media_id"]) == (mini["appid"], wecom["image"]["media_id"])
    assert len(sandbox.records("media/upload")) == 1  # the cover is the image uploaded before


def test_changing_the_kind_of_attachment_replaces_the_template_in_wecom(
    connected, sandbox, alice_client, django_capture_on_commit_callbacks
):
    image = upload(alice_client)
    created = new_template(alice_client, attachment=link(alice_client))
    with django_capture_on_commit_callbacks(execute=True):
        changed = alice_client.patch(
            f"{URL}{created['id']}/", {"attachment": {"material_id": image}}, format="json"
        ).json()
    assert changed["template_id"] != created["template_id"]
    assert created["template_id"] not in sandbox.state.group_welcome_templates
    wecom = sandbox.state.group_welcome_templates[changed["template_id"]]
    assert "link" not in wecom
    assert wecom["image"]["media_id"]
    assert wecom["text"] == {"content": "欢迎 %NICKNAME% 入群！"}


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        ({"text": "Hi %NAME%"}, ["text"]),
        ({"text": "字" * 1334}, ["text"]),  # 4,002 bytes
        ({"text": ""}, ["text"]),  # neither text nor attachment
        ({"name": ""}, ["name"]),
        (
            {"attachment": {"msgtype": "link", "title": "t", "url": "https://x.cn"}},
            ["attachment.material_id"],
        ),
        ({"attachment": {"material_id": 999999}}, ["attachment.material_id"]),
        ({"attachment": {"material_id": "1"}}, ["attachment.material_id"]),
    ],
)
def test_validation_names_the_field_and_leaves_wecom_alone(connected, sandbox, alice_client, body, paths):
    response = alice_client.post(URL, {"name": "x", "text": "hi", **body}, format="json")
    problem = assert_problem(response, 400, "validation_error")
    assert sorted(e["path"] for e in problem["errors"]) == paths
    assert sandbox.records(ADD) == []


def test_names_are_unique_and_nicknames_allowed_with_percent_signs(connected, alice_client):
    new_template(alice_client, text="满100%返现，%NICKNAME% 快来")
    problem = assert_problem(
        alice_client.post(URL, {"name": "欢迎新人", "text": "x"}, format="json"), 400, "validation_error"
    )
    assert [e["path"] for e in problem["errors"]] == ["name"]


def test_at_most_100_per_corp(connected, sandbox, alice_client):
    with tenant_context(connected):
        GroupWelcomeTemplate.objects.bulk_create(
            [
                GroupWelcomeTemplate(name=f"t{i}", text="x", template_id=f"msgold{i}")
                for i in range(MAX_TEMPLATES)
            ]
        )
    problem = assert_problem(
        alice_client.post(URL, {"name": "one more", "text": "x"}, format="json"), 400, "validation_error"
    )
    assert problem["errors"][0]["path"] is None
    assert "100" in problem["errors"][0]["message"]
    assert sandbox.records(ADD) == []


def test_wecoms_own_limit_is_reported(connected, sandbox, alice_client):
    # Templates made by other apps count too: WeCom's refusal comes back as a wecom_error.
    with sandbox.state.lock:
        for i in range(MAX_TEMPLATES):
            sandbox.state.group_welcome_templates[f"msgother{i}"] = {"text": {"content": "x"}}
    problem = assert_problem(
        alice_client.post(URL, {"name": "x", "text": "x"}, format="json"), 400, "wecom_error"
    )
    assert "100" in problem["detail"]
    with tenant_context(connected):
        assert not GroupWelcomeTemplate.objects.exists()


def test_a_wecom_refusal_keeps_nothing(connected, sandbox, alice_client):
    sandbox.set_faults({"apis": {ADD: {"errors": {"48002": 1.0}}}})
    assert_problem(alice_client.post(URL, {"name": "x", "text": "x"}, format="json"), 502, "wecom_error")
    with tenant_context(connected):
        assert not GroupWelcomeTemplate.objects.exists()


def test_a_template_wecom_lost_is_deleted_here_too(connected, sandbox, alice_client):
    created = new_template(alice_client)
    del sandbox.state.group_welcome_templates[created["template_id"]]
    assert alice_client.delete(f"{URL}{created['id']}/").status_code == 204
    with tenant_context(connected):
        assert not GroupWelcomeTemplate.objects.exists()
    # But when WeCom cannot be asked, nothing is deleted.
    created = new_template(alice_client)
    sandbox.set_faults({"apis": {"externalcontact/group_welcome_template/del": {"errors": {"48002": 1.0}}}})
    assert_problem(alice_client.delete(f"{URL}{created['id']}/"), 502, "wecom_error")
    assert created["template_id"] in sandbox.state.group_welcome_templates
    with tenant_context(connected):
        assert GroupWelcomeTemplate.objects.count() == 1


def test_roles_and_tenants(connected, alice_client, bob_client, operator_client, charlie_client, tenant_b):
    created = new_template(operator_client)
    one = f"{URL}{created['id']}/"
    for method, url in (("get", URL), ("post", URL), ("get", one), ("patch", one), ("delete", one)):
        assert_problem(getattr(bob_client, method)(url, {}, format="json"), 403, "permission_denied")
    assert charlie_client.get(URL).json()["results"] == []
    for method in ("get", "patch", "delete"):
        assert_problem(getattr(charlie_client, method)(one, {}, format="json"), 404, "not_found")
    with tenant_context(tenant_b):
        assert not GroupWelcomeTemplate.objects.exists()
    # Another tenant's image cannot be put in a template.
    image = upload(alice_client)
    body = {"name": "x", "attachment": {"material_id": image}}
    problem = assert_problem(charlie_client.post(URL, body, format="json"), 400, "validation_error")
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [
        ("attachment.material_id", "does_not_exist")
    ]
    assert operator_client.delete(one).status_code == 204


@pytest.fixture
def take_the_name_meanwhile(monkeypatch):
    """Call it to have another request take the name between the service's check and its write (a race
    the check alone cannot close): a template of that name appears right after the input is checked."""
    checked = welcome_templates._clean

    def racing(data, *, template):
        out = checked(data, template=template)
        if "name" in out:
            GroupWelcomeTemplate.objects.create(name=out["name"], text="x", template_id="msgother")
        return out

    return lambda: monkeypatch.setattr(welcome_templates, "_clean", racing)


def test_a_name_taken_meanwhile_leaves_nothing_behind_in_wecom(
    connected, sandbox, alice_client, take_the_name_meanwhile
):
    take_the_name_meanwhile()
    before = dict(sandbox.state.group_welcome_templates)
    problem = assert_problem(
        alice_client.post(URL, {"name": "抢名字", "text": "x"}, format="json"), 400, "validation_error"
    )
    assert [e["path"] for e in problem["errors"]] == ["name"]
    assert sandbox.state.group_welcome_templates == before  # added, then deleted again


@pytest.mark.parametrize(
    "change",
    [
        {"text": "换一句 %NICKNAME%"},  # edited in place in WeCom
        {"attachment": {}},  # the link dropped: WeCom needs a new template
    ],
)
def test_an_update_whose_name_was_taken_meanwhile_changes_nothing_in_wecom(
    connected, sandbox, alice_client, take_the_name_meanwhile, change
):
    created = new_template(alice_client, attachment=link(alice_client))
    before = {k: dict(v) for k, v in sandbox.state.group_welcome_templates.items()}
    edits = len(sandbox.records("externalcontact/group_welcome_template/edit"))
    adds = len(sandbox.records(ADD))
    take_the_name_meanwhile()
    response = alice_client.patch(f"{URL}{created['id']}/", {"name": "新名字", **change}, format="json")
    assert [e["path"] for e in assert_problem(response, 400, "validation_error")["errors"]] == ["name"]
    assert {k: dict(v) for k, v in sandbox.state.group_welcome_templates.items()} == before
    assert len(sandbox.records("externalcontact/group_welcome_template/edit")) == edits
    assert len(sandbox.records(ADD)) == adds
    with tenant_context(connected):
        template = GroupWelcomeTemplate.objects.get(pk=created["id"])
    assert (template.name, template.template_id, template.attachment) == (
        "欢迎新人",
        created["template_id"],
        created["attachment"],
    )


def test_a_new_template_that_cannot_be_kept_is_deleted_in_wecom(
    connected, sandbox, alice_client, monkeypatch, django_capture_on_commit_callbacks
):
    """A change that needs a new template in WeCom: when the row cannot take the new id, the new
    template is deleted there again and the old one stays."""
    created = new_template(alice_client, attachment=link(alice_client))

    def broken_save(self, *args, **kwargs):
        if kwargs.get("update_fields") == ["template_id", "updated_at"]:
            raise RuntimeError("the database went away")
        return saved(self, *args, **kwargs)

    saved = GroupWelcomeTemplate.save
    monkeypatch.setattr(GroupWelcomeTemplate, "save", broken_save)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        alice_client.patch(f"{URL}{created['id']}/", {"attachment": {}}, format="json")
    assert list(sandbox.state.group_welcome_templates) == [created["template_id"]]
    assert len(sandbox.records(ADD)) == 2  # the first template, and the one deleted again
