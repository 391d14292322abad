import { describe, expect, it } from "vitest";

import { readInboxState, writeInboxState } from "./inbox";

describe("callback inbox state in the URL", () => {
  it("defaults to every status, page 1, no event open", () => {
    expect(readInboxState("")).toEqual({ statuses: [], page: 1, event: null });
  });

  it("round-trips statuses, page and the open event", () => {
    const state = { statuses: ["failed", "parked"] as const, page: 3, event: 17 };
    const search = writeInboxState({ ...state, statuses: [...state.statuses] }).toString();
    expect(search).toBe("status=failed&status=parked&page=3&event=17");
    expect(readInboxState(search)).toEqual({ ...state, statuses: ["failed", "parked"] });
  });

  it("ignores unknown statuses, duplicates and bad numbers", () => {
    expect(readInboxState("status=parked&status=nonsense&status=parked&page=-2&event=abc")).toEqual({
      statuses: ["parked"],
      page: 1,
      event: null,
    });
  });

  it("accepts a comma-separated status list", () => {
    expect(readInboxState("status=failed,parked").statuses).toEqual(["failed", "parked"]);
  });

  it("leaves defaults out of the URL", () => {
    expect(writeInboxState({ statuses: [], page: 1, event: null }).toString()).toBe("");
  });
});
