import dayjs from "dayjs";
import { describe, expect, it } from "vitest";

import {
  DEFAULT_METRIC,
  type OwnerStatsDay,
  type StatsView,
  coverage,
  dayHasFigures,
  formatAverage,
  formatCount,
  headlines,
  metricOption,
  readStatsView,
  statsQuery,
  writeStatsView,
} from "./groupStats";

const TODAY = dayjs("2026-06-15");
// The default range: the last 30 days, today included.
const DEFAULT_RANGE = { from: "2026-05-17", to: "2026-06-15" };

const ZERO = { new_chat_cnt: 0, chat_total: 0, chat_has_msg: 0, new_member_cnt: 0, member_total: 0, member_has_msg: 0, msg_total: 0 };

/** A day WeCom gave figures for; `stat(day, null)` is one the API filled with zeros (no figures yet). */
function stat(day: string, figures: Partial<typeof ZERO> | null = {}): OwnerStatsDay {
  return { day, has_figures: figures !== null, ...ZERO, ...figures };
}

describe("the page's state in the URL", () => {
  it("defaults to the last 30 days, every owner and the members", () => {
    const view = readStatsView("", TODAY);
    expect(view).toEqual({ range: DEFAULT_RANGE, owner: [], metric: DEFAULT_METRIC });
    expect(writeStatsView(view, TODAY).toString()).toBe("");
  });

  it("reads and writes a range, owners and a metric", () => {
    const view: StatsView = { range: { from: "2026-04-01", to: "2026-04-30" }, owner: [4, 3], metric: "msg_total" };
    const query = writeStatsView(view, TODAY);
    expect(query.toString()).toBe("from=2026-04-01&to=2026-04-30&owner=4%2C3&metric=msg_total");
    expect(readStatsView(query, TODAY)).toEqual(view);
    expect(readStatsView("?owner=4,3&from=2026-04-01&to=2026-04-30&metric=msg_total", TODAY)).toEqual(view);
  });

  it("drops what it cannot read", () => {
    const view = readStatsView("from=2026-02-31&to=2026-03-05&owner=x,0,7,7,-2&metric=likes", TODAY);
    expect(view).toEqual({ range: DEFAULT_RANGE, owner: [7], metric: DEFAULT_METRIC });
    // A reversed range, or more than the API's 366 days, is the default too.
    expect(readStatsView("from=2026-03-05&to=2026-03-01", TODAY).range).toEqual(DEFAULT_RANGE);
    expect(readStatsView("from=2024-01-01&to=2026-03-01", TODAY).range).toEqual(DEFAULT_RANGE);
  });
});

describe("statsQuery", () => {
  const view: StatsView = { range: { from: "2026-06-01", to: "2026-06-14" }, owner: [9, 2], metric: "chat_total" };

  it("asks for the range and the owners (sorted: one cache entry per set)", () => {
    expect(statsQuery(view)).toEqual({ date_from: "2026-06-01", date_to: "2026-06-14", owner: [2, 9] });
    expect(view.owner).toEqual([9, 2]);
  });

  it("leaves the owners out when there are none, or for sales", () => {
    expect(statsQuery({ ...view, owner: [] })).toEqual({ date_from: "2026-06-01", date_to: "2026-06-14" });
    expect(statsQuery(view, { owners: false })).toEqual({ date_from: "2026-06-01", date_to: "2026-06-14" });
  });
});

describe("which days have figures", () => {
  const days = [
    stat("2026-06-12", { chat_total: 3, member_total: 40 }),
    stat("2026-06-13", { chat_total: 3, member_total: 41, new_member_cnt: 1 }),
    stat("2026-06-14", null), // not fetched yet
    stat("2026-06-15", null), // today: WeCom publishes it tomorrow
  ];

  it("tells a filled-in day from a day with figures", () => {
    expect(days.map(dayHasFigures)).toEqual([true, true, false, false]);
  });

  it("keeps a day WeCom reported as all zeros (an owner with no groups yet)", () => {
    expect(coverage([stat("2026-06-12", {}), stat("2026-06-13", null)])).toEqual({ days: 1, last: "2026-06-12" });
  });

  it("counts them and finds the last", () => {
    expect(coverage(days)).toEqual({ days: 2, last: "2026-06-13" });
    expect(coverage([stat("2026-06-14", null)])).toEqual({ days: 0, last: null });
    expect(coverage([])).toEqual({ days: 0, last: null });
  });
});

describe("formatting", () => {
  it("groups digits", () => {
    expect(formatCount(12345, "en")).toBe("12,345");
    expect(formatCount(12345, "zh")).toBe("12,345");
    expect(formatCount(0, "en")).toBe("0");
    expect(formatCount(2.6, "en")).toBe("3");
  });

  it("writes an average with at most one decimal", () => {
    expect(formatAverage(12.345, "en")).toBe("12.3");
    expect(formatAverage(8, "en")).toBe("8");
    expect(formatAverage(1234.96, "zh")).toBe("1,235");
  });
});

describe("headlines", () => {
  const days = [
    stat("2026-06-13", { chat_total: 10, member_total: 300, chat_has_msg: 4, member_has_msg: 20, msg_total: 150, new_member_cnt: 5 }),
    stat("2026-06-14", { chat_total: 12, member_total: 1310, chat_has_msg: 7, member_has_msg: 31, msg_total: 1100, new_chat_cnt: 2, new_member_cnt: 10 }),
    stat("2026-06-15", null),
  ];
  // As the API sums them: stocks at the last day with figures, the rest summed.
  const totals = { chat_total: 12, member_total: 1310, new_chat_cnt: 2, new_member_cnt: 15, chat_has_msg: 11, member_has_msg: 51, msg_total: 1250 };

  it("shows stocks at their day, events summed, activity per day with its sum", () => {
    expect(headlines(totals, days, "en")).toEqual([
      { metric: "chat_total", value: "12", note: { key: "asOf", day: "2026-06-14" } },
      { metric: "member_total", value: "1,310", note: { key: "asOf", day: "2026-06-14" } },
      { metric: "new_chat_cnt", value: "2", note: null },
      { metric: "new_member_cnt", value: "15", note: null },
      { metric: "chat_has_msg", value: "5.5", note: { key: "activeSum", total: "11" } },
      { metric: "member_has_msg", value: "25.5", note: { key: "activeSum", total: "51" } },
      { metric: "msg_total", value: "1,250", note: null },
    ]);
  });

  it("shows zeros without a day when nothing was fetched", () => {
    const none = headlines(ZERO, [stat("2026-06-15", null)], "en");
    expect(none.map((h) => h.value)).toEqual(["0", "0", "0", "0", "0", "0", "0"]);
    expect(none[0].note).toBeNull();
  });
});

describe("metricOption", () => {
  it("charts one figure per day, with a gap where there are no figures", () => {
    const option = metricOption(
      [stat("2026-06-13", { member_total: 300 }), stat("2026-06-14", { member_total: 310 }), stat("2026-06-15", null)],
      "member_total",
      "Members",
    ) as { xAxis: { data: string[] }; series: { name: string; type: string; data: (number | null)[] }[] };
    expect(option.xAxis.data).toEqual(["06-13", "06-14", "06-15"]);
    expect(option.series).toHaveLength(1);
    expect(option.series[0]).toMatchObject({ name: "Members", type: "line", data: [300, 310, null] });
  });
});
