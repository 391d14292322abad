// Who publishes: per member over a period, the corp posts they were asked to publish, how many they
// published (and the rate), their own posts, and the likes, comments and customers engaged. Sorted by
// any column (by the API: members without a rate last); the same table as CSV. Period, department and
// order live in the URL. Sales see their own row (the API scopes it).
import "./strings";

import { ArrowLeftOutlined, DownloadOutlined } from "@ant-design/icons";
import { Button, Card, Space, Table, TreeSelect, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import { Suspense, lazy } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";

import { canManage, useSession } from "../../auth";
import { ErrorState, Loading } from "../../components/states";
import { formatCount } from "../../lib/campaigns";
import { ratePercent } from "../../lib/moments";
import { useDepartments } from "../customers/api";
import { type Ordering, rankingQuery, useRanking } from "./api";
import { Member } from "./bits";
import { departmentTree } from "./pickers";
import type { RankingRow } from "./types";

const DateRange = lazy(() => import("../../components/DateRange"));

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
const FIGURES = ["asked", "published", "publish_rate", "own_posts", "likes", "comments", "engaged_customers"] as const;
type Figure = (typeof FIGURES)[number];
const DEFAULT_ORDERING: Ordering = "-published";

function readOrdering(raw: string | null): Ordering {
  const key = (raw ?? "").replace(/^-/, "");
  return (FIGURES as readonly string[]).includes(key) ? (raw as Ordering) : DEFAULT_ORDERING;
}

export default function RankingPage() {
  const { t, i18n } = useTranslation("moments");
  const { role } = useSession();
  const [params, setParams] = useSearchParams();
  const day = (key: string) => (DAY_RE.test(params.get(key) ?? "") ? (params.get(key) as string) : "");
  const from = day("from");
  const to = day("to");
  const rawDepartment = params.get("department");
  const department = rawDepartment !== null && /^\d{1,9}$/.test(rawDepartment) ? Number(rawDepartment) : null;
  const ordering = readOrdering(params.get("ordering"));
  const ranking = useRanking(from, to, department, ordering);
  const departments = useDepartments();
  const n = (v: number) => formatCount(v, i18n.language);
  const set = (next: { from?: string; to?: string; department?: number | null; ordering?: Ordering }) => {
    const out = new URLSearchParams();
    const values = { from, to, department, ordering, ...next };
    if (values.from) out.set("from", values.from);
    if (values.to) out.set("to", values.to);
    if (values.department !== null) out.set("department", String(values.department));
    if (values.ordering !== DEFAULT_ORDERING) out.set("ordering", values.ordering);
    setParams(out, { replace: true });
  };
  const csv = new URLSearchParams(Object.entries(rankingQuery(from, to, department, ordering)).map(([k, v]) => [k, String(v)]));

  const figure = (key: Figure) => ({
    key,
    title: t(`ranking.${key}`),
    align: "right" as const,
    sorter: true,
    sortDirections: ["descend" as const, "ascend" as const],
    sortOrder: ordering === key ? ("ascend" as const) : ordering === `-${key}` ? ("descend" as const) : null,
    render: (_: unknown, row: RankingRow) => {
      const value = row[key];
      if (key === "publish_rate") return ratePercent(value);
      return value === null ? "—" : n(value);
    },
  });
  const columns: ColumnsType<RankingRow> = [{ key: "member", title: t("members.member"), render: (_, row) => <Member staff={row.staff} /> }, ...FIGURES.map(figure)];

  return (
    <div>
      <Space style={{ marginBottom: 8 }}>
        <Link to="/moments">
          <ArrowLeftOutlined /> {t("list.title")}
        </Link>
      </Space>
      <Space style={{ width: "100%", justifyContent: "space-between" }} align="start" wrap>
        <Typography.Title level={3}>{t("ranking.title")}</Typography.Title>
        <Button icon={<DownloadOutlined />} href={`/api/v1/moments/ranking/export/?${csv.toString()}`}>
          {t("ranking.export")}
        </Button>
      </Space>
      <Typography.Paragraph type="secondary">{canManage(role) ? t("ranking.intro") : t("ranking.introSales")}</Typography.Paragraph>
      <Card size="small" style={{ marginBottom: 16 }}>
        <Space wrap size="middle">
          <Suspense fallback={<span style={{ display: "inline-block", width: 260 }} />}>
            <DateRange id="ranking-range" from={from} to={to} onChange={(f, tt) => set({ from: f, to: tt })} />
          </Suspense>
          {canManage(role) && (
            <TreeSelect<number>
              allowClear
              showSearch={{ treeNodeFilterProp: "title" }}
              treeDefaultExpandAll
              aria-label={t("ranking.department")}
              placeholder={t("ranking.anyDepartment")}
              style={{ width: 220 }}
              loading={departments.isPending}
              // The ranking filters by WeCom's department id (sub-departments included).
              treeData={departmentTree(departments.data, "wecom_id")}
              value={department ?? undefined}
              onChange={(value) => set({ department: value ?? null })}
            />
          )}
        </Space>
      </Card>
      {ranking.isPending ? (
        <Loading rows={8} />
      ) : ranking.isError ? (
        <ErrorState error={ranking.error} onRetry={() => void ranking.refetch()} />
      ) : (
        <Table<RankingRow>
          rowKey={(row) => row.staff.id}
          aria-label={t("ranking.title")}
          columns={columns}
          dataSource={ranking.data.results}
          loading={ranking.isFetching}
          pagination={ranking.data.results.length > 50 ? { pageSize: 50, showSizeChanger: false } : false}
          scroll={{ x: 900 }}
          locale={{ emptyText: t("ranking.empty") }}
          onChange={(_, __, sorter) => {
            const one = Array.isArray(sorter) ? sorter[0] : sorter;
            const key = one?.columnKey as Figure | undefined;
            // A third click clears the order: back to the default.
            set({ ordering: key && one.order ? ((one.order === "descend" ? `-${key}` : key) as Ordering) : DEFAULT_ORDERING });
          }}
        />
      )}
    </div>
  );
}
