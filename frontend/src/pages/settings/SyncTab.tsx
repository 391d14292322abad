// Sync history: every full sync from WeCom with its counts, API calls, duration and errors; "Sync now"
// and a progress bar while one runs. Both follow the latest run (lib/sync's useSync), whatever page
// of the history is shown; the list is polled while that run is queued or running.
import { SyncOutlined } from "@ant-design/icons";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { App, Button, Card, Progress, Space, Table, Tag, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { client, data } from "../../api/client";
import { Pager } from "../../components/Pager";
import { EmptyState, ErrorState, Loading, errorMessage } from "../../components/states";
import { dateTimeSeconds } from "../../lib/format";
import {
  isActive,
  POLL_MS,
  SYNC_STATUS_COLOR,
  type SyncError,
  type SyncRun,
  syncErrors,
  syncPercent,
  useSync,
} from "../../lib/sync";
import { PAGE_SIZE, keys } from "./api";
import { formatDuration } from "./format";

function RunStatus({ run }: { run: SyncRun }) {
  const { t } = useTranslation("settings");
  return (
    <Tag color={SYNC_STATUS_COLOR[run.status]} icon={isActive(run) ? <SyncOutlined spin /> : undefined}>
      {t(`sync.status.${run.status}`)}
    </Tag>
  );
}

function ErrorList({ errors }: { errors: SyncError[] }) {
  const { t } = useTranslation("settings");
  return (
    <ul style={{ margin: 0, paddingInlineStart: 20 }}>
      {errors.map((error, i) => (
        <li key={i}>
          {error.api && <Typography.Text type="secondary">{error.api} </Typography.Text>}
          {error.errcode != null && <Typography.Text code>{t("errcode", { code: error.errcode })}</Typography.Text>}{" "}
          {error.errmsg}
          {error.hint && <> — {error.hint}</>}
        </li>
      ))}
    </ul>
  );
}

function ActiveRun({ run }: { run: SyncRun }) {
  const { t } = useTranslation("settings");
  const percent = syncPercent(run);
  return (
    <Card size="small" style={{ marginBottom: 16 }} data-testid="active-sync" aria-live="polite">
      <Space orientation="vertical" style={{ width: "100%" }}>
        <Space wrap>
          <RunStatus run={run} />
          <Typography.Text strong>{t("sync.runTitle", { id: run.id })}</Typography.Text>
          {run.phase && <Typography.Text type="secondary">{t(`sync.phase.${run.phase}`, { defaultValue: run.phase })}</Typography.Text>}
        </Space>
        <Progress percent={percent ?? 0} status="active" showInfo={percent !== null} aria-label={t("sync.progress")} />
        <Typography.Text type="secondary">
          {run.progress_total > 0
            ? t("sync.progressCount", { done: run.progress_done, total: run.progress_total })
            : t("sync.progressUnknown", { done: run.progress_done })}
        </Typography.Text>
      </Space>
    </Card>
  );
}

export default function SyncTab() {
  const { t } = useTranslation("settings");
  const { message } = App.useApp();
  const [page, setPage] = useState(1);

  const { latest, start } = useSync({
    onStarted: (run) => void message.success(isActive(run) ? t("sync.started", { id: run.id }) : t("sync.finished", { id: run.id })),
    onError: (error) => void message.error(errorMessage(error)),
  });
  const active = isActive(latest.data) ? latest.data : undefined;

  const runs = useQuery({
    queryKey: keys.syncRunList(page),
    queryFn: () => data(client.GET("/api/v1/sync-runs/", { params: { query: { page, page_size: PAGE_SIZE } } })),
    placeholderData: keepPreviousData,
    // The rows' progress follows the latest run; when it ends useSync refreshes every query, this one too.
    refetchInterval: start.isPending || active ? POLL_MS : false,
  });

  const rows = runs.data?.results ?? [];

  const columns = [
    {
      title: t("sync.run"),
      key: "id",
      render: (_: unknown, run: SyncRun) => (
        <Space orientation="vertical" size={0}>
          <Typography.Text strong>#{run.id}</Typography.Text>
          <Typography.Text type="secondary">
            {t(`sync.trigger.${run.trigger}`, { defaultValue: run.trigger })}
            {run.created_by ? ` · ${run.created_by}` : ""}
          </Typography.Text>
        </Space>
      ),
    },
    {
      title: t("sync.statusLabel"),
      key: "status",
      render: (_: unknown, run: SyncRun) => (
        <Space orientation="vertical" size={2}>
          <RunStatus run={run} />
          {isActive(run) && <Progress size="small" percent={syncPercent(run) ?? 0} showInfo={false} style={{ width: 100 }} />}
        </Space>
      ),
    },
    {
      title: t("sync.phaseLabel"),
      key: "phase",
      render: (_: unknown, run: SyncRun) => (run.phase ? t(`sync.phase.${run.phase}`, { defaultValue: run.phase }) : "—"),
    },
    { title: t("sync.created"), dataIndex: "created", key: "created", align: "right" as const },
    { title: t("sync.updated"), dataIndex: "updated", key: "updated", align: "right" as const },
    { title: t("sync.unchanged"), dataIndex: "unchanged", key: "unchanged", align: "right" as const },
    { title: t("sync.closed"), dataIndex: "closed", key: "closed", align: "right" as const },
    { title: t("sync.apiCalls"), dataIndex: "api_calls", key: "api_calls", align: "right" as const },
    { title: t("sync.startedAt"), key: "started", render: (_: unknown, run: SyncRun) => dateTimeSeconds(run.started_at ?? run.created_at) },
    {
      title: t("sync.duration"),
      key: "duration",
      render: (_: unknown, run: SyncRun) => formatDuration(t, run.started_at, run.finished_at ?? (isActive(run) ? null : run.heartbeat_at)) ?? "—",
    },
    {
      title: t("sync.errors"),
      key: "errors",
      render: (_: unknown, run: SyncRun) => {
        const errors = syncErrors(run);
        if (!errors.length) return "—";
        const first = errors[0];
        return (
          <Space orientation="vertical" size={0}>
            <Tag color="error">{t("sync.errorCount", { count: errors.length })}</Tag>
            <Typography.Text type="secondary" ellipsis style={{ maxWidth: 260 }}>
              {first.errcode != null ? `${first.errcode} ` : ""}
              {first.hint || first.errmsg}
            </Typography.Text>
          </Space>
        );
      },
    },
  ];

  // The same button above the table and in its empty state.
  const syncNow = (
    <Button
      type="primary"
      icon={<SyncOutlined />}
      loading={start.isPending}
      disabled={Boolean(active)}
      onClick={() => start.mutate()}
    >
      {t("sync.now")}
    </Button>
  );

  return (
    <div>
      <div style={{ display: "flex", flexWrap: "wrap", gap: 8, marginBottom: 16, alignItems: "center" }}>
        <Typography.Text type="secondary">{t("sync.help")}</Typography.Text>
        <div style={{ flex: 1 }} />
        {syncNow}
      </div>
      {active && <ActiveRun run={active} />}
      {runs.isPending ? (
        <Loading />
      ) : runs.isError ? (
        <ErrorState error={runs.error} onRetry={() => void runs.refetch()} />
      ) : (
        <>
          <Table<SyncRun>
            rowKey="id"
            aria-label={t("tabs.sync")}
            columns={columns}
            dataSource={rows}
            pagination={false}
            scroll={{ x: 1100 }}
            expandable={
              rows.some((run) => syncErrors(run).length > 0)
                ? {
                    rowExpandable: (run) => syncErrors(run).length > 0,
                    expandedRowRender: (run) => <ErrorList errors={syncErrors(run)} />,
                  }
                : undefined
            }
            locale={{
              emptyText: (
                <EmptyState description={t("sync.empty")}>
                  {syncNow}
                </EmptyState>
              ),
            }}
          />
          <Pager page={page} hasNext={!!runs.data.next} onPage={setPage} loading={runs.isFetching} />
        </>
      )}
    </div>
  );
}
