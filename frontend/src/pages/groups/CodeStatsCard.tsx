// A group code's joins over a date range (kept in the URL): the totals, joins per day, and per group.
import "./strings";

import { Card, Space, Statistic, Table, Tag, Typography } from "antd";
import { lazy, Suspense } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { EmptyState, Loading, QueryState } from "../../components/states";
import { RangeControl, useUrlRange } from "../channels/RangeControl";
import { type GroupCode, useGroupCodeStats } from "./api";
import { daysBetween } from "./stats";

const StatsChart = lazy(() => import("./StatsChart"));

export default function StatsCard({ code }: { code: GroupCode }) {
  const { t } = useTranslation("groups");
  const [range, setRange] = useUrlRange();
  const stats = useGroupCodeStats(code.id, range.from, range.to);
  return (
    <Card title={t("codeDetail.stats")} extra={<RangeControl value={range} onChange={setRange} />} data-testid="code-stats">
      <QueryState query={stats}>
        {(data) => {
          const byDay = new Map(data.days.map((d) => [d.day, d.joins]));
          const days = daysBetween(range.from, range.to).map((day) => ({ day, joins: byDay.get(day) ?? 0 }));
          return (
            <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
              <Space size="large" wrap>
                <Statistic title={t("codeDetail.joinsInRange")} value={data.total} />
                <Statistic title={t("codeDetail.joinsEver")} value={code.joins} />
              </Space>
              <Suspense fallback={<Loading rows={5} />}>
                <StatsChart days={days} leaves={false} members={false} label={t("codeDetail.chartLabel", { from: range.from, to: range.to })} />
              </Suspense>
              <Table
                size="small"
                rowKey={(g) => g.chat_id}
                aria-label={t("codeDetail.byGroup")}
                title={() => <Typography.Text strong>{t("codeDetail.byGroup")}</Typography.Text>}
                dataSource={data.groups}
                pagination={false}
                locale={{ emptyText: <EmptyState description={t("codeDetail.noJoins")} /> }}
                columns={[
                  {
                    key: "group",
                    title: t("codes.group"),
                    render: (_, g) => (
                      <Space size={4}>
                        {g.id !== null ? <Link to={`/groups/${g.id}`}>{g.name || g.chat_id}</Link> : <span>{g.name || g.chat_id}</span>}
                        {!g.listed && <Tag>{t("codeDetail.notListed")}</Tag>}
                      </Space>
                    ),
                  },
                  { key: "joins", title: t("codes.joins"), align: "right", render: (_, g) => g.joins },
                ]}
              />
            </Space>
          );
        }}
      </QueryState>
    </Card>
  );
}

