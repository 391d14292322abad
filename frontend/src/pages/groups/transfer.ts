// Handing groups to a new owner: which of the chosen groups can be sent (a dismissed group cannot be
// handed over, and a group the new owner already has needs nothing), and how the background
// transfer is doing, group by group.

export interface TransferCandidate {
  id: number;
  name?: string;
  status: string;
  owner: { id: number } | null;
}

export interface TransferPlan {
  /** Sent to the API. */
  send: number[];
  /** Left out, with why. */
  skipped: { id: number; name: string; reason: "dismissed" | "sameOwner" }[];
}

export function planTransfer(groups: TransferCandidate[], newOwner: number | null): TransferPlan {
  const plan: TransferPlan = { send: [], skipped: [] };
  for (const group of groups) {
    const name = group.name ?? "";
    if (group.status === "dismissed") plan.skipped.push({ id: group.id, name, reason: "dismissed" });
    else if (newOwner !== null && group.owner?.id === newOwner) plan.skipped.push({ id: group.id, name, reason: "sameOwner" });
    else plan.send.push(group.id);
  }
  return plan;
}

export interface TransferState {
  status: string;
  total: number;
  succeeded: number;
  failed: number;
}

/** Still waiting for WeCom's answers (the dialog keeps polling). */
export function transferActive(transfer: TransferState | null | undefined): boolean {
  return transfer?.status === "queued" || transfer?.status === "running";
}

/** Share of the groups answered so far, 0–100. */
export function transferPercent(transfer: TransferState): number {
  if (!transfer.total) return transferActive(transfer) ? 0 : 100;
  return Math.min(100, Math.round(((transfer.succeeded + transfer.failed) / transfer.total) * 100));
}
