// Sync runs, shared by the Overview and Settings → Sync history: the run helpers, the status colours
// and `useSync`, which watches the latest run and starts new ones.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef } from "react";

import { client, data, type Schemas } from "../api/client";
import { ME_KEY } from "../auth";

export type SyncRun = Schemas["SyncRun"];
/** What a run syncs: the contact book (staff, tags, customers) or the customer groups. */
export type SyncKind = SyncRun["kind"];
export const SYNC_KINDS: SyncKind[] = ["contacts", "groups"];

/** A kind named in a URL (`?kind=groups`), or null for anything else (every kind). */
export function parseSyncKind(value: string | null | undefined): SyncKind | null {
  return SYNC_KINDS.find((kind) => kind === value) ?? null;
}

/** What a run's `errors` hold (the schema types them as unknown: a JSON list). */
export interface SyncError {
  api?: string | null;
  errcode?: number | null;
  errmsg?: string;
  hint?: string;
}

/** Every sync-run query starts with this (invalidate it to refresh them all). */
export const SYNC_RUNS_KEY = ["sync-runs"] as const;
/** The latest run of one kind (a groups sync and a contacts sync run side by side). */
export const latestSyncKey = (kind: SyncKind) => [...SYNC_RUNS_KEY, "latest", kind] as const;
export const POLL_MS = 2_000;

/** Ant Design Tag colours of a run's status. */
export const SYNC_STATUS_COLOR: Record<SyncRun["status"], string> = {
  queued: "default",
  running: "processing",
  succeeded: "success",
  partial: "warning",
  failed: "error",
};

export function isActive(run: SyncRun | null | undefined): boolean {
  return run?.status === "queued" || run?.status === "running";
}

export function syncErrors(run: SyncRun): SyncError[] {
  return Array.isArray(run.errors) ? (run.errors as SyncError[]) : [];
}

/** Percent done, or null while the total is still unknown (the first sync has no estimate yet). */
export function syncPercent(run: SyncRun): number | null {
  if (run.status === "succeeded") return 100;
  if (!run.progress_total) return null;
  // The total is an estimate from the previous sync: never claim 100 % before the run says it is done.
  return Math.min(99, Math.floor((run.progress_done / run.progress_total) * 100));
}

/**
 * Whether the run shown now means a sync has ended: the active run seen before (`seenActive`) is
 * over or was replaced by another, or the run this page started (`started`) is already finished
 * (a quick worker may finish it before the first poll sees it running).
 */
export function syncEnded(run: SyncRun | null, seenActive: number | null, started: number | null): boolean {
  const active = isActive(run);
  if (seenActive !== null && !(active && run?.id === seenActive)) return true;
  return run !== null && !active && run.id === started;
}

/**
 * The latest sync run of a kind (polled every 2 s while it is queued or running, or while `start` is
 * in flight) and `start`, which asks for a new one. When a run ends, every cached query but the
 * session is invalidated: a full sync changes customers, tags, staff and departments (or groups and
 * their members), whichever page shows them.
 */
export function useSync({
  kind = "contacts",
  onStarted,
  onError,
}: { kind?: SyncKind; onStarted?: (run: SyncRun) => void; onError?: (error: unknown) => void } = {}) {
  const queryClient = useQueryClient();
  const started = useRef<number | null>(null);
  const seenActive = useRef<number | null>(null);
  const refreshAll = useCallback(
    () => void queryClient.invalidateQueries({ predicate: (query) => query.queryKey[0] !== ME_KEY[0] }),
    [queryClient],
  );

  const latestKey = latestSyncKey(kind);
  const start = useMutation({
    mutationFn: () => data(client.POST("/api/v1/sync-runs/", { body: { kind } })),
    onSuccess: (run) => {
      onStarted?.(run);
      const shown = queryClient.getQueryData<SyncRun | null>(latestKey);
      if (shown?.id === run.id && !isActive(shown)) {
        refreshAll(); // the poll already saw this run finish
        return;
      }
      started.current = run.id;
      // Show the run at once unless the poll already has it (its answer is then the fresher one).
      if (shown?.id !== run.id) queryClient.setQueryData(latestKey, run);
      void queryClient.invalidateQueries({ queryKey: SYNC_RUNS_KEY });
    },
    onError: (error) => onError?.(error),
  });

  const latest = useQuery({
    queryKey: latestKey,
    queryFn: async (): Promise<SyncRun | null> => {
      const page = await data(client.GET("/api/v1/sync-runs/", { params: { query: { kind, page_size: 1 } } }));
      return page.results[0] ?? null;
    },
    refetchInterval: (query) => (start.isPending || isActive(query.state.data) ? POLL_MS : false),
  });

  useEffect(() => {
    const run = latest.data;
    if (run === undefined) return;
    if (syncEnded(run, seenActive.current, started.current)) {
      started.current = null;
      refreshAll();
    }
    seenActive.current = run && isActive(run) ? run.id : null;
  }, [latest.data, refreshAll]);

  return { latest, start };
}
