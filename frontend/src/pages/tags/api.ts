// The Tags page's server state: the groups with their tags, and the writes (each goes to WeCom first).
import { useQuery } from "@tanstack/react-query";

import { client, data, type Schemas } from "../../api/client";
import type { Ordered } from "./order";

export type TagGroup = Schemas["TagGroup"];
export type Tag = Schemas["Tag"];

/** The customers page reads ["tag-groups"] for its pickers: writes here refresh both. */
export const keys = {
  tagGroups: ["tag-groups"] as const,
  withDeleted: ["tag-groups", "with-deleted"] as const,
  contacts: ["contacts"] as const,
  overview: ["overview"] as const,
};

export function useTagGroups(withDeleted: boolean) {
  return useQuery({
    queryKey: withDeleted ? keys.withDeleted : keys.tagGroups,
    queryFn: () =>
      data(client.GET("/api/v1/tag-groups/", { params: { query: withDeleted ? { include_deleted: true } : {} } })),
  });
}

export const api = {
  createGroup: (name: string, tags: string[]) =>
    data(
      client.POST("/api/v1/tag-groups/", {
        // The tags keep the order they were typed in: WeCom shows larger orders first.
        body: { name, order: 0, tags: tags.map((tag, i) => ({ name: tag, order: tags.length - 1 - i })) },
      }),
    ),
  addTag: (group: number, name: string) => data(client.POST("/api/v1/tags/", { body: { group, name, order: 0 } })),
  renameGroup: (id: number, name: string) =>
    data(client.PATCH("/api/v1/tag-groups/{id}/", { params: { path: { id } }, body: { name } })),
  renameTag: (id: number, name: string) =>
    data(client.PATCH("/api/v1/tags/{id}/", { params: { path: { id } }, body: { name } })),
  deleteGroup: (id: number) => data(client.DELETE("/api/v1/tag-groups/{id}/", { params: { path: { id } } })),
  deleteTag: (id: number) => data(client.DELETE("/api/v1/tags/{id}/", { params: { path: { id } } })),
  /** One PATCH per changed order, one after the other (WeCom edits one item per call). */
  reorderGroups: async (changes: Ordered[]) => {
    for (const { id, order } of changes) {
      await data(client.PATCH("/api/v1/tag-groups/{id}/", { params: { path: { id } }, body: { order } }));
    }
  },
  reorderTags: async (changes: Ordered[]) => {
    for (const { id, order } of changes) {
      await data(client.PATCH("/api/v1/tags/{id}/", { params: { path: { id } }, body: { order } }));
    }
  },
};
