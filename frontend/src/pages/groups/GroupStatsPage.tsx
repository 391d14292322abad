// Group statistics (群统计): WeCom's daily figures of the customer groups (groupchat/statistic_group_by_day,
// per owner, summed per day by the API) over a date range, for every owner in scope or those chosen (a
// sales member: the groups they own). The headline figures, then one figure per day as a line, the
// metric switched in place. The range, owners and metric are the URL. ECharts loads after the numbers.
import "./strings";

import { InfoCircleOutlined } from "@ant-design/icons";
import { Alert, Card, Col, Row, Segmented, Space, Statistic, Typography } from "antd";
import dayjs from "dayjs";
import { lazy, Suspense, useCallback, useMemo } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";

import { useSession } from "../../auth";
import { EmptyState, Loading, QueryState } from "../../components/states";
import { RangeControl } from "../channels/RangeControl";
import { day } from "../channels/params";
import { Field } from "../customers/controls";
import { useOwnerStats } from "./api";
import { StaffPicker } from "./bits";
import { SyncGroupsButton, useGroupSync } from "./GroupSync";
import {
  METRICS,
  type Metric,
  type OwnerStats,
  type StatsView,
  coverage,
  headlines,
  metricOption,
  readStatsView,
  statsQuery,
  writeStatsView,
} from "./groupStats";

// The chart (ECharts) loads once the figures are on screen, as on a group's statistics tab.
const Chart = lazy(() => import("../../components/Chart").then((m) => ({ default: m.Chart })));

function useStatsView(): [StatsView, (next: StatsView) => void] {
  const [params, setParams] = useSearchParams();
  const today = day(dayjs());
  const search = params.toString();
  const view = useMemo(() => readStatsView(search, dayjs(today)), [search, today]);
  const set = useCallback((next: StatsView) => setParams(writeStatsView(next, dayjs(today))), [setParams, today]);
  return [view, set];
}

function Figures({ stats, view, onMetric }: { stats: OwnerStats; view: StatsView; onMetric: (metric: Metric) => void }) {
  const { t, i18n } = useTranslation("groups");
  const cards = headlines(stats.totals, stats.days, i18n.language);
  const covered = coverage(stats.days);
  const metricName = (metric: Metric) => t(`groupStats.metric.${metric}`);
  const option = useMemo(
    () => metricOption(stats.days, view.metric, t(`groupStats.metric.${view.metric}`)),
    [stats.days, view.metric, t],
  );
  return (
    <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
      <Row gutter={[16, 16]} data-testid="group-stats-totals">
        {cards.map((card) => (
          <Col key={card.metric} xs={12} md={8} xl={6} xxl={3}>
            <Card size="small" style={{ height: "100%" }}>
              <Statistic
                title={t(`groupStats.card.${card.metric}`)}
                value={card.value}
                data-testid={`group-stats-${card.metric}`}
              />
              {card.note && (
                <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                  {card.note.key === "asOf"
                    ? t("groupStats.asOf", { day: card.note.day })
                    : t("groupStats.activeSum", { total: card.note.total })}
                </Typography.Text>
              )}
            </Card>
          </Col>
        ))}
      </Row>
      <Card
        title={t("groupStats.perDay")}
        extra={
          <Segmented<Metric>
            aria-label={t("groupStats.metricLabel")}
            value={view.metric}
            onChange={onMetric}
            options={METRICS.map((metric) => ({ value: metric, label: metricName(metric) }))}
          />
        }
      >
        <Suspense fallback={<Loading rows={5} />}>
          <Chart
            option={option}
            height={320}
            label={t("groupStats.chartLabel", { metric: metricName(view.metric), from: view.range.from, to: view.range.to })}
          />
        </Suspense>
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {t("groupStats.coverage", { count: covered.days, last: covered.last ?? "—" })}
        </Typography.Text>
      </Card>
    </Space>
  );
}

export default function GroupStatsPage() {
  const { t } = useTranslation("groups");
  const { role } = useSession();
  const isAdmin = role === "admin";
  const sales = role === "sales";
  const [view, setView] = useStatsView();
  const stats = useOwnerStats(statsQuery(view, { owners: !sales }));
  const { latest, start } = useGroupSync();
  const run = latest.data;
  const filtered = !sales && view.owner.length > 0;

  const empty = (
    <EmptyState
      description={
        <span data-testid="group-stats-empty">
          {run === null ? t("groupStats.neverSynced") : filtered ? t("groupStats.noneForOwners") : t("groupStats.none")}
        </span>
      }
    >
      <Typography.Paragraph type="secondary" style={{ maxWidth: 560, margin: "0 auto 12px" }}>
        {t("groupStats.fetchHint")}
      </Typography.Paragraph>
      {isAdmin && run === null && <SyncGroupsButton primary run={run} pending={start.isPending} onSync={() => start.mutate()} />}
      {!isAdmin && run === null && <Typography.Text type="secondary">{t("list.askAdmin")}</Typography.Text>}
    </EmptyState>
  );

  return (
    <div>
      <Typography.Title level={3} style={{ margin: 0 }}>
        {sales ? t("groupStats.titleMine") : t("groupStats.title")}
      </Typography.Title>
      <Typography.Paragraph type="secondary" style={{ marginTop: 8 }}>
        {sales ? t("groupStats.introMine") : t("groupStats.intro")} <Link to="/groups">{t("groupStats.toGroups")}</Link>
      </Typography.Paragraph>
      <Alert
        type="info"
        showIcon
        icon={<InfoCircleOutlined />}
        style={{ marginBottom: 16 }}
        title={t("groupStats.nextDay")}
        data-testid="group-stats-next-day"
      />
      <div
        role="search"
        aria-label={t("groupStats.filter")}
        style={{ display: "flex", flexWrap: "wrap", gap: 12, alignItems: "flex-end", marginBottom: 16 }}
      >
        {/* The range picker names itself (aria-label): this caption is for the eye only. */}
        <div style={{ display: "flex", flexDirection: "column", gap: 4 }}>
          <span aria-hidden style={{ fontSize: 12, color: "rgba(0,0,0,0.65)" }}>
            {t("stats.range")}
          </span>
          <RangeControl value={view.range} onChange={(range) => setView({ ...view, range })} />
        </div>
        {!sales && (
          <Field id="group-stats-owner" label={t("filter.owner")} width={260}>
            <StaffPicker
              id="group-stats-owner"
              multiple
              value={view.owner}
              placeholder={t("filter.anyOwner")}
              onChange={(owner) => setView({ ...view, owner })}
            />
          </Field>
        )}
      </div>
      <QueryState query={stats} isEmpty={(data) => coverage(data.days).days === 0} empty={empty}>
        {(data) => <Figures stats={data} view={view} onMetric={(metric) => setView({ ...view, metric })} />}
      </QueryState>
    </div>
  );
}
