import { describe, expect, it } from "vitest";

import {
  FOLD_LINES,
  LINE_WIDTH,
  addable,
  attachmentProblem,
  charCount,
  folds,
  groupByDay,
  imageGrid,
  monthRange,
  monthWeeks,
  parseMonth,
  percent,
  ratePercent,
  shiftMonth,
  textLength,
  visualLines,
} from "./moments";

describe("the text's budget", () => {
  it("counts characters of the trimmed text, an emoji as one", () => {
    expect(textLength("  你好 👋 \n")).toBe(4);
    expect(textLength(null)).toBe(0);
  });

  it("warns in the last tenth and says how far over", () => {
    expect(charCount("a".repeat(1800))).toMatchObject({ chars: 1800, over: false, near: false, left: 200 });
    expect(charCount("a".repeat(1801))).toMatchObject({ near: true, over: false });
    expect(charCount("a".repeat(2000))).toMatchObject({ near: true, over: false, left: 0 });
    expect(charCount("新".repeat(2001))).toMatchObject({ over: true, near: false, left: -1 });
  });
});

describe("where WeChat folds the text", () => {
  it("keeps six short lines whole and folds the seventh", () => {
    const six = Array.from({ length: FOLD_LINES }, (_, i) => `第${i + 1}行`).join("\n");
    expect(visualLines(six)).toBe(6);
    expect(folds(six)).toBe(false);
    expect(folds(`${six}\n第七行`)).toBe(true);
  });

  it("wraps long paragraphs: Chinese takes a whole cell, Latin half", () => {
    expect(visualLines("中".repeat(LINE_WIDTH))).toBe(1);
    expect(visualLines("中".repeat(LINE_WIDTH + 1))).toBe(2);
    expect(visualLines("a".repeat(LINE_WIDTH * 2))).toBe(1);
    expect(folds("中".repeat(LINE_WIDTH * 6))).toBe(false);
    expect(folds("中".repeat(LINE_WIDTH * 6 + 1))).toBe(true);
  });

  it("counts an empty paragraph as a line and nothing as none", () => {
    expect(visualLines("a\n\nb")).toBe(3);
    expect(visualLines("   ")).toBe(0);
  });
});

describe("the picture grid", () => {
  it("shows one picture large and four in two by two", () => {
    expect(imageGrid(0)).toBeNull();
    expect(imageGrid(1)).toEqual({ columns: 1, rows: 1, single: true });
    expect(imageGrid(4)).toEqual({ columns: 2, rows: 2, single: false });
  });

  it("puts the others in rows of three", () => {
    expect(imageGrid(2)).toEqual({ columns: 3, rows: 1, single: false });
    expect(imageGrid(3)).toEqual({ columns: 3, rows: 1, single: false });
    expect(imageGrid(5)).toEqual({ columns: 3, rows: 2, single: false });
    expect(imageGrid(7)).toEqual({ columns: 3, rows: 3, single: false });
    expect(imageGrid(9)).toEqual({ columns: 3, rows: 3, single: false });
    expect(imageGrid(12)).toEqual({ columns: 3, rows: 3, single: false });
  });
});

describe("WeCom's attachment rule", () => {
  it("accepts up to nine images, one video or one link", () => {
    expect(attachmentProblem([])).toBeNull();
    expect(attachmentProblem(Array(9).fill("image"))).toBeNull();
    expect(attachmentProblem(["video"])).toBeNull();
    expect(attachmentProblem(["link"])).toBeNull();
  });

  it("refuses a tenth image, two videos, two links, a mix and other kinds", () => {
    expect(attachmentProblem(Array(10).fill("image"))).toBe("tooManyImages");
    expect(attachmentProblem(["video", "video"])).toBe("oneVideo");
    expect(attachmentProblem(["link", "link"])).toBe("oneLink");
    expect(attachmentProblem(["image", "video"])).toBe("mixed");
    expect(attachmentProblem(["image", "link"])).toBe("mixed");
    expect(attachmentProblem(["file"])).toBe("kind");
    expect(attachmentProblem(["image", "miniprogram"])).toBe("kind");
  });

  it("offers only what may still be added", () => {
    expect(addable([])).toEqual([
      { kind: "image", max: 9 },
      { kind: "video", max: 1 },
      { kind: "link", max: 1 },
    ]);
    expect(addable(["image", "image"])).toEqual([{ kind: "image", max: 7 }]);
    expect(addable(Array(9).fill("image"))).toEqual([]);
    expect(addable(["video"])).toEqual([]);
    expect(addable(["link"])).toEqual([]);
  });
});

describe("percentages", () => {
  it("rounds to one decimal and never divides by zero", () => {
    expect(percent(2, 3)).toBe(66.7);
    expect(percent(3, 3)).toBe(100);
    expect(percent(0, 0)).toBe(0);
    expect(percent(5, 4)).toBe(100);
  });
});

describe("rates", () => {
  it("shows the API's 0-1 rates as percentages, none as a dash", () => {
    expect(ratePercent(0.5)).toBe("50%");
    expect(ratePercent(0.6667)).toBe("66.7%");
    expect(ratePercent(1)).toBe("100%");
    expect(ratePercent(0)).toBe("0%");
    expect(ratePercent(null)).toBe("—");
  });
});

describe("the calendar", () => {
  it("reads a month and moves across years", () => {
    expect(parseMonth("2026-12")).toBe("2026-12");
    expect(parseMonth("2026-13")).toBeNull();
    expect(parseMonth("2026-1")).toBeNull();
    expect(parseMonth(null)).toBeNull();
    expect(shiftMonth("2026-12", 1)).toBe("2027-01");
    expect(shiftMonth("2026-01", -1)).toBe("2025-12");
    expect(shiftMonth("2026-03", -14)).toBe("2025-01");
  });

  it("lays a month out in weeks from Monday, with the neighbours' days", () => {
    // December 2026 starts on a Tuesday and ends on a Thursday.
    const weeks = monthWeeks("2026-12");
    expect(weeks).toHaveLength(5);
    expect(weeks[0]).toEqual(["2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04", "2026-12-05", "2026-12-06"]);
    expect(weeks[4][6]).toBe("2027-01-03");
    expect(weeks.every((week) => week.length === 7)).toBe(true);
    // February 2027 starts on a Monday and ends on a Sunday: exactly four weeks.
    expect(monthWeeks("2027-02")).toHaveLength(4);
    expect(monthRange("2027-02")).toEqual({ from: "2027-02-01", to: "2027-02-28" });
    // A leap February.
    expect(monthRange("2028-02")).toEqual({ from: "2028-01-31", to: "2028-03-05" });
  });

  it("groups posts by day in time order, untimed ones last", () => {
    const items = [
      { id: 1, date: "2026-12-07", at: "2026-12-07T10:00:00+08:00" },
      { id: 2, date: "2026-12-06", at: "2026-12-06T09:00:00+08:00" },
      { id: 3, date: "2026-12-07", at: null },
      { id: 4, date: "2026-12-07", at: "2026-12-07T00:30:00Z" },
    ];
    const days = groupByDay(items);
    expect([...days.keys()].sort()).toEqual(["2026-12-06", "2026-12-07"]);
    expect(days.get("2026-12-07")?.map((i) => i.id)).toEqual([4, 1, 3]);
  });
});
