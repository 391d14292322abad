import { describe, expect, it } from "vitest";

import { type Greeting, GIVE_UP_MS, findGreeting, followTags, progress } from "./simulate";

function greeting(patch: Partial<Greeting> = {}): Greeting {
  return {
    id: 1,
    contact: 7,
    contact_name: "扫码客户",
    external_userid: "wm_new",
    staff: 2,
    staff_name: "Alice",
    contact_way: 3,
    state: "cw_x",
    status: "sent",
    errcode: null,
    error: "",
    received_at: "2026-03-10T10:00:00Z",
    sent_at: "2026-03-10T10:00:00.300Z",
    latency_ms: 300,
    ...patch,
  };
}

const tag = (id: number) => ({ id, name: `t${id}`, group_id: 1 });

describe("the simulated arrival", () => {
  it("finds the new customer's greeting among the code's greetings", () => {
    const list = [greeting({ id: 2, external_userid: "wm_other" }), greeting()];
    expect(findGreeting(list, "wm_new")?.id).toBe(1);
    expect(findGreeting(list, "wm_none")).toBeUndefined();
  });

  it("waits for everything before the greeting arrives", () => {
    expect(progress({ greeting: undefined, tags: undefined, wanted: [5], elapsedMs: 1000 })).toEqual({
      added: "waiting",
      greeted: "waiting",
      tagged: "waiting",
      finished: false,
      timedOut: false,
    });
  });

  it("is finished once greeted and every auto-tag is on", () => {
    const p = progress({ greeting: greeting(), tags: [tag(5), tag(6)], wanted: [5], elapsedMs: 800 });
    expect(p).toMatchObject({ added: "done", greeted: "done", tagged: "done", finished: true });
  });

  it("keeps waiting for the tags (they are applied a moment after the greeting)", () => {
    const p = progress({ greeting: greeting(), tags: [], wanted: [5, 6], elapsedMs: 3000 });
    expect(p).toMatchObject({ greeted: "done", tagged: "waiting", finished: false, timedOut: false });
    expect(progress({ greeting: greeting(), tags: [tag(5)], wanted: [5, 6], elapsedMs: GIVE_UP_MS }).timedOut).toBe(true);
  });

  it("says a refused greeting failed, and a code without auto-tags skips tagging", () => {
    const p = progress({ greeting: greeting({ status: "expired", errcode: 41050 }), tags: [], wanted: [], elapsedMs: 500 });
    expect(p).toMatchObject({ added: "done", greeted: "failed", tagged: "skipped", finished: true });
    expect(progress({ greeting: greeting({ status: "pending" }), tags: [], wanted: [], elapsedMs: 0 }).greeted).toBe("waiting");
    expect(progress({ greeting: greeting({ status: "skipped" }), tags: [], wanted: [], elapsedMs: 0 }).greeted).toBe("skipped");
  });

  it("reads the tags on the follow of the member the scan reached", () => {
    const follow = (userid: string, tags: ReturnType<typeof tag>[]) =>
      ({ staff: { userid, name: userid }, tags }) as unknown as NonNullable<Parameters<typeof followTags>[0]>["follows"][number];
    const contact = { follows: [follow("bob", [tag(1)]), follow("alice", [tag(5)])] } as Parameters<typeof followTags>[0];
    expect(followTags(contact, "alice")).toEqual([tag(5)]);
    expect(followTags(contact, "carol")).toBeUndefined();
    expect(followTags(undefined, "alice")).toBeUndefined();
  });
});
