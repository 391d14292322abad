// Who did something, as the API answers it in `created_by`, a note's `author` and an event's `actor`:
// a member of the tenant or one of its API keys (an integrator), or null for nobody (a sync, WeCom).
import type { TFunction } from "i18next";

import type { Schemas } from "../api/client";

export type Actor = Schemas["Actor"];

/** "alice", or "API key CRM sync" (a key's name alone could pass for a member's); null for nobody. */
export function actorName(actor: Actor | null | undefined, t: TFunction): string | null {
  if (!actor) return null;
  return actor.type === "api_key" ? t("common:actor.apiKey", { name: actor.name }) : actor.name;
}
