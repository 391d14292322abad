import { describe, expect, it } from "vitest";

import {
  MAX_ATTACHMENTS,
  attachmentIds,
  PLACEHOLDER_WORST_BYTES,
  insertPlaceholder,
  isEmptyWelcome,
  linkHost,
  renderText,
  textBytes,
  unknownPlaceholders,
  welcomeForForm,
  welcomeForSubmit,
} from "./welcome";

const names = { customer_name: "李华", staff_name: "Alice" };

describe("the welcome preview's text", () => {
  it("fills the placeholders with the sample names and marks them", () => {
    expect(renderText("Hi {customer_name}, I am {staff_name}.", names)).toEqual([
      { text: "Hi " },
      { text: "李华", placeholder: "customer_name" },
      { text: ", I am " },
      { text: "Alice", placeholder: "staff_name" },
      { text: "." },
    ]);
  });

  it("keeps an unknown placeholder as typed, flagged", () => {
    expect(renderText("{nickname}!", names)).toEqual([{ text: "{nickname}", unknown: true }, { text: "!" }]);
    expect(unknownPlaceholders("{nickname} {customer_name} {nickname} {x1}")).toEqual(["nickname", "x1"]);
  });

  it("leaves braces that are not placeholders alone and merges plain text", () => {
    expect(renderText("a { b } {} {1x}", names)).toEqual([{ text: "a { b } {} {1x}" }]);
    expect(renderText("", names)).toEqual([]);
    expect(renderText("{staff_name}{staff_name}", names)).toHaveLength(2);
  });
});

describe("the text's byte budget", () => {
  it("counts UTF-8 bytes of the trimmed text", () => {
    expect(textBytes("  abc  ")).toBe(3);
    expect(textBytes("你好")).toBe(6);
  });

  it("counts each placeholder at its longest, as the API does", () => {
    expect(textBytes("Hi {customer_name}")).toBe(3 + PLACEHOLDER_WORST_BYTES);
    expect(textBytes("{staff_name}{unknown}")).toBe(2 * PLACEHOLDER_WORST_BYTES);
  });
});

describe("inserting a placeholder at the cursor", () => {
  it("inserts at the caret and moves the caret after it", () => {
    expect(insertPlaceholder("Hi !", 3, 3, "customer_name")).toEqual({ text: "Hi {customer_name}!", caret: 18 });
  });

  it("replaces the selection", () => {
    expect(insertPlaceholder("Hi NAME!", 3, 7, "staff_name")).toEqual({ text: "Hi {staff_name}!", caret: 15 });
  });

  it("clamps positions outside the text", () => {
    expect(insertPlaceholder("ab", 10, 20, "staff_name")).toEqual({ text: "ab{staff_name}", caret: 14 });
    expect(insertPlaceholder("ab", 2, 1, "staff_name").text).toBe("ab{staff_name}");
  });
});

describe("the welcome sent to the API", () => {
  it("is {} when there is no text and no attachment (the default welcome applies)", () => {
    expect(isEmptyWelcome({ text: "   ", attachments: [] })).toBe(true);
    expect(isEmptyWelcome(undefined)).toBe(true);
    expect(welcomeForSubmit({ text: " \n", attachments: [] })).toEqual({});
    expect(isEmptyWelcome({ attachments: [{ material_id: 3 }] })).toBe(false);
  });

  it("sends each attachment as its material's id, in order", () => {
    const extra = { material_id: 9, title: "stale" } as { material_id: number };
    expect(welcomeForSubmit({ text: "Hi {customer_name}", attachments: [{ material_id: 4 }, extra] })).toEqual({
      text: "Hi {customer_name}",
      attachments: [{ material_id: 4 }, { material_id: 9 }],
    });
    expect(attachmentIds({ attachments: [{ material_id: 4 }, { material_id: 9 }] })).toEqual([4, 9]);
    expect(attachmentIds(undefined)).toEqual([]);
  });

  it("starts the form from a stored welcome, {} included", () => {
    expect(welcomeForForm({})).toEqual({ text: "", attachments: [] });
    expect(welcomeForForm({ text: "x", attachments: [{ material_id: 1 }] })).toEqual({
      text: "x",
      attachments: [{ material_id: 1 }],
    });
  });

  it("allows up to 9 attachments, as WeCom", () => {
    expect(MAX_ATTACHMENTS).toBe(9);
  });
});

describe("a link card's site", () => {
  it("is the URL's host, or nothing for a URL still being typed", () => {
    expect(linkHost("https://shop.example.cn/a?b=1")).toBe("shop.example.cn");
    expect(linkHost("shop")).toBe("");
    expect(linkHost(undefined)).toBe("");
  });
});
