import dayjs from "dayjs";
import { describe, expect, it } from "vitest";

import { lastDays, latency, percent, readList, readRange, writeList, writeRange } from "./params";

const today = dayjs("2026-03-10");

describe("the stats' date range in the URL", () => {
  it("defaults to the last 30 days, written as nothing", () => {
    const range = readRange(new URLSearchParams(), today);
    expect(range).toEqual({ from: "2026-02-09", to: "2026-03-10" });
    expect(writeRange(new URLSearchParams("page=2"), range, today).toString()).toBe("page=2");
  });

  it("round-trips a chosen range and keeps the other parameters", () => {
    const params = writeRange(new URLSearchParams("search=poster"), { from: "2026-01-01", to: "2026-01-31" }, today);
    expect(params.toString()).toBe("search=poster&from=2026-01-01&to=2026-01-31");
    expect(readRange(params, today)).toEqual({ from: "2026-01-01", to: "2026-01-31" });
  });

  it("falls back on malformed, reversed, impossible or too long ranges", () => {
    const fallback = lastDays(30, today);
    for (const query of [
      "from=2026-01-31&to=2026-01-01",
      "from=2026-02-31&to=2026-03-01",
      "from=yesterday&to=2026-03-01",
      "from=2024-01-01&to=2026-01-01",
      "from=2026-01-01",
    ]) {
      expect(readRange(new URLSearchParams(query), today), query).toEqual(fallback);
    }
    expect(readRange(new URLSearchParams("from=2025-03-10&to=2026-03-10"), today)).toEqual({ from: "2025-03-10", to: "2026-03-10" });
  });
});

describe("the list's search and page in the URL", () => {
  it("reads defaults and writes them as nothing", () => {
    const view = readList(new URLSearchParams("from=2026-01-01"));
    expect(view).toEqual({ search: "", page: 1, pageSize: 20 });
    expect(writeList(new URLSearchParams("from=2026-01-01"), view).toString()).toBe("from=2026-01-01");
  });

  it("round-trips and refuses odd page sizes", () => {
    const params = writeList(new URLSearchParams(), { search: "海报", page: 3, pageSize: 50 });
    expect(readList(params)).toEqual({ search: "海报", page: 3, pageSize: 50 });
    expect(readList(new URLSearchParams("page=-1&page_size=7"))).toEqual({ search: "", page: 1, pageSize: 20 });
  });
});

describe("retention shares", () => {
  it("are percentages with one decimal, or a dash when unknown", () => {
    expect(percent(0.8571)).toBe("85.7%");
    expect(percent(1)).toBe("100%");
    expect(percent(null)).toBe("—");
  });
});

describe("greeting latencies", () => {
  it("read in ms under a second, then seconds", () => {
    expect(latency(312)).toBe("312 ms");
    expect(latency(1440)).toBe("1.4 s");
    expect(latency(21_400)).toBe("21 s");
    expect(latency(null)).toBe("—");
  });
});
