import { describe, expect, it } from "vitest";

import { minutes, newRule, overlaps, sameDays, timeOptions, weekdaySummary } from "./schedule";

const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

describe("schedule times", () => {
  it("reads HH:MM, 24:00 included, and refuses the rest", () => {
    expect(minutes("09:30")).toBe(570);
    expect(minutes("24:00")).toBe(1440);
    expect(minutes("24:01")).toBeNull();
    expect(minutes("9:5")).toBeNull();
    expect(minutes("12:60")).toBeNull();
    expect(minutes(undefined)).toBeNull();
  });

  it("offers every quarter hour and keeps a time set at another minute", () => {
    const options = timeOptions();
    expect(options[0]).toBe("00:00");
    expect(options.at(-1)).toBe("24:00");
    expect(options).toHaveLength(97);
    const kept = timeOptions(["08:47", "bad", undefined]);
    expect(kept).toHaveLength(98);
    expect(kept.indexOf("08:47")).toBe(kept.indexOf("08:45") + 1);
  });
});

describe("schedule rules", () => {
  it("starts a rule at office hours on workdays with the code's members", () => {
    const members = [3, 4];
    const rule = newRule(members);
    expect(rule).toEqual({ weekdays: [1, 2, 3, 4, 5], start: "09:00", end: "18:00", user_ids: [3, 4] });
    rule.user_ids.push(9);
    expect(members).toEqual([3, 4]);
  });

  it("summarises days as runs", () => {
    expect(weekdaySummary([1, 2, 3, 4, 5], DAYS)).toBe("Mon–Fri");
    expect(weekdaySummary([7, 6], DAYS)).toBe("Sat, Sun");
    expect(weekdaySummary([1, 3, 4, 5, 7], DAYS)).toBe("Mon, Wed–Fri, Sun");
    expect(weekdaySummary([], DAYS)).toBe("");
    expect(sameDays([5, 1, 1], [1, 5])).toBe(true);
  });

  it("finds rules that claim the same time, the earlier one winning", () => {
    const rules = [
      { weekdays: [1, 2, 3], start: "09:00", end: "12:00", user_ids: [1] },
      { weekdays: [3, 4], start: "11:00", end: "18:00", user_ids: [2] },
      { weekdays: [6], start: "09:00", end: "18:00", user_ids: [3] },
      { weekdays: [3], start: "12:00", end: "13:00", user_ids: [3] },
    ];
    expect(overlaps(rules)).toEqual([{ rule: 1, earlier: 0, days: [3], start: "11:00", end: "12:00" }, { rule: 3, earlier: 1, days: [3], start: "12:00", end: "13:00" }]);
  });

  it("ignores rules still being written", () => {
    expect(overlaps([{ weekdays: [1], start: "10:00" }, { weekdays: [1], start: "09:00", end: "11:00" }])).toEqual([]);
    expect(overlaps([{ weekdays: [1], start: "12:00", end: "10:00" }, { weekdays: [1], start: "09:00", end: "18:00" }])).toEqual([]);
  });
});
