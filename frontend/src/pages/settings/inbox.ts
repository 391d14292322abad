// The callback inbox's view in the URL (?status=failed&status=parked&page=2&event=17), so a
// filtered view can be shared and "back" works.
import { EVENT_STATUSES, type EventStatus } from "./api";

export interface InboxState {
  statuses: EventStatus[];
  page: number;
  event: number | null;
}

function positiveInt(value: string | null): number | null {
  if (!value || !/^\d+$/.test(value)) return null;
  const n = Number(value);
  return n >= 1 ? n : null;
}

export function readInboxState(search: string): InboxState {
  const params = new URLSearchParams(search);
  const statuses = params
    .getAll("status")
    .flatMap((value) => value.split(","))
    .filter((value): value is EventStatus => (EVENT_STATUSES as string[]).includes(value));
  return {
    statuses: [...new Set(statuses)],
    page: positiveInt(params.get("page")) ?? 1,
    event: positiveInt(params.get("event")),
  };
}

export function writeInboxState(state: InboxState): URLSearchParams {
  const params = new URLSearchParams();
  for (const status of state.statuses) params.append("status", status);
  if (state.page > 1) params.set("page", String(state.page));
  if (state.event !== null) params.set("event", String(state.event));
  return params;
}
