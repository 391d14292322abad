import { describe, expect, it } from "vitest";

import { planTransfer, transferActive, transferPercent } from "./transfer";

const group = (id: number, status = "normal", owner: number | null = 1) => ({
  id,
  name: `G${id}`,
  status,
  owner: owner === null ? null : { id: owner },
});

describe("planTransfer", () => {
  it("sends every group that can change hands and says why the others are left out", () => {
    const plan = planTransfer([group(1), group(2, "dismissed"), group(3, "owner_resigned", 2), group(4, "normal", 2), group(5, "normal", null)], 2);
    expect(plan.send).toEqual([1, 5]);
    expect(plan.skipped).toEqual([
      { id: 2, name: "G2", reason: "dismissed" },
      { id: 3, name: "G3", reason: "sameOwner" },
      { id: 4, name: "G4", reason: "sameOwner" },
    ]);
  });

  it("sends all but dismissed groups before a new owner is chosen", () => {
    expect(planTransfer([group(1), group(2, "dismissed")], null).send).toEqual([1]);
  });
});

describe("transfer progress", () => {
  it("is active while queued or running", () => {
    expect(transferActive({ status: "queued", total: 2, succeeded: 0, failed: 0 })).toBe(true);
    expect(transferActive({ status: "running", total: 2, succeeded: 1, failed: 0 })).toBe(true);
    expect(transferActive({ status: "partial", total: 2, succeeded: 1, failed: 1 })).toBe(false);
    expect(transferActive(null)).toBe(false);
  });

  it("counts both outcomes as answered", () => {
    expect(transferPercent({ status: "running", total: 4, succeeded: 1, failed: 1 })).toBe(50);
    expect(transferPercent({ status: "succeeded", total: 0, succeeded: 0, failed: 0 })).toBe(100);
    expect(transferPercent({ status: "queued", total: 0, succeeded: 0, failed: 0 })).toBe(0);
  });
});
