// Every string the SOP pages ask for exists in both languages (a missing key would show its name),
// and every step type, action, event, trigger and status has its words.
import { describe, expect, it } from "vitest";

import strings from "./i18n";
import { ACTIONS, CRITERION_EVENTS, DUES, REENROL, SOP_STATUSES, STEP_TYPES, TASK_STATUSES, TRIGGER_EVENTS } from "./types";

// The components as text (Vite reads them; no Node APIs needed).
const sources = import.meta.glob<string>(["./*.tsx"], { query: "?raw", import: "default", eager: true });

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
      const key = match[2];
      if (key.includes(":")) continue; // another namespace (common:…)
      out.push({ file, key: match[3] ? key.replace(/\.$/, "") : key, prefix: Boolean(match[3]) });
    }
  }
  return out;
}

describe("SOP page strings", () => {
  const used = usedKeys();

  it("finds the calls", () => {
    expect(used.length).toBeGreaterThan(150);
  });

  it.each(["zh", "en"] as const)("has every key in %s", (lang) => {
    const missing = used.filter(({ key, prefix }) => (prefix ? typeof lookup(strings[lang], key) !== "object" : !hasString(strings[lang], key)));
    expect(missing).toEqual([]);
  });

  it("names every step type, action, event, trigger, status and choice, in both languages", () => {
    for (const lang of ["zh", "en"] as const) {
      const s = strings[lang];
      for (const type of STEP_TYPES) expect(s.step.type[type]).toBeTruthy();
      for (const action of ACTIONS) {
        expect(s.step.action[action]).toBeTruthy();
        expect(s.step.actionHint[action]).toBeTruthy();
      }
      for (const event of [...TRIGGER_EVENTS, ...CRITERION_EVENTS]) expect(s.event[event]).toBeTruthy();
      for (const status of SOP_STATUSES) expect(s.status[status] && s.statusHint[status]).toBeTruthy();
      for (const status of TASK_STATUSES) expect(s.tasks.status[status]).toBeTruthy();
      for (const due of DUES) expect(s.tasks.due[due] && s.tasks.empty[due]).toBeTruthy();
      for (const r of REENROL) expect(s.settings.reenrolOptions[r]).toBeTruthy();
    }
  });
});
