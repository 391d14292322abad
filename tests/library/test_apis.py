"""The library's routes: create each kind (JSON or an upload), list with filters and usage counts, the
file behind a tenant check, changes, deletes refused while in use; folders and tags; roles (everyone
reads, admins and operators write), API keys as well as sessions, and tenant isolation."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from library import services
from library.models import Material
from scrm.tenancy.actors import actor_display
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import ApiKey, Role
from tests.helpers import assert_problem
from tests.library.conftest import MP4, PDF, PNG

URL = "/api/v1/materials/"
FOLDERS = "/api/v1/material-folders/"

pytestmark = pytest.mark.django_db


def upload(client, kind: str = "image", content: bytes = PNG, name: str = "poster.png", **form):
    return client.post(
        URL, {"kind": kind, "file": SimpleUploadedFile(name, content), **form}, format="multipart"
    )


def created(response) -> dict:
    assert response.status_code == 201, response.content
    return response.json()


def paths(response) -> dict[str, str]:
    return {e["path"]: e["code"] for e in assert_problem(response, 400, "validation_error")["errors"]}


@pytest.mark.parametrize("actor", ["session", "key"])
def test_each_kind_is_created_and_read_back(actor, tenant_a, alice, alice_client, key_client_for):
    client = alice_client if actor == "session" else key_client_for(tenant_a, Role.ADMIN)
    folder = created(client.post(FOLDERS, {"name": "新人礼"}, format="json"))
    poster = created(upload(client, title="门店海报", folder=str(folder["id"]), tags=["门店", "新人"]))
    assert poster["kind"] == "image"
    assert (poster["title"], poster["folder"], poster["tags"]) == ("门店海报", folder["id"], ["新人", "门店"])
    assert (poster["filename"], poster["content_type"], poster["size"]) == (
        "poster.png",
        "image/png",
        len(PNG),
    )
    assert poster["file_url"].endswith(f"/api/v1/materials/{poster['id']}/file/")
    assert poster["preview_url"] == poster["file_url"]
    video = created(upload(client, "video", MP4, "intro.mp4"))
    doc = created(upload(client, "file", PDF, "价目表.pdf"))
    assert (video["title"], doc["title"], doc["content_type"]) == ("intro", "价目表", "application/pdf")
    text = created(client.post(URL, {"kind": "text", "text": "双十一预告\n满减"}, format="json"))
    assert (text["title"], text["file_url"]) == ("双十一预告", None)
    link = {"kind": "link", "title": "新人礼包", "url": "https://example.com/gift", "description": "点开领取"}
    card = created(client.post(URL, {**link, "cover": poster["id"]}, format="json"))
    assert card["preview_url"] == poster["file_url"]
    program = {
        "kind": "miniprogram",
        "title": "商城",
        "appid": "wx0123456789abcdef",
        "page": "pages/index.html",
    }
    mini = created(client.post(URL, {**program, "cover": poster["id"]}, format="json"))
    assert mini["cover"] == poster["id"]

    if actor == "session":
        shown = actor_display(user=alice, api_key=None)
    else:
        shown = actor_display(user=None, api_key=ApiKey.unscoped.get(tenant=tenant_a))
    assert {m["created_by"]["name"] for m in (poster, video, doc, text, card, mini)} == {shown["name"]}
    listed = client.get(URL, {"page": 1}).json()
    assert [m["id"] for m in listed["results"]] == [
        mini["id"],
        card["id"],
        text["id"],
        doc["id"],
        video["id"],
        poster["id"],
    ]
    # The poster is the cover of both cards: used by two materials.
    assert listed["results"][-1]["usage_count"] == 2
    detail = client.get(f"{URL}{poster['id']}/").json()
    assert sorted(u["name"] for u in detail["used_by"]) == ["商城", "新人礼包"]


def test_the_file_is_served_to_the_tenants_members_only(tenant_a, alice_client, bob_client, charlie_client):
    poster = created(upload(alice_client))
    served = bob_client.get(f"{URL}{poster['id']}/file/")
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert b"".join(served.streaming_content) == PNG
    download = alice_client.get(f"{URL}{poster['id']}/file/", {"download": "true"})
    assert download["Content-Disposition"].startswith("attachment;")
    assert_problem(charlie_client.get(f"{URL}{poster['id']}/file/"), 404, "not_found")
    text = created(alice_client.post(URL, {"kind": "text", "text": "hi"}, format="json"))
    assert_problem(alice_client.get(f"{URL}{text['id']}/file/"), 404, "not_found")
    # Any other file is downloaded, never shown as a page of this site.
    page = created(upload(alice_client, "file", b"<script>alert(1)</script>", "x.html"))
    served = alice_client.get(f"{URL}{page['id']}/file/")
    assert (served["Content-Type"], served["Content-Disposition"]) == (
        "application/octet-stream",
        'attachment; filename="x.html"',
    )


def test_what_wecom_refuses_is_refused_with_the_field(alice_client, settings):
    assert paths(upload(alice_client, content=b"GIF89a" + b"\x00" * 10, name="x.gif")) == {
        "file": "unsupported_file"
    }
    oversize = PNG + b"\x00" * (services.IMAGE_MAX_BYTES + 1 - len(PNG))
    assert paths(upload(alice_client, content=oversize)) == {"file": "unsupported_file"}
    assert paths(upload(alice_client, "video", PNG)) == {"file": "unsupported_file"}
    assert paths(upload(alice_client, "file", b"12345")) == {"file": "unsupported_file"}
    bad_link = {"kind": "link", "title": "t", "url": "javascript:alert(1)"}
    assert paths(alice_client.post(URL, bad_link, format="json")) == {"url": "invalid"}
    long_desc = {"kind": "link", "title": "t", "url": "https://x.cn", "description": "描" * 171}
    assert paths(alice_client.post(URL, long_desc, format="json")) == {"description": "too_many_bytes"}
    no_cover = {"kind": "miniprogram", "title": "t", "appid": "wx0123456789abcdef", "page": "a.html"}
    assert paths(alice_client.post(URL, no_cover, format="json")) == {"cover": "required"}
    assert paths(alice_client.post(URL, {"kind": "image"}, format="json")) == {"kind": "invalid"}
    assert paths(alice_client.post(URL, {"kind": "text", "text": "字" * 1334}, format="json")) == {
        "text": "too_many_bytes"
    }
    # A body larger than the upload limit stops before it is read.
    settings.MAX_UPLOAD_REQUEST_BYTES = 1000
    assert_problem(upload(alice_client, "file", PDF * 20), 413, "payload_too_large")
    assert not Material.unscoped.exists()


def test_filters_search_and_usage_counts(tenant_a, alice_client):
    folder = created(alice_client.post(FOLDERS, {"name": "活动"}, format="json"))
    poster = created(upload(alice_client, title="海报", tags=["门店"]))
    card = created(
        alice_client.post(
            URL,
            {
                "kind": "link",
                "title": "礼包",
                "url": "https://x.cn",
                "folder": folder["id"],
                "tags": ["新人"],
            },
            format="json",
        )
    )
    text = created(
        alice_client.post(
            URL, {"kind": "text", "text": "满 300 减 50", "folder": folder["id"]}, format="json"
        )
    )
    with tenant_context(tenant_a):
        for owner_id in (1, 2, 3):
            services.material_usage_set(
                owner_type="campaign", owner_id=owner_id, attachments=[{"material_id": card["id"]}]
            )
        services.material_usage_set(
            owner_type="channel_code", owner_id=9, attachments=[{"material_id": card["id"]}]
        )

    def ids(**query) -> list[int]:
        response = alice_client.get(URL, query)
        assert response.status_code == 200, response.content
        return [m["id"] for m in response.json()["results"]]

    assert ids(kind="image") == [poster["id"]]
    assert ids(kind=["image", "text"]) == [text["id"], poster["id"]]
    assert ids(folder=folder["id"]) == [text["id"], card["id"]]
    assert ids(no_folder="true") == [poster["id"]]
    assert ids(tag="新人") == [card["id"]]
    assert ids(q="300") == [text["id"]]
    assert ids(id=[poster["id"], card["id"]]) == [card["id"], poster["id"]]
    listed = {m["id"]: m for m in alice_client.get(URL).json()["results"]}
    assert listed[card["id"]]["usage_count"] == 4
    assert [(u["owner_type"], u["count"]) for u in listed[card["id"]]["usage"]] == [
        ("campaign", 3),
        ("channel_code", 1),
    ]
    assert listed[poster["id"]]["usage"] == []
    assert alice_client.get(f"{URL}tags/").json() == [
        {"name": "新人", "material_count": 1},
        {"name": "门店", "material_count": 1},
    ]
    assert [(f["name"], f["material_count"]) for f in alice_client.get(FOLDERS).json()] == [("活动", 2)]


def test_the_list_costs_the_same_queries_for_one_material_or_many(
    alice_client, django_assert_max_num_queries
):
    created(upload(alice_client, tags=["a"]))
    with django_assert_max_num_queries(50) as one:
        assert alice_client.get(URL).status_code == 200
    queries = len(one.captured_queries)  # read now: the next request resets Django's query log
    assert queries > 0
    for i in range(5):
        created(alice_client.post(URL, {"kind": "text", "text": f"t{i}", "tags": [f"t{i}"]}, format="json"))
    with django_assert_max_num_queries(queries):
        assert len(alice_client.get(URL).json()["results"]) == 6


def test_changes_and_deletes(tenant_a, alice_client):
    folder = created(alice_client.post(FOLDERS, {"name": "活动"}, format="json"))
    card = created(
        alice_client.post(URL, {"kind": "link", "title": "礼包", "url": "https://x.cn"}, format="json")
    )
    changed = alice_client.patch(
        f"{URL}{card['id']}/", {"title": "新人礼包", "folder": folder["id"], "tags": ["新人"]}, format="json"
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["title"], changed.json()["folder"], changed.json()["tags"]) == (
        "新人礼包",
        folder["id"],
        ["新人"],
    )
    assert changed.json()["url"] == "https://x.cn"  # not sent: kept
    assert paths(
        alice_client.patch(f"{URL}{card['id']}/", {"appid": "wx0123456789abcdef"}, format="json")
    ) == {"appid": "wrong_kind"}
    with tenant_context(tenant_a):
        services.material_usage_set(
            owner_type="channel_code", owner_id=5, attachments=[{"material_id": card["id"]}]
        )
    refused = alice_client.delete(f"{URL}{card['id']}/")
    assert refused.status_code == 409
    body = refused.json()
    assert body["type"] == "material_in_use"
    assert body["used_by"] == [
        {"owner_type": "channel_code", "owner_id": 5, "label": "Channel code", "name": "Channel code #5"}
    ]
    with tenant_context(tenant_a):
        services.material_usage_set(owner_type="channel_code", owner_id=5, attachments=[])
    assert alice_client.delete(f"{URL}{card['id']}/").status_code == 204
    assert_problem(alice_client.get(f"{URL}{card['id']}/"), 404, "not_found")
    assert alice_client.get(URL).json()["results"] == []
    # A deleted folder leaves its materials in the library, in no folder.
    text = created(
        alice_client.post(URL, {"kind": "text", "text": "hi", "folder": folder["id"]}, format="json")
    )
    renamed = alice_client.patch(f"{FOLDERS}{folder['id']}/", {"name": "促销"}, format="json")
    assert renamed.json()["name"] == "促销"
    assert paths(alice_client.post(FOLDERS, {"name": "促销"}, format="json")) == {"name": "unique"}
    assert alice_client.delete(f"{FOLDERS}{folder['id']}/").status_code == 204
    assert alice_client.get(f"{URL}{text['id']}/").json()["folder"] is None


def test_roles_everyone_reads_managers_write(alice_client, bob_client, operator_client):
    poster = created(upload(alice_client))
    folder = created(alice_client.post(FOLDERS, {"name": "活动"}, format="json"))
    for path in (URL, f"{URL}{poster['id']}/", f"{URL}{poster['id']}/file/", f"{URL}tags/", FOLDERS):
        assert bob_client.get(path).status_code == 200, path
    for method, path, body in (
        ("post", URL, {"kind": "text", "text": "hi"}),
        ("patch", f"{URL}{poster['id']}/", {"title": "x"}),
        ("delete", f"{URL}{poster['id']}/", None),
        ("post", FOLDERS, {"name": "x"}),
        ("patch", f"{FOLDERS}{folder['id']}/", {"name": "y"}),
        ("delete", f"{FOLDERS}{folder['id']}/", None),
    ):
        assert_problem(getattr(bob_client, method)(path, body, format="json"), 403, "permission_denied")
    assert upload(bob_client).status_code == 403
    created(upload(operator_client, content=PNG + b"op"))
    assert operator_client.delete(f"{URL}{poster['id']}/").status_code == 204


def test_other_tenants_see_nothing(tenant_a, alice_client, charlie_client, key_client_for, tenant_b):
    poster = created(upload(alice_client))
    folder = created(alice_client.post(FOLDERS, {"name": "活动"}, format="json"))
    for client in (charlie_client, key_client_for(tenant_b, Role.ADMIN)):
        assert client.get(URL, {"page": 1}).json()["results"] == []
        assert client.get(FOLDERS).json() == []
        assert client.get(f"{URL}tags/").json() == []
        for method, path in (
            ("get", f"{URL}{poster['id']}/"),
            ("patch", f"{URL}{poster['id']}/"),
            ("delete", f"{URL}{poster['id']}/"),
            ("get", f"{URL}{poster['id']}/file/"),
            ("get", f"{FOLDERS}{folder['id']}/"),
            ("patch", f"{FOLDERS}{folder['id']}/"),
            ("delete", f"{FOLDERS}{folder['id']}/"),
        ):
            assert_problem(
                getattr(client, method)(path, {"title": "x", "name": "x"}, format="json"), 404, "not_found"
            )
        # A's folder and cover are no ids of B's.
        mini = {
            "kind": "miniprogram",
            "title": "t",
            "appid": "wx0123456789abcdef",
            "page": "a.html",
            "cover": poster["id"],
        }
        assert paths(client.post(URL, {**mini, "folder": folder["id"]}, format="json")) == {
            "cover": "does_not_exist",
            "folder": "does_not_exist",
        }
    with tenant_context(tenant_a):
        assert Material.objects.count() == 1
