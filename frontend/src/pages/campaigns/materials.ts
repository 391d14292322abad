// The content library as the wizard uses it: a campaign's attachments are material ids; the
// wizard loads each material once to show it (its list, the phone preview).
import { useQueries } from "@tanstack/react-query";

import { client, data } from "../../api/client";
import type { Material, MaterialKind } from "./types";

/** The kinds a mass message may attach (a text material fills the text instead). */
export const ATTACHMENT_KINDS: MaterialKind[] = ["image", "link", "miniprogram", "video", "file"];

export const materialKey = (id: number) => ["materials", "detail", id] as const;

/** The materials of these ids, in order: undefined while loading, null when it cannot be loaded. */
export function useMaterials(ids: number[], known: ReadonlyMap<number, Material>): (Material | null | undefined)[] {
  const results = useQueries({
    queries: ids.map((id) => ({
      queryKey: materialKey(id),
      queryFn: () => data(client.GET("/api/v1/materials/{id}/", { params: { path: { id: String(id) } } })) as Promise<Material>,
      enabled: !known.has(id),
      staleTime: 5 * 60_000,
      retry: false,
    })),
  });
  return ids.map((id, i) => known.get(id) ?? (results[i].isError ? null : results[i].data));
}
