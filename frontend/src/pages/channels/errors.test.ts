import { describe, expect, it } from "vitest";

import { placeErrors, toNamePath, touches } from "./errors";

const known = new Set([
  "name",
  "user_ids",
  "welcome.text",
  "welcome.attachments",
  "welcome.attachments.0.url",
  "welcome.attachments.2.url",
  "welcome.attachments.2.title",
  "schedule",
  "schedule.0.end",
]);

const error = (path: string | null, message: string) => ({ path, code: "invalid", message });

describe("API error paths → form fields", () => {
  it("reads list indexes as numbers", () => {
    expect(toNamePath("welcome.attachments.2.url")).toEqual(["welcome", "attachments", 2, "url"]);
    expect(toNamePath("schedule.0.end")).toEqual(["schedule", 0, "end"]);
    expect(toNamePath("name")).toEqual(["name"]);
  });

  it("puts each message on its field", () => {
    const placed = placeErrors(
      [error("welcome.attachments.2.url", "Enter a full http:// or https:// URL."), error("schedule.0.end", "After start")],
      known,
    );
    expect(placed).toEqual({
      fields: [
        { name: ["welcome", "attachments", 2, "url"], errors: ["Enter a full http:// or https:// URL."] },
        { name: ["schedule", 0, "end"], errors: ["After start"] },
      ],
      general: [],
    });
  });

  it("gathers several messages of one field, once each", () => {
    const placed = placeErrors([error("name", "a"), error("name", "b"), error("name", "a")], known);
    expect(placed.fields).toEqual([{ name: ["name"], errors: ["a", "b"] }]);
  });

  it("falls back to the nearest field the form has", () => {
    const placed = placeErrors([error("welcome.attachments.5", "Each attachment is an object with a type.")], known);
    expect(placed.fields).toEqual([{ name: ["welcome", "attachments"], errors: ["Each attachment is an object with a type."] }]);
  });

  it("keeps errors about the whole request, or no field of the form, for above the form", () => {
    const placed = placeErrors([error(null, "WeCom refused"), error("detail.x", "Odd")], known);
    expect(placed).toEqual({ fields: [], general: ["WeCom refused", "detail.x: Odd"] });
  });

  it("tells which sections have errors", () => {
    const placed = placeErrors([error("schedule.0.end", "x")], known);
    expect(touches(placed, ["schedule", "daily_cap"])).toBe(true);
    expect(touches(placed, ["welcome"])).toBe(false);
  });
});
