// One channel code: its QR (with the PNG to print), how it is set up, what it brought over a date
// range (totals, retention, per day, per member), its recent greetings, and — on demo tenants — a
// simulated scan to watch a customer arrive, get greeted and tagged.
import "./strings";

import { ArrowLeftOutlined, DeleteOutlined, EditOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { App, Button, Card, Col, Descriptions, Row, Segmented, Space, Statistic, Table, Tag, Tooltip, Typography } from "antd";
import { lazy, Suspense, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";

import { Pager } from "../../components/Pager";
import { QrCard } from "../../components/QrCard";
import { EmptyState, ErrorState, Loading, QueryState, errorMessage } from "../../components/states";
import { dateTimeSeconds } from "../../lib/format";
import {
  type Channel,
  type ChannelStats,
  type Greeting,
  type GreetingStatus as Status,
  api,
  keys,
  qrUrl,
  useChannel,
  useChannelStats,
  useDepartments,
  useGreetings,
} from "./api";
import { GREEN, GreetingStatus, Net, RED } from "./bits";
import { type DateRange, latency, percent } from "./params";
import { departmentNames } from "./pickers";
import { RangeControl, useUrlRange } from "./RangeControl";
import { WEEKDAYS, weekdaySummary } from "./schedule";
import { isEmptyWelcome } from "./welcome";

// ECharts loads after the numbers, and the demo's simulator only where there is a sandbox, so the
// page's first screen stays small.
const StatsChart = lazy(() => import("./StatsChart"));
const SimulateCard = lazy(() => import("./SimulateCard"));

const STATUSES: Status[] = ["sent", "pending", "expired", "used", "failed", "skipped"];

function ChannelQrCard({ channel }: { channel: Channel }) {
  const { t } = useTranslation("channels");
  return (
    <QrCard
      src={qrUrl(channel.id)}
      downloadHref={qrUrl(channel.id, true)}
      title={t("detail.qr")}
      alt={t("list.qrOf", { name: channel.name })}
      failed={t("detail.qrFailed")}
      download={t("detail.download")}
      hint={t("detail.qrHint")}
    />
  );
}

function SetupCard({ channel }: { channel: Channel }) {
  const { t } = useTranslation("channels");
  const departments = useDepartments();
  const deptNames = departmentNames(departments.data);
  const name = (id: number) => channel.members.find((m) => m.id === id)?.name || `#${id}`;
  const days = WEEKDAYS.map((d) => t(`weekday.${d}`));
  const none = <Typography.Text type="secondary">—</Typography.Text>;
  const tags = (names: string[], color?: string) =>
    names.length ? (
      <Space size={[4, 4]} wrap>
        {names.map((n, i) => (
          <Tag key={`${n}-${i}`} color={color}>
            {n}
          </Tag>
        ))}
      </Space>
    ) : (
      none
    );
  return (
    <Card title={t("detail.setup")} extra={<Link to={`/channels/${channel.id}/edit`}>{t("common:action.edit")}</Link>}>
      <Descriptions
        size="small"
        column={1}
        items={[
          { key: "kind", label: t("form.kind"), children: channel.multi ? t("list.multi") : t("list.single") },
          { key: "members", label: t("form.members"), children: tags(channel.user_ids.map(name)) },
          ...(channel.department_ids.length
            ? [{ key: "departments", label: t("form.departments"), children: tags(channel.department_ids.map((d) => deptNames.get(d) ?? `#${d}`)) }]
            : []),
          { key: "tags", label: t("form.tags"), children: tags(channel.tags.map((tag) => tag.name), "blue") },
          {
            key: "welcome",
            label: t("form.welcome"),
            children: isEmptyWelcome(channel.welcome) ? (
              <Link to="/channels/welcome">{t("list.defaultWelcome")}</Link>
            ) : (
              <Typography.Text ellipsis={{ tooltip: channel.welcome.text }} style={{ maxWidth: 260 }}>
                {channel.welcome.text || t("detail.attachmentsOnly", { count: channel.welcome.attachments?.length ?? 0 })}
              </Typography.Text>
            ),
          },
          { key: "verify", label: t("form.skipVerify"), children: channel.skip_verify ? t("detail.yes") : t("detail.no") },
          ...(channel.schedule.length
            ? [
                {
                  key: "schedule",
                  label: t("schedule.title"),
                  children: (
                    <Space orientation="vertical" size={0}>
                      {channel.schedule.map((rule, i) => (
                        <span key={i}>
                          {weekdaySummary(rule.weekdays, days)} {rule.start}–{rule.end}: {rule.user_ids.map(name).join(", ")}
                        </span>
                      ))}
                    </Space>
                  ),
                },
              ]
            : []),
          ...(channel.daily_cap
            ? [
                {
                  key: "cap",
                  label: t("cap.cap"),
                  children: t("detail.cap", {
                    cap: channel.daily_cap,
                    backup: channel.backup_user_ids.map(name).join(", ") || "—",
                  }),
                },
              ]
            : []),
          {
            key: "now",
            label: t("detail.onCodeNow"),
            children: channel.applied_userids.length ? <Typography.Text code>{channel.applied_userids.join(", ")}</Typography.Text> : none,
          },
          {
            key: "state",
            label: t("detail.state"),
            children: (
              <Typography.Text code copyable>
                {channel.state}
              </Typography.Text>
            ),
          },
        ]}
      />
    </Card>
  );
}

function Totals({ stats }: { stats: ChannelStats }) {
  const { t } = useTranslation("channels");
  const items = [
    { key: "adds", title: t("stats.adds"), value: <span style={{ color: GREEN }}>{stats.totals.adds}</span> },
    { key: "losses", title: t("stats.losses"), value: <span style={{ color: RED }}>{stats.totals.losses}</span> },
    { key: "net", title: t("stats.net"), value: <Net value={stats.totals.net} /> },
    { key: "retained7", title: t("stats.retained7"), hint: t("stats.retainedHint", { days: 7 }), value: percent(stats.totals.retained_7d) },
    { key: "retained30", title: t("stats.retained30"), hint: t("stats.retainedHint", { days: 30 }), value: percent(stats.totals.retained_30d) },
  ];
  return (
    <div style={{ display: "grid", gridTemplateColumns: "repeat(auto-fit, minmax(110px, 1fr))", gap: 16 }}>
      {items.map((item) => (
        <Card key={item.key} size="small" data-testid={`total-${item.key}`}>
          <Statistic title={item.hint ? <Tooltip title={item.hint}>{item.title}</Tooltip> : item.title} valueRender={() => item.value} />
        </Card>
      ))}
    </div>
  );
}

function StatsCard({ channel, range, onRange }: { channel: Channel; range: DateRange; onRange: (range: DateRange) => void }) {
  const { t } = useTranslation("channels");
  const stats = useChannelStats(channel.id, range);
  return (
    <Card title={t("stats.title")} extra={<RangeControl value={range} onChange={onRange} />} data-testid="stats-card">
      <QueryState query={stats}>
        {(data) => (
          <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
            <Totals stats={data} />
            <Suspense fallback={<Loading rows={5} />}>
              <StatsChart stats={data} />
            </Suspense>
            <Table
              size="small"
              rowKey="staff_id"
              aria-label={t("stats.byStaff")}
              title={() => <Typography.Text strong>{t("stats.byStaff")}</Typography.Text>}
              dataSource={data.staff}
              pagination={false}
              scroll={{ x: 600 }}
              locale={{ emptyText: <EmptyState description={t("stats.noStaff")} /> }}
              columns={[
                { key: "staff", title: t("stats.staff"), render: (_, row) => row.staff_name || `#${row.staff_id}` },
                { key: "adds", title: t("stats.adds"), align: "right", render: (_, row) => row.adds },
                { key: "losses", title: t("stats.losses"), align: "right", render: (_, row) => row.losses },
                { key: "net", title: t("stats.net"), align: "right", render: (_, row) => <Net value={row.net} /> },
                { key: "r7", title: t("stats.retained7"), align: "right", render: (_, row) => percent(row.retained_7d) },
                { key: "r30", title: t("stats.retained30"), align: "right", render: (_, row) => percent(row.retained_30d) },
              ]}
            />
          </Space>
        )}
      </QueryState>
    </Card>
  );
}

function GreetingsCard({ channel }: { channel: Channel }) {
  const { t } = useTranslation("channels");
  const [status, setStatus] = useState<Status | "">("");
  const [page, setPage] = useState(1);
  const greetings = useGreetings(channel.id, status, page, false);
  return (
    <Card
      title={t("greetings.title")}
      extra={
        <Segmented<Status | "">
          size="small"
          aria-label={t("greetings.filter")}
          value={status}
          onChange={(value) => {
            setStatus(value);
            setPage(1);
          }}
          options={[{ value: "", label: t("greetings.all") }, ...STATUSES.map((s) => ({ value: s, label: t(`status.${s}`) }))]}
        />
      }
      data-testid="greetings-card"
    >
      <QueryState query={greetings}>
        {(data) => (
          <>
            <Table<Greeting>
              size="small"
              rowKey="id"
              aria-label={t("greetings.title")}
              dataSource={data.results}
              loading={greetings.isFetching}
              pagination={false}
              scroll={{ x: "max-content" }}
              locale={{ emptyText: <EmptyState description={status ? t("greetings.noneWithStatus") : t("greetings.none")} /> }}
              columns={[
                { key: "when", title: t("greetings.when"), render: (_, g) => dateTimeSeconds(g.received_at) },
                {
                  key: "customer",
                  title: t("greetings.customer"),
                  render: (_, g) => <Link to={`/customers?contact=${g.contact}`}>{g.contact_name || g.external_userid}</Link>,
                },
                { key: "staff", title: t("greetings.staff"), render: (_, g) => g.staff_name || "—" },
                { key: "status", title: t("greetings.status"), render: (_, g) => <GreetingStatus greeting={g} /> },
                {
                  key: "error",
                  title: t("greetings.error"),
                  render: (_, g) =>
                    g.errcode !== null || g.error ? (
                      <Typography.Text type={g.status === "skipped" ? "secondary" : "danger"}>
                        {g.errcode !== null && <Typography.Text code>{g.errcode}</Typography.Text>} {g.error}
                      </Typography.Text>
                    ) : (
                      "—"
                    ),
                },
                { key: "latency", title: t("greetings.latency"), align: "right", render: (_, g) => latency(g.latency_ms) },
              ]}
            />
            {(page > 1 || data.next) && <Pager page={page} hasNext={!!data.next} onPage={setPage} loading={greetings.isFetching} />}
          </>
        )}
      </QueryState>
    </Card>
  );
}

export default function ChannelDetailPage() {
  const { t } = useTranslation("channels");
  const { message, modal } = App.useApp();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const id = Number(useParams().id);
  const channel = useChannel(id);
  const [range, setRange] = useUrlRange();
  const remove = useMutation({
    mutationFn: (c: Channel) => api.remove(c.id),
    onSuccess: async (_r, c) => {
      void message.success(t("list.deleted", { name: c.name }));
      await queryClient.invalidateQueries({ queryKey: keys.channels });
      navigate("/channels");
    },
    onError: (error) => void message.error(errorMessage(error)),
  });

  return (
    <div>
      <Link to="/channels">
        <ArrowLeftOutlined /> {t("list.title")}
      </Link>
      {channel.isPending ? (
        <Loading rows={10} />
      ) : channel.isError ? (
        <ErrorState error={channel.error} onRetry={() => void channel.refetch()} />
      ) : (
        <>
          <Space style={{ width: "100%", justifyContent: "space-between", marginTop: 8 }} align="start" wrap>
            <Typography.Title level={3}>{channel.data.name}</Typography.Title>
            <Space wrap>
              <Button icon={<EditOutlined />} onClick={() => navigate(`/channels/${id}/edit`)}>
                {t("common:action.edit")}
              </Button>
              <Button
                danger
                icon={<DeleteOutlined />}
                onClick={() =>
                  modal.confirm({
                    title: t("list.deleteTitle", { name: channel.data.name }),
                    content: t("list.deleteBody"),
                    okText: t("common:action.delete"),
                    okButtonProps: { danger: true },
                    cancelText: t("common:action.cancel"),
                    onOk: () => remove.mutateAsync(channel.data).catch(() => undefined),
                  })
                }
              >
                {t("common:action.delete")}
              </Button>
            </Space>
          </Space>
          <Row gutter={[16, 16]}>
            <Col xs={24} lg={8}>
              <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
                <ChannelQrCard channel={channel.data} />
                <SetupCard channel={channel.data} />
              </Space>
            </Col>
            <Col xs={24} lg={16}>
              <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
                {channel.data.can_simulate && (
                  <Suspense fallback={<Loading rows={3} />}>
                    <SimulateCard channel={channel.data} />
                  </Suspense>
                )}
                <StatsCard channel={channel.data} range={range} onRange={setRange} />
                <GreetingsCard channel={channel.data} />
              </Space>
            </Col>
          </Row>
        </>
      )}
    </div>
  );
}
