// Moments (朋友圈): the posts composed here for members to publish (tasks), every post WeCom told us
// about (ours, corp posts made elsewhere, members' own), and a calendar of both by day. The view, its
// filters and its page live in the URL. Sales see the tasks they were asked to publish (the API
// scopes them), read-only.
import "./strings";

import { BarChartOutlined, PlusOutlined, SettingOutlined } from "@ant-design/icons";
import { Button, Card, Input, Progress, Segmented, Select, Space, Table, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import { Suspense, lazy } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useSearchParams } from "react-router";

import { canManage, useSession } from "../../auth";
import { Pager } from "../../components/Pager";
import { EmptyState, ErrorState, Loading } from "../../components/states";
import { actorName } from "../../lib/actor";
import { formatCount, zonedDateTime } from "../../lib/campaigns";
import { dateTime } from "../../lib/format";
import { percent } from "../../lib/moments";
import { useTenantZone } from "../campaigns/api";
import { useMoments, useTasks } from "./api";
import { KindTag, Member, StatusTag, snippet } from "./bits";
import { type ListView, TASK_STATUSES, VIEWS, hasListFilters, readList, writeList } from "./params";
import type { Figures, Moment, MomentTask } from "./types";

// The calendar and the date filter load when first shown (the first screen stays small).
const CalendarView = lazy(() => import("./CalendarView"));
const DateRange = lazy(() => import("../../components/DateRange"));

function Published({ totals, label }: { totals: Pick<Figures, "members" | "published"> | null | undefined; label: string }) {
  const { t, i18n } = useTranslation("moments");
  if (!totals || !totals.members) return <Typography.Text type="secondary">—</Typography.Text>;
  const n = (v: number) => formatCount(v, i18n.language);
  return (
    <Space orientation="vertical" size={0} style={{ minWidth: 140 }}>
      <Typography.Text style={{ fontSize: 12 }}>{t("list.publishedOf", { published: n(totals.published), members: n(totals.members) })}</Typography.Text>
      <Progress size="small" percent={percent(totals.published, totals.members)} aria-label={label} />
    </Space>
  );
}

function TasksTable({ view, setView, manager }: { view: ListView; setView: (next: ListView) => void; manager: boolean }) {
  const { t, i18n } = useTranslation("moments");
  const navigate = useNavigate();
  const tasks = useTasks(view);
  const zone = useTenantZone();
  const n = (v: number) => formatCount(v, i18n.language);
  const columns: ColumnsType<MomentTask> = [
    {
      key: "text",
      title: t("list.post"),
      render: (_, task) => (
        <Link to={task.status === "draft" && manager ? `/moments/tasks/${task.id}/edit` : `/moments/tasks/${task.id}`}>
          {snippet(task.text) || t("list.noText")}
        </Link>
      ),
    },
    { key: "status", title: t("list.status"), render: (_, task) => <StatusTag status={task.status} /> },
    {
      key: "when",
      title: t("list.when"),
      render: (_, task) => (task.scheduled_at ? zonedDateTime(task.scheduled_at, zone) : <Typography.Text type="secondary">—</Typography.Text>),
    },
    { key: "published", title: t("list.published"), render: (_, task) => <Published totals={task.moment?.figures} label={t("list.publishedLabel", { id: task.id })} /> },
    { key: "likes", title: t("totals.likes"), align: "right", render: (_, task) => (task.moment ? n(task.moment.figures.likes) : "—") },
    { key: "comments", title: t("totals.comments"), align: "right", render: (_, task) => (task.moment ? n(task.moment.figures.comments) : "—") },
    {
      key: "created_by",
      title: t("list.createdBy"),
      render: (_, task) => (
        <Space orientation="vertical" size={0}>
          <span>{actorName(task.created_by, t) ?? "—"}</span>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {dateTime(task.created_at)}
          </Typography.Text>
        </Space>
      ),
    },
  ];
  const empty =
    hasListFilters(view) || view.page > 1 ? (
      <EmptyState description={t("list.noMatch")}>
        <Button onClick={() => setView({ ...view, status: null, search: "", page: 1 })}>{t("list.showAll")}</Button>
      </EmptyState>
    ) : (
      <EmptyState description={manager ? t("list.empty") : t("list.emptySales")}>
        {manager && (
          <>
            <Typography.Paragraph type="secondary" style={{ maxWidth: 480, margin: "0 auto 16px" }}>
              {t("list.emptyHint")}
            </Typography.Paragraph>
            <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate("/moments/new")}>
              {t("list.new")}
            </Button>
          </>
        )}
      </EmptyState>
    );
  return (
    <>
      <Card size="small" style={{ marginBottom: 16 }}>
        <Space wrap size="middle">
          <Input.Search
            key={view.search}
            defaultValue={view.search}
            allowClear
            aria-label={t("list.search")}
            placeholder={t("list.search")}
            onSearch={(search) => setView({ ...view, search: search.trim(), page: 1 })}
            style={{ width: 240 }}
          />
          <Select
            allowClear
            aria-label={t("list.status")}
            placeholder={t("list.anyStatus")}
            style={{ width: 180 }}
            value={view.status ?? undefined}
            options={TASK_STATUSES.map((status) => ({ value: status, label: t(`status.${status}`) }))}
            onChange={(status) => setView({ ...view, status: status ?? null, page: 1 })}
          />
        </Space>
      </Card>
      {tasks.isPending ? (
        <Loading rows={6} />
      ) : tasks.isError ? (
        <ErrorState error={tasks.error} onRetry={() => void tasks.refetch()} />
      ) : (
        <>
          <Table<MomentTask>
            rowKey="id"
            aria-label={t("list.tasks")}
            columns={columns}
            dataSource={tasks.data.results}
            loading={tasks.isFetching}
            pagination={false}
            scroll={{ x: 900 }}
            locale={{ emptyText: empty }}
          />
          {(view.page > 1 || tasks.data.next) && (
            <Pager
              page={view.page}
              hasNext={!!tasks.data.next}
              onPage={(page) => setView({ ...view, page })}
              pageSize={view.pageSize}
              onPageSize={(pageSize) => setView({ ...view, pageSize, page: 1 })}
              loading={tasks.isFetching}
            />
          )}
        </>
      )}
    </>
  );
}

function MomentsTable({ view, setView }: { view: ListView; setView: (next: ListView) => void }) {
  const { t, i18n } = useTranslation("moments");
  const moments = useMoments(view);
  const n = (v: number) => formatCount(v, i18n.language);
  const columns: ColumnsType<Moment> = [
    {
      key: "text",
      title: t("list.post"),
      render: (_, moment) => (
        <Link to={moment.task ? `/moments/tasks/${moment.task}` : `/moments/${moment.id}`}>{snippet(moment.text) || t("list.noText")}</Link>
      ),
    },
    { key: "kind", title: t("list.kind"), render: (_, moment) => <KindTag createType={moment.create_type} /> },
    { key: "creator", title: t("list.creator"), render: (_, moment) => <Member staff={moment.creator} /> },
    { key: "created", title: t("list.postedAt"), render: (_, moment) => dateTime(moment.created_at_wecom) },
    { key: "published", title: t("list.published"), render: (_, moment) => <Published totals={moment.figures} label={t("list.publishedLabel", { id: moment.id })} /> },
    { key: "reach", title: t("totals.reach"), align: "right", render: (_, moment) => n(moment.figures.reach) },
    { key: "likes", title: t("totals.likes"), align: "right", render: (_, moment) => n(moment.figures.likes) },
    { key: "comments", title: t("totals.comments"), align: "right", render: (_, moment) => n(moment.figures.comments) },
  ];
  return (
    <>
      <Card size="small" style={{ marginBottom: 16 }}>
        <Space wrap size="middle">
          <Select
            allowClear
            aria-label={t("list.kind")}
            placeholder={t("list.anyKind")}
            style={{ width: 200 }}
            value={view.createType ?? undefined}
            options={[
              { value: 0, label: t("kind.corp") },
              { value: 1, label: t("kind.member") },
            ]}
            onChange={(createType) => setView({ ...view, createType: createType ?? null, page: 1 })}
          />
          <Suspense fallback={<span style={{ display: "inline-block", width: 260 }} />}>
            <DateRange id="moments-range" from={view.from} to={view.to} onChange={(from, to) => setView({ ...view, from, to, page: 1 })} />
          </Suspense>
        </Space>
      </Card>
      {moments.isPending ? (
        <Loading rows={6} />
      ) : moments.isError ? (
        <ErrorState error={moments.error} onRetry={() => void moments.refetch()} />
      ) : (
        <>
          <Table<Moment>
            rowKey="id"
            aria-label={t("list.moments")}
            columns={columns}
            dataSource={moments.data.results}
            loading={moments.isFetching}
            pagination={false}
            scroll={{ x: 900 }}
            locale={{ emptyText: <EmptyState description={hasListFilters(view) ? t("list.noMatch") : t("list.noMoments")} /> }}
          />
          {(view.page > 1 || moments.data.next) && (
            <Pager
              page={view.page}
              hasNext={!!moments.data.next}
              onPage={(page) => setView({ ...view, page })}
              pageSize={view.pageSize}
              onPageSize={(pageSize) => setView({ ...view, pageSize, page: 1 })}
              loading={moments.isFetching}
            />
          )}
        </>
      )}
    </>
  );
}

export default function MomentsPage() {
  const { t } = useTranslation("moments");
  const { role } = useSession();
  const manager = canManage(role);
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const view = readList(params);
  const setView = (next: ListView) => setParams(writeList(next));

  return (
    <div>
      <Space style={{ width: "100%", justifyContent: "space-between" }} align="start" wrap>
        <Typography.Title level={3}>{t("list.title")}</Typography.Title>
        <Space wrap>
          <Button icon={<BarChartOutlined />} onClick={() => navigate("/moments/ranking")}>
            {t("ranking.title")}
          </Button>
          {manager && (
            <Button icon={<SettingOutlined />} onClick={() => navigate("/moments/settings")}>
              {t("settings.title")}
            </Button>
          )}
          {manager && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate("/moments/new")}>
              {t("list.new")}
            </Button>
          )}
        </Space>
      </Space>
      <Typography.Paragraph type="secondary">{manager ? t("list.intro") : t("list.introSales")}</Typography.Paragraph>
      <Segmented
        style={{ marginBottom: 16 }}
        value={view.view}
        options={VIEWS.map((v) => ({ value: v, label: t(`list.view.${v}`) }))}
        onChange={(next) => setView({ ...view, view: next, page: 1 })}
      />
      {view.view === "tasks" && <TasksTable view={view} setView={setView} manager={manager} />}
      {view.view === "moments" && <MomentsTable view={view} setView={setView} />}
      {view.view === "calendar" && (
        <Suspense fallback={<Loading rows={8} />}>
          <CalendarView month={view.month} onMonth={(month) => setView({ ...view, month })} />
        </Suspense>
      )}
    </div>
  );
}
