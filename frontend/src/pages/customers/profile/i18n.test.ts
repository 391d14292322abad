// Every string the customer page and the customers list ask for exists in both languages (a
// missing key would show its name).
import { describe, expect, it } from "vitest";

import customers from "../i18n";
import strings from "./i18n";

// The components as text (Vite reads them; no Node APIs needed).
const profileSources = import.meta.glob<string>(["./*.tsx", "../CustomerProfilePage.tsx"], {
  query: "?raw",
  import: "default",
  eager: true,
});
const listSources = import.meta.glob<string>(
  ["../CustomersPage.tsx", "../FilterBar.tsx", "../ValueFilters.tsx", "../ContactDrawer.tsx", "../ContactTimeline.tsx", "../controls.tsx"],
  { query: "?raw", import: "default", eager: true },
);

function lookup(bundle: object, key: string): unknown {
  return key.split(".").reduce<unknown>((node, part) => (node && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined), bundle);
}

/** A plain string, or a plural (`key_one` / `key_other`). */
function hasString(bundle: object, key: string): boolean {
  return typeof lookup(bundle, key) === "string" || typeof lookup(bundle, `${key}_other`) === "string";
}

/** The literal keys of the `t("…")` calls (template keys are checked by their prefix). */
function usedKeys(sources: Record<string, string>): { file: string; key: string; prefix: boolean }[] {
  const out: { file: string; key: string; prefix: boolean }[] = [];
  for (const [file, source] of Object.entries(sources)) {
    for (const match of source.matchAll(/\bt\((["`])([A-Za-z0-9_.:]+)(\$\{)?/g)) {
      const key = match[2];
      if (key.includes(":")) continue; // another namespace (common:…)
      out.push({ file, key: match[3] ? key.replace(/\.$/, "") : key, prefix: Boolean(match[3]) });
    }
  }
  return out;
}

function missing(used: ReturnType<typeof usedKeys>, bundle: object) {
  return used.filter(({ key, prefix }) => (prefix ? typeof lookup(bundle, key) !== "object" : !hasString(bundle, key)));
}

describe("customer page strings", () => {
  const used = usedKeys(profileSources);

  it("finds the calls", () => {
    expect(used.length).toBeGreaterThan(60);
  });

  it.each(["zh", "en"] as const)("has every key in %s", (lang) => {
    expect(missing(used, strings[lang])).toEqual([]);
  });

  it("names every points reason and order status in both languages", () => {
    for (const lang of ["zh", "en"] as const) {
      for (const reason of ["earned", "granted", "redeemed", "expired", "reversed"]) expect(strings[lang].points.reasons).toHaveProperty(reason);
      for (const action of ["purchase", "added", "group_joined", "moment_commented", "referred"]) expect(strings[lang].points.actions).toHaveProperty(action);
      for (const status of ["paid", "partially_refunded", "refunded"]) expect(strings[lang].orders.statuses).toHaveProperty(status);
    }
  });
});

describe("customers list strings", () => {
  const used = usedKeys(listSources);

  it.each(["zh", "en"] as const)("has every key in %s", (lang) => {
    expect(missing(used, customers[lang])).toEqual([]);
  });

  it("names every tier, the new event types and every profile condition in both languages", () => {
    for (const lang of ["zh", "en"] as const) {
      for (const tier of ["new", "active", "silent", "high_value", "lost"]) expect(customers[lang].tier).toHaveProperty(tier);
      for (const type of ["purchased", "refunded", "custom", "profile_changed", "tier_changed"]) expect(customers[lang].event).toHaveProperty(type);
      for (const op of ["=", "!=", ">=", "<=", "~", "?", "!?"]) expect(customers[lang].filter.op).toHaveProperty(op);
    }
  });
});
