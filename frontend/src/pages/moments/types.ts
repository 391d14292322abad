// The Moments API's shapes, from the OpenAPI schema (`make api-types`), under the names the pages use.
import type { Schemas } from "../../api/client";

export type Material = Schemas["Material"];
export type TaskStatus = Schemas["MomentTaskStatusEnum"];
export type InteractionKind = Schemas["MomentInteractionKindEnum"];
export type CalendarKind = Schemas["MomentCalendarKindEnum"];

export type StaffRef = Schemas["MomentStaff"];
export type Figures = Schemas["MomentFigures"];
export type MomentTask = Schemas["MomentTask"];
export type MomentTaskDetail = Schemas["MomentTaskDetail"];
export type Moment = Schemas["Moment"];
export type Publication = Schemas["MomentPublication"];
export type Interaction = Schemas["MomentInteraction"];
export type MomentStats = Schemas["MomentStats"];
export type Calendar = Schemas["MomentCalendar"];
export type CalendarItem = Schemas["MomentCalendarItem"];
export type Ranking = Schemas["MomentRanking"];
export type RankingRow = Schemas["MomentRankingRow"];
export type Engagement = Schemas["MomentEngagement"];
export type MomentSettings = Schemas["MomentSettings"];
export type MemberSyncState = Schemas["MomentMemberSync"];
export type RemindResult = Schemas["MomentRemindResult"];
export type Preview = Schemas["MomentTaskPreviewResult"];

/** What the compose page saves (create; a change sends the same). */
export interface TaskInput {
  text: string;
  attachments: { material_id: number }[];
  staff_ids: number[];
  department_ids: number[];
  tag_ids: number[];
  /** The planned time (a draft keeps it; a scheduled task moves to it). */
  scheduled_at?: string | null;
}

/** An attachment as the preview draws it: a library material, or a task's saved attachment. */
export interface PostAttachment {
  kind: string;
  title: string;
  url: string;
  file_url: string | null;
  preview_url: string | null;
}

/** WeCom's refusal, as a task's or a sync's `error` holds it ({} when none). */
export interface WeComError {
  errcode?: number;
  errmsg?: string;
}
