// Loading, empty and error states every page uses, so they look and read the same everywhere.
import { Button, Empty, Result, Skeleton } from "antd";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";

import { ApiError } from "../api/client";
import i18n from "../i18n";

export function Loading({ rows = 4 }: { rows?: number }) {
  return <Skeleton active paragraph={{ rows }} data-testid="loading" />;
}

export function EmptyState({ description, children }: { description?: ReactNode; children?: ReactNode }) {
  const { t } = useTranslation();
  return (
    <Empty description={description ?? t("state.empty")} data-testid="empty">
      {children}
    </Empty>
  );
}

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    const fields = error.problem.errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
    const text = [error.problem.detail, ...fields].filter(Boolean).join(" ");
    // A proxy's 502/504 page has no problem body to show.
    return text || i18n.t("state.server", { status: error.status });
  }
  // fetch() rejects with a TypeError when the server cannot be reached at all.
  if (error instanceof TypeError) return i18n.t("state.network");
  return error instanceof Error ? error.message : String(error);
}

export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useTranslation();
  return (
    <Result
      status="error"
      title={t("state.error")}
      subTitle={errorMessage(error)}
      extra={onRetry ? <Button onClick={onRetry}>{t("state.retry")}</Button> : undefined}
      data-testid="error"
    />
  );
}

/** Renders loading / error / content for one query; `isEmpty` picks the empty state. */
export function QueryState<T>({
  query,
  isEmpty,
  empty,
  children,
}: {
  query: { isPending: boolean; isError: boolean; error: unknown; data: T | undefined; refetch: () => unknown };
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <Loading />;
  if (query.isError) return <ErrorState error={query.error} onRetry={() => void query.refetch()} />;
  const value = query.data as T;
  if (isEmpty?.(value)) return <>{empty ?? <EmptyState />}</>;
  return <>{children(value)}</>;
}
