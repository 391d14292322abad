// A customer's value (LTV, orders, average order, purchases), activity score with its three parts
// and the reason for their tier, and the tier's history: GET /contacts/{id}/value/ (docs/value.md
// explains every figure).
import "./strings";

import { Alert, Card, Col, Descriptions, Progress, Row, Space, Statistic, Tag, Timeline, Tooltip, Typography } from "antd";
import { useTranslation } from "react-i18next";

import { EmptyState } from "../../../components/states";
import { date, dateTime } from "../../../lib/format";
import type { ContactValue, Explanation } from "../api";
import { TIER_COLORS, asTier, money, tierDot } from "../value";
import { reasonSentence } from "./reason";
import { NS } from "./strings";

/** The score's parts and their maximums (value/services/scoring.py). */
const PARTS = [
  { key: "recency", max: 40 },
  { key: "frequency", max: 30 },
  { key: "value", max: 30 },
] as const;

export function TierTag({ tier: raw, testId }: { tier: string | null | undefined; testId?: string }) {
  const { t: tc } = useTranslation("customers");
  const tier = asTier(raw);
  if (!tier) return raw ? <Tag data-testid={testId}>{raw}</Tag> : null;
  return (
    <Tag color={TIER_COLORS[tier]} data-testid={testId}>
      {tc(`tier.${tier}`)}
    </Tag>
  );
}

export function ScoreCard({ value }: { value: ContactValue }) {
  const { t, i18n } = useTranslation(NS);
  const tc = useTranslation("customers").t;
  const computed = value.computed_at !== null && value.tier !== null;
  const reason = reasonSentence(value.explanation as Explanation | null, t, i18n.language);
  return (
    <Card size="small" title={t("score.title")} data-testid="score-card">
      {!computed ? (
        <EmptyState description={t("value.notComputed")} />
      ) : (
        <Space orientation="vertical" style={{ width: "100%" }}>
          <Alert
            type={value.tier === "silent" || value.tier === "lost" ? "warning" : "info"}
            showIcon
            title={
              <Space wrap>
                <TierTag tier={value.tier} />
                <span data-testid="tier-reason">{reason}</span>
              </Space>
            }
          />
          <Row gutter={[16, 16]} align="middle">
            <Col xs={24} sm={8} style={{ textAlign: "center" }}>
              <Progress
                type="circle"
                percent={value.score}
                format={(percent) => <span data-testid="score-total">{percent}</span>}
                aria-label={t("score.total")}
              />
              <div>
                <Typography.Text type="secondary">{t("score.total")}</Typography.Text>
              </div>
            </Col>
            <Col xs={24} sm={16}>
              {PARTS.map((part) => (
                <div key={part.key} data-testid={`score-${part.key}`}>
                  <Tooltip title={t(`score.${part.key}Hint`)}>
                    <Typography.Text>
                      {t(`score.${part.key}`)}{" "}
                      <Typography.Text type="secondary">
                        {t("score.part", { value: value.score_parts[part.key], max: part.max })}
                      </Typography.Text>
                    </Typography.Text>
                  </Tooltip>
                  <Progress percent={Math.round((value.score_parts[part.key] / part.max) * 100)} showInfo={false} size="small" />
                </div>
              ))}
            </Col>
          </Row>
          <Descriptions
            size="small"
            column={{ xs: 1, sm: 2 }}
            items={[
              { key: "interactions", label: t("score.interactions"), children: value.interactions_90d },
              {
                key: "last",
                label: t("score.lastInteraction"),
                children: value.last_interaction
                  ? `${tc(`event.${value.last_interaction.type}`, { defaultValue: value.last_interaction.type })} · ${dateTime(value.last_interaction.at)}`
                  : "—",
              },
            ]}
          />
          <Typography.Text type="secondary">{t("value.computedAt", { when: dateTime(value.computed_at) })}</Typography.Text>
        </Space>
      )}
    </Card>
  );
}

export function ValueCard({ value }: { value: ContactValue }) {
  const { t, i18n } = useTranslation(NS);
  const cash = (amount: string | null) => money(amount, value.currency, i18n.language);
  const computed = value.computed_at !== null;
  return (
    <Card size="small" title={t("value.title")} data-testid="value-card">
      {!computed ? (
        <EmptyState description={t("value.notComputed")} />
      ) : value.orders === 0 && Number(value.ltv) === 0 ? (
        <EmptyState description={t("value.none")} />
      ) : (
        <Row gutter={[16, 16]}>
          <Col xs={12} md={8}>
            <Tooltip title={t("value.ltvHint")}>
              <Statistic title={t("value.ltv")} value={cash(value.ltv)} data-testid="value-ltv" />
            </Tooltip>
          </Col>
          <Col xs={12} md={8}>
            <Tooltip title={t("value.ordersHint")}>
              <Statistic title={t("value.orders")} value={value.orders} data-testid="value-orders" />
            </Tooltip>
          </Col>
          <Col xs={12} md={8}>
            <Statistic title={t("value.aov")} value={cash(value.average_order_value)} />
          </Col>
          <Col xs={12} md={8}>
            <Statistic title={t("value.firstPurchase")} value={date(value.first_purchase_at)} styles={{ content: { fontSize: 16 } }} />
          </Col>
          <Col xs={12} md={8}>
            <Statistic
              title={t("value.lastPurchase")}
              value={date(value.last_purchase_at)}
              suffix={
                value.days_since_last_purchase !== null ? (
                  <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                    {t("value.days", { count: value.days_since_last_purchase })}
                  </Typography.Text>
                ) : undefined
              }
              styles={{ content: { fontSize: 16 } }}
            />
          </Col>
          <Col xs={12} md={8}>
            <Statistic
              title={t("value.repurchased")}
              value={value.repurchased ? t("value.yes") : t("value.no")}
              styles={{ content: { fontSize: 16 } }}
            />
          </Col>
        </Row>
      )}
    </Card>
  );
}

export function TierHistory({ value }: { value: ContactValue }) {
  const { t } = useTranslation(NS);
  return (
    <Card size="small" title={t("history.title")} data-testid="tier-history">
      {value.tier_history.length === 0 ? (
        <EmptyState description={t("history.empty")} />
      ) : (
        <Timeline
          items={value.tier_history.map((move, index) => ({
            key: `${move.at}-${index}`,
            color: tierDot(move.to),
            title: dateTime(move.at),
            content: (
              <Space size={4}>
                <TierTag tier={move.from} />→<TierTag tier={move.to} />
              </Space>
            ),
          }))}
        />
      )}
    </Card>
  );
}
