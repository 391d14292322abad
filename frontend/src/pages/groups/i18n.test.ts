// Every string the group pages ask for exists in both languages (a missing key would show its name).
import { describe, expect, it } from "vitest";

import strings from "./i18n";

// The folder's components as text (Vite reads them; no Node APIs needed).
const sources = import.meta.glob<string>("./*.tsx", { query: "?raw", import: "default", eager: true });

function lookup(bundle: object, key: string): unknown {
  return key.split(".").reduce<unknown>((node, part) => (node && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined), bundle);
}

/** The literal keys of this folder's `t("…")` calls (template keys are checked by their prefix). */
function usedKeys(): { file: string; key: string; prefix: boolean }[] {
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

describe("group page strings", () => {
  const used = usedKeys();

  it("finds the calls", () => {
    expect(used.length).toBeGreaterThan(100);
  });

  it.each(["zh", "en"] as const)("has every key in %s", (lang) => {
    const missing = used.filter(({ key, prefix }) => {
      const value = lookup(strings[lang], key);
      return prefix ? typeof value !== "object" : typeof value !== "string";
    });
    expect(missing).toEqual([]);
  });
});
