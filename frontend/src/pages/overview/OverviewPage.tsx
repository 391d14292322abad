// Overview: headline numbers, the 30-day new/lost chart and the last sync (with "Sync now" for admins).
import { useQuery } from "@tanstack/react-query";
import { App, Card, Col, Row, Statistic, Tooltip, Typography } from "antd";
import { lazy, Suspense } from "react";
import { useTranslation } from "react-i18next";

import { client, data, type Schemas } from "../../api/client";
import { useSession } from "../../auth";
import { EmptyState, ErrorState, Loading, errorMessage } from "../../components/states";
import { useSync } from "../../lib/sync";
import { GREEN, RED } from "./colors";
import { SyncCard, SyncNowButton } from "./SyncCard";

type Overview = Schemas["Overview"];

// ECharts is the largest library here: it loads after the numbers, so the first screen stays small.
const TrendChart = lazy(() => import("./TrendChart"));

const OVERVIEW_KEY = ["overview"];

function StatCard({ id, title, hint, value, color, prefix }: {
  id: string;
  title: string;
  hint?: string;
  value: number;
  color?: string;
  prefix?: string;
}) {
  const heading = hint ? (
    <Tooltip title={hint}>
      <span>{title}</span>
    </Tooltip>
  ) : (
    title
  );
  return (
    <Card size="small" data-testid={`stat-${id}`}>
      <Statistic title={heading} value={value} prefix={prefix} styles={color ? { content: { color } } : undefined} />
    </Card>
  );
}

function Headline({ overview, sales }: { overview: Overview; sales: boolean }) {
  const { t } = useTranslation("overview");
  const net = overview.net_this_week;
  const stats = [
    {
      id: "customers",
      title: sales ? t("stat.myCustomers") : t("stat.customers"),
      hint: t("statHint.customers"),
      value: overview.customers,
    },
    { id: "new-today", title: t("stat.newToday"), value: overview.new_today, color: overview.new_today ? GREEN : undefined },
    { id: "lost-today", title: t("stat.lostToday"), value: overview.lost_today, color: overview.lost_today ? RED : undefined },
    {
      id: "net-week",
      title: t("stat.netThisWeek"),
      hint: t("statHint.netThisWeek", { date: overview.week_start }),
      value: net,
      prefix: net > 0 ? "+" : undefined,
      color: net > 0 ? GREEN : net < 0 ? RED : undefined,
    },
    { id: "tags", title: t("stat.tags"), value: overview.tags },
    { id: "staff", title: t("stat.staff"), value: overview.staff },
  ];
  return (
    <Row gutter={[16, 16]}>
      {stats.map(({ id, ...stat }) => (
        <Col key={id} xs={12} md={8} xl={4}>
          <StatCard id={id} {...stat} />
        </Col>
      ))}
    </Row>
  );
}

export default function OverviewPage() {
  const { t } = useTranslation("overview");
  const { role } = useSession();
  const { message } = App.useApp();
  const isAdmin = role === "admin";

  const overview = useQuery({
    queryKey: OVERVIEW_KEY,
    queryFn: () => data(client.GET("/api/v1/overview/")),
  });
  // The contact book's sync (groups have their own, on the Groups page). Polls the run while it is
  // active; when it ends every cached list is refreshed, not only ours.
  const { latest, start: sync } = useSync({
    kind: "contacts",
    onStarted: () => void message.success(t("sync.started")),
    onError: (error) => void message.error(errorMessage(error)),
  });

  const title = <Typography.Title level={3}>{t("title")}</Typography.Title>;
  if (overview.isPending || latest.isPending) {
    return (
      <>
        {title}
        <Loading />
      </>
    );
  }
  if (overview.isError || latest.isError) {
    const failed = overview.isError ? overview : latest;
    return (
      <>
        {title}
        <ErrorState error={failed.error} onRetry={() => void failed.refetch()} />
      </>
    );
  }

  const run = latest.data;
  const stats = overview.data;
  if (run === null && stats.customers === 0) {
    return (
      <>
        {title}
        <Card>
          <EmptyState
            description={
              <>
                <Typography.Title level={4}>{t("empty.title")}</Typography.Title>
                <Typography.Paragraph type="secondary" style={{ maxWidth: 560, margin: "0 auto 8px" }}>
                  {t("empty.description")}
                </Typography.Paragraph>
                <Typography.Paragraph type="secondary">{isAdmin ? t("empty.admin") : t("empty.other")}</Typography.Paragraph>
              </>
            }
          >
            {isAdmin && <SyncNowButton primary onSync={() => sync.mutate()} pending={sync.isPending} />}
          </EmptyState>
        </Card>
      </>
    );
  }

  return (
    <>
      {title}
      <Headline overview={stats} sales={role === "sales"} />
      <Row gutter={[16, 16]} style={{ marginTop: 16 }}>
        <Col xs={24} xl={16}>
          <Suspense fallback={<Card><Loading rows={6} /></Card>}>
            <TrendChart overview={stats} />
          </Suspense>
        </Col>
        <Col xs={24} xl={8}>
          <SyncCard run={run} canSync={isAdmin} onSync={() => sync.mutate()} syncing={sync.isPending} />
        </Col>
      </Row>
    </>
  );
}
