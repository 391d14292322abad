// What became of a Moment, ours or not: the totals (published, publish rate, customers who can see
// it, likes, comments, engaged customers), the charts, each member's copy (published or not, with a
// remind button for a task's managers) and every like and comment. Sales see their own copy only
// (the API scopes what they get).
import "./strings";

import { BellOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { App, Button, Card, Col, Row, Segmented, Space, Statistic, Table, Tag, Tooltip, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import { Suspense, lazy, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { Pager } from "../../components/Pager";
import { ErrorState, Loading, errorMessage } from "../../components/states";
import { formatCount } from "../../lib/campaigns";
import { dateTime } from "../../lib/format";
import { ratePercent } from "../../lib/moments";
import { api, keys, useInteractions, useMembers, useStats } from "./api";
import { Member } from "./bits";
import type { Interaction, InteractionKind, Publication, RemindResult } from "./types";

const MomentCharts = lazy(() => import("./MomentCharts"));

function Totals({ momentId }: { momentId: number }) {
  const { t, i18n } = useTranslation("moments");
  const stats = useStats(momentId);
  const n = (v: number) => formatCount(v, i18n.language);
  if (stats.isPending) return <Loading rows={2} />;
  if (stats.isError) return <ErrorState error={stats.error} onRetry={() => void stats.refetch()} />;
  const totals = stats.data.totals;
  const figures = [
    { key: "published", value: `${n(totals.published)} / ${n(totals.members)}` },
    { key: "publish_rate", value: ratePercent(totals.publish_rate) },
    { key: "reach", value: n(totals.reach) },
    { key: "likes", value: n(totals.likes) },
    { key: "comments", value: n(totals.comments) },
    { key: "engaged_customers", value: n(totals.engaged_customers) },
    { key: "interaction_rate", value: ratePercent(totals.interaction_rate) },
  ];
  return (
    <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
      <Card size="small" data-testid="moment-totals">
        <Row gutter={[16, 16]}>
          {figures.map((figure) => (
            <Col key={figure.key} xs={12} md={6} xl={3}>
              <Statistic title={t(`totals.${figure.key}`)} value={figure.value} data-testid={`total-${figure.key}`} />
            </Col>
          ))}
        </Row>
      </Card>
      <Suspense fallback={<Loading rows={4} />}>
        <MomentCharts stats={stats.data} />
      </Suspense>
    </Space>
  );
}

function Members({ momentId, taskId, remindable }: { momentId: number; taskId: number | null; remindable: boolean }) {
  const { t, i18n } = useTranslation("moments");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [published, setPublished] = useState<boolean | null>(null);
  const [page, setPage] = useState(1);
  const [selected, setSelected] = useState<number[]>([]);
  const members = useMembers(momentId, published, page);
  const n = (v: number) => formatCount(v, i18n.language);
  const remind = useMutation({
    mutationFn: (staffIds: number[] | null) => api.remind(taskId ?? 0, staffIds),
    onSuccess: (result: RemindResult) => {
      setSelected([]);
      if (result.reminded) void message.success(t("members.reminded", { count: result.reminded }));
      if (result.skipped_recent) void message.warning(t("members.skippedRecent", { count: result.skipped_recent }));
      if (!result.reminded && !result.skipped_recent) void message.info(t("members.nobodyToRemind"));
      void queryClient.invalidateQueries({ queryKey: keys.moment(momentId) });
    },
    onError: (error) => void message.error(errorMessage(error)),
  });
  const canRemind = remindable && taskId !== null;
  const columns: ColumnsType<Publication> = [
    { key: "member", title: t("members.member"), render: (_, row) => <Member staff={row.staff} /> },
    { key: "departments", title: t("members.departments"), render: (_, row) => row.departments.join(", ") || "—" },
    {
      key: "published",
      title: t("members.state"),
      render: (_, row) =>
        row.published ? (
          <Tooltip title={dateTime(row.published_at)}>
            <Tag color="green" tabIndex={0}>
              {t("members.published")}
            </Tag>
          </Tooltip>
        ) : (
          <Tag>{t("members.notPublished")}</Tag>
        ),
    },
    { key: "reach", title: t("totals.reach"), align: "right", render: (_, row) => n(row.reach) },
    { key: "likes", title: t("totals.likes"), align: "right", render: (_, row) => n(row.likes) },
    { key: "comments", title: t("totals.comments"), align: "right", render: (_, row) => n(row.comments) },
    { key: "reminded", title: t("members.remindedAt"), render: (_, row) => dateTime(row.reminded_at) },
  ];
  return (
    <Card
      size="small"
      title={t("members.title")}
      data-testid="moment-members"
      extra={
        canRemind && (
          <Space wrap>
            <Button icon={<BellOutlined />} disabled={!selected.length} loading={remind.isPending && remind.variables !== null} onClick={() => remind.mutate(selected)}>
              {t("members.remindSelected", { count: selected.length })}
            </Button>
            <Button icon={<BellOutlined />} loading={remind.isPending && remind.variables === null} onClick={() => remind.mutate(null)}>
              {t("members.remindAll")}
            </Button>
          </Space>
        )
      }
    >
      <Segmented
        style={{ marginBottom: 12 }}
        value={published === null ? "all" : published ? "yes" : "no"}
        options={[
          { value: "all", label: t("members.all") },
          { value: "yes", label: t("members.published") },
          { value: "no", label: t("members.notPublished") },
        ]}
        onChange={(value) => {
          setPublished(value === "all" ? null : value === "yes");
          setPage(1);
        }}
      />
      {members.isPending ? (
        <Loading rows={4} />
      ) : members.isError ? (
        <ErrorState error={members.error} onRetry={() => void members.refetch()} />
      ) : (
        <>
          <Table<Publication>
            rowKey={(row) => row.staff.id}
            size="small"
            aria-label={t("members.title")}
            columns={columns}
            dataSource={members.data.results}
            loading={members.isFetching}
            pagination={false}
            scroll={{ x: 800 }}
            rowSelection={
              canRemind
                ? {
                    selectedRowKeys: selected,
                    onChange: (keys) => setSelected(keys.map(Number)),
                    getCheckboxProps: (row) => ({ disabled: row.published, "aria-label": t("members.select", { name: row.staff.name || row.staff.userid }) }),
                  }
                : undefined
            }
          />
          {(page > 1 || members.data.next) && <Pager page={page} hasNext={!!members.data.next} onPage={setPage} loading={members.isFetching} />}
        </>
      )}
    </Card>
  );
}

function Who({ row }: { row: Interaction }) {
  const { t } = useTranslation("moments");
  if (row.customer) return <Link to={`/customers?contact=${row.customer.id}`}>{row.customer.name}</Link>;
  if (row.colleague) return <span>{t("interactions.colleague", { name: row.colleague.name || row.colleague.userid })}</span>;
  return <Typography.Text type="secondary">—</Typography.Text>;
}

function Interactions({ momentId }: { momentId: number }) {
  const { t } = useTranslation("moments");
  const [kind, setKind] = useState<InteractionKind | null>(null);
  const [page, setPage] = useState(1);
  const interactions = useInteractions(momentId, kind, page);
  const columns: ColumnsType<Interaction> = [
    { key: "kind", title: t("interactions.kind"), render: (_, row) => <Tag color={row.kind === "like" ? "red" : "blue"}>{t(`interactions.${row.kind}`)}</Tag> },
    { key: "who", title: t("interactions.who"), render: (_, row) => <Who row={row} /> },
    { key: "member", title: t("interactions.onCopyOf"), render: (_, row) => <Member staff={row.member} /> },
    { key: "at", title: t("interactions.at"), render: (_, row) => dateTime(row.occurred_at) },
  ];
  return (
    <Card size="small" title={t("interactions.title")} data-testid="moment-interactions">
      <Segmented
        style={{ marginBottom: 12 }}
        value={kind ?? "all"}
        options={[
          { value: "all", label: t("interactions.all") },
          { value: "like", label: t("interactions.like") },
          { value: "comment", label: t("interactions.comment") },
        ]}
        onChange={(value) => {
          setKind(value === "all" ? null : (value as InteractionKind));
          setPage(1);
        }}
      />
      {interactions.isPending ? (
        <Loading rows={3} />
      ) : interactions.isError ? (
        <ErrorState error={interactions.error} onRetry={() => void interactions.refetch()} />
      ) : (
        <>
          <Table<Interaction>
            rowKey="id"
            size="small"
            aria-label={t("interactions.title")}
            columns={columns}
            dataSource={interactions.data.results}
            loading={interactions.isFetching}
            pagination={false}
            locale={{ emptyText: t("interactions.none") }}
          />
          {(page > 1 || interactions.data.next) && <Pager page={page} hasNext={!!interactions.data.next} onPage={setPage} loading={interactions.isFetching} />}
        </>
      )}
    </Card>
  );
}

export default function MomentDetail({ momentId, taskId = null, remindable = false }: { momentId: number; taskId?: number | null; remindable?: boolean }) {
  return (
    <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
      <Totals momentId={momentId} />
      <Members momentId={momentId} taskId={taskId} remindable={remindable} />
      <Interactions momentId={momentId} />
    </Space>
  );
}
