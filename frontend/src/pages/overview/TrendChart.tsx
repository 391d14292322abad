// The 30-day new/lost chart (its own chunk: ECharts loads after the overview's numbers).
import { Card, Typography } from "antd";
import { useMemo } from "react";
import { useTranslation } from "react-i18next";

import type { Schemas } from "../../api/client";
import { Chart, type ChartOption } from "../../components/Chart";
import { GREEN, RED } from "./colors";

type Overview = Schemas["Overview"];

export default function TrendChart({ overview }: { overview: Overview }) {
  const { t } = useTranslation("overview");
  const option = useMemo<ChartOption>(
    () => ({
      tooltip: { trigger: "axis" },
      legend: { data: [t("chart.new"), t("chart.lost")], top: 0 },
      grid: { left: 40, right: 16, top: 36, bottom: 28 },
      xAxis: { type: "category", data: overview.daily.map((d) => d.date.slice(5)) },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: t("chart.new"), type: "bar", data: overview.daily.map((d) => d.new), itemStyle: { color: GREEN } },
        { name: t("chart.lost"), type: "bar", data: overview.daily.map((d) => d.lost), itemStyle: { color: RED } },
      ],
    }),
    [overview, t],
  );
  return (
    <Card
      title={t("chart.title")}
      extra={<Typography.Text type="secondary">{t("chart.zone", { zone: overview.time_zone })}</Typography.Text>}
    >
      <Chart option={option} label={t("chart.label")} height={320} />
    </Card>
  );
}
