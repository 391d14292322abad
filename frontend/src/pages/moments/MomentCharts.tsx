// A Moment's charts: the publish rate by department and the likes and comments by day (the tenant's
// days). Loaded after the page's first screen (ECharts; import it with React.lazy).
import "./strings";

import { Card, Col, Empty, Row } from "antd";
import { useMemo } from "react";
import { useTranslation } from "react-i18next";

import { Chart, type ChartOption } from "../../components/Chart";
import type { MomentStats } from "./types";

export default function MomentCharts({ stats }: { stats: MomentStats }) {
  const { t } = useTranslation("moments");
  const departments = useMemo<ChartOption>(
    () => ({
      tooltip: { trigger: "axis", valueFormatter: (v: unknown) => `${String(v)}%` },
      grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
      xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      yAxis: { type: "category", data: stats.by_department.map((d) => d.name) },
      // The API gives rates from 0 to 1.
      series: [{ type: "bar", name: t("stats.publishRate"), data: stats.by_department.map((d) => (d.publish_rate === null ? null : Math.round(d.publish_rate * 1000) / 10)) }],
    }),
    [stats.by_department, t],
  );
  const days = useMemo<ChartOption>(
    () => ({
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: stats.by_day.map((d) => d.date) },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { type: "bar", name: t("totals.published"), data: stats.by_day.map((d) => d.published) },
        { type: "line", name: t("totals.likes"), data: stats.by_day.map((d) => d.likes) },
        { type: "line", name: t("totals.comments"), data: stats.by_day.map((d) => d.comments) },
      ],
    }),
    [stats.by_day, t],
  );
  return (
    <Row gutter={[16, 16]}>
      <Col xs={24} lg={12}>
        <Card size="small" title={t("stats.byDepartment")}>
          {stats.by_department.length ? (
            <Chart option={departments} height={Math.max(160, stats.by_department.length * 32 + 40)} label={t("stats.byDepartment")} />
          ) : (
            <Empty description={t("stats.noDepartments")} />
          )}
        </Card>
      </Col>
      <Col xs={24} lg={12}>
        <Card size="small" title={t("stats.byDay")}>
          {stats.by_day.length ? <Chart option={days} height={240} label={t("stats.byDay")} /> : <Empty description={t("stats.noDays")} />}
        </Card>
      </Col>
    </Row>
  );
}
