import { describe, expect, it } from "vitest";

import { daysBetween, fillDays, totals } from "./stats";

describe("daysBetween", () => {
  it("lists every day, both ends included, across a month end", () => {
    expect(daysBetween("2026-01-30", "2026-02-02")).toEqual(["2026-01-30", "2026-01-31", "2026-02-01", "2026-02-02"]);
    expect(daysBetween("2026-03-01", "2026-03-01")).toEqual(["2026-03-01"]);
    expect(daysBetween("2026-03-02", "2026-03-01")).toEqual([]);
  });
});

describe("fillDays", () => {
  it("fills the gaps with no joins or leaves and the member count carried over", () => {
    const filled = fillDays("2026-05-01", "2026-05-05", [
      { day: "2026-05-02", joins: 3, leaves: 1, members: 12 },
      { day: "2026-05-04", joins: 0, leaves: 2, members: 10 },
    ]);
    expect(filled).toEqual([
      { day: "2026-05-01", joins: 0, leaves: 0, members: 10 },
      { day: "2026-05-02", joins: 3, leaves: 1, members: 12 },
      { day: "2026-05-03", joins: 0, leaves: 0, members: 12 },
      { day: "2026-05-04", joins: 0, leaves: 2, members: 10 },
      { day: "2026-05-05", joins: 0, leaves: 0, members: 10 },
    ]);
  });

  it("keeps a complete answer as it is", () => {
    const days = [
      { day: "2026-05-01", joins: 1, leaves: 0, members: 1 },
      { day: "2026-05-02", joins: 0, leaves: 1, members: 0 },
    ];
    expect(fillDays("2026-05-01", "2026-05-02", days)).toEqual(days);
    expect(fillDays("2026-05-01", "2026-05-02", [])).toEqual([
      { day: "2026-05-01", joins: 0, leaves: 0, members: 0 },
      { day: "2026-05-02", joins: 0, leaves: 0, members: 0 },
    ]);
  });

  it("sums joins and leaves", () => {
    expect(totals([
      { day: "a", joins: 3, leaves: 1, members: 0 },
      { day: "b", joins: 2, leaves: 5, members: 0 },
    ])).toEqual({ joins: 5, leaves: 6, net: -1 });
  });
});
