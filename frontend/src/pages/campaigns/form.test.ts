import dayjs from "dayjs";
import { describe, expect, it } from "vitest";

import { EMPTY_FILTERS } from "../customers/filters";
import { audienceFor, audienceReady, initialValues, stepOf, toInput, toUpdate } from "./form";
import type { CampaignDetail } from "./types";

const campaign = (over: Partial<CampaignDetail>): CampaignDetail =>
  ({ id: 1, name: "Spring", chat_type: "single", status: "draft", audience: {}, text: "", attachments: [], scheduled_at: null, ...over }) as CampaignDetail;

describe("the wizard's audience", () => {
  it("sends the customers list's filter parameters, or the segment, never both", () => {
    const values = initialValues(undefined, "Asia/Shanghai");
    values.audience.filters = { ...EMPTY_FILTERS, tags_all: [3, 4], stage: 2 };
    values.audience.segment_id = 9;
    expect(audienceFor({ ...values, mode: "filters" })).toEqual({ filters: { tags_all: "3,4", stage: "2" } });
    expect(audienceFor({ ...values, mode: "segment" })).toEqual({ segment_id: 9 });
  });

  it("sends a group audience by owners, tags and name", () => {
    const values = initialValues(undefined, "UTC");
    values.audience = { ...values.audience, owner_ids: [5], tag_ids: [], name: "  VIP " };
    expect(audienceFor({ ...values, chat_type: "group" })).toEqual({ owner_ids: [5], tag_ids: [], name: "VIP" });
  });

  it("previews only once a segment is picked (no filters is every customer)", () => {
    const values = initialValues(undefined, "UTC");
    expect(audienceReady({ ...values, mode: "segment" })).toBe(false);
    expect(audienceReady({ ...values, mode: "filters" })).toBe(true);
  });

  it("opens a saved campaign as it was saved", () => {
    const values = initialValues(
      campaign({ audience: { filters: { tags_any: "7", status: "active" } }, scheduled_at: "2026-05-01T01:30:00Z", attachments: [{ material_id: 4 }] }),
      "Asia/Shanghai",
    );
    expect(values.mode).toBe("filters");
    expect(values.audience.filters.tags_any).toEqual([7]);
    expect(values.when).toBe("at");
    expect(values.scheduled_at?.format("YYYY-MM-DD HH:mm")).toBe("2026-05-01 09:30");
    expect(initialValues(campaign({ audience: { segment_id: 3 } }), "UTC").mode).toBe("segment");
  });
});

describe("the body sent", () => {
  it("has the time picked in the tenant's zone as an instant, or none to send now", () => {
    const values = initialValues(undefined, "Asia/Shanghai");
    values.name = " Spring ";
    values.when = "at";
    values.scheduled_at = dayjs("2026-05-01T09:30");
    expect(toInput(values, "Asia/Shanghai")).toMatchObject({ name: "Spring", scheduled_at: "2026-05-01T01:30:00.000Z" });
    expect(toInput({ ...values, when: "now" }, "Asia/Shanghai").scheduled_at).toBeNull();
  });

  it("leaves the chat type out of a change (fixed once created)", () => {
    const values = initialValues(undefined, "UTC");
    values.name = "Spring";
    expect(toUpdate(values, "UTC")).not.toHaveProperty("chat_type");
    expect(toUpdate(values, "UTC")).toMatchObject({ name: "Spring", audience: { filters: {} } });
  });
});

describe("stepOf", () => {
  it("finds the step that shows the field the API names", () => {
    expect(stepOf("audience.filters.tags_all")).toBe("audience");
    expect(stepOf("audience.segment_id")).toBe("audience");
    expect(stepOf("attachments.2.material_id")).toBe("content");
    expect(stepOf("text")).toBe("content");
    expect(stepOf("scheduled_at")).toBe("schedule");
    expect(stepOf("name")).toBeNull();
  });
});
