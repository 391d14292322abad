// The callback inbox: every event WeCom sent, filterable by status (in the URL), with the detail
// (payload, error, attempts) and "Replay" for failed and parked events.
import "./strings";

import { EyeOutlined, RedoOutlined } from "@ant-design/icons";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Descriptions, Drawer, Popconfirm, Select, Space, Table, Tag, Typography } from "antd";
import { useMemo } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";

import { client, data } from "../../api/client";
import { Pager } from "../../components/Pager";
import { EmptyState, ErrorState, Loading, QueryState, errorMessage } from "../../components/states";
import { dateTimeSeconds } from "../../lib/format";
import { type CallbackEvent, EVENT_STATUSES, type EventStatus, PAGE_SIZE, POLL_MS, REPLAYABLE, keys } from "./api";
import { type InboxState, readInboxState, writeInboxState } from "./inbox";

const STATUS_COLOR: Record<EventStatus, string> = {
  pending: "default",
  processing: "processing",
  done: "success",
  ignored: "default",
  failed: "warning",
  parked: "error",
};

const inFlight = (event: CallbackEvent) => event.status === "pending" || event.status === "processing";

function EventStatusTag({ status }: { status: EventStatus }) {
  const { t } = useTranslation("settings");
  return <Tag color={STATUS_COLOR[status]}>{t(`events.status.${status}`)}</Tag>;
}

function useReplay() {
  const { t } = useTranslation("settings");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (event: CallbackEvent) =>
      data(client.POST("/api/v1/wecom/events/{id}/replay/", { params: { path: { id: event.id } } })),
    onSuccess: (event) => void message.success(t("events.replayed", { id: event.id })),
    onError: (error) => void message.error(errorMessage(error)),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: keys.events }),
  });
}

function ReplayButton({ event, replay }: { event: CallbackEvent; replay: ReturnType<typeof useReplay> }) {
  const { t } = useTranslation("settings");
  if (!REPLAYABLE.includes(event.status)) return null;
  return (
    <Popconfirm
      title={t("events.replayConfirm", { id: event.id })}
      description={t("events.replayHelp")}
      okText={t("events.replay")}
      cancelText={t("common:action.cancel")}
      onConfirm={() => replay.mutateAsync(event).catch(() => undefined)}
    >
      <Button
        size="small"
        icon={<RedoOutlined />}
        loading={replay.isPending && replay.variables?.id === event.id}
        aria-label={t("events.replayLabel", { id: event.id })}
      >
        {t("events.replay")}
      </Button>
    </Popconfirm>
  );
}

function EventDetail({ id, onClose, replay }: { id: number | null; onClose: () => void; replay: ReturnType<typeof useReplay> }) {
  const { t } = useTranslation("settings");
  const event = useQuery({
    queryKey: keys.event(id ?? 0),
    queryFn: () => data(client.GET("/api/v1/wecom/events/{id}/", { params: { path: { id: id ?? 0 } } })),
    enabled: id !== null,
    refetchInterval: (query) => (query.state.data && inFlight(query.state.data) ? POLL_MS : false),
  });
  return (
    <Drawer open={id !== null} onClose={onClose} size={640} destroyOnHidden title={t("events.detailTitle", { id: id ?? "" })}>
      {id !== null && (
        <QueryState query={event}>
          {(e) => (
            <Space orientation="vertical" style={{ width: "100%" }} data-testid="event-detail">
              <Descriptions
                size="small"
                column={1}
                bordered
                items={[
                  { key: "status", label: t("events.statusLabel"), children: <EventStatusTag status={e.status} /> },
                  { key: "event", label: t("events.event"), children: <Typography.Text code>{e.event}</Typography.Text> },
                  { key: "change", label: t("events.changeType"), children: e.change_type ? <Typography.Text code>{e.change_type}</Typography.Text> : "—" },
                  { key: "attempts", label: t("events.attempts"), children: e.attempts },
                  { key: "received", label: t("events.received"), children: dateTimeSeconds(e.received_at) },
                  { key: "processed", label: t("events.processed"), children: dateTimeSeconds(e.processed_at) },
                ]}
              />
              {e.last_error && (
                <Alert
                  type={e.status === "parked" ? "error" : "warning"}
                  showIcon
                  title={t("events.lastError")}
                  description={<pre style={{ whiteSpace: "pre-wrap", wordBreak: "break-word", margin: 0 }}>{e.last_error}</pre>}
                />
              )}
              <Typography.Title level={5}>{t("events.payload")}</Typography.Title>
              <pre
                aria-label={t("events.payload")}
                tabIndex={0}
                style={{ background: "rgba(0,0,0,0.04)", padding: 12, borderRadius: 6, overflow: "auto", maxHeight: 360, margin: 0 }}
              >
                {JSON.stringify(e.payload, null, 2)}
              </pre>
              <ReplayButton event={e} replay={replay} />
            </Space>
          )}
        </QueryState>
      )}
    </Drawer>
  );
}

export default function CallbacksTab() {
  const { t } = useTranslation("settings");
  const [params, setParams] = useSearchParams();
  const search = params.toString();
  const state = useMemo(() => readInboxState(search), [search]);
  const update = (next: InboxState) => setParams(writeInboxState(next));
  const replay = useReplay();

  const events = useQuery({
    queryKey: keys.eventList(state.statuses, state.page),
    queryFn: () =>
      data(
        client.GET("/api/v1/wecom/events/", {
          params: {
            query: { page: state.page, page_size: PAGE_SIZE, status: state.statuses.length ? state.statuses : undefined },
          },
        }),
      ),
    placeholderData: keepPreviousData,
    // Replayed (or just received) events are processed in the background: watch them settle.
    refetchInterval: (query) => (query.state.data?.results.some(inFlight) ? POLL_MS : false),
  });

  const filtered = state.statuses.length > 0;
  const columns = [
    { title: "#", key: "id", render: (_: unknown, e: CallbackEvent) => e.id },
    { title: t("events.received"), key: "received", render: (_: unknown, e: CallbackEvent) => dateTimeSeconds(e.received_at) },
    {
      title: t("events.event"),
      key: "event",
      render: (_: unknown, e: CallbackEvent) => (
        <Space orientation="vertical" size={0}>
          <Typography.Text code>{e.event}</Typography.Text>
          {e.change_type && <Typography.Text type="secondary">{e.change_type}</Typography.Text>}
        </Space>
      ),
    },
    { title: t("events.statusLabel"), key: "status", render: (_: unknown, e: CallbackEvent) => <EventStatusTag status={e.status} /> },
    { title: t("events.attempts"), key: "attempts", align: "right" as const, render: (_: unknown, e: CallbackEvent) => e.attempts },
    {
      title: t("events.lastError"),
      key: "error",
      render: (_: unknown, e: CallbackEvent) =>
        e.last_error ? (
          <Typography.Text type="danger" ellipsis={{ tooltip: e.last_error }} style={{ maxWidth: 320 }}>
            {e.last_error}
          </Typography.Text>
        ) : (
          "—"
        ),
    },
    {
      title: t("actions"),
      key: "actions",
      render: (_: unknown, e: CallbackEvent) => (
        <Space>
          <Button
            size="small"
            icon={<EyeOutlined />}
            onClick={() => update({ ...state, event: e.id })}
            aria-label={t("events.detailLabel", { id: e.id })}
          >
            {t("events.details")}
          </Button>
          <ReplayButton event={e} replay={replay} />
        </Space>
      ),
    },
  ];

  return (
    <div>
      <div style={{ display: "flex", flexWrap: "wrap", gap: 8, marginBottom: 16, alignItems: "center" }}>
        <Select<EventStatus[]>
          mode="multiple"
          allowClear
          aria-label={t("events.filterStatus")}
          placeholder={t("events.allStatuses")}
          style={{ minWidth: 260 }}
          value={state.statuses}
          options={EVENT_STATUSES.map((s) => ({ value: s, label: t(`events.status.${s}`) }))}
          onChange={(statuses) => update({ ...state, statuses, page: 1 })}
        />
        <Button onClick={() => update({ ...state, statuses: ["failed", "parked"], page: 1 })}>{t("events.onlyFailed")}</Button>
        <Typography.Text type="secondary">{t("events.help")}</Typography.Text>
      </div>
      {events.isPending ? (
        <Loading />
      ) : events.isError ? (
        <ErrorState error={events.error} onRetry={() => void events.refetch()} />
      ) : (
        <>
          <Table<CallbackEvent>
            rowKey="id"
            aria-label={t("tabs.callbacks")}
            columns={columns}
            dataSource={events.data.results}
            loading={events.isPlaceholderData}
            pagination={false}
            scroll={{ x: 1000 }}
            locale={{
              emptyText: (
                <EmptyState description={filtered ? t("events.emptyFiltered") : t("events.empty")}>
                  {filtered && <Button onClick={() => update({ ...state, statuses: [], page: 1 })}>{t("events.clearFilter")}</Button>}
                </EmptyState>
              ),
            }}
          />
          <Pager page={state.page} hasNext={!!events.data.next} onPage={(page) => update({ ...state, page })} loading={events.isFetching} />
        </>
      )}
      <EventDetail id={state.event} onClose={() => update({ ...state, event: null })} replay={replay} />
    </div>
  );
}
