import { describe, expect, it } from "vitest";

import {
  DEFAULT_PAGE_SIZE,
  EMPTY_FILTERS,
  EMPTY_LIST,
  type GroupListState,
  groupsQuery,
  hasFilters,
  orderingFrom,
  parseCount,
  readGroupList,
  sortOrderOf,
  withFilters,
  withOrdering,
  withPage,
  withPageSize,
  writeGroupList,
} from "./params";

const FULL: GroupListState = {
  filters: {
    owner: [3, 4],
    tag: [7],
    status: ["normal", "dismissed"],
    q: "VIP",
    created_after: "2026-01-01",
    created_before: "2026-03-31",
    members_min: 10,
    members_max: 150,
  },
  ordering: "-members",
  page: 3,
  pageSize: 50,
};

describe("groups list ↔ URL", () => {
  it("round-trips every filter, the ordering and the paging", () => {
    const url = writeGroupList(FULL).toString();
    expect(url).toBe(
      "q=VIP&owner=3%2C4&tag=7&status=normal%2Cdismissed&created_after=2026-01-01&created_before=2026-03-31" +
        "&members_min=10&members_max=150&ordering=-members&page=3&page_size=50",
    );
    expect(readGroupList(url)).toEqual(FULL);
  });

  it("writes nothing for the plain list", () => {
    expect(writeGroupList(EMPTY_LIST).toString()).toBe("");
    expect(readGroupList("")).toEqual(EMPTY_LIST);
  });

  it("drops what is not valid", () => {
    const state = readGroupList(
      "owner=3,x,-1,3&status=normal,gone&members_min=ten&created_after=2026-02-31&ordering=random&page=0&page_size=33",
    );
    expect(state.filters.owner).toEqual([3]);
    expect(state.filters.status).toEqual(["normal"]);
    expect(state.filters.members_min).toBeNull();
    expect(state.filters.created_after).toBe("");
    expect(state.ordering).toBe("-created");
    expect(state.page).toBe(1);
    expect(state.pageSize).toBe(DEFAULT_PAGE_SIZE);
  });

  it("keeps 0 as a member bound and turns reversed ranges round", () => {
    const state = readGroupList("members_min=50&members_max=0&created_after=2026-05-01&created_before=2026-04-01");
    expect(state.filters.members_min).toBe(0);
    expect(state.filters.members_max).toBe(50);
    expect(state.filters.created_after).toBe("2026-04-01");
    expect(state.filters.created_before).toBe("2026-05-01");
  });

  it("parses counts in plain digits only", () => {
    expect(parseCount("0")).toBe(0);
    expect(parseCount("12")).toBe(12);
    for (const raw of ["", "-1", "1.5", "1e3", null, "x"]) expect(parseCount(raw)).toBeNull();
  });
});

describe("transitions", () => {
  it("goes back to page 1 when the selection changes, not when it stays the same", () => {
    const onPage3 = { ...EMPTY_LIST, page: 3, filters: { ...EMPTY_FILTERS, owner: [1, 2] } };
    expect(withFilters(onPage3, { owner: [2, 1] }).page).toBe(3);
    expect(withFilters(onPage3, { q: "群" }).page).toBe(1);
    expect(withOrdering(onPage3, "name").page).toBe(1);
    expect(withOrdering(onPage3, null)).toBe(onPage3);
    expect(withPageSize(onPage3, 50).page).toBe(1);
    expect(withPageSize(onPage3, DEFAULT_PAGE_SIZE)).toBe(onPage3);
    expect(withPage(onPage3, 0).page).toBe(1);
  });

  it("knows when a filter is set", () => {
    expect(hasFilters(EMPTY_FILTERS)).toBe(false);
    expect(hasFilters({ ...EMPTY_FILTERS, members_min: 0 })).toBe(true);
    expect(hasFilters({ ...EMPTY_FILTERS, status: ["dismissed"] })).toBe(true);
  });
});

describe("the API query", () => {
  it("sends repeatable filters as lists and leaves out the defaults", () => {
    expect(groupsQuery(FULL)).toEqual({
      page: 3,
      page_size: 50,
      ordering: "-members",
      owner: [3, 4],
      tag: [7],
      status: ["normal", "dismissed"],
      q: "VIP",
      created_after: "2026-01-01",
      created_before: "2026-03-31",
      members_min: 10,
      members_max: 150,
    });
    expect(groupsQuery(EMPTY_LIST)).toEqual({ page: 1, page_size: DEFAULT_PAGE_SIZE });
  });
});

describe("sorting", () => {
  it("maps the table's sorter to the API's ordering and back", () => {
    expect(orderingFrom("members", "descend")).toBe("-members");
    expect(orderingFrom("name", "ascend")).toBe("name");
    expect(orderingFrom("created", null)).toBeNull();
    expect(orderingFrom("owner", "ascend")).toBeNull();
    expect(sortOrderOf("-created", "created")).toBe("descend");
    expect(sortOrderOf("-created", "members")).toBeNull();
    expect(sortOrderOf("name", "name")).toBe("ascend");
  });
});
