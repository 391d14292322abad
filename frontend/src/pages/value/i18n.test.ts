// Every string the value pages ask for exists in both languages (a missing key would show its name),
// and every tier, field kind, points action and breakdown has its words.
import { describe, expect, it } from "vitest";

import strings from "./i18n";
import { BREAKDOWNS, FIELD_KINDS, POINTS_ACTIONS, TIERS } from "./types";

// The components as text (Vite reads them; no Node APIs needed).
const sources = import.meta.glob<string>(["./*.tsx", "./format.ts"], { query: "?raw", import: "default", eager: true });

function lookup(bundle: object, key: string): unknown {
  return key.split(".").reduce<unknown>((node, part) => (node && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined), bundle);
}

function hasString(bundle: object, key: string): boolean {
  return typeof lookup(bundle, key) === "string" || typeof lookup(bundle, `${key}_other`) === "string";
}

/** The literal keys of the `t("…")` calls (template keys are checked by their prefix). */
function usedKeys(): { file: string; key: string; prefix: boolean }[] {
  const out: { file: string; key: string; prefix: boolean }[] = [];
  for (const [file, source] of Object.entries(sources)) {
    for (const match of source.matchAll(/\bt\((["`])([A-Za-z0-9_.:]+)(\$\{)?/g)) {
      let key = match[2];
      if (key.startsWith("value:")) key = key.slice("value:".length);
      else if (key.includes(":")) continue; // another namespace (common:…)
      out.push({ file, key: match[3] ? key.replace(/\.$/, "") : key, prefix: Boolean(match[3]) });
    }
  }
  return out;
}

describe("value page strings", () => {
  const used = usedKeys();

  it("finds the calls", () => {
    expect(used.length).toBeGreaterThan(80);
  });

  it.each(["zh", "en"] as const)("has every key in %s", (lang) => {
    const missing = used.filter(({ key, prefix }) => (prefix ? typeof lookup(strings[lang], key) !== "object" : !hasString(strings[lang], key)));
    expect(missing).toEqual([]);
  });

  it("names every tier, field kind, points action and breakdown, in both languages", () => {
    for (const lang of ["zh", "en"] as const) {
      const s = strings[lang];
      for (const tier of TIERS) {
        expect(s.tier[tier]).toBeTruthy();
        expect(s.meaning[tier]).toBeTruthy();
      }
      for (const kind of FIELD_KINDS) expect(s.fields.kinds[kind]).toBeTruthy();
      for (const action of POINTS_ACTIONS) expect(s.rules.actions[action]).toBeTruthy();
      for (const by of BREAKDOWNS) {
        expect(s.breakdown.by[by]).toBeTruthy();
        expect(s.breakdown.label[by]).toBeTruthy();
      }
    }
  });
});
