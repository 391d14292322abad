import { describe, expect, it } from "vitest";

import { amount, asTier, levelProgress, money, tierDot } from "./value";

describe("levelProgress", () => {
  it("is the share of the way from the current level to the next", () => {
    expect(levelProgress(150, 100, 1000)).toBe(5);
    expect(levelProgress(550, 100, 1000)).toBe(50);
    expect(levelProgress(0, 0, 100)).toBe(0);
    expect(levelProgress(99, 0, 100)).toBe(99);
  });

  it("is full at the top and never outside 0–100", () => {
    expect(levelProgress(5000, 1000, null)).toBe(100);
    expect(levelProgress(2000, 0, 1000)).toBe(100);
    expect(levelProgress(50, 100, 1000)).toBe(0);
    expect(levelProgress(10, 100, 100)).toBe(100);
  });
});

describe("amounts", () => {
  it("writes money in the tenant's currency, and a dash for none", () => {
    expect(money("3200.00", "CNY", "zh")).toBe("¥3,200.00");
    expect(money("0", "CNY", "zh")).toBe("¥0.00");
    expect(money(null, "CNY", "en")).toBe("—");
    expect(money("abc", "CNY", "en")).toBe("—");
    expect(money("12.5", "XYZ1", "en")).toBe("12.50 XYZ1");
  });

  it("writes the list's LTV without a currency", () => {
    expect(amount("1234.5", "en")).toBe("1,234.50");
    expect(amount(null, "en")).toBe("—");
  });
});

describe("tiers", () => {
  it("reads only the five tiers", () => {
    expect(asTier("silent")).toBe("silent");
    expect(asTier("vip")).toBeNull();
    expect(asTier(null)).toBeNull();
    expect(tierDot("lost")).toBe("gray");
    expect(tierDot("new")).toBe("blue");
  });
});
