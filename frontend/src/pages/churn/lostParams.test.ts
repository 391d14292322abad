import { describe, expect, it } from "vitest";

import { apiQuery, paramsFromView, viewFromParams, withFilters } from "./lostParams";

describe("lost page URL state", () => {
  it("reads filters, page and size from the URL and maps them to the API's names", () => {
    const view = viewFromParams(new URLSearchParams("staff=ann&from=2025-03-01&to=2025-03-31&page=3&page_size=50"));
    expect(view).toEqual({ staff: "ann", from: "2025-03-01", to: "2025-03-31", page: 3, pageSize: 50 });
    expect(apiQuery(view)).toEqual({
      page: 3,
      page_size: 50,
      staff: "ann",
      ended_after: "2025-03-01",
      ended_before: "2025-03-31",
    });
  });

  it("falls back to defaults for malformed values and sends no empty filters", () => {
    const view = viewFromParams(new URLSearchParams("page=-2&page_size=33&from=yesterday&to="));
    expect(view).toEqual({ staff: "", from: "", to: "", page: 1, pageSize: 20 });
    expect(apiQuery(view)).toEqual({ page: 1, page_size: 20 });
  });

  it("drops days that do not exist rather than sending them to the API", () => {
    const view = viewFromParams(new URLSearchParams("from=2024-02-30&to=2024-02-29"));
    expect(view.from).toBe("");
    expect(view.to).toBe("2024-02-29");
  });

  it("writes back a URL without defaults, and round-trips", () => {
    const view = viewFromParams(new URLSearchParams("staff=bob&page=2"));
    expect(paramsFromView(view).toString()).toBe("staff=bob&page=2");
    expect(paramsFromView(viewFromParams(new URLSearchParams(""))).toString()).toBe("");
    expect(viewFromParams(paramsFromView(view))).toEqual(view);
  });

  it("goes back to the first page when a filter changes", () => {
    const view = viewFromParams(new URLSearchParams("page=4&page_size=100"));
    expect(withFilters(view, { staff: "ann" })).toMatchObject({ staff: "ann", page: 1, pageSize: 100 });
  });
});
