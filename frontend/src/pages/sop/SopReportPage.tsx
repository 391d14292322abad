// An SOP's report (/sop/:id/report): enrolments by status and exit reason, goal conversion and time
// to goal, each step's counts (with a funnel chart), each A/B split's branches with the test's
// p-value and whether the difference is significant, and each member's task completion.
import "./strings";

import { ArrowLeftOutlined } from "@ant-design/icons";
import { Card, Col, Empty, Row, Select, Space, Statistic, Table, Tag, Tooltip, Typography } from "antd";
import { Suspense, lazy, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";

import { ErrorState, Loading } from "../../components/states";
import { useReport, useSop, useVersions } from "./api";
import { KindTag, StatusTag } from "./bits";
import type { MemberReport, SplitReport, StepCounts } from "./types";

const StepChart = lazy(() => import("./StepChart"));

const percent = (share: number | null | undefined) => (share === null || share === undefined ? "—" : `${(share * 100).toFixed(1)}%`);

export default function SopReportPage() {
  const { t } = useTranslation("sop");
  const { id } = useParams();
  const sopId = Number(id);
  const [version, setVersion] = useState<number | null>(null);
  const sop = useSop(sopId);
  const versions = useVersions(sopId);
  const report = useReport(sopId, version);

  if (sop.isError) return <ErrorState error={sop.error} onRetry={() => void sop.refetch()} />;
  if (report.isError) return <ErrorState error={report.error} onRetry={() => void report.refetch()} />;
  if (sop.isPending || report.isPending) return <Loading rows={8} />;
  const data = report.data;
  const e = data.enrolments;
  const reasons = Object.entries(e.by_exit_reason ?? {}).filter(([, n]) => n > 0);

  return (
    <div data-testid="sop-report">
      <Space style={{ width: "100%", justifyContent: "space-between", marginBottom: 12 }} wrap>
        <Space wrap>
          <Link to={`/sop/${sopId}`}>
            <ArrowLeftOutlined /> {t("report.back")}
          </Link>
          <Typography.Title level={3} style={{ margin: 0 }}>
            {t("report.title", { name: sop.data.name })}
          </Typography.Title>
          <KindTag kind={sop.data.kind} />
          <StatusTag status={sop.data.status} />
        </Space>
        <Space>
          <label htmlFor="report-version">{t("report.version")}</label>
          <Select<number | 0>
            id="report-version"
            style={{ width: 160 }}
            value={version ?? 0}
            loading={versions.isPending}
            options={[{ value: 0, label: t("report.allVersions") }, ...(versions.data ?? []).map((v) => ({ value: v.number, label: `v${v.number}` }))]}
            onChange={(v) => setVersion(v || null)}
          />
        </Space>
      </Space>

      <Row gutter={[16, 16]} style={{ marginBottom: 16 }}>
        {(
          [
            ["enrolments", e.total ?? (e.active ?? 0) + (e.completed ?? 0) + (e.goal ?? 0) + (e.exited ?? 0)],
            ["active", e.active ?? 0],
            ["completed", e.completed ?? 0],
            ["goal", e.goal ?? 0],
            ["exited", e.exited ?? 0],
          ] as const
        ).map(([key, value]) => (
          <Col xs={12} md={8} lg={4} key={key}>
            <Card size="small" data-testid={`report-${key}`}>
              <Statistic title={t(`report.${key}`)} value={value} />
            </Card>
          </Col>
        ))}
        <Col xs={12} md={8} lg={4}>
          <Card size="small" data-testid="report-conversion">
            <Statistic title={t("report.conversion")} value={percent(data.goal.conversion)} />
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {t("report.medianToGoal")}: {data.goal.median_hours_to_goal === null ? "—" : t("report.hours", { n: data.goal.median_hours_to_goal.toFixed(1) })}
            </Typography.Text>
          </Card>
        </Col>
      </Row>
      {reasons.length > 0 && (
        <Space wrap style={{ marginBottom: 16 }}>
          <Typography.Text type="secondary">{t("report.byExitReason")}:</Typography.Text>
          {reasons.map(([reason, n]) => (
            <Tag key={reason}>
              {t(`reason.${reason}`, { defaultValue: reason })} {n}
            </Tag>
          ))}
        </Space>
      )}

      <Card size="small" title={t("report.steps")} style={{ marginBottom: 16 }}>
        {data.steps.length === 0 ? (
          <Empty description={t("report.empty")} />
        ) : (
          <>
            <Suspense fallback={<Loading rows={3} />}>
              <StepChart steps={data.steps} />
            </Suspense>
            <Table<StepCounts>
              rowKey="id"
              size="small"
              pagination={false}
              dataSource={data.steps}
              onRow={(step) => ({ "data-testid": "report-step", "data-step-id": step.id }) as React.HTMLAttributes<HTMLElement>}
              columns={[
                {
                  title: t("report.step"),
                  key: "step",
                  render: (_, step) => (
                    <span style={{ paddingLeft: (step.depth ?? 0) * 20 }}>
                      {step.lane && <Tag>{step.lane === "then" ? t("builder.then") : step.lane === "else" ? t("builder.else") : step.lane}</Tag>}
                      {step.title || step.id}
                    </span>
                  ),
                },
                {
                  title: t("report.stepType"),
                  key: "type",
                  render: (_, step) =>
                    step.type === "action" && step.action ? t(`step.action.${step.action}`, { defaultValue: step.action }) : t(`step.type.${step.type}`, { defaultValue: step.type ?? "" }),
                },
                { title: t("report.waiting"), dataIndex: "waiting", align: "right" },
                { title: t("report.done"), dataIndex: "done", align: "right" },
                {
                  title: t("report.skipped"),
                  key: "skipped",
                  align: "right",
                  render: (_, step) => {
                    const why = Object.entries(step.skipped_by_reason ?? {}).filter(([, n]) => n > 0);
                    return why.length ? (
                      <Tooltip title={why.map(([r, n]) => `${t(`reason.${r}`, { defaultValue: r })}: ${n}`).join(", ")}>
                        <span tabIndex={0} style={{ textDecoration: "underline dotted" }}>
                          {step.skipped ?? 0}
                        </span>
                      </Tooltip>
                    ) : (
                      (step.skipped ?? 0)
                    );
                  },
                },
                { title: t("report.cancelled"), dataIndex: "cancelled", align: "right" },
              ]}
            />
          </>
        )}
      </Card>

      <Card size="small" title={t("report.splits")} style={{ marginBottom: 16 }}>
        {data.splits.length === 0 ? (
          <Typography.Text type="secondary">{t("report.noSplits")}</Typography.Text>
        ) : (
          data.splits.map((split: SplitReport) => (
            <div key={split.step_id} style={{ marginBottom: 16 }} data-testid="report-split">
              <Space style={{ marginBottom: 8 }} wrap>
                <Typography.Text strong>{split.title || split.step_id}</Typography.Text>
                <Typography.Text type="secondary">
                  {t("report.pValue")}: {split.p_value === null ? "—" : split.p_value < 0.001 ? "< 0.001" : split.p_value.toFixed(3)}
                </Typography.Text>
                {split.p_value === null ? (
                  <Tag>{t("report.notEnough")}</Tag>
                ) : split.significant ? (
                  <Tag color="green">{t("report.significant")}</Tag>
                ) : (
                  <Tag>{t("report.notSignificant")}</Tag>
                )}
              </Space>
              <Table
                rowKey="id"
                size="small"
                pagination={false}
                dataSource={split.branches}
                columns={[
                  { title: t("report.branch"), key: "name", render: (_, b) => b.name || b.id },
                  { title: t("report.percent"), key: "percent", align: "right", render: (_, b) => `${b.percent ?? 0}%` },
                  { title: t("report.enrolled"), dataIndex: "enrolled", align: "right" },
                  { title: t("report.goalCount"), dataIndex: "goal", align: "right" },
                  { title: t("report.conversion"), key: "conversion", align: "right", render: (_, b) => percent(b.conversion) },
                ]}
              />
            </div>
          ))
        )}
      </Card>

      <Card size="small" title={t("report.members")}>
        <Table<MemberReport>
          rowKey={(m) => m.staff_id ?? m.name}
          size="small"
          pagination={false}
          dataSource={data.members}
          locale={{ emptyText: t("report.noMembers") }}
          columns={[
            { title: t("report.member"), key: "name", render: (_, m) => m.name || m.userid || "—" },
            { title: t("report.tasks"), dataIndex: "tasks", align: "right" },
            { title: t("report.done"), dataIndex: "done", align: "right" },
            { title: t("report.postponed"), dataIndex: "postponed", align: "right" },
            { title: t("report.skipped"), dataIndex: "skipped", align: "right" },
            { title: t("report.completionRate"), key: "rate", align: "right", render: (_, m) => percent(m.completion_rate) },
          ]}
        />
      </Card>
    </div>
  );
}
