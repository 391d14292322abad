// The campaign pages' server state: query keys, the queries their parts share, and the writes.
import { keepPreviousData, useQuery } from "@tanstack/react-query";

import { client, data, type Schemas } from "../../api/client";
import type { ListView, RecipientView } from "./params";
import type { Audience, CampaignInput, CampaignSettings, ChatType } from "./types";

export const TASKS_PAGE = 200;
export const DND_PAGE = 20;

export const keys = {
  campaigns: ["campaigns"] as const,
  lists: ["campaigns", "list"] as const,
  list: (view: ListView) => ["campaigns", "list", view] as const,
  detail: (id: number) => ["campaigns", "detail", id] as const,
  tasks: (id: number) => ["campaigns", "detail", id, "tasks"] as const,
  recipients: (id: number, view: RecipientView) => ["campaigns", "detail", id, "recipients", view] as const,
  preview: (body: PreviewBody) => ["campaigns", "preview", body] as const,
  settings: ["campaign-settings"] as const,
  dnd: ["do-not-disturb"] as const,
  dndList: (page: number, search: string) => ["do-not-disturb", "list", page, search] as const,
  /** The customers page's queries (the do-not-disturb picker searches contacts). */
  contactOptions: (search: string) => ["contacts", "options", search] as const,
};

export interface PreviewBody {
  chat_type: ChatType;
  audience: Audience;
  /** The planned send time (the receive limit's period is the one it falls in); null: now. */
  scheduled_at?: string | null;
}

export function useCampaigns(view: ListView) {
  return useQuery({
    queryKey: keys.list(view),
    queryFn: () =>
      data(
        client.GET("/api/v1/campaigns/", {
          params: {
            query: {
              page: view.page,
              page_size: view.pageSize,
              ...(view.status ? { status: [view.status] } : {}),
              ...(view.chatType ? { chat_type: view.chatType } : {}),
              ...(view.search ? { search: view.search } : {}),
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

/** While WeCom tasks are being made, or a scheduled send comes due, the page follows it. */
export const LIVE_STATUSES = new Set(["scheduled", "dispatching"]);

export function useCampaign(id: number, enabled = true) {
  return useQuery({
    queryKey: keys.detail(id),
    queryFn: () => data(client.GET("/api/v1/campaigns/{id}/", { params: path(id) })),
    enabled,
    refetchInterval: (query) => (query.state.data && LIVE_STATUSES.has(query.state.data.status) ? 3000 : false),
  });
}

export function useTasks(id: number, poll: boolean, enabled = true) {
  return useQuery({
    enabled,
    queryKey: keys.tasks(id),
    queryFn: () => data(client.GET("/api/v1/campaigns/{id}/tasks/", { params: { ...path(id), query: { page_size: TASKS_PAGE } } })),
    refetchInterval: poll ? 3000 : false,
  });
}

export function useRecipients(id: number, view: RecipientView) {
  return useQuery({
    queryKey: keys.recipients(id, view),
    queryFn: () =>
      data(
        client.GET("/api/v1/campaigns/{id}/recipients/", {
          params: {
            ...path(id),
            query: {
              page: view.page,
              page_size: view.pageSize,
              ...(view.status ? { status: [view.status] } : {}),
              ...(view.staff !== null ? { staff: [view.staff] } : {}),
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

/** The plan for an audience (who will and will not receive it): the live count and the preview step.
 * `body` null: nothing to ask yet. */
export function usePreview(body: PreviewBody | null) {
  return useQuery({
    queryKey: keys.preview(body ?? { chat_type: "single", audience: {} }),
    queryFn: () => data(client.POST("/api/v1/campaigns/preview/", { body: body as Schemas["CampaignPreviewRequest"] })),
    enabled: body !== null,
    placeholderData: keepPreviousData,
    // The plan moves with the caps and the audience: a minute-old answer is asked again.
    staleTime: 30_000,
    retry: false,
  });
}

export function useCampaignSettings(enabled = true) {
  return useQuery({
    queryKey: keys.settings,
    queryFn: () => data(client.GET("/api/v1/campaign-settings/")),
    enabled,
    staleTime: 60_000,
  });
}

/** The settings' default zone (campaigns/models.py), until the settings are read. */
export const DEFAULT_ZONE = "Asia/Shanghai";

/** The tenant's time zone (every member reads the settings): scheduled times are shown in it. */
export function useTenantZone(): string {
  return useCampaignSettings().data?.time_zone ?? DEFAULT_ZONE;
}

export function useDoNotDisturb(page: number, search: string) {
  return useQuery({
    queryKey: keys.dndList(page, search),
    queryFn: () =>
      data(client.GET("/api/v1/do-not-disturb/", { params: { query: { page, page_size: DND_PAGE, ...(search ? { search } : {}) } } })),
    placeholderData: keepPreviousData,
  });
}

/** Customers for the do-not-disturb picker: those matching what was typed. */
export function useContactOptions(search: string) {
  return useQuery({
    queryKey: keys.contactOptions(search),
    queryFn: () => data(client.GET("/api/v1/contacts/", { params: { query: { page_size: 20, search, status: "active" } } })),
    enabled: search.length > 0,
    placeholderData: keepPreviousData,
    staleTime: 30_000,
  });
}

const path = (id: number) => ({ path: { id: String(id) } });

export const api = {
  create: (body: CampaignInput, idempotencyKey: string) =>
    data(
      client.POST("/api/v1/campaigns/", {
        // The audience is built from the same filter language the schema spells out field by field.
        body: body as Schemas["CampaignCreateRequest"],
        params: { header: { "Idempotency-Key": idempotencyKey } },
      }),
    ),
  update: (id: number, body: Omit<CampaignInput, "chat_type">) =>
    data(client.PATCH("/api/v1/campaigns/{id}/", { params: path(id), body: body as Schemas["PatchedCampaignUpdateRequest"] })),
  remove: (id: number) => data(client.DELETE("/api/v1/campaigns/{id}/", { params: path(id) })),
  send: (id: number, scheduledAt: string | null) =>
    data(client.POST("/api/v1/campaigns/{id}/send/", { params: path(id), body: scheduledAt ? { scheduled_at: scheduledAt } : {} })),
  cancel: (id: number) => data(client.POST("/api/v1/campaigns/{id}/cancel/", { params: path(id) })),
  remind: (id: number) => data(client.POST("/api/v1/campaigns/{id}/remind/", { params: path(id) })),
  remindTask: (id: number, taskId: number) =>
    data(client.POST("/api/v1/campaigns/{id}/tasks/{task_id}/remind/", { params: { path: { id: String(id), task_id: taskId } } })),
  refresh: (id: number) => data(client.POST("/api/v1/campaigns/{id}/refresh/", { params: path(id) })),
  saveSettings: (body: Partial<Pick<CampaignSettings, "receive_limit" | "sender_rule" | "marketing_cap_per_week" | "time_zone">>) =>
    data(client.PATCH("/api/v1/campaign-settings/", { body })),
  addDnd: (body: { contacts: number[]; reason: string }) => data(client.POST("/api/v1/do-not-disturb/", { body })),
  removeDnd: (id: number) => data(client.DELETE("/api/v1/do-not-disturb/{id}/", { params: path(id) })),
};
