import { describe, expect, it } from "vitest";

import {
  type CustomerFilters,
  type ProfileClause,
  MAX_CLAUSES,
  clauseText,
  clausesParam,
  parseAmount,
  parseClause,
  parseClauses,
  parseCount,
  type ListState,
  DEFAULT_PAGE_SIZE,
  EMPTY_FILTERS,
  EMPTY_STATE,
  MAX_TAGS,
  clearFilters,
  contactsQuery,
  filtersFromParams,
  filtersToParams,
  hasActiveFilters,
  parseDate,
  parseId,
  parseIds,
  readListState,
  replaceFilters,
  sameFilters,
  withContact,
  withFilters,
  withOrdering,
  withPage,
  withPageSize,
  writeListState,
} from "./filters";

const FULL: CustomerFilters = {
  tags_all: [3, 4],
  tags_any: [7],
  tags_none: [9, 10],
  staff: "ZhangWei",
  department: 3,
  state: "store-qr",
  add_way: 201,
  stage: 2,
  status: "lost",
  gender: 2,
  added_after: "2024-01-01",
  added_before: "2024-02-29",
  search: "王 芳",
  tier: "silent",
  score_min: 0,
  score_max: 60,
  ltv_min: "199.5",
  ltv_max: "3000",
  orders_min: 2,
  purchased_within: 30,
  not_purchased_within: 90,
  points_min: 100,
  level: 4,
  profile: [
    { key: "city", op: "=", value: "上海" },
    { key: "budget", op: ">=", value: "3000" },
    { key: "birthday", op: "?", value: "" },
  ],
};

const FULL_STATE: ListState = { filters: FULL, ordering: "name", page: 3, pageSize: 100, contact: 42 };

const state = (patch: Partial<ListState> = {}): ListState => ({ ...EMPTY_STATE, ...patch });
const query = (params: URLSearchParams) => params.toString();

describe("round trips", () => {
  it("keeps every filter, the ordering, the page, the page size and the open customer", () => {
    const url = writeListState(FULL_STATE).toString();
    expect(readListState(url)).toEqual(FULL_STATE);
    expect(readListState(`?${url}`)).toEqual(FULL_STATE);
  });

  it("writes the API's parameter names, so a shared link reads like the call it makes", () => {
    const params = writeListState(FULL_STATE);
    expect(Object.fromEntries(params)).toEqual({
      tags_all: "3,4",
      tags_any: "7",
      tags_none: "9,10",
      staff: "ZhangWei",
      department: "3",
      state: "store-qr",
      add_way: "201",
      stage: "2",
      status: "lost",
      gender: "2",
      added_after: "2024-01-01",
      added_before: "2024-02-29",
      search: "王 芳",
      tier: "silent",
      score_min: "0",
      score_max: "60",
      ltv_min: "199.5",
      ltv_max: "3000",
      orders_min: "2",
      purchased_within: "30",
      not_purchased_within: "90",
      points_min: "100",
      level: "4",
      profile: "city=上海;budget>=3000;birthday?",
      ordering: "name",
      page: "3",
      page_size: "100",
      contact: "42",
    });
  });

  it("survives encoding: spaces, commas, Chinese and reserved characters in text filters", () => {
    const filters = { ...EMPTY_FILTERS, search: "a&b=c,d 王#?%", state: "x+y/z" };
    const url = `https://siyu.example/customers?${writeListState(state({ filters }))}`;
    expect(readListState(new URL(url).search).filters).toEqual(filters);
  });

  it("reads what it wrote for any single filter", () => {
    for (const [name, value] of Object.entries(FULL)) {
      const one = state({ filters: { ...EMPTY_FILTERS, [name]: value } });
      expect(readListState(writeListState(one))).toEqual(one);
    }
  });

  it("the empty state is the empty query string, and back", () => {
    expect(query(writeListState(EMPTY_STATE))).toBe("");
    expect(readListState("")).toEqual(EMPTY_STATE);
  });
});

describe("empty values are dropped", () => {
  it("leaves out empty text, empty lists, unset choices and defaults", () => {
    const params = writeListState(
      state({
        filters: { ...EMPTY_FILTERS, search: "   ", staff: "", tags_all: [], status: null },
        ordering: "-id",
        page: 1,
        pageSize: DEFAULT_PAGE_SIZE,
      }),
    );
    expect(query(params)).toBe("");
  });

  it("reads empty parameters as unset", () => {
    const read = readListState("tags_all=&staff=&department=&status=&added_after=&page=&page_size=&contact=");
    expect(read).toEqual(EMPTY_STATE);
  });

  it("filtersToParams gives only what is set (a segment's or an export's body)", () => {
    expect(filtersToParams({ ...EMPTY_FILTERS, tags_any: [5, 6], gender: 0, search: " vip " })).toEqual({
      tags_any: "5,6",
      gender: "0",
      search: "vip",
    });
    expect(filtersToParams(EMPTY_FILTERS)).toEqual({});
  });

  it("gender 0 (unknown) and add_way 0 are values, not empties", () => {
    const filters = { ...EMPTY_FILTERS, gender: 0 as const, add_way: 0 as const };
    expect(query(writeListState(state({ filters })))).toBe("add_way=0&gender=0");
    expect(readListState("add_way=0&gender=0").filters).toEqual(filters);
  });
});

describe("unknown and invalid parameters are ignored", () => {
  it("ignores parameters it does not know", () => {
    expect(readListState("utm_source=mail&foo=bar&tags=1,2&cursor=abc")).toEqual(EMPTY_STATE);
    expect(query(writeListState(readListState("utm_source=mail&status=active")))).toBe("status=active");
  });

  it("drops choices outside the API's", () => {
    const read = readListState("status=deleted&gender=3&add_way=12&ordering=created_at");
    expect(read.filters.status).toBeNull();
    expect(read.filters.gender).toBeNull();
    expect(read.filters.add_way).toBeNull();
    expect(read.ordering).toBeNull();
  });

  it("takes the first of a repeated parameter", () => {
    expect(readListState("status=lost&status=active").filters.status).toBe("lost");
  });
});

describe("arrays", () => {
  it("parses comma-separated ids, skipping blanks, junk and repeats, keeping the order", () => {
    expect(parseIds("4,3,,x,4, 7 ,-1,0,2.5")).toEqual([4, 3, 7]);
    expect(parseIds("")).toEqual([]);
    expect(parseIds(null)).toEqual([]);
  });

  it("keeps at most the API's limit of tags", () => {
    const many = Array.from({ length: MAX_TAGS + 10 }, (_, i) => i + 1).join(",");
    expect(parseIds(many)).toHaveLength(MAX_TAGS);
  });

  it("keeps the three tag lists apart", () => {
    const read = readListState("tags_all=1,2&tags_any=3&tags_none=4,5");
    expect(read.filters.tags_all).toEqual([1, 2]);
    expect(read.filters.tags_any).toEqual([3]);
    expect(read.filters.tags_none).toEqual([4, 5]);
  });

  it("compares tag lists as sets", () => {
    expect(sameFilters({ ...EMPTY_FILTERS, tags_all: [1, 2] }, { ...EMPTY_FILTERS, tags_all: [2, 1] })).toBe(true);
    expect(sameFilters({ ...EMPTY_FILTERS, tags_all: [1, 2] }, { ...EMPTY_FILTERS, tags_any: [1, 2] })).toBe(false);
  });
});

describe("dates", () => {
  it("accepts real ISO dates", () => {
    expect(parseDate("2024-02-29")).toBe("2024-02-29");
    expect(parseDate(" 2025-12-31 ")).toBe("2025-12-31");
  });

  it.each(["2023-02-29", "2024-13-01", "2024-00-10", "2024-04-31", "24-1-1", "2024/01/01", "yesterday", "2024-01-01T00:00"])(
    "drops %s",
    (raw) => {
      expect(parseDate(raw)).toBe("");
      expect(readListState(`added_after=${encodeURIComponent(raw)}`).filters.added_after).toBe("");
    },
  );

  it("keeps one end of the range without the other", () => {
    expect(readListState("added_before=2024-05-01").filters).toEqual({ ...EMPTY_FILTERS, added_before: "2024-05-01" });
  });
});

describe("invalid numbers", () => {
  it.each(["0", "-2", "1.5", "abc", "1e3", "0x10", " ", "99999999999999999999"])("page %j is page 1", (raw) => {
    expect(readListState(`page=${encodeURIComponent(raw)}`).page).toBe(1);
  });

  it.each(["7", "500", "0", "x", "50.0"])("page_size %j not offered by the pager is the default", (raw) => {
    expect(readListState(`page_size=${raw}`).pageSize).toBe(DEFAULT_PAGE_SIZE);
  });

  it("keeps the page sizes the pager offers", () => {
    for (const size of [20, 100, 200]) expect(readListState(`page_size=${size}`).pageSize).toBe(size);
  });

  it("drops ids that are not positive integers", () => {
    expect(parseId("12")).toBe(12);
    for (const raw of ["", "0", "-1", "1.0", "one", "12a"]) expect(parseId(raw)).toBeNull();
    const read = readListState("stage=two&department=-3&contact=abc");
    expect(read.filters.stage).toBeNull();
    expect(read.filters.department).toBeNull();
    expect(read.contact).toBeNull();
  });
});

describe("page reset when a filter changes", () => {
  const onPage4 = state({ page: 4, filters: { ...EMPTY_FILTERS, status: "active" } });

  it("goes back to page 1 when the selection changes", () => {
    expect(withFilters(onPage4, { tags_all: [1] }).page).toBe(1);
    expect(withFilters(onPage4, { status: null }).page).toBe(1);
    expect(withFilters(onPage4, { added_after: "2024-01-01" }).page).toBe(1);
  });

  it("stays on the page when nothing really changed", () => {
    expect(withFilters(onPage4, { status: "active" }).page).toBe(4);
    const tagged = state({ page: 2, filters: { ...EMPTY_FILTERS, tags_all: [1, 2] } });
    expect(withFilters(tagged, { tags_all: [2, 1] }).page).toBe(2);
  });

  it("goes back to page 1 on a new ordering or page size, not on the same one", () => {
    expect(withOrdering(onPage4, "name").page).toBe(1);
    expect(withOrdering(onPage4, "-id")).toBe(onPage4); // "-id" is the default
    expect(withPageSize(onPage4, 100).page).toBe(1);
    expect(withPageSize(onPage4, DEFAULT_PAGE_SIZE)).toBe(onPage4);
  });

  it("clearing and replacing filters start again at page 1 and keep the rest", () => {
    const open = { ...onPage4, contact: 9, ordering: "name" as const };
    const cleared = clearFilters(open);
    expect(cleared).toEqual({ ...open, filters: EMPTY_FILTERS, page: 1 });
    const segment = replaceFilters(open, filtersFromParams({ tags_any: "5" }));
    expect(segment.filters).toEqual({ ...EMPTY_FILTERS, tags_any: [5] });
    expect(segment.page).toBe(1);
  });

  it("opening a customer or paging keeps the filters", () => {
    expect(withContact(onPage4, 5)).toEqual({ ...onPage4, contact: 5 });
    expect(withPage(onPage4, 5)).toEqual({ ...onPage4, page: 5 });
    expect(withPage(onPage4, 0).page).toBe(1);
  });
});

describe("hasActiveFilters", () => {
  it("is false with nothing or only blanks set", () => {
    expect(hasActiveFilters(EMPTY_FILTERS)).toBe(false);
    expect(hasActiveFilters({ ...EMPTY_FILTERS, search: "  " })).toBe(false);
  });
  it("is true with any filter set", () => {
    for (const [name, value] of Object.entries(FULL)) {
      expect(hasActiveFilters({ ...EMPTY_FILTERS, [name]: value })).toBe(true);
    }
  });
});

describe("contactsQuery", () => {
  it("is the API query for the state", () => {
    expect(contactsQuery(FULL_STATE)).toEqual({
      page: 3,
      page_size: 100,
      ordering: "name",
      tags_all: "3,4",
      tags_any: "7",
      tags_none: "9,10",
      staff: "ZhangWei",
      department: 3,
      state: "store-qr",
      add_way: 201,
      stage: 2,
      status: "lost",
      gender: 2,
      added_after: "2024-01-01",
      added_before: "2024-02-29",
      search: "王 芳",
      tier: "silent",
      score_min: 0,
      score_max: 60,
      ltv_min: "199.5",
      ltv_max: "3000",
      orders_min: 2,
      purchased_within: 30,
      not_purchased_within: 90,
      points_min: 100,
      level: 4,
      profile: "city=上海;budget>=3000;birthday?",
    });
  });

  it("asks only for the page when nothing is filtered, and never for the open customer", () => {
    expect(contactsQuery(state({ contact: 3 }))).toEqual({ page: 1, page_size: DEFAULT_PAGE_SIZE });
  });
});

describe("segments", () => {
  it("filtersFromParams reads a saved segment's filters and drops what the list does not know", () => {
    expect(filtersFromParams({ tags_all: "1,2", status: "active", cursor: "x", gender: "9" })).toEqual({
      ...EMPTY_FILTERS,
      tags_all: [1, 2],
      status: "active",
    });
  });

  it("a segment saved from the filters opens as the same filters", () => {
    expect(filtersFromParams(filtersToParams(FULL))).toEqual(FULL);
    expect(sameFilters(filtersFromParams(filtersToParams(FULL)), FULL)).toBe(true);
  });
});

describe("value filters", () => {
  it("keep each one through the URL and through a segment", () => {
    for (const name of ["tier", "score_min", "score_max", "ltv_min", "ltv_max", "orders_min", "purchased_within", "not_purchased_within", "points_min", "level", "profile"] as const) {
      const one = { ...EMPTY_FILTERS, [name]: FULL[name] };
      expect(readListState(writeListState(state({ filters: one }))).filters).toEqual(one);
      expect(filtersFromParams(filtersToParams(one))).toEqual(one);
      expect(hasActiveFilters(one)).toBe(true);
    }
  });

  it("drop a tier the API does not have", () => {
    expect(readListState("tier=vip").filters.tier).toBeNull();
    for (const tier of ["new", "active", "silent", "high_value", "lost"]) expect(readListState(`tier=${tier}`).filters.tier).toBe(tier);
  });

  it("take scores 0–100 and drop the rest", () => {
    expect(readListState("score_min=0&score_max=100").filters).toMatchObject({ score_min: 0, score_max: 100 });
    for (const raw of ["101", "-1", "50.5", "x", ""]) expect(readListState(`score_min=${raw}`).filters.score_min).toBeNull();
  });

  it("score 0 and orders 0 are values, not empties", () => {
    const filters = { ...EMPTY_FILTERS, score_min: 0, orders_min: 0, points_min: 0 };
    expect(query(writeListState(state({ filters })))).toBe("score_min=0&orders_min=0&points_min=0");
  });

  it("keep amounts with at most two decimals as written", () => {
    expect(parseAmount("199.50")).toBe("199.50");
    expect(parseAmount(" 3000 ")).toBe("3000");
    expect(parseAmount("007.5")).toBe("7.5");
    expect(parseAmount("0")).toBe("0");
    expect(parseAmount(12.5)).toBe("12.5");
    for (const raw of ["-1", "1.999", "1e3", "abc", "1,000", "", "12345678901"]) expect(parseAmount(raw)).toBe("");
  });

  it("take purchase windows of 1–3650 days", () => {
    expect(parseCount("1", 1, 3650)).toBe(1);
    expect(parseCount("3650", 1, 3650)).toBe(3650);
    expect(readListState("purchased_within=0&not_purchased_within=3651").filters).toMatchObject({
      purchased_within: null,
      not_purchased_within: null,
    });
  });

  it("drop a level that is not an id", () => {
    expect(readListState("level=0").filters.level).toBeNull();
    expect(readListState("level=gold").filters.level).toBeNull();
    expect(readListState("level=12").filters.level).toBe(12);
  });

  it("a value filter starts again at page 1", () => {
    const onPage3 = state({ page: 3 });
    expect(withFilters(onPage3, { tier: "new" }).page).toBe(1);
    expect(withFilters(onPage3, { profile: [{ key: "city", op: "=", value: "上海" }] }).page).toBe(1);
  });
});

describe("profile clauses", () => {
  const clause = (key: string, op: ProfileClause["op"], value = ""): ProfileClause => ({ key, op, value });

  it.each([
    ["city=上海", clause("city", "=", "上海")],
    ["city!=北京", clause("city", "!=", "北京")],
    ["budget>=3000", clause("budget", ">=", "3000")],
    ["budget<=5000.5", clause("budget", "<=", "5000.5")],
    ["birthday>=1990-01-01", clause("birthday", ">=", "1990-01-01")],
    ["note~VIP 客户", clause("note", "~", "VIP 客户")],
    ["skin?", clause("skin", "?")],
    ["skin!?", clause("skin", "!?")],
    ["interests=a=b", clause("interests", "=", "a=b")],
    ["city==", clause("city", "=", "=")],
    ["  city = 上海 ", clause("city", "=", "上海")],
  ])("reads %j", (raw, expected) => {
    expect(parseClause(raw)).toEqual(expected);
  });

  it.each(["", "city", "City=x", "1city=x", "city=", "city!=", "skin?x", "skin!?yes", "a-b=c", `${"k".repeat(33)}=x`, "=x"])(
    "refuses %j",
    (raw) => {
      expect(parseClause(raw)).toBeNull();
    },
  );

  it("writes each clause back as it reads", () => {
    for (const raw of ["city=上海", "city!=北京", "budget>=3000", "budget<=1", "note~vip", "skin?", "skin!?"]) {
      expect(clauseText(parseClause(raw)!)).toBe(raw);
    }
  });

  it("splits on ;, skipping junk and repeats, keeping the order", () => {
    expect(parseClauses("city=上海;;bad clause;budget>=3000;city=上海;skin?")).toEqual([
      clause("city", "=", "上海"),
      clause("budget", ">=", "3000"),
      clause("skin", "?"),
    ]);
    expect(parseClauses(null)).toEqual([]);
  });

  it("keeps at most the API's limit of clauses", () => {
    const many = Array.from({ length: MAX_CLAUSES + 3 }, (_, i) => `f${i}?`).join(";");
    expect(parseClauses(many)).toHaveLength(MAX_CLAUSES);
  });

  it("survives the URL's encoding (=, ;, ?, ~, Chinese)", () => {
    const filters = { ...EMPTY_FILTERS, profile: [clause("city", "=", "上海 & 杭州"), clause("note", "~", "50%?"), clause("skin", "!?")] };
    const url = `https://siyu.example/customers?${writeListState(state({ filters }))}`;
    expect(readListState(new URL(url).search).filters).toEqual(filters);
    expect(clausesParam(filters.profile)).toBe("city=上海 & 杭州;note~50%?;skin!?");
  });

  it("compares clauses as a set: their order means nothing (they all hold)", () => {
    const a = { ...EMPTY_FILTERS, profile: [clause("city", "=", "上海"), clause("skin", "?")] };
    const b = { ...EMPTY_FILTERS, profile: [clause("skin", "?"), clause("city", "=", "上海")] };
    expect(sameFilters(a, b)).toBe(true);
    expect(sameFilters(a, { ...EMPTY_FILTERS, profile: [clause("city", "=", "北京")] })).toBe(false);
  });

  it("opens a segment saved with clauses as the same clauses", () => {
    expect(filtersFromParams({ profile: "budget>=3000;city~海" }).profile).toEqual([clause("budget", ">=", "3000"), clause("city", "~", "海")]);
  });
});
