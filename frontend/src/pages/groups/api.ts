// The group pages' server state: types, query keys, the queries their parts share, and the writes.
import { keepPreviousData, useQuery } from "@tanstack/react-query";

import { client, data, type Schemas } from "../../api/client";
import type { StatsQuery } from "./groupStats";
import { type GroupListState, groupsQuery } from "./params";

export type Group = Schemas["Group"];
export type GroupDetail = Schemas["GroupDetail"];
export type GroupMember = Schemas["GroupMember"];
export type GroupHistoryEntry = Schemas["GroupHistoryEntry"];
export type GroupStats = Schemas["GroupStats"];
export type GroupTag = Schemas["GroupTag"];
export type GroupCode = Schemas["JoinWay"];
export type GroupCodeInput = Schemas["JoinWayInputRequest"];
export type GroupCodeStats = Schemas["JoinWayStats"];
export type GroupWelcomeTemplate = Schemas["GroupWelcomeTemplate"];
export type GroupWelcomeTemplateInput = Schemas["GroupWelcomeTemplateInputRequest"];
export type GroupTransfer = Schemas["GroupTransferDetail"];

export const STAFF_PAGE = 200;
export const MEMBERS_PAGE = 50;
export const HISTORY_PAGE = 30;

export const keys = {
  groups: ["groups"] as const,
  list: (state: GroupListState) => ["groups", "list", groupsQuery(state)] as const,
  detail: (id: number) => ["groups", "detail", id] as const,
  members: (id: number, filter: MemberFilter, page: number) => ["groups", "detail", id, "members", filter, page] as const,
  history: (id: number, page: number) => ["groups", "detail", id, "history", page] as const,
  stats: (id: number, from: string, to: string) => ["groups", "detail", id, "stats", from, to] as const,
  /** WeCom's daily figures summed over owners (the statistics page). */
  ownerStats: (query: StatsQuery) => ["groups", "owner-stats", query] as const,
  /** The group picker of the group code form (its own prefix: a search there is not a list view). */
  options: (search: string) => ["groups", "options", search] as const,
  tags: ["group-tags"] as const,
  owners: (search: string) => ["staff", "owners", search, STAFF_PAGE] as const,
  codes: ["group-codes"] as const,
  codeList: (page: number, pageSize: number) => ["group-codes", "list", page, pageSize] as const,
  code: (id: number) => ["group-codes", "detail", id] as const,
  codeStats: (id: number, from: string, to: string) => ["group-codes", "detail", id, "stats", from, to] as const,
  templates: ["group-welcome-templates"] as const,
  templateList: (page: number) => ["group-welcome-templates", "list", page] as const,
  template: (id: number) => ["group-welcome-templates", "detail", id] as const,
  transfer: (id: number) => ["group-transfers", id] as const,
  /** The customers pages' queries: a contact's groups change with a groups sync. */
  contacts: ["contacts"] as const,
};

const path = (id: number) => ({ path: { id: String(id) } });

export function useGroups(state: GroupListState) {
  return useQuery({
    queryKey: keys.list(state),
    queryFn: () => data(client.GET("/api/v1/groups/", { params: { query: groupsQuery(state) } })),
    placeholderData: keepPreviousData,
  });
}

export function useGroup(id: number) {
  return useQuery({
    queryKey: keys.detail(id),
    queryFn: () => data(client.GET("/api/v1/groups/{id}/", { params: path(id) })),
  });
}

export interface MemberFilter {
  /** true: who is in the group now; false: every stay, past ones included. */
  current: boolean;
  type: "staff" | "customer" | null;
  q: string;
}

export function useMembers(id: number, filter: MemberFilter, page: number) {
  return useQuery({
    queryKey: keys.members(id, filter, page),
    queryFn: () =>
      data(
        client.GET("/api/v1/groups/{id}/members/", {
          params: {
            ...path(id),
            query: {
              page,
              page_size: MEMBERS_PAGE,
              current: filter.current,
              ...(filter.type ? { type: filter.type } : {}),
              ...(filter.q ? { q: filter.q } : {}),
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

export function useHistory(id: number, page: number) {
  return useQuery({
    queryKey: keys.history(id, page),
    queryFn: () =>
      data(client.GET("/api/v1/groups/{id}/history/", { params: { ...path(id), query: { page, page_size: HISTORY_PAGE } } })),
    placeholderData: keepPreviousData,
  });
}

export function useGroupStats(id: number, from: string, to: string) {
  return useQuery({
    queryKey: keys.stats(id, from, to),
    queryFn: () =>
      data(client.GET("/api/v1/groups/{id}/stats/", { params: { ...path(id), query: { date_from: from, date_to: to } } })),
    placeholderData: keepPreviousData,
  });
}

/** WeCom's daily group figures of the owners in scope (or those asked for), with the range's totals. */
export function useOwnerStats(query: StatsQuery) {
  return useQuery({
    queryKey: keys.ownerStats(query),
    queryFn: () => data(client.GET("/api/v1/group-stats/", { params: { query } })),
    placeholderData: keepPreviousData,
  });
}

/** Groups for a picker: the newest, or those whose name has what was typed. */
export function useGroupOptions(search: string) {
  return useQuery({
    queryKey: keys.options(search),
    queryFn: () =>
      data(client.GET("/api/v1/groups/", { params: { query: { page_size: 50, ...(search ? { q: search } : {}) } } })),
    staleTime: 30_000,
    placeholderData: keepPreviousData,
  });
}

export function useGroupTags() {
  return useQuery({
    queryKey: keys.tags,
    queryFn: async () => (await data(client.GET("/api/v1/group-tags/", { params: { query: { page_size: 200 } } }))).results,
    staleTime: 60_000,
  });
}

/** Staff who may own groups, former staff included (their groups are still listed), for the owner filter. */
export function useOwnerOptions(search: string, enabled = true) {
  return useQuery({
    queryKey: keys.owners(search),
    queryFn: () =>
      data(
        client.GET("/api/v1/staff/", {
          params: { query: { page_size: STAFF_PAGE, ordering: "name,id", ...(search ? { search } : {}) } },
        }),
      ),
    staleTime: 60_000,
    placeholderData: keepPreviousData,
    enabled,
  });
}

export function useGroupCodes(page: number, pageSize: number) {
  return useQuery({
    queryKey: keys.codeList(page, pageSize),
    queryFn: () => data(client.GET("/api/v1/group-codes/", { params: { query: { page, page_size: pageSize } } })),
    placeholderData: keepPreviousData,
  });
}

export function useGroupCode(id: number, enabled = true) {
  return useQuery({
    queryKey: keys.code(id),
    queryFn: () => data(client.GET("/api/v1/group-codes/{id}/", { params: path(id) })),
    enabled,
  });
}

export function useGroupCodeStats(id: number, from: string, to: string) {
  return useQuery({
    queryKey: keys.codeStats(id, from, to),
    queryFn: () =>
      data(client.GET("/api/v1/group-codes/{id}/stats/", { params: { ...path(id), query: { date_from: from, date_to: to } } })),
    placeholderData: keepPreviousData,
  });
}

export function useTemplates(page: number) {
  return useQuery({
    queryKey: keys.templateList(page),
    queryFn: () => data(client.GET("/api/v1/group-welcome-templates/", { params: { query: { page, page_size: 20 } } })),
    placeholderData: keepPreviousData,
  });
}

export function useTemplate(id: number, enabled = true) {
  return useQuery({
    queryKey: keys.template(id),
    queryFn: () => data(client.GET("/api/v1/group-welcome-templates/{id}/", { params: path(id) })),
    enabled,
  });
}

export function useTransfer(id: number | null, poll: boolean) {
  return useQuery({
    queryKey: keys.transfer(id ?? 0),
    queryFn: () => data(client.GET("/api/v1/group-transfers/{id}/", { params: path(id ?? 0) })),
    enabled: id !== null,
    refetchInterval: poll ? 1000 : false,
  });
}

export const api = {
  setTags: (id: number, tagIds: number[]) =>
    data(client.PUT("/api/v1/groups/{id}/tags/", { params: path(id), body: { tag_ids: tagIds } })),
  bulkTag: (groupIds: number[], add: number[], remove: number[]) =>
    data(client.POST("/api/v1/groups/bulk-tag/", { body: { group_ids: groupIds, add, remove } })),
  createTag: (body: { name: string; color: string }) => data(client.POST("/api/v1/group-tags/", { body })),
  updateTag: (id: number, body: { name?: string; color?: string }) =>
    data(client.PATCH("/api/v1/group-tags/{id}/", { params: path(id), body })),
  deleteTag: (id: number) => data(client.DELETE("/api/v1/group-tags/{id}/", { params: path(id) })),
  transfer: (groupIds: number[], newOwnerId: number) =>
    data(client.POST("/api/v1/group-transfers/", { body: { group_ids: groupIds, new_owner_id: newOwnerId } })),
  createCode: (body: GroupCodeInput) => data(client.POST("/api/v1/group-codes/", { body })),
  updateCode: (id: number, body: GroupCodeInput) => data(client.PATCH("/api/v1/group-codes/{id}/", { params: path(id), body })),
  deleteCode: (id: number) => data(client.DELETE("/api/v1/group-codes/{id}/", { params: path(id) })),
  simulateCode: (id: number) => data(client.POST("/api/v1/group-codes/{id}/simulate/", { params: path(id) })),
  createTemplate: (body: GroupWelcomeTemplateInput) => data(client.POST("/api/v1/group-welcome-templates/", { body })),
  updateTemplate: (id: number, body: GroupWelcomeTemplateInput) =>
    data(client.PATCH("/api/v1/group-welcome-templates/{id}/", { params: path(id), body })),
  deleteTemplate: (id: number) => data(client.DELETE("/api/v1/group-welcome-templates/{id}/", { params: path(id) })),
};

/** The group code's QR image (the API fetches WeCom's and caches it); `download` as a file. */
export function codeQrUrl(id: number, download = false): string {
  return `/api/v1/group-codes/${id}/qr/${download ? "?download=1" : ""}`;
}
