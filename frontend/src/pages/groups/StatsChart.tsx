// Joins and leaves per day (bars) and the members at each day's end (a line on its own axis), for a
// group or a group code (its own chunk: ECharts loads after the numbers).
import "./strings";

import { useMemo } from "react";
import { useTranslation } from "react-i18next";

import { Chart, type ChartOption } from "../../components/Chart";

const GREEN = "#52c41a";
const RED = "#ff4d4f";
const BLUE = "#1677ff";

export interface ChartDay {
  day: string;
  joins: number;
  leaves?: number;
  members?: number;
}

export default function StatsChart({ days, label, members = true, leaves = true }: { days: ChartDay[]; label: string; members?: boolean; leaves?: boolean }) {
  const { t } = useTranslation("groups");
  const option = useMemo<ChartOption>(() => {
    const series: object[] = [{ name: t("stats.joins"), type: "bar", data: days.map((d) => d.joins), itemStyle: { color: GREEN } }];
    if (leaves) series.push({ name: t("stats.leaves"), type: "bar", data: days.map((d) => d.leaves ?? 0), itemStyle: { color: RED } });
    if (members) {
      series.push({
        name: t("stats.members"),
        type: "line",
        yAxisIndex: 1,
        smooth: true,
        showSymbol: days.length <= 31,
        data: days.map((d) => d.members ?? 0),
        itemStyle: { color: BLUE },
      });
    }
    return {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 40, right: members ? 48 : 16, top: 36, bottom: 28 },
      xAxis: { type: "category", data: days.map((d) => d.day.slice(5)) },
      yAxis: members
        ? [
            { type: "value", minInterval: 1, name: t("stats.perDay") },
            { type: "value", minInterval: 1, name: t("stats.members"), splitLine: { show: false } },
          ]
        : { type: "value", minInterval: 1 },
      series,
    };
  }, [days, t, members, leaves]);
  return <Chart option={option} height={300} label={label} />;
}
