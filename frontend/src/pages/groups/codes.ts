// The group code (群活码) form on the client: its values ↔ what the API takes, the checks worth doing
// before asking WeCom, and the API's field names mapped onto the form's.
import { ApiError, type Problem } from "../../api/client";

/** WeCom's limit: a join way holds one to five groups. */
export const MAX_CODE_GROUPS = 5;
/** WeCom's limits on the automatic group's name and on the code's remark. */
export const ROOM_BASE_NAME_MAX = 40;
export const CODE_NAME_MAX = 30;

export interface CodeGroupRef {
  /** Null: a group WeCom opened that is not synced yet. */
  id: number | null;
  name: string;
  member_count?: number | null;
  status?: string | null;
}

export interface CodeValues {
  name: string;
  group_ids: number[];
  auto_create_room: boolean;
  room_base_name: string;
  room_base_id: number | null;
}

export interface CodeInput {
  name: string;
  group_ids: number[];
  auto_create_room: boolean;
  room_base_name: string;
  room_base_id: number;
}

export function codeForForm(
  code: { name: string; groups: CodeGroupRef[]; auto_create_room: boolean; room_base_name: string; room_base_id: number } | undefined,
): CodeValues {
  return {
    name: code?.name ?? "",
    // A group WeCom opened and nobody synced yet cannot be named by id: the code keeps it anyway
    // (WeCom has it), and the form sends the groups it knows.
    group_ids: (code?.groups ?? []).flatMap((g) => (g.id === null ? [] : [g.id])),
    auto_create_room: code?.auto_create_room ?? true,
    room_base_name: code?.room_base_name ?? "",
    room_base_id: code?.room_base_id ?? 1,
  };
}

/** What is sent: the name trimmed; without automatic creation, no base name or number. */
export function codeForSubmit(values: CodeValues): CodeInput {
  const auto = Boolean(values.auto_create_room);
  return {
    name: (values.name ?? "").trim(),
    group_ids: values.group_ids ?? [],
    auto_create_room: auto,
    room_base_name: auto ? (values.room_base_name ?? "").trim() : "",
    room_base_id: auto ? (values.room_base_id ?? 1) : 1,
  };
}

/** The form's field a path of the API's errors is about (`chat_ids.2` → `group_ids`). */
const FIELD_OF: Record<string, string> = { chat_ids: "group_ids", groups: "group_ids", group_ids: "group_ids" };

export function formPath(path: string): string {
  const [head, ...rest] = path.split(".");
  const field = FIELD_OF[head];
  // An index into the ids is about the picker as a whole (it has no field per group).
  return field ? field : [head, ...rest].join(".");
}

/** The same error with its paths named as the form names its fields. */
export function withFormPaths(error: unknown): unknown {
  if (!(error instanceof ApiError)) return error;
  const problem: Problem = {
    ...error.problem,
    errors: error.problem.errors.map((e) => ({ ...e, path: e.path ? formPath(e.path) : e.path })),
  };
  return new ApiError(problem);
}

/** A group that can take no more people from the code: dismissed, or full (200). */
export function groupFull(group: CodeGroupRef, capacity = 200): boolean {
  return group.status === "dismissed" || (group.member_count ?? 0) >= capacity;
}

/** The name WeCom gives the next group it creates: the base name and the next number. */
export function nextRoomName(baseName: string, baseId: number | null): string {
  const name = baseName.trim();
  return name ? `${name}${baseId ?? 1}` : "";
}

/** Groups WeCom opened for the code that no groups sync has brought in yet (the form cannot name them). */
export function unsyncedGroups(groups: CodeGroupRef[]): number {
  return groups.filter((g) => g.id === null).length;
}
