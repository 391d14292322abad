// Pure helpers over a definition's step tree: lists are named by their path from the root
// ("steps", "steps.2.then", "steps.0.branches.1.steps"), as the API's error paths name them, so an
// error such as `steps.2.then.0.days` finds its step card. Every change returns a new definition.
import type { Definition, DraftErrors, Kind, Step, StepType, Action } from "./types";

export const STEP_ID = /^[a-z0-9_-]{1,32}$/;

/** Every step of the tree, depth first, with its path ("steps.2.then.0"). */
export function walk(steps: Step[] | undefined, base = "steps"): { step: Step; path: string; list: string; index: number }[] {
  const out: { step: Step; path: string; list: string; index: number }[] = [];
  (steps ?? []).forEach((step, index) => {
    const path = `${base}.${index}`;
    out.push({ step, path, list: base, index });
    if (step.type === "branch") {
      out.push(...walk(step.then, `${path}.then`), ...walk(step.else, `${path}.else`));
    } else if (step.type === "split") {
      (step.branches ?? []).forEach((branch, b) => out.push(...walk(branch.steps, `${path}.branches.${b}.steps`)));
    }
  });
  return out;
}

/** The value at a dotted path of a JSON value (undefined when it names nothing). */
function at(root: unknown, path: string): unknown {
  let node = root;
  for (const part of path.split(".")) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** A copy of `root` where the array at `path` is replaced by `change(array)`. */
function withList(root: Definition, path: string, change: (list: Step[]) => Step[]): Definition {
  const parts = path.split(".");
  const rebuild = (node: unknown, i: number): unknown => {
    if (i === parts.length) return change(Array.isArray(node) ? (node as Step[]) : []);
    const key = parts[i];
    if (Array.isArray(node)) {
      const copy = [...node];
      copy[Number(key)] = rebuild(copy[Number(key)], i + 1);
      return copy;
    }
    const obj = (node ?? {}) as Record<string, unknown>;
    return { ...obj, [key]: rebuild(obj[key], i + 1) };
  };
  return rebuild(root, 0) as Definition;
}

export function listAt(definition: Definition, path: string): Step[] {
  const list = at(definition, path);
  return Array.isArray(list) ? (list as Step[]) : [];
}

/** The path of the step with this id ("steps.1.else.0"), or null. */
export function pathOf(definition: Definition, id: string): string | null {
  return walk(definition.steps).find((entry) => entry.step.id === id)?.path ?? null;
}

export function findStep(definition: Definition, id: string): Step | null {
  return walk(definition.steps).find((entry) => entry.step.id === id)?.step ?? null;
}

function splitPath(path: string): { list: string; index: number } {
  const cut = path.lastIndexOf(".");
  return { list: path.slice(0, cut), index: Number(path.slice(cut + 1)) };
}

export function insertStep(definition: Definition, list: string, index: number, step: Step): Definition {
  return withList(definition, list, (steps) => [...steps.slice(0, index), step, ...steps.slice(index)]);
}

export function updateStep(definition: Definition, id: string, step: Step): Definition {
  const path = pathOf(definition, id);
  if (!path) return definition;
  const { list, index } = splitPath(path);
  return withList(definition, list, (steps) => steps.map((s, i) => (i === index ? step : s)));
}

export function removeStep(definition: Definition, id: string): Definition {
  const path = pathOf(definition, id);
  if (!path) return definition;
  const { list, index } = splitPath(path);
  return withList(definition, list, (steps) => steps.filter((_, i) => i !== index));
}

/** Moves the step at `from` of a list to stand before the step now at `to` (to = length: the end). */
export function moveStep(definition: Definition, list: string, from: number, to: number): Definition {
  if (from === to || from + 1 === to) return definition;
  return withList(definition, list, (steps) => {
    const copy = [...steps];
    const [moved] = copy.splice(from, 1);
    copy.splice(to > from ? to - 1 : to, 0, moved);
    return copy;
  });
}

/** A step id not used anywhere in the definition ("wait-3"). */
export function freshId(definition: Definition, stem: string): string {
  const used = new Set(walk(definition.steps).map((entry) => entry.step.id));
  const base = stem.replace(/[^a-z0-9_-]/g, "").slice(0, 24) || "step";
  for (let n = 1; ; n += 1) {
    const id = `${base}-${n}`;
    if (!used.has(id)) return id;
  }
}

/** What the "add a step" menu offers, per kind (a group SOP has no branch and its own actions). */
export type NewStepKind = Exclude<StepType, "action"> | Action;

export function newStepKinds(kind: Kind, actions: readonly Action[]): NewStepKind[] {
  const flow: NewStepKind[] = kind === "group" ? ["wait", "wait_until", "wait_business_hours", "split"] : ["wait", "wait_until", "wait_business_hours", "branch", "split"];
  return [...flow, ...actions];
}

export function newStep(definition: Definition, what: NewStepKind): Step {
  const id = freshId(definition, what.replace(/_/g, "-"));
  switch (what) {
    case "wait":
      return { id, type: "wait", days: 1, hours: 0, minutes: 0 };
    case "wait_until":
      return { id, type: "wait_until", time: "09:00", weekday: null };
    case "wait_business_hours":
      return { id, type: "wait_business_hours" };
    case "branch":
      return { id, type: "branch", if: { match: "all", criteria: [] }, then: [], else: [] };
    case "split":
      return {
        id,
        type: "split",
        branches: [
          { id: "a", name: "A", percent: 50, steps: [] },
          { id: "b", name: "B", percent: 50, steps: [] },
        ],
      };
    case "tag_add":
    case "tag_remove":
      return { id, type: "action", action: what, tag_ids: [] };
    case "set_stage":
      return { id, type: "action", action: what, stage_id: null };
    case "grant_points":
      return { id, type: "action", action: what, points: 10, note: "" };
    case "notify":
      return { id, type: "action", action: what, text: "", staff_ids: [] };
    default:
      return { id, type: "action", action: what, text: "", attachments: [] };
  }
}

// -- errors --------------------------------------------------------------------------------------

/** The API's `draft_errors` (or a 400's errors) as path → messages, whatever the nesting it used. */
export function normalizeErrors(raw: unknown, strip = ""): DraftErrors {
  const out: DraftErrors = {};
  const add = (path: string, message: string) => {
    const key = strip && path.startsWith(strip) ? path.slice(strip.length) : path;
    (out[key] ??= []).push(message);
  };
  const visit = (node: unknown, path: string) => {
    if (node === null || node === undefined) return;
    if (typeof node === "string") add(path, node);
    else if (Array.isArray(node)) {
      for (const item of node) {
        if (typeof item === "string") add(path, item);
        else if (item && typeof item === "object" && "message" in item) {
          const e = item as { message: string; path?: string | null };
          add(e.path ?? path, e.message);
        } else visit(item, path);
      }
    } else if (typeof node === "object") {
      const obj = node as Record<string, unknown>;
      if (typeof obj.message === "string") add(typeof obj.path === "string" ? obj.path : path, obj.message);
      else for (const [key, value] of Object.entries(obj)) visit(value, path ? `${path}.${key}` : key);
    }
  };
  visit(raw, "");
  return out;
}

export interface PlacedErrors {
  /** Step id → (field path inside the step, "" for the step itself) → messages. */
  steps: Map<string, Map<string, string[]>>;
  /** The errors outside the steps (trigger, exit, goal, timing...) by path. */
  settings: DraftErrors;
}

/** Puts each error on the deepest step its path names (`steps.2.then.0.days` → that step, "days"). */
export function placeErrors(definition: Definition, errors: DraftErrors): PlacedErrors {
  const byPath = new Map(walk(definition.steps).map((entry) => [entry.path, entry.step.id]));
  const steps = new Map<string, Map<string, string[]>>();
  const settings: DraftErrors = {};
  for (const [path, messages] of Object.entries(errors)) {
    const parts = path.split(".");
    let owner: string | null = null;
    let rest = "";
    for (let i = parts.length; i >= 2; i -= 1) {
      const id = byPath.get(parts.slice(0, i).join("."));
      if (id !== undefined) {
        owner = id;
        rest = parts.slice(i).join(".");
        break;
      }
    }
    if (owner === null) {
      settings[path] = messages;
      continue;
    }
    const fields = steps.get(owner) ?? new Map<string, string[]>();
    fields.set(rest, [...(fields.get(rest) ?? []), ...messages]);
    steps.set(owner, fields);
  }
  return { steps, settings };
}

/** The messages of the fields under `prefix` ("then", "branches.1"), or of one field. */
export function fieldMessages(fields: Map<string, string[]> | undefined, field: string): string[] {
  if (!fields) return [];
  const out: string[] = [];
  for (const [path, messages] of fields) if (path === field || path.startsWith(`${field}.`)) out.push(...messages);
  return out;
}

export function settingsMessages(errors: DraftErrors, prefix: string): string[] {
  const out: string[] = [];
  for (const [path, messages] of Object.entries(errors)) if (path === prefix || path.startsWith(`${prefix}.`)) out.push(...messages);
  return out;
}

/** Counts per step id from the report's steps (flow order, possibly nested). */
export function countsById<T extends { id: string }>(rows: unknown): Map<string, T> {
  const out = new Map<string, T>();
  const visit = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === "object") {
      const obj = node as Record<string, unknown>;
      if (typeof obj.id === "string" && ("waiting" in obj || "done" in obj)) out.set(obj.id, obj as unknown as T);
      for (const value of Object.values(obj)) if (Array.isArray(value)) visit(value);
    }
  };
  visit(rows);
  return out;
}

/** The settings drawer's tab an error path outside the steps belongs to. */
export function settingsTab(path: string): "trigger" | "exit" | "timing" {
  if (path.startsWith("trigger")) return "trigger";
  if (path.startsWith("exit") || path.startsWith("goal")) return "exit";
  return "timing";
}
