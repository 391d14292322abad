// Sync history: every full sync from WeCom (of the contact book or of the customer groups, filtered
// by kind in the URL) with its counts, API calls, duration and errors; "Sync now" (contacts) and
// "Sync groups", with a progress bar while one runs. Both follow the latest run of their kind
// (lib/sync's useSync), whatever page of the history is shown; the list is polled while one runs.
import "./strings";

import { SyncOutlined } from "@ant-design/icons";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { App, Button, Card, Progress, Segmented, Space, Table, Tag, Typography } from "antd";
import { useState } from "react";
import { useSearchParams } from "react-router";
import { useTranslation } from "react-i18next";

import { client, data } from "../../api/client";
import { Pager } from "../../components/Pager";
import { EmptyState, ErrorState, Loading, errorMessage } from "../../components/states";
import { actorName } from "../../lib/actor";
import { dateTimeSeconds } from "../../lib/format";
import {
  isActive,
  POLL_MS,
  SYNC_KINDS,
  SYNC_STATUS_COLOR,
  type SyncKind,
  parseSyncKind,
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
    <Card
      size="small"
      style={{ marginBottom: 16 }}
      data-testid={run.kind === "contacts" ? "active-sync" : `active-sync-${run.kind}`}
      aria-live="polite"
    >
      <Space orientation="vertical" style={{ width: "100%" }}>
        <Space wrap>
          <RunStatus run={run} />
          <Typography.Text strong>{t("sync.runTitle", { id: run.id })}</Typography.Text>
          <Tag>{t(`sync.kind.${run.kind}`)}</Tag>
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
  const [params, setParams] = useSearchParams();
  const kind = parseSyncKind(params.get("kind"));
  const setKind = (next: SyncKind | null) => {
    setPage(1);
    setParams(next ? { kind: next } : {});
  };

  const callbacks = {
    onStarted: (run: SyncRun) =>
      void message.success(isActive(run) ? t("sync.started", { id: run.id }) : t("sync.finished", { id: run.id })),
    onError: (error: unknown) => void message.error(errorMessage(error)),
  };
  // A contacts sync and a groups sync may run at the same time: each is followed on its own.
  const contacts = useSync({ kind: "contacts", ...callbacks });
  const groups = useSync({ kind: "groups", ...callbacks });
  const activeRuns = [contacts.latest.data, groups.latest.data].filter((run): run is SyncRun => isActive(run));
  const active = isActive(contacts.latest.data) ? contacts.latest.data : undefined;
  const groupsActive = isActive(groups.latest.data) ? groups.latest.data : undefined;
  const start = contacts.start;

  const runs = useQuery({
    queryKey: keys.syncRunList(page, kind),
    queryFn: () =>
      data(
        client.GET("/api/v1/sync-runs/", {
          params: { query: { page, page_size: PAGE_SIZE, ...(kind ? { kind } : {}) } },
        }),
      ),
    placeholderData: keepPreviousData,
    // The rows' progress follows the latest runs; when one ends useSync refreshes every query, this one too.
    refetchInterval: start.isPending || groups.start.isPending || activeRuns.length ? POLL_MS : false,
  });

  const rows = runs.data?.results ?? [];

  const columns = [
    {
      title: t("sync.run"),
      key: "id",
      render: (_: unknown, run: SyncRun) => (
        <Space orientation="vertical" size={0}>
          <Space size={4}>
            <Typography.Text strong>#{run.id}</Typography.Text>
            <Tag data-testid="sync-kind">{t(`sync.kind.${run.kind}`)}</Tag>
          </Space>
          <Typography.Text type="secondary">
            {t(`sync.trigger.${run.trigger}`, { defaultValue: run.trigger })}
            {run.created_by ? ` · ${actorName(run.created_by, t)}` : ""}
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
  const syncGroups = (
    <Button icon={<SyncOutlined />} loading={groups.start.isPending} disabled={Boolean(groupsActive)} onClick={() => groups.start.mutate()}>
      {t("sync.groups")}
    </Button>
  );

  return (
    <div>
      <div style={{ display: "flex", flexWrap: "wrap", gap: 8, marginBottom: 16, alignItems: "center" }}>
        <Typography.Text type="secondary">{t("sync.help")}</Typography.Text>
        <div style={{ flex: 1 }} />
        <Space wrap>
          {syncNow}
          {syncGroups}
        </Space>
      </div>
      {activeRuns.map((run) => (
        <ActiveRun key={run.id} run={run} />
      ))}
      <Space wrap style={{ marginBottom: 12 }}>
        <Typography.Text type="secondary" id="sync-kind-filter">
          {t("sync.kindLabel")}
        </Typography.Text>
        <Segmented<SyncKind | "all">
          aria-labelledby="sync-kind-filter"
          value={kind ?? "all"}
          onChange={(value) => setKind(value === "all" ? null : value)}
          options={[
            { value: "all", label: t("sync.kindAll") },
            ...SYNC_KINDS.map((k) => ({ value: k, label: t(`sync.kind.${k}`) })),
          ]}
        />
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {t("sync.countsHint")}
        </Typography.Text>
      </Space>
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
                  {kind === "groups" ? syncGroups : syncNow}
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
