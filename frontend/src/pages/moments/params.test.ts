import { describe, expect, it } from "vitest";

import { readList, writeList } from "./params";

describe("the list's URL", () => {
  it("reads nothing as the plain task list and writes it back as nothing", () => {
    const view = readList(new URLSearchParams());
    expect(view).toMatchObject({ view: "tasks", status: null, search: "", createType: null, month: "", page: 1, pageSize: 20 });
    expect(writeList(view).toString()).toBe("");
  });

  it("keeps what is valid and drops what is not", () => {
    const view = readList(
      new URLSearchParams("view=calendar&status=publishing&create_type=1&from=2026-12-01&to=bad&month=2026-13&page=0&page_size=33&search= hi "),
    );
    expect(view).toMatchObject({ view: "calendar", status: "publishing", createType: 1, from: "2026-12-01", to: "", month: "", page: 1, pageSize: 20, search: "hi" });
    expect(readList(new URLSearchParams("view=nope&status=sent&month=2026-02")).view).toBe("tasks");
    expect(readList(new URLSearchParams("month=2026-02")).month).toBe("2026-02");
  });

  it("round-trips a view", () => {
    const view = readList(new URLSearchParams("view=moments&create_type=0&page=3&page_size=50"));
    expect(readList(writeList(view))).toEqual(view);
  });
});
