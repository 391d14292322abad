import { describe, expect, it } from "vitest";

import { countsById, freshId, insertStep, moveStep, newStep, normalizeErrors, pathOf, placeErrors, removeStep, walk } from "./definition";
import type { Definition } from "./types";

const definition: Definition = {
  trigger: { type: "manual" },
  steps: [
    { id: "hello", type: "action", action: "remind", text: "hi" },
    { id: "wait", type: "wait", days: 1 },
    {
      id: "bought",
      type: "branch",
      if: { match: "any", criteria: [{ event: "purchased" }] },
      then: [],
      else: [{ id: "offer", type: "wait", days: 0 }],
    },
    {
      id: "ab",
      type: "split",
      branches: [
        { id: "a", percent: 50, steps: [{ id: "a1", type: "wait_business_hours" }] },
        { id: "b", percent: 50, steps: [] },
      ],
    },
  ],
};

describe("the step tree", () => {
  it("walks every step with its path", () => {
    expect(walk(definition.steps).map((e) => `${e.path}=${e.step.id}`)).toEqual([
      "steps.0=hello",
      "steps.1=wait",
      "steps.2=bought",
      "steps.2.else.0=offer",
      "steps.3=ab",
      "steps.3.branches.0.steps.0=a1",
    ]);
  });

  it("inserts into a nested list and never changes the original", () => {
    const added = insertStep(definition, "steps.2.then", 0, { id: "x", type: "wait_business_hours" });
    expect(pathOf(added, "x")).toBe("steps.2.then.0");
    expect(definition.steps?.[2].then).toEqual([]);
  });

  it("moves a step before another, or to the end", () => {
    const ids = (d: Definition) => (d.steps ?? []).map((s) => s.id);
    expect(ids(moveStep(definition, "steps", 3, 0))).toEqual(["ab", "hello", "wait", "bought"]);
    expect(ids(moveStep(definition, "steps", 0, 4))).toEqual(["wait", "bought", "ab", "hello"]);
    expect(ids(moveStep(definition, "steps", 1, 2))).toEqual(ids(definition));
  });

  it("removes a step with what is inside it", () => {
    const removed = removeStep(definition, "bought");
    expect(walk(removed.steps).map((e) => e.step.id)).toEqual(["hello", "wait", "ab", "a1"]);
  });

  it("makes ids not used anywhere", () => {
    expect(freshId(definition, "wait")).toBe("wait-1");
    expect(newStep(definition, "tag_add")).toMatchObject({ type: "action", action: "tag_add", tag_ids: [] });
  });
});

describe("errors", () => {
  it("reads the API's error items, a publish's draft. prefix removed", () => {
    expect(
      normalizeErrors(
        [
          { path: "draft.steps.2.else.0.days", code: "required", message: "Wait at least a minute." },
          { path: "draft.trigger.event", code: "invalid", message: "No such event." },
        ],
        "draft.",
      ),
    ).toEqual({ "steps.2.else.0.days": ["Wait at least a minute."], "trigger.event": ["No such event."] });
  });

  it("puts each error on the deepest step its path names", () => {
    const placed = placeErrors(definition, {
      "steps.2.else.0.days": ["short"],
      "steps.3.branches.1.percent": ["sum"],
      "steps.3": ["whole"],
      "trigger.event": ["bad"],
    });
    expect(placed.steps.get("offer")?.get("days")).toEqual(["short"]);
    expect(placed.steps.get("ab")?.get("branches.1.percent")).toEqual(["sum"]);
    expect(placed.steps.get("ab")?.get("")).toEqual(["whole"]);
    expect(placed.settings).toEqual({ "trigger.event": ["bad"] });
  });

  it("finds each step's counts in the report", () => {
    const counts = countsById([{ id: "hello", waiting: 1, done: 2, skipped: 0 }]);
    expect(counts.get("hello")).toMatchObject({ done: 2 });
  });
});
