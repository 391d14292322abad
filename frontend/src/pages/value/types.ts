// The value API's shapes, from the OpenAPI schema (`make api-types`), under the names the pages use.
import type { Schemas } from "../../api/client";

export const TIERS = ["new", "active", "silent", "high_value", "lost"] as const;
export type Tier = (typeof TIERS)[number];

export const BREAKDOWNS = ["channel", "staff", "cohort"] as const;
export type BreakdownBy = (typeof BREAKDOWNS)[number];

export const FIELD_KINDS = ["text", "number", "date", "choice", "multi_choice"] as const;
export type FieldKind = (typeof FIELD_KINDS)[number];

export const POINTS_ACTIONS = ["purchase", "added", "group_joined", "moment_commented", "referred"] as const;
export type PointsAction = (typeof POINTS_ACTIONS)[number];

export type TierCount = Schemas["TierCount"];
export type TierMove = Schemas["TierMoveCount"];
export type TiersOverview = Schemas["TiersOverview"];
export type BreakdownRow = Schemas["BreakdownRow"];
export type Breakdown = Schemas["Breakdown"];
/** The thresholds as read (every field is there; a change sends some of them). */
export type ValueSettings = Required<Omit<Schemas["ValueSettings"], "updated_at">>;
export type ValueSettingsChange = Schemas["PatchedValueSettingsRequest"];
export type PointsRule = Schemas["PointsRule"];
export type Level = Schemas["Level"];

export interface ProfileField {
  id: number;
  key: string;
  label: string;
  kind: FieldKind;
  choices: string[];
  yearly: boolean;
  order: number;
  archived: boolean;
}

export type ProfileFieldInput = Omit<ProfileField, "id" | "archived">;
