// Adds and losses per day of one channel code (its own chunk: ECharts loads after the numbers).
import "./strings";

import { useMemo } from "react";
import { useTranslation } from "react-i18next";

import { Chart, type ChartOption } from "../../components/Chart";
import type { ChannelStats } from "./api";

const GREEN = "#52c41a";
const RED = "#ff4d4f";

export default function StatsChart({ stats }: { stats: ChannelStats }) {
  const { t } = useTranslation("channels");
  const option = useMemo<ChartOption>(
    () => ({
      tooltip: { trigger: "axis" },
      legend: { data: [t("stats.adds"), t("stats.losses")], top: 0 },
      grid: { left: 40, right: 16, top: 36, bottom: 28 },
      xAxis: { type: "category", data: stats.days.map((d) => d.date.slice(5)) },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: t("stats.adds"), type: "bar", data: stats.days.map((d) => d.adds), itemStyle: { color: GREEN } },
        { name: t("stats.losses"), type: "bar", data: stats.days.map((d) => d.losses), itemStyle: { color: RED } },
      ],
    }),
    [stats, t],
  );
  return <Chart option={option} height={280} label={t("stats.chartLabel", { from: stats.start, to: stats.end })} />;
}
