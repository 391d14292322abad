import { describe, expect, it } from "vitest";

import { apiQuery, customersOf, paramsFromView, viewFromParams, withFilters } from "./params";

describe("staff view ↔ URL", () => {
  it("reads the defaults from an empty URL and writes them back as nothing", () => {
    const view = viewFromParams(new URLSearchParams());
    expect(view).toEqual({ department: null, search: "", status: "all", ordering: "name", page: 1, pageSize: 20 });
    expect(paramsFromView(view).toString()).toBe("");
  });

  it("round-trips every filter", () => {
    const url = "department=3&search=%E7%8E%8B&status=inactive&ordering=-customer_count&page=2&page_size=50";
    const view = viewFromParams(new URLSearchParams(url));
    expect(view).toEqual({
      department: 3,
      search: "王",
      status: "inactive",
      ordering: "-customer_count",
      page: 2,
      pageSize: 50,
    });
    expect(paramsFromView(view).toString()).toBe(url);
  });

  it("falls back to the defaults on malformed values", () => {
    const view = viewFromParams(new URLSearchParams("department=abc&status=gone&ordering=salary&page=-1&page_size=7"));
    expect(view).toMatchObject({ department: null, status: "all", ordering: "name", page: 1, pageSize: 20 });
  });

  it("starts from the first page when a filter changes", () => {
    const view = viewFromParams(new URLSearchParams("page=4"));
    expect(withFilters(view, { department: 5 })).toMatchObject({ department: 5, page: 1 });
  });
});

describe("apiQuery", () => {
  it("maps the view onto the staff API's parameters", () => {
    const view = viewFromParams(new URLSearchParams("department=3&search=li&status=active&ordering=-customer_count"));
    expect(apiQuery(view)).toEqual({
      page: 1,
      page_size: 20,
      ordering: "-customer_count,name,id",
      department: 3,
      search: "li",
      is_active: true,
    });
    expect(apiQuery(viewFromParams(new URLSearchParams("status=inactive")))).toMatchObject({ is_active: false });
    expect(apiQuery(viewFromParams(new URLSearchParams()))).not.toHaveProperty("is_active");
  });
});

it("links a member to the customers it follows by userid", () => {
  expect(customersOf("ZhangWei")).toBe("/customers?staff=ZhangWei");
});
