import { describe, expect, it } from "vitest";

import { isActive, parseSyncKind, type SyncRun, syncEnded, syncErrors, syncPercent } from "./sync";

const run = (over: Partial<SyncRun>): SyncRun =>
  ({ id: 1, status: "running", progress_done: 0, progress_total: 0, errors: [], ...over }) as SyncRun;

describe("sync run helpers", () => {
  it("polls only queued and running runs", () => {
    expect(isActive(run({ status: "queued" }))).toBe(true);
    expect(isActive(run({ status: "running" }))).toBe(true);
    for (const status of ["succeeded", "partial", "failed"] as const) expect(isActive(run({ status }))).toBe(false);
    expect(isActive(null)).toBe(false);
  });

  it("never shows 100 % before the run has finished: the total is only an estimate", () => {
    expect(syncPercent(run({ progress_done: 50, progress_total: 200 }))).toBe(25);
    expect(syncPercent(run({ progress_done: 200, progress_total: 200 }))).toBe(99);
    expect(syncPercent(run({ status: "succeeded", progress_done: 10, progress_total: 200 }))).toBe(100);
    expect(syncPercent(run({ progress_done: 5, progress_total: 0 }))).toBeNull();
  });

  it("reads the errors list, whatever else the field holds", () => {
    expect(syncErrors(run({ errors: [{ errcode: 48002, hint: "grant the API" }] }))).toEqual([
      { errcode: 48002, hint: "grant the API" },
    ]);
    expect(syncErrors(run({ errors: null }))).toEqual([]);
  });
});

describe("syncEnded", () => {
  it("is true when the run seen active is over", () => {
    expect(syncEnded(run({ id: 3, status: "succeeded" }), 3, null)).toBe(true);
    expect(syncEnded(run({ id: 3, status: "failed" }), 3, null)).toBe(true);
  });

  it("is true when another run replaced the one seen active", () => {
    expect(syncEnded(run({ id: 4, status: "running" }), 3, null)).toBe(true);
  });

  it("is true when the run started here finished before a poll saw it running", () => {
    expect(syncEnded(run({ id: 5, status: "succeeded" }), null, 5)).toBe(true);
  });

  it("is false while the run goes on, and for an old finished run nobody watched", () => {
    expect(syncEnded(run({ id: 3, status: "running" }), 3, null)).toBe(false);
    expect(syncEnded(run({ id: 2, status: "succeeded" }), null, null)).toBe(false);
    expect(syncEnded(run({ id: 2, status: "succeeded" }), null, 5)).toBe(false);
    expect(syncEnded(null, null, null)).toBe(false);
  });
});

describe("parseSyncKind", () => {
  it("reads the two kinds and nothing else", () => {
    expect(parseSyncKind("contacts")).toBe("contacts");
    expect(parseSyncKind("groups")).toBe("groups");
    for (const other of [null, undefined, "", "all", "GROUPS"]) expect(parseSyncKind(other)).toBeNull();
  });
});
