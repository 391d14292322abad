// The report's step funnel: done / waiting / skipped per step, in flow order (a stacked bar per step).
// Loaded after the page's first screen (ECharts; import it with React.lazy).
import "./strings";

import { useMemo } from "react";
import { useTranslation } from "react-i18next";

import { Chart, type ChartOption } from "../../components/Chart";
import type { StepCounts } from "./types";

export default function StepChart({ steps }: { steps: StepCounts[] }) {
  const { t } = useTranslation("sop");
  const option = useMemo<ChartOption>(
    () => ({
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", inverse: true, data: steps.map((s) => `${"  ".repeat(s.depth ?? 0)}${s.title || s.id}`) },
      series: [
        { type: "bar", stack: "all", name: t("report.done"), data: steps.map((s) => s.done ?? 0), itemStyle: { color: "#52c41a" } },
        { type: "bar", stack: "all", name: t("report.waiting"), data: steps.map((s) => s.waiting ?? 0), itemStyle: { color: "#1677ff" } },
        { type: "bar", stack: "all", name: t("report.skipped"), data: steps.map((s) => s.skipped ?? 0), itemStyle: { color: "#faad14" } },
      ],
    }),
    [steps, t],
  );
  return <Chart option={option} height={Math.max(160, steps.length * 28 + 60)} label={t("report.chart")} />;
}
