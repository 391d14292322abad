// A group's joins, leaves and members per day over a date range (in the URL, as the channel pages
// keep theirs): totals, then the chart. Its own chunk (with the date picker and, later, ECharts).
import "./strings";

import { Space, Statistic, Typography } from "antd";
import { lazy, Suspense } from "react";
import { useTranslation } from "react-i18next";

import { Loading, QueryState } from "../../components/states";
import { RangeControl, useUrlRange } from "../channels/RangeControl";
import { type GroupDetail, useGroupStats } from "./api";
import { fillDays, totals } from "./stats";

const StatsChart = lazy(() => import("./StatsChart"));

export default function StatsTab({ group }: { group: GroupDetail }) {
  const { t } = useTranslation("groups");
  const [range, setRange] = useUrlRange();
  const stats = useGroupStats(group.id, range.from, range.to);
  return (
    <div data-testid="group-stats">
      <Space wrap style={{ marginBottom: 12 }}>
        <Typography.Text type="secondary">{t("stats.range")}</Typography.Text>
        <RangeControl value={range} onChange={setRange} />
      </Space>
      <QueryState query={stats}>
        {(data) => {
          const days = fillDays(range.from, range.to, data.days);
          const sum = totals(days);
          return (
            <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
              <Space size="large" wrap>
                <Statistic title={t("stats.joins")} value={sum.joins} data-testid="stats-joins" />
                <Statistic title={t("stats.leaves")} value={sum.leaves} />
                <Statistic title={t("stats.net")} value={sum.net} prefix={sum.net > 0 ? "+" : undefined} />
              </Space>
              <Suspense fallback={<Loading rows={5} />}>
                <StatsChart days={days} label={t("stats.chartLabel", { from: range.from, to: range.to })} />
              </Suspense>
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {t("stats.source")}
              </Typography.Text>
            </Space>
          );
        }}
      </QueryState>
    </div>
  );
}

