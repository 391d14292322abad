// The demo's "a customer scans this code": after the scan, the page polls the code's greetings and
// the customer, and tells what happened so far — added to a member, greeted, tagged — as steps.
import type { Schemas } from "../../api/client";

export type Greeting = Schemas["Welcome"];
export type TagRef = Schemas["TagRef"];

/** How often the page looks, and when it stops looking (a welcome_code lives 20 seconds). */
export const POLL_MS = 1000;
export const GIVE_UP_MS = 25_000;

export type StepState = "waiting" | "done" | "failed" | "skipped";

export interface Progress {
  added: StepState;
  greeted: StepState;
  tagged: StepState;
  /** Nothing more will happen: every step is done, failed or skipped. */
  finished: boolean;
  /** Still waiting for something when the time ran out. */
  timedOut: boolean;
}

/** The greeting of the customer the scan created (the newest, if several). */
export function findGreeting(greetings: Greeting[], externalUserid: string): Greeting | undefined {
  return greetings.find((g) => g.external_userid === externalUserid);
}

function greetingState(greeting: Greeting | undefined): StepState {
  if (!greeting || greeting.status === "pending") return "waiting";
  if (greeting.status === "sent") return "done";
  if (greeting.status === "skipped") return "skipped";
  return "failed";
}

/**
 * Where the arrival is. `tags` are the customer's tags on the member they added (undefined until
 * known); `wanted` the code's auto-tags (tag ids).
 */
export function progress({
  greeting,
  tags,
  wanted,
  elapsedMs,
}: {
  greeting: Greeting | undefined;
  tags: TagRef[] | undefined;
  wanted: number[];
  elapsedMs: number;
}): Progress {
  const added: StepState = greeting ? "done" : "waiting";
  const greeted = greetingState(greeting);
  let tagged: StepState;
  if (!wanted.length) tagged = greeting ? "skipped" : "waiting";
  else if (tags && wanted.every((id) => tags.some((tag) => tag.id === id))) tagged = "done";
  else tagged = "waiting";
  const steps = [added, greeted, tagged];
  const finished = steps.every((s) => s !== "waiting");
  const timedOut = !finished && elapsedMs >= GIVE_UP_MS;
  return { added, greeted, tagged, finished, timedOut };
}

/** The customer's tags on the follow of the member the scan reached. */
export function followTags(contact: Schemas["ContactDetail"] | undefined, userid: string): TagRef[] | undefined {
  const follow = contact?.follows.find((f) => f.staff.userid === userid);
  return follow?.tags;
}
