"""The department tree's documented response is what it answers: one unpaginated list of nodes.

The dashboard's types come from the schema (``make api-types``); a paginated shape there made the
typed client read ``.results`` from a plain list.
"""

from __future__ import annotations

from drf_spectacular.generators import SchemaGenerator


def test_department_tree_is_documented_as_a_plain_list(alice_client, build_a):
    build_a.department(1, "总部", parent=0)
    schema = SchemaGenerator(urlconf="scrm.urls").get_schema(request=None, public=True)
    response = schema["paths"]["/api/v1/departments/"]["get"]["responses"]["200"]
    body = response["content"]["application/json"]["schema"]
    assert body["type"] == "array"
    assert body["items"] == {"$ref": "#/components/schemas/DepartmentNode"}
    assert not [
        p
        for p in schema["paths"]["/api/v1/departments/"]["get"].get("parameters", [])
        if p["name"] in ("page", "cursor")
    ]

    answer = alice_client.get("/api/v1/departments/").json()
    assert isinstance(answer, list)
    assert answer
    assert {"id", "wecom_id", "name", "parent_wecom_id", "order", "children"} <= set(answer[0])
