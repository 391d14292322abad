// The plan (the preview's answer, and what a sent campaign kept) as the pages read it: the sentence's
// figures and the skipped recipients by reason.
import { type PlanFigures, SKIP_REASONS, type SkipReason } from "../../lib/campaigns";
import type { Plan, SkipCountKey, SkippedSample } from "./types";

/** The plan's skipped counts by the sentence's reasons. */
const COUNT_OF: Record<SkipReason, SkipCountKey> = {
  limit: "receive_limit",
  cap: "marketing_cap",
  dnd: "dnd",
  no_sender: "no_sender",
};

export function toFigures(plan: Plan): PlanFigures {
  const skipped: Partial<Record<SkipReason, number>> = {};
  for (const reason of SKIP_REASONS) skipped[reason] = plan.skipped[COUNT_OF[reason]] ?? 0;
  return {
    chatType: plan.chat_type,
    audience: plan.audience_total,
    recipients: plan.will_receive,
    members: plan.members,
    skipped,
    receiveLimit: plan.rules.receive_limit,
  };
}

export interface SkipGroup {
  reason: SkipReason;
  count: number;
  sample: SkippedSample[];
}

/** The reasons anyone was left out for, in the sentence's order, each with its sample. */
export function skipGroups(plan: Plan): SkipGroup[] {
  return SKIP_REASONS.map((reason) => ({
    reason,
    count: plan.skipped[COUNT_OF[reason]] ?? 0,
    sample: plan.skipped_sample.filter((s) => s.reason === COUNT_OF[reason]),
  })).filter((group) => group.count > 0);
}
