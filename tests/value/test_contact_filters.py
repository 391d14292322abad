"""The contacts list's customer-value and profile filters, its value columns and ordering, and the same
filters kept by segments, exports and bulk jobs. Every filter on hand-made ContactValue, PointsAccount
and profile rows; bounds are inclusive. The clock is pinned: "bought in the last 7 days" is exact.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.exceptions import ValidationError

from contacts import filters as contact_filters
from contacts.models import Job
from contacts.selectors import contacts_matching
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import DataScope, Role
from scrm.tenancy.principal import Principal
from tests.contacts.builders import Builder
from tests.helpers import assert_problem
from value.models import ContactValue, Level, PointsAccount, ProfileField

CONTACTS = "/api/v1/contacts/"
SEGMENTS = "/api/v1/segments/"
EXPORT = "/api/v1/contacts/export/"
# A Wednesday, 10:00 in China.
NOW = dt.datetime(2026, 11, 4, 2, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def value_row(contact, **fields) -> ContactValue:
    defaults = {"tier": "active", "tier_since": NOW, "computed_at": NOW}
    return ContactValue.objects.create(contact=contact, **{**defaults, **fields})


@pytest.fixture
def world(tenant_a, alice, bob):
    """Five customers of tenant A, from "not computed yet" to a high-value one:

    ========  =========  =====  =======  ======  =============  ======  ======
    name      tier       score  ltv      orders  last purchase  points  level
    ========  =========  =====  =======  ======  =============  ======  ======
    未算      (no row)                                          (none)
    新客      new        0      0        0       never          0
    活跃      active     50     1000.00  2       7 days ago     100     Silver
    高价值    high_value 100    2000.50  5       30 days ago    1000    Gold
    沉默      silent     10     0        0       never          (none)
    ========  =========  =====  =======  ======  =============  ======  ======

    bob (sales) follows 活跃 and 沉默.
    """
    with tenant_context(tenant_a):
        b = Builder(tenant_a)
        ann, bob_staff = b.staff("ann"), b.staff("bob")
        vip = b.tag("VIP")
        silver = Level.objects.create(name="Silver", min_points=100)
        gold = Level.objects.create(name="Gold", min_points=1000)
        none = b.contact("未算", staff=ann)
        new = b.contact("新客", staff=ann)
        active = b.contact("活跃", staff=bob_staff, tags=[vip])
        high = b.contact("高价值", staff=ann, tags=[vip])
        silent = b.contact("沉默", staff=bob_staff)
        value_row(new, tier="new")
        value_row(
            active, score=50, ltv=Decimal("1000.00"), orders=2, last_purchase_at=NOW - dt.timedelta(days=7)
        )
        value_row(
            high,
            tier="high_value",
            score=100,
            ltv=Decimal("2000.50"),
            orders=5,
            last_purchase_at=NOW - dt.timedelta(days=30),
        )
        value_row(silent, tier="silent", score=10)
        PointsAccount.objects.create(contact=new, balance=0)
        PointsAccount.objects.create(contact=active, balance=100, earned_total=100, level=silver)
        PointsAccount.objects.create(contact=high, balance=1000, earned_total=1500, level=gold)
    return {
        "tenant": tenant_a, "vip": vip, "silver": silver, "gold": gold,
        "none": none, "new": new, "active": active, "high": high, "silent": silent,
    }  # fmt: skip


def admin(tenant) -> Principal:
    return Principal(tenant=tenant, role=Role.ADMIN)


def names(world, **filters) -> list[str]:
    with tenant_context(world["tenant"]):
        return sorted(c.name for c in contacts_matching(principal=admin(world["tenant"]), filters=filters))


ALL = sorted(["未算", "新客", "活跃", "高价值", "沉默"])


def error_of(world, **filters) -> tuple[str, str]:
    """(parameter, code) of the one error ``filters`` give where ids are checked."""
    with pytest.raises(ValidationError) as exc, tenant_context(world["tenant"]):
        list(contacts_matching(principal=admin(world["tenant"]), filters=filters))
    [(name, errors)] = exc.value.detail.items()
    return name, errors[0].code


# -- the value filters --------------------------------------------------------------------------------


def test_tier(world):
    assert names(world, tier="new") == ["新客"]
    assert names(world, tier="active") == ["活跃"]
    assert names(world, tier="high_value") == ["高价值"]
    assert names(world, tier="silent") == ["沉默"]
    assert names(world, tier="lost") == []
    assert error_of(world, tier="gold") == ("tier", "invalid")


def test_score_bounds_are_inclusive_and_no_row_is_a_score_of_0(world):
    assert names(world, score_min="50") == ["活跃", "高价值"]
    assert names(world, score_min="100") == ["高价值"]
    assert names(world, score_min="0") == ALL
    assert names(world, score_max="10") == sorted(["未算", "新客", "沉默"])
    assert names(world, score_max="0") == sorted(["未算", "新客"])
    assert names(world, score_min="10", score_max="50") == sorted(["活跃", "沉默"])
    assert names(world, score_max="100") == ALL
    for bad in ("101", "-1", "1.5", "x"):
        assert error_of(world, score_min=bad)[0] == "score_min"


def test_ltv_bounds_are_inclusive_to_the_cent_and_no_row_is_0(world):
    assert names(world, ltv_min="1000") == ["活跃", "高价值"]
    assert names(world, ltv_min="2000.50") == ["高价值"]
    assert names(world, ltv_min="2000.51") == []
    assert names(world, ltv_min="0") == ALL
    assert names(world, ltv_min="0.01") == ["活跃", "高价值"]
    assert names(world, ltv_max="1000.00") == sorted(["未算", "新客", "活跃", "沉默"])
    assert names(world, ltv_max="999.99") == sorted(["未算", "新客", "沉默"])
    assert names(world, ltv_min=" 500 ", ltv_max="2000.5") == ["活跃", "高价值"]
    for bad in ("-1", "1.234", "1e3", "abc", "1,000", "9999999999999"):
        assert error_of(world, ltv_min=bad) == ("ltv_min", "invalid")


def test_orders_min(world):
    assert names(world, orders_min="2") == ["活跃", "高价值"]
    assert names(world, orders_min="5") == ["高价值"]
    assert names(world, orders_min="6") == []
    assert names(world, orders_min="0") == ALL
    assert error_of(world, orders_min="-1")[0] == "orders_min"


def test_purchased_within_counts_back_from_now_inclusively(world):
    assert names(world, purchased_within="7") == ["活跃"]  # exactly 7 days ago: within 7 days
    assert names(world, purchased_within="6") == []
    assert names(world, purchased_within="30") == ["活跃", "高价值"]
    with time_machine.travel(NOW + dt.timedelta(seconds=1), tick=False):
        assert names(world, purchased_within="7") == []


def test_not_purchased_within_is_never_or_longer_ago(world):
    assert names(world, not_purchased_within="7") == sorted(["未算", "新客", "高价值", "沉默"])
    assert names(world, not_purchased_within="30") == sorted(["未算", "新客", "沉默"])
    assert names(world, not_purchased_within="31") == sorted(["未算", "新客", "沉默"])
    # The two split the customers, whatever the number of days.
    for days in ("1", "7", "8", "30", "3650"):
        bought, not_bought = names(world, purchased_within=days), names(world, not_purchased_within=days)
        assert sorted(bought + not_bought) == ALL
    for bad in ("0", "3651", "x"):
        assert error_of(world, purchased_within=bad)[0] == "purchased_within"


def test_points_min_and_level(world):
    assert names(world, points_min="100") == ["活跃", "高价值"]
    assert names(world, points_min="1000") == ["高价值"]
    assert names(world, points_min="1001") == []
    assert names(world, points_min="0") == ALL
    assert names(world, level=str(world["silver"].pk)) == ["活跃"]
    assert names(world, level=str(world["gold"].pk)) == ["高价值"]
    assert error_of(world, level="999999") == ("level", "does_not_exist")


def test_value_filters_combine_with_the_others_and_the_callers_scope(world):
    vip = str(world["vip"].pk)
    assert names(world, tags_all=vip, score_min="60") == ["高价值"]
    assert names(world, tier="active", points_min="100", ltv_max="1000") == ["活跃"]
    sales = Principal(tenant=world["tenant"], role=Role.SALES, data_scope=DataScope.SELF, wecom_userid="bob")
    with tenant_context(world["tenant"]):
        mine = contacts_matching(principal=sales, filters={"score_max": "60"})
        assert sorted(c.name for c in mine) == sorted(["活跃", "沉默"])


def test_another_tenants_values_never_match(world, tenant_b):
    with tenant_context(tenant_b):
        other = Builder(tenant_b).contact("别家")
        value_row(other, tier="high_value", score=100, ltv=Decimal("99999"))
        PointsAccount.objects.create(contact=other, balance=5000)
        assert list(contacts_matching(principal=admin(tenant_b), filters={"tier": "active"})) == []
        level_b = Level.objects.create(name="Silver", min_points=1)
    assert names(world, tier="high_value") == ["高价值"]
    assert names(world, points_min="5000") == []
    assert error_of(world, level=str(level_b.pk)) == ("level", "does_not_exist")


# -- the list: value columns, ordering, filters through the API ---------------------------------------


def rows(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_list_rows_carry_tier_score_and_ltv(world, alice_client):
    by_name = {r["name"]: r for r in rows(alice_client.get(CONTACTS))}
    assert {k: by_name["高价值"][k] for k in ("tier", "score", "ltv")} == {
        "tier": "high_value",
        "score": 100,
        "ltv": "2000.50",
    }
    assert {k: by_name["新客"][k] for k in ("tier", "score", "ltv")} == {
        "tier": "new",
        "score": 0,
        "ltv": "0.00",
    }
    assert {k: by_name["未算"][k] for k in ("tier", "score", "ltv")} == {
        "tier": None,
        "score": None,
        "ltv": None,
    }


def test_the_list_orders_by_score_and_ltv_with_no_row_as_0(world, alice_client, key_client_for, tenant_a):
    by = lambda ordering: [r["name"] for r in rows(alice_client.get(CONTACTS, {"ordering": ordering}))]  # noqa: E731
    ids = {name: world[key].pk for key, name in [("none", "未算"), ("new", "新客"), ("silent", "沉默")]}
    zero_tie = sorted(["未算", "新客"], key=lambda n: -ids[n])  # ties: by id, in the same direction
    assert by("-score") == ["高价值", "活跃", "沉默", *zero_tie]
    assert by("score") == [*reversed(zero_tie), "沉默", "活跃", "高价值"]
    assert by("-ltv")[:2] == ["高价值", "活跃"]
    assert by("ltv")[-2:] == ["活跃", "高价值"]
    # Cursor pages (an API key's default) walk the same order without repeating or skipping anyone.
    key = key_client_for(tenant_a, Role.ADMIN)
    seen, response = [], key.get(CONTACTS, {"ordering": "-score", "page_size": 2})
    while True:
        body = response.json()
        seen += [r["name"] for r in body["results"]]
        if not body["next"]:
            break
        response = key.get(body["next"])
    assert seen == by("-score")
    assert_problem(alice_client.get(CONTACTS, {"ordering": "points"}), 400, "validation_error")


def test_the_list_filters_by_value_and_profile_through_the_api(world, alice_client, bob_client):
    with tenant_context(world["tenant"]):
        ProfileField.objects.create(key="city", label="城市", kind="text")
        world["high"].profile = {"city": "上海"}
        world["high"].save()
    assert [
        r["name"] for r in rows(alice_client.get(CONTACTS, {"tier": "high_value", "profile": "city=上海"}))
    ] == ["高价值"]
    assert [r["name"] for r in rows(bob_client.get(CONTACTS, {"score_min": "1"}))] == ["沉默", "活跃"]
    # In the list an unknown level matches nothing (as an unknown tag does); a bad value is a 400.
    assert rows(alice_client.get(CONTACTS, {"level": "999999"})) == []
    body = assert_problem(alice_client.get(CONTACTS, {"score_min": "101"}), 400, "validation_error")
    assert [e["path"] for e in body["errors"]] == ["score_min"]


def test_the_list_joins_the_value_table_only_for_value_filters_and_orderings(world, alice_client):
    """The row's value columns come from a subquery evaluated for the page's rows only; a JOIN would be
    made for every matching customer before the sort."""

    def page_sql(params: dict) -> str:
        with CaptureQueriesContext(connection) as ctx:
            rows(alice_client.get(CONTACTS, params))
        [sql] = [q["sql"] for q in ctx.captured_queries if 'FROM "contacts_contact"' in q["sql"]]
        return sql

    assert 'JOIN "value_contactvalue"' not in page_sql({"tags_any": str(world["vip"].pk)})
    assert 'JOIN "value_contactvalue"' in page_sql({"ordering": "-ltv"})
    assert 'JOIN "value_contactvalue"' in page_sql({"score_min": "5"})
    assert 'JOIN "value_pointsaccount"' in page_sql({"points_min": "5"})


def test_value_columns_and_filters_keep_the_lists_query_count(world, alice_client, tenant_a):
    with tenant_context(tenant_a):
        b = Builder(tenant_a)
        ann = b.staff("ann2")
        for i in range(40):
            contact = b.contact(f"客户{i}", staff=ann)
            value_row(contact, score=i, ltv=Decimal(i))
            PointsAccount.objects.create(contact=contact, balance=i)
    params = {"score_min": "1", "ltv_max": "100", "points_min": "1", "tier": "active", "ordering": "-score"}

    def count(page_size: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert len(rows(alice_client.get(CONTACTS, {**params, "page_size": page_size}))) == page_size
        return len(ctx.captured_queries)

    assert count(5) == count(35)


# -- profile clauses ----------------------------------------------------------------------------------


@pytest.fixture
def profiles(world):
    """Profile fields of every kind (one keyed ``contains``, a lookup's name) and four customers' values."""
    with tenant_context(world["tenant"]):
        for key, kind, choices in [
            ("city", "text", []),
            ("budget", "number", []),
            ("birthday", "date", []),
            ("skin", "choice", ["oily", "dry"]),
            ("interests", "multi_choice", ["a", "b", "c"]),
            ("contains", "text", []),
        ]:
            ProfileField.objects.create(key=key, label=key, kind=kind, choices=choices)
        ProfileField.objects.create(key="old", label="old", kind="text", archived=True)
        values = {
            "new": {
                "city": "Shanghai", "budget": 3000, "birthday": "1990-05-02", "skin": "oily",
                "interests": ["a", "b"], "contains": "x", "old": "kept",
            },
            "active": {
                "city": "上海市浦东 Shanghai", "budget": 2999.5, "birthday": "1990-12-01", "skin": "dry",
                "interests": ["b"],
            },
            "high": {"budget": 10000, "interests": ["c"]},
        }  # fmt: skip
        for key, profile in values.items():
            world[key].profile = profile
            world[key].save()
    return world


@pytest.mark.parametrize(
    ("clauses", "expected"),
    [
        ("city=Shanghai", ["新客"]),
        ("city~shanghai", ["新客", "活跃"]),
        ("city~浦东", ["活跃"]),
        ("city!=Shanghai", ["未算", "活跃", "高价值", "沉默"]),
        ("city?", ["新客", "活跃"]),
        ("city!?", ["未算", "高价值", "沉默"]),
        ("budget>=3000", ["新客", "高价值"]),
        ("budget<=3000", ["新客", "活跃"]),
        ("budget>=2999.5", ["新客", "活跃", "高价值"]),
        ("budget<=2999.49", []),
        ("budget=3000", ["新客"]),
        ("budget=3000.0", ["新客"]),
        ("budget!=3000", ["未算", "活跃", "高价值", "沉默"]),
        ("budget>=-5", ["新客", "活跃", "高价值"]),
        ("birthday>=1990-05-02", ["新客", "活跃"]),
        ("birthday<=1990-05-02", ["新客"]),
        ("birthday<=1990-05-01", []),
        ("birthday=1990-12-01", ["活跃"]),
        ("skin=oily", ["新客"]),
        ("skin!=oily", ["未算", "活跃", "高价值", "沉默"]),
        ("interests=b", ["新客", "活跃"]),
        ("interests=c", ["高价值"]),
        ("interests!=b", ["未算", "高价值", "沉默"]),
        ("interests?", ["新客", "活跃", "高价值"]),
        ("contains=x", ["新客"]),
        ("old=kept", ["新客"]),  # an archived field still filters: its values stay
        (" city ~ shanghai ; budget >= 3000 ", ["新客"]),
        ("city?;interests=b;budget<=3000;skin!=dry", ["新客"]),
    ],
)
def test_profile_clauses(profiles, clauses, expected):
    assert names(profiles, profile=clauses) == sorted(expected)


@pytest.mark.parametrize(
    ("clauses", "code"),
    [
        ("colour=red", "does_not_exist"),
        ("city=上海;colour?", "does_not_exist"),
        ("budget~3", "wrong_kind"),
        ("city>=a", "wrong_kind"),
        ("skin~oi", "wrong_kind"),
        ("budget=abc", "wrong_kind"),
        ("budget>=1e3", "wrong_kind"),
        ("budget<=10000000000000", "wrong_kind"),
        ("birthday>=1990-13-01", "wrong_kind"),
        ("birthday>=1990-5-2", "wrong_kind"),
        ("skin=greasy", "wrong_kind"),
        ("interests=z", "wrong_kind"),
        ("city", "invalid"),
        ("city=", "invalid"),
        ("city?x", "invalid"),
        ("city<5", "invalid"),
        ("City=x", "invalid"),
        ("city=x;", "invalid"),
        (";".join(["city?"] * 11), "invalid"),
        ("city=" + "x" * 201, "invalid"),
    ],
)
def test_bad_profile_clauses_are_400s_naming_profile(profiles, alice_client, clauses, code):
    assert error_of(profiles, profile=clauses) == ("profile", code)
    body = assert_problem(alice_client.get(CONTACTS, {"profile": clauses}), 400, "validation_error")
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("profile", code)]


def test_ten_clauses_of_200_characters_are_fine(profiles):
    value = "x" * 200
    assert names(profiles, profile=";".join([f"city!={value}"] * 10)) == ALL


def test_the_published_pattern_is_the_syntax(profiles):
    import re

    pattern = contact_filters.PROFILE_PATTERN
    for good in ("city=Shanghai", "city?", "a!?", " city ~ x ; budget>=3 ", ";".join(["city?"] * 10)):
        assert re.fullmatch(pattern, good), good
    for bad in ("city", "city=", "city?x", "city<5", "City=x", "city=x;", ";".join(["city?"] * 11)):
        assert not re.fullmatch(pattern, bad), bad


def test_multiple_choice_contains_is_a_json_each_subquery_on_sqlite(monkeypatch):
    """SQLite has no JSON containment (``@>``): the list's elements are read with json_each there."""

    class SQLite:
        vendor = "sqlite"

    assert "profile__contains" in str(contact_filters._list_contains_q("interests", "b"))
    monkeypatch.setattr(contact_filters, "connection", SQLite())
    q = contact_filters._list_contains_q("interests", "b")
    [(lookup, raw)] = q.children
    assert lookup == "pk__in"
    assert "json_each(c.profile, %s)" in raw.sql
    assert raw.params == ('$."interests"', "b")


# -- segments, exports and bulk jobs keep the new filters ---------------------------------------------


def test_a_segment_keeps_value_and_profile_filters_and_reapplies_them(profiles, alice_client, bob_client):
    filters = {"tier": "active", "score_min": "40", "profile": "interests=b", "points_min": "100"}
    created = alice_client.post(SEGMENTS, {"name": "活跃爱好b", "filters": filters}, format="json")
    assert created.status_code == 201, created.content
    segment = created.json()
    assert segment["filters"] == filters
    assert segment["count"] == 1
    url = f"{SEGMENTS}{segment['id']}/"
    assert [r["name"] for r in rows(alice_client.get(f"{url}contacts/"))] == ["活跃"]
    # Re-applied on the data as it is now: the next value pass moves 新客 up.
    with tenant_context(profiles["tenant"]):
        ContactValue.objects.filter(contact=profiles["new"]).update(tier="active", score=45)
        PointsAccount.objects.filter(contact=profiles["new"]).update(balance=150)
    assert alice_client.get(url).json()["count"] == 2
    assert sorted(r["name"] for r in rows(alice_client.get(f"{url}contacts/"))) == ["新客", "活跃"]
    assert bob_client.get(url).json()["count"] == 1  # within bob's customers


@pytest.mark.parametrize(
    ("filters", "path", "code"),
    [
        ({"profile": "colour=red"}, "filters.profile", "does_not_exist"),
        ({"profile": "budget~3"}, "filters.profile", "wrong_kind"),
        ({"level": "999999"}, "filters.level", "does_not_exist"),
        ({"ltv_min": "-1"}, "filters.ltv_min", "invalid"),
        ({"tier": "gold"}, "filters.tier", "invalid"),
    ],
)
def test_segments_refuse_bad_value_and_profile_filters(profiles, alice_client, filters, path, code):
    body = assert_problem(
        alice_client.post(SEGMENTS, {"name": "坏", "filters": filters}, format="json"),
        400,
        "validation_error",
    )
    assert [(e["path"], e["code"]) for e in body["errors"]] == [(path, code)]


def test_a_segment_naming_a_level_deleted_since_counts_none_and_says_why(world, alice_client):
    level = world["silver"]
    created = alice_client.post(
        SEGMENTS, {"name": "银卡", "filters": {"level": str(level.pk)}}, format="json"
    )
    assert created.json()["count"] == 1
    with tenant_context(world["tenant"]):
        level.delete()
    url = f"{SEGMENTS}{created.json()['id']}/"
    response = alice_client.get(url)
    assert response.status_code == 200, response.content
    assert response.json()["count"] is None
    body = assert_problem(alice_client.get(f"{url}contacts/"), 400, "validation_error")
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("filters.level", "does_not_exist")]


def test_bulk_jobs_check_the_level_id(world, alice_client):
    body = {"action": "tag", "tags": [world["vip"].pk], "filters": {"level": "999999"}}
    response = alice_client.post(f"{CONTACTS}bulk-tag/", body, format="json")
    body = assert_problem(response, 400, "validation_error")
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("filters.level", "does_not_exist")]
    with tenant_context(world["tenant"]):
        assert not Job.objects.exists()


def export(client, django_capture_on_commit_callbacks, body):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(EXPORT, body, format="json")
    assert response.status_code == 202, response.content
    with tenant_context(Job.unscoped.get(pk=response.json()["id"]).tenant):
        job = Job.objects.get(pk=response.json()["id"])
        assert job.status == "succeeded", (job.status, job.errors)
        raw = job.result_file.open("rb").read().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(raw)))


def test_the_export_has_value_columns_and_a_column_per_profile_field(
    profiles, alice_client, django_capture_on_commit_callbacks
):
    with tenant_context(profiles["tenant"]):
        ProfileField.objects.filter(key="contains").update(label="=HYPERLINK(1)")
        profiles["active"].profile = {**profiles["active"].profile, "city": "=1+1"}
        profiles["active"].save()
    table = export(alice_client, django_capture_on_commit_callbacks, {})
    header, *lines = table
    value_columns = ["tier", "score", "ltv", "orders", "points", "level"]
    profile_headers = ["city", "budget", "birthday", "skin", "interests", "'=HYPERLINK(1)"]  # not "old"
    assert header[-12:] == value_columns + profile_headers
    by_name = {line[header.index("name")]: dict(zip(header, line, strict=True)) for line in lines}
    high, active, none = by_name["高价值"], by_name["活跃"], by_name["未算"]
    assert [high[c] for c in value_columns] == ["high_value", "100", "2000.50", "5", "1000", "Gold"]
    assert [none[c] for c in value_columns] == ["", "", "", "", "0", ""]
    assert [active[c] for c in value_columns] == ["active", "50", "1000.00", "2", "100", "Silver"]
    assert active["city"] == "'=1+1"  # formula-safe
    assert active["interests"] == "b"
    assert by_name["新客"]["interests"] == "a; b"
    assert by_name["新客"]["budget"] == "3000"
    assert active["budget"] == "2999.5"
    assert by_name["新客"]["birthday"] == "1990-05-02"
    assert none["city"] == ""


def test_an_export_of_chosen_columns_and_of_new_filters(
    profiles, bob_client, django_capture_on_commit_callbacks
):
    table = export(
        bob_client,
        django_capture_on_commit_callbacks,
        {"columns": ["name", "tier", "profile"], "score_max": "60", "profile": "city?"},
    )
    assert table == [
        ["name", "tier", "city", "budget", "birthday", "skin", "interests", "contains"],
        ["活跃", "active", "上海市浦东 Shanghai", "2999.5", "1990-12-01", "dry", "b", ""],
    ]


def test_an_export_with_bad_new_filters_is_a_400(profiles, alice_client):
    body = assert_problem(
        alice_client.post(EXPORT, {"profile": "colour=red"}, format="json"), 400, "validation_error"
    )
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("profile", "does_not_exist")]
    body = assert_problem(
        alice_client.post(EXPORT, {"columns": ["points", "karma"]}, format="json"), 400, "validation_error"
    )
    assert [e["path"] for e in body["errors"]] == ["columns.1"]
