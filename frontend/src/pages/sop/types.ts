// The SOP definition (sop/services/definition.py; the API stores it as a free-form JSON object, so
// its shape is typed here) and the SOP API's shapes the pages read.
//
// A draft may be invalid while it is edited (the API saves it and answers `draft_errors`): every
// field the editor reads is optional, and what the API refuses is shown where its path points.

import type { Schemas } from "../../api/client";

export const KINDS = ["customer", "group"] as const;
export type Kind = (typeof KINDS)[number];

export const SOP_STATUSES = ["draft", "live", "paused", "stopped"] as const;
export type SopStatus = (typeof SOP_STATUSES)[number];

export const TASK_STATUSES = ["todo", "done", "postponed", "skipped"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const DUES = ["today", "overdue", "all"] as const;
export type Due = (typeof DUES)[number];

export const REENROL = ["never", "after_exit", "always"] as const;
export type Reenrol = (typeof REENROL)[number];

export const TRIGGER_EVENTS = ["added", "tagged", "stage_changed", "tier_changed", "purchased", "group_joined", "custom"] as const;
export type TriggerEvent = (typeof TRIGGER_EVENTS)[number];

/** Events a criterion may name ("happened to the customer after it enrolled"). */
export const CRITERION_EVENTS = [
  "purchased",
  "custom",
  "tagged",
  "stage_changed",
  "tier_changed",
  "group_joined",
  "moment_commented",
  "moment_liked",
  "lost",
] as const;

export const TIERS = ["new", "active", "silent", "high_value", "lost"] as const;

/** The contacts list's filter language: parameter → string value (contacts/filters.py). */
export type Filters = Record<string, string>;

export interface EventTrigger {
  type: "event";
  event?: TriggerEvent;
  channel?: string;
  tag_ids?: number[];
  stage_id?: number | null;
  tier?: string;
  min_amount?: string;
  group_id?: number | null;
  name?: string;
  filters?: Filters;
}

export interface DateTrigger {
  type: "date";
  field?: string;
  offset_days?: number;
  time?: string;
  filters?: Filters;
}

export interface SegmentTrigger {
  type: "segment";
  segment_id?: number | null;
}

export interface ManualTrigger {
  type: "manual";
}

export interface ScheduleTrigger {
  type: "schedule";
  every?: "daily" | "weekly" | "dates";
  weekdays?: number[];
  dates?: string[];
  time?: string;
  groups?: { owner_ids?: number[]; tag_ids?: number[]; name?: string };
}

export type Trigger = EventTrigger | DateTrigger | SegmentTrigger | ManualTrigger | ScheduleTrigger;
export type TriggerType = Trigger["type"];

export interface Criterion {
  filters?: Filters;
  event?: string;
  name?: string;
  in_group?: boolean;
}

export interface Attachment {
  material_id: number;
}

export const STEP_TYPES = ["wait", "wait_until", "wait_business_hours", "branch", "split", "action"] as const;
export type StepType = (typeof STEP_TYPES)[number];

export const ACTIONS = [
  "remind",
  "mass_task",
  "group_send",
  "moment_task",
  "tag_add",
  "tag_remove",
  "set_stage",
  "grant_points",
  "notify",
] as const;
export type Action = (typeof ACTIONS)[number];

/** The actions a kind of SOP may use (validation refuses the others as `not_allowed`). */
export const KIND_ACTIONS: Record<Kind, readonly Action[]> = {
  customer: ["remind", "mass_task", "moment_task", "tag_add", "tag_remove", "set_stage", "grant_points", "notify"],
  group: ["remind", "group_send", "moment_task", "notify"],
};

/** The actions whose content a member sends (text and library attachments). */
export const CONTENT_ACTIONS: readonly Action[] = ["remind", "mass_task", "group_send", "moment_task"];

export interface SplitBranch {
  id: string;
  name?: string;
  percent?: number;
  steps?: Step[];
}

/** One step as the JSON holds it; which fields mean something depends on `type` (and `action`). */
export interface Step {
  id: string;
  type: StepType;
  title?: string;
  // wait
  days?: number;
  hours?: number;
  minutes?: number;
  // wait_until
  time?: string;
  weekday?: number | null;
  // branch
  if?: { match?: "all" | "any"; criteria?: Criterion[] };
  then?: Step[];
  else?: Step[];
  // split
  branches?: SplitBranch[];
  // action
  action?: Action;
  text?: string;
  attachments?: Attachment[];
  tag_ids?: number[];
  stage_id?: number | null;
  points?: number;
  note?: string;
  staff_ids?: number[];
}

export interface Definition {
  trigger?: Trigger;
  steps?: Step[];
  exit?: Criterion[];
  goal?: Criterion[];
  reenrol?: Reenrol;
  quiet_hours?: { start: string; end: string } | null;
  business_hours?: { weekdays?: number[]; start?: string; end?: string };
  respect_caps?: boolean;
}

/** Validation errors by path from the definition root (`steps.2.then.0.days`). */
export type DraftErrors = Record<string, string[]>;

// -- the API's shapes, from the OpenAPI schema (`make api-types`) --------------------------------------
// The definition is a free-form object there: the shapes that carry one hold the type above instead.

export type DraftError = Schemas["ErrorItem"];
export type SopRow = Schemas["Sop"];
export type SopDetail = Omit<Schemas["SopDetail"], "draft"> & { draft: Definition };
export type SopTemplate = Omit<Schemas["SopTemplate"], "draft"> & { draft: Definition };
export type SopVersion = Omit<Schemas["SopVersion"], "definition"> & { definition: Definition };
export type Report = Schemas["SopReport"];
export type StepCounts = Schemas["ReportStep"];
export type SplitReport = Schemas["ReportSplit"];
export type MemberReport = Schemas["ReportMember"];
export type SopTaskRow = Schemas["SopTask"];
export type EnrolResult = Schemas["EnrolResult"];
