// A customer's points (积分): balance, level and the way to the next, the ledger; admins and
// operators grant and redeem.
import "./strings";

import { GiftOutlined, MinusCircleOutlined, PlusCircleOutlined } from "@ant-design/icons";
import { Button, Card, Col, Progress, Row, Space, Statistic, Table, Tag, Typography } from "antd";
import { Suspense, lazy, useState } from "react";
import { useTranslation } from "react-i18next";

import { canManage, useSession } from "../../../auth";
import { Pager } from "../../../components/Pager";
import { EmptyState, ErrorState, Loading } from "../../../components/states";
import { actorName } from "../../../lib/actor";
import { dateTime } from "../../../lib/format";
import { type ContactValue, type PointsEntry, useLevels, usePointsLedger } from "../api";
import { levelProgress } from "../value";
import type { PointsAction } from "./PointsModal";
import { NS } from "./strings";

const PointsModal = lazy(() => import("./PointsModal"));

function Ledger({ contactId }: { contactId: number }) {
  const { t } = useTranslation(NS);
  const [page, setPage] = useState(1);
  const ledger = usePointsLedger(contactId, page);
  if (ledger.isPending) return <Loading rows={3} />;
  if (ledger.isError) return <ErrorState error={ledger.error} onRetry={() => void ledger.refetch()} />;
  const rows = ledger.data.results;
  return (
    <>
      <Table<PointsEntry>
        size="small"
        rowKey="id"
        dataSource={rows}
        pagination={false}
        scroll={{ x: true }}
        loading={ledger.isFetching}
        locale={{ emptyText: <EmptyState description={t("points.empty")} /> }}
        data-testid="points-ledger"
        columns={[
          { title: t("points.when"), key: "when", render: (_, e) => dateTime(e.created_at) },
          {
            title: t("points.change"),
            key: "delta",
            align: "right",
            render: (_, e) => (
              <Typography.Text type={e.delta < 0 ? "danger" : "success"} data-testid="points-delta">
                {e.delta > 0 ? `+${e.delta}` : e.delta}
              </Typography.Text>
            ),
          },
          { title: t("points.balanceAfter"), key: "after", align: "right", render: (_, e) => e.balance_after },
          {
            title: t("points.reason"),
            key: "reason",
            render: (_, e) => (
              <Space size={4} wrap>
                <Tag>{t(`points.reasons.${e.reason}`, { defaultValue: e.reason })}</Tag>
                {e.rule_action && (
                  <Typography.Text type="secondary">
                    {t(`points.actions.${e.rule_action}`, { defaultValue: e.rule_action })}
                  </Typography.Text>
                )}
              </Space>
            ),
          },
          { title: t("points.note"), key: "note", render: (_, e) => e.note || "—" },
          { title: t("points.expires"), key: "expires", render: (_, e) => dateTime(e.expires_at) },
          { title: t("points.by"), key: "by", render: (_, e) => actorName(e.actor, t) ?? "—" },
        ]}
      />
      {(page > 1 || ledger.data.next) && (
        <Pager page={page} hasNext={!!ledger.data.next} onPage={setPage} loading={ledger.isFetching} />
      )}
    </>
  );
}

export default function PointsCard({ contactId, value }: { contactId: number; value: ContactValue }) {
  const { t } = useTranslation(NS);
  const { role } = useSession();
  const levels = useLevels();
  const [action, setAction] = useState<PointsAction | null>(null);
  const { balance, earned_total: earned, level, next_level: next } = value.points;
  const currentMin = level ? (levels.data?.find((l) => l.id === level.id)?.min_points ?? 0) : 0;
  const progress = next ? levelProgress(earned, currentMin, next.min_points) : 100;
  return (
    <Card
      size="small"
      title={
        <Space>
          <GiftOutlined />
          {t("points.title")}
        </Space>
      }
      extra={
        canManage(role) && (
          <Space>
            <Button size="small" icon={<PlusCircleOutlined />} onClick={() => setAction("grant")}>
              {t("points.grant")}
            </Button>
            <Button size="small" icon={<MinusCircleOutlined />} onClick={() => setAction("redeem")} disabled={balance <= 0}>
              {t("points.redeem")}
            </Button>
          </Space>
        )
      }
      data-testid="points-card"
    >
      <Space orientation="vertical" style={{ width: "100%" }}>
        <Row gutter={[16, 16]}>
          <Col xs={12} md={8}>
            <Statistic title={t("points.balance")} value={balance} data-testid="points-balance" />
          </Col>
          <Col xs={12} md={8}>
            <Statistic title={t("points.earnedTotal")} value={earned} />
          </Col>
          <Col xs={24} md={8}>
            <Typography.Text type="secondary">{t("points.level")}</Typography.Text>
            <div style={{ marginTop: 4 }} data-testid="points-level">
              {level ? <Tag color={level.color || "gold"}>{level.name}</Tag> : <Typography.Text>{t("points.noLevel")}</Typography.Text>}
            </div>
          </Col>
        </Row>
        {next ? (
          <div>
            <Typography.Text type="secondary">
              {t("points.toNext", { points: Math.max(0, next.min_points - earned), level: next.name })}
            </Typography.Text>
            <Progress percent={progress} size="small" aria-label={t("points.toNext", { points: Math.max(0, next.min_points - earned), level: next.name })} />
          </div>
        ) : (
          level && <Typography.Text type="secondary">{t("points.top")}</Typography.Text>
        )}
        <Typography.Title level={5} style={{ margin: "8px 0 0" }}>
          {t("points.ledger")}
        </Typography.Title>
        <Ledger contactId={contactId} />
      </Space>
      <Suspense fallback={null}>
        {action !== null && <PointsModal action={action} contactId={contactId} balance={balance} onClose={() => setAction(null)} />}
      </Suspense>
    </Card>
  );
}
