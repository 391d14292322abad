"""Profile fields and values (value.services.fields): what an admin defining a customer profile and a
member filling it in rely on. The field's key and kind never change, archived fields keep their
values, and every real change of a customer's profile is one ``profile_changed`` event."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import ValidationError

from contacts.models import ContactEvent, EventType
from scrm.api.errors import Conflict
from scrm.tenancy.actors import SYSTEM, Actor
from scrm.tenancy.context import tenant_context
from tests.contacts.builders import Builder
from value.models import FieldKind, ProfileField
from value.services import fields
from value.services.fields import (
    contact_profile_update,
    profile_field_archive,
    profile_field_create,
    profile_field_update,
)


@pytest.fixture
def build(tenant_a):
    """Tenant A's local data builder, with tenant A in context for the test."""
    with tenant_context(tenant_a):
        yield Builder(tenant_a)


def codes(exc: ValidationError) -> dict:
    """{field: code} (or {profile.key: code}) of a ValidationError's detail."""
    out = {}
    for name, errors in exc.detail.items():
        if isinstance(errors, dict):
            out.update({f"{name}.{key}": errs[0].code for key, errs in errors.items()})
        else:
            out[name] = errors[0].code
    return out


@pytest.fixture
def profile_fields(build):
    return {
        "city": profile_field_create(key="city", label="城市", kind=FieldKind.TEXT),
        "budget": profile_field_create(key="budget", label="预算", kind=FieldKind.NUMBER),
        "birthday": profile_field_create(key="birthday", label="生日", kind=FieldKind.DATE, yearly=True),
        "skin": profile_field_create(
            key="skin", label="肤质", kind=FieldKind.CHOICE, choices=["oily", "dry", "mixed"]
        ),
        "interests": profile_field_create(
            key="interests", label="兴趣", kind=FieldKind.MULTI_CHOICE, choices=["a", "b", "c"]
        ),
    }


def events_of(contact):
    return list(ContactEvent.objects.filter(contact=contact, type=EventType.PROFILE_CHANGED).order_by("id"))


# -- fields -------------------------------------------------------------------------------------------


def test_a_field_is_made_with_its_kind_and_choices(build):
    skin = profile_field_create(key="skin", label=" 肤质 ", kind="choice", choices=[" oily", "dry "], order=2)
    skin.refresh_from_db()
    assert (skin.key, skin.label, skin.kind, skin.choices, skin.order) == (
        "skin",
        "肤质",
        "choice",
        ["oily", "dry"],
        2,
    )
    assert skin.tenant == build.tenant
    assert not skin.archived
    assert not skin.yearly


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"key": "City"}, {"key": "invalid"}),
        ({"key": "1city"}, {"key": "invalid"}),
        ({"key": "a" * 33}, {"key": "invalid"}),
        ({"key": "city-x"}, {"key": "invalid"}),
        ({"label": "  "}, {"label": "invalid"}),
        ({"label": "x" * 65}, {"label": "invalid"}),
        ({"kind": "colour"}, {"kind": "invalid_choice"}),
        ({"kind": "text", "choices": ["a"]}, {"choices": "wrong_kind"}),
        ({"kind": "number", "choices": ["a"]}, {"choices": "wrong_kind"}),
        ({"kind": "choice"}, {"choices": "choices_required"}),
        ({"kind": "multi_choice", "choices": []}, {"choices": "choices_required"}),
        ({"kind": "choice", "choices": ["a", " a"]}, {"choices": "duplicate"}),
        ({"kind": "choice", "choices": ["a", " "]}, {"choices": "invalid"}),
        ({"kind": "choice", "choices": ["x" * 33]}, {"choices": "invalid"}),
        ({"kind": "choice", "choices": [str(i) for i in range(51)]}, {"choices": "max_length"}),
        ({"kind": "text", "yearly": True}, {"yearly": "wrong_kind"}),
        ({"kind": "choice", "choices": ["a"], "yearly": True}, {"yearly": "wrong_kind"}),
    ],
)
def test_invalid_fields_are_refused_with_the_field_named(build, data, errors):
    with pytest.raises(ValidationError) as exc:
        profile_field_create(**{"key": "city", "label": "城市", "kind": "text", **data})
    assert codes(exc.value) == errors
    assert not ProfileField.objects.exists()


def test_50_choices_of_32_characters_and_a_yearly_date_are_fine(build):
    choices = [f"{i:02d}" + "x" * 30 for i in range(50)]
    assert (
        profile_field_create(key="many", label="M", kind="multi_choice", choices=choices).choices == choices
    )
    assert profile_field_create(key="birthday", label="B", kind="date", yearly=True).yearly
    assert profile_field_create(key="a" * 32, label="K", kind="number").key == "a" * 32


def test_a_key_is_unique_for_good_archived_fields_included(build, tenant_b):
    city = profile_field_create(key="city", label="城市", kind="text")
    with pytest.raises(Conflict) as exc:
        profile_field_create(key="city", label="City", kind="text")
    assert exc.value.default_code == "key_taken"
    profile_field_archive(field=city)
    with pytest.raises(Conflict):
        profile_field_create(key="city", label="City", kind="number")
    with tenant_context(tenant_b):  # another tenant's keys are its own
        assert profile_field_create(key="city", label="City", kind="number").kind == "number"


def test_key_and_kind_cannot_change_but_may_be_sent_unchanged(build):
    city = profile_field_create(key="city", label="城市", kind="text")
    with pytest.raises(ValidationError) as exc:
        profile_field_update(field=city, data={"key": "town", "kind": "number", "label": "Town"})
    assert codes(exc.value) == {"key": "immutable", "kind": "immutable"}
    city.refresh_from_db()
    assert (city.key, city.kind, city.label) == ("city", "text", "城市")
    profile_field_update(field=city, data={"key": "city", "kind": "text", "label": "所在城市", "order": 5})
    city.refresh_from_db()
    assert (city.key, city.kind, city.label, city.order) == ("city", "text", "所在城市", 5)


def test_updates_follow_the_kind_rules(build):
    skin = profile_field_create(key="skin", label="肤质", kind="choice", choices=["oily", "dry"])
    city = profile_field_create(key="city", label="城市", kind="text")
    with pytest.raises(ValidationError) as exc:
        profile_field_update(field=skin, data={"choices": []})
    assert codes(exc.value) == {"choices": "choices_required"}
    with pytest.raises(ValidationError) as exc:
        profile_field_update(field=city, data={"choices": ["a"], "yearly": True})
    assert codes(exc.value) == {"choices": "wrong_kind", "yearly": "wrong_kind"}


def test_removing_a_choice_values_use_keeps_those_values(build, profile_fields):
    wang = build.contact("王芳")
    contact_profile_update(contact=wang, profile={"skin": "oily"}, actor=SYSTEM)
    profile_field_update(field=profile_fields["skin"], data={"choices": ["dry", "mixed", "sensitive"]})
    wang.refresh_from_db()
    assert wang.profile == {"skin": "oily"}
    with pytest.raises(ValidationError) as exc:  # but it is no longer a value to set
        contact_profile_update(contact=wang, profile={"skin": "oily"}, actor=SYSTEM)
    assert codes(exc.value) == {"profile.skin": "wrong_kind"}
    contact_profile_update(contact=wang, profile={"skin": "sensitive"}, actor=SYSTEM)
    assert wang.profile == {"skin": "sensitive"}


def test_archive_hides_a_field_keeps_its_values_and_restore_brings_it_back(build, profile_fields):
    wang = build.contact("王芳")
    contact_profile_update(contact=wang, profile={"city": "上海"}, actor=SYSTEM)
    city = profile_fields["city"]
    profile_field_archive(field=city)
    profile_field_archive(field=city)  # twice is fine
    city.refresh_from_db()
    assert city.archived
    assert "city" not in {f.key for f in fields.profile_fields()}
    assert "city" in {f.key for f in fields.profile_fields(include_archived=True)}
    wang.refresh_from_db()
    assert wang.profile == {"city": "上海"}
    with pytest.raises(ValidationError) as exc:
        contact_profile_update(contact=wang, profile={"city": "北京"}, actor=SYSTEM)
    assert codes(exc.value) == {"profile.city": "archived"}
    profile_field_update(field=city, data={"archived": False})
    assert contact_profile_update(contact=wang, profile={"city": "北京"}, actor=SYSTEM) == {"city": "北京"}


def test_at_most_100_fields_in_use(build, monkeypatch):
    monkeypatch.setattr(fields, "FIELDS_MAX", 2)
    first = profile_field_create(key="a", label="A", kind="text")
    profile_field_create(key="b", label="B", kind="text")
    with pytest.raises(Conflict) as exc:
        profile_field_create(key="c", label="C", kind="text")
    assert exc.value.default_code == "too_many_fields"
    profile_field_archive(field=first)
    profile_field_create(key="c", label="C", kind="text")
    with pytest.raises(Conflict):  # restoring would make three in use
        profile_field_update(field=first, data={"archived": False})


# -- values -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [
        ("city", " 上海 ", "上海"),
        ("city", "x" * 200, "x" * 200),
        ("budget", 3000, 3000),
        ("budget", -2.5, -2.5),
        ("budget", 10**12, 10**12),
        ("birthday", "1990-05-02", "1990-05-02"),
        ("birthday", "2024-02-29", "2024-02-29"),
        ("skin", "oily", "oily"),
        ("interests", ["b", "a", "b"], ["b", "a"]),
    ],
)
def test_values_are_stored_as_their_kind_says(build, profile_fields, key, value, stored):
    wang = build.contact("王芳")
    assert contact_profile_update(contact=wang, profile={key: value}, actor=SYSTEM) == {key: stored}
    wang.refresh_from_db()
    assert wang.profile == {key: stored}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("city", 5),
        ("city", "x" * 201),
        ("city", ["上海"]),
        ("city", "a\x00b"),
        ("budget", "3000"),
        ("budget", True),
        ("budget", 10**12 + 1),
        ("budget", float("inf")),
        ("budget", float("nan")),
        ("birthday", "1990-5-2"),
        ("birthday", "1990-02-30"),
        ("birthday", "19900502"),
        ("birthday", "2026-W01-1"),
        ("birthday", 19900502),
        ("skin", "greasy"),
        ("skin", ["oily"]),
        ("interests", "a"),
        ("interests", ["a", "z"]),
        ("interests", [1]),
    ],
)
def test_values_of_another_kind_are_refused_at_their_key(build, profile_fields, key, value):
    wang = build.contact("王芳")
    with pytest.raises(ValidationError) as exc:
        contact_profile_update(contact=wang, profile={"city": "上海", key: value}, actor=SYSTEM)
    assert codes(exc.value) == {f"profile.{key}": "wrong_kind"}
    wang.refresh_from_db()
    assert wang.profile == {}  # nothing of the edit was kept
    assert events_of(wang) == []


def test_unknown_keys_are_refused(build, tenant_b, profile_fields):
    wang = build.contact("王芳")
    with pytest.raises(ValidationError) as exc:
        contact_profile_update(contact=wang, profile={"colour": "red", "city": None}, actor=SYSTEM)
    assert codes(exc.value) == {"profile.colour": "does_not_exist"}
    with tenant_context(tenant_b):
        profile_field_create(key="colour", label="Colour", kind="text")
    with pytest.raises(ValidationError):  # another tenant's field is no field here
        contact_profile_update(contact=wang, profile={"colour": "red"}, actor=SYSTEM)


def test_a_profile_edit_merges_removes_and_records_what_changed(build, profile_fields, alice):
    wang = build.contact("王芳")
    actor = Actor(user=alice)
    first = {
        "city": "上海",
        "budget": 3000,
        "birthday": "1990-05-02",
        "skin": "oily",
        "interests": ["a", "b"],
    }
    assert contact_profile_update(contact=wang, profile=first, actor=actor) == first
    second = contact_profile_update(
        contact=wang,
        profile={"city": "北京", "budget": 3000.0, "interests": None, "skin": "oily"},
        actor=actor,
    )
    assert second == {"city": "北京", "budget": 3000, "birthday": "1990-05-02", "skin": "oily"}
    wang.refresh_from_db()
    assert wang.profile == second
    made, changed = events_of(wang)
    assert made.payload == {"changed": {key: [None, value] for key, value in first.items()}}
    # Only what changed: the same budget (3000.0 is 3000) and the same skin are not in it.
    assert changed.payload == {"changed": {"city": ["上海", "北京"], "interests": [["a", "b"], None]}}
    assert changed.actor == alice
    assert changed.actor_api_key is None
    assert changed.tenant == build.tenant


def test_an_edit_that_changes_nothing_writes_nothing(build, profile_fields):
    wang = build.contact("王芳")
    contact_profile_update(contact=wang, profile={"city": "上海", "interests": ["a"]}, actor=SYSTEM)
    wang.refresh_from_db()
    updated_at = wang.updated_at
    for same in (
        {"city": "上海"},
        {"city": " 上海 ", "interests": ["a", "a"]},
        {"budget": None},
        {"skin": None},
        {},
    ):
        assert contact_profile_update(contact=wang, profile=same, actor=SYSTEM) == {
            "city": "上海",
            "interests": ["a"],
        }
    assert len(events_of(wang)) == 1
    wang.refresh_from_db()
    assert wang.updated_at == updated_at


def test_empty_text_and_empty_lists_clear_a_value(build, profile_fields):
    wang = build.contact("王芳")
    contact_profile_update(contact=wang, profile={"city": "上海", "interests": ["a"]}, actor=SYSTEM)
    assert contact_profile_update(contact=wang, profile={"city": "  ", "interests": []}, actor=SYSTEM) == {}
    assert events_of(wang)[-1].payload == {"changed": {"city": ["上海", None], "interests": [["a"], None]}}


def test_an_api_key_is_recorded_as_the_actor(build, profile_fields, tenant_a):
    from scrm.tenancy import services

    key, _ = services.api_key_create(tenant=tenant_a, role="admin", name="shop")
    wang = build.contact("王芳")
    contact_profile_update(contact=wang, profile={"city": "上海"}, actor=Actor(api_key=key))
    event = events_of(wang)[0]
    assert (event.actor, event.actor_api_key) == (None, key)
