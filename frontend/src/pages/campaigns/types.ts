// The campaigns API's shapes, from the OpenAPI schema (`make api-types`), under the names the pages use.
import type { Schemas } from "../../api/client";

export type Actor = Schemas["Actor"];
export type CampaignStatus = Schemas["CampaignStatusEnum"];
export type ChatType = Schemas["ChatTypeEnum"];
export type TaskStatus = Schemas["CampaignTaskStatusEnum"];
export type RecipientStatus = Schemas["RecipientStatusEnum"];
export type ReceiveLimit = Schemas["ReceiveLimitEnum"];
export type SenderRule = Schemas["SenderRuleEnum"];

export type Campaign = Schemas["Campaign"];
export type CampaignDetail = Schemas["CampaignDetail"];
export type Plan = Schemas["Plan"];
export type PreviewMember = Schemas["MemberShare"];
export type SkippedSample = Schemas["SkippedSample"];
export type SkipCountKey = Schemas["ReasonEnum"];
export type StaffRef = Schemas["CampaignStaff"];
export type CampaignTask = Schemas["Task"];
export type CampaignRecipient = Schemas["Recipient"];
export type RemindResult = Schemas["RemindResult"];
export type CancelResult = Schemas["CancelResult"];
export type CampaignSettings = Schemas["CampaignSettings"];
export type DoNotDisturb = Schemas["DoNotDisturb"];
export type DoNotDisturbAdded = Schemas["DoNotDisturbAddResult"];
export type Material = Schemas["Material"];
export type MaterialKind = Schemas["MaterialKindEnum"];

/** An audience as the wizard builds it: a segment, the customers list's filters, or a group filter
 * (the API's SegmentAudience | FilterAudience | GroupAudience, which the detail answers untyped). */
export interface Audience {
  segment_id?: number | null;
  filters?: Record<string, string>;
  owner_ids?: number[];
  tag_ids?: number[];
  name?: string;
}

/** What the wizard saves (the create body; a change sends the same minus chat_type). */
export interface CampaignInput {
  name: string;
  chat_type: ChatType;
  audience: Audience;
  text: string;
  attachments: { material_id: number }[];
  scheduled_at?: string | null;
}

/** WeCom's refusal of a task, as the task's `error` holds it ({} when none). */
export interface TaskError {
  errcode?: number;
  errmsg?: string;
  hint?: string;
}
