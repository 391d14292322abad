// Customer value (客户价值): how many customers are in each lifecycle tier (a card each, with what the
// tier means under the tenant's thresholds; a click opens those customers), the average score, this
// week's moves between tiers, and what customers spend per channel, member and cohort (tabs, the tab
// in the URL). Sales see their own customers (the API scopes every figure). Before the first
// computation the page says how and when it happens; admins and operators can start one.
import "./strings";

import { QuestionCircleOutlined, SettingOutlined, SyncOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { App, Button, Card, Space, Statistic, Table, Tabs, Tag, Tooltip, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useSearchParams } from "react-router";

import { canManage, useSession } from "../../auth";
import { EmptyState, ErrorState, Loading, errorMessage } from "../../components/states";
import { dateTime } from "../../lib/format";
import { api, keys, useBreakdown, useTiers, useValueSettings } from "./api";
import { TIER_COLORS, averageScore, isTier, count, money, percent, readBreakdown, rowLabel, sortedMoves, tierCards, tierLink, tierMeaning } from "./format";
import { BREAKDOWNS, type BreakdownBy, type BreakdownRow, type TierCount, type TierMove, type TiersOverview, type ValueSettings } from "./types";

/** A tier's tag, in its color (a tier this page does not know shows as the API names it). */
export function TierTag({ tier }: { tier: string }) {
  const { t } = useTranslation("value");
  return isTier(tier) ? <Tag color={TIER_COLORS[tier]}>{t(`tier.${tier}`)}</Tag> : <Tag>{tier}</Tag>;
}

function RecomputeButton() {
  const { t } = useTranslation("value");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const run = useMutation({
    mutationFn: api.recompute,
    onSuccess: () => {
      void message.success(t("overview.recomputeQueued"));
      // The pass runs in a worker: ask again now (an eager worker is done) and once it had time.
      void queryClient.invalidateQueries({ queryKey: keys.all });
      window.setTimeout(() => void queryClient.invalidateQueries({ queryKey: keys.all }), 4000);
    },
    onError: (error) => void message.error(errorMessage(error)),
  });
  return (
    <Button icon={<SyncOutlined />} loading={run.isPending} onClick={() => run.mutate()}>
      {t("overview.recompute")}
    </Button>
  );
}

function TierCard({ row, settings }: { row: TierCount; settings: ValueSettings | undefined }) {
  const { t, i18n } = useTranslation("value");
  const n = count(row.count, i18n.language);
  return (
    <Link to={tierLink(row.tier)} aria-label={t("overview.openTier", { tier: t(`tier.${row.tier}`), n })} data-testid={`tier-${row.tier}`}>
      <Card hoverable size="small" style={{ height: "100%" }}>
        <TierTag tier={row.tier} />
        <div style={{ fontSize: 28, fontWeight: 600, marginTop: 8 }} data-testid={`tier-${row.tier}-count`}>
          {n}
        </div>
        <Typography.Text type="secondary">{t("overview.share", { share: percent(row.share) })}</Typography.Text>
        <Typography.Paragraph type="secondary" style={{ marginTop: 8, marginBottom: 0, fontSize: 12 }}>
          {tierMeaning(row.tier, settings, t, i18n.language)}
        </Typography.Paragraph>
      </Card>
    </Link>
  );
}

function MovesCard({ moves }: { moves: TierMove[] }) {
  const { t, i18n } = useTranslation("value");
  const columns: ColumnsType<TierMove> = [
    { key: "from", title: t("moves.from"), render: (_, row) => <TierTag tier={row.from} /> },
    { key: "to", title: t("moves.to"), render: (_, row) => <TierTag tier={row.to} /> },
    { key: "count", title: t("moves.count"), align: "right", render: (_, row) => count(row.count, i18n.language) },
  ];
  return (
    <Card title={t("moves.title")} extra={<Typography.Text type="secondary">{t("moves.hint")}</Typography.Text>}>
      <Table<TierMove>
        size="small"
        aria-label={t("moves.title")}
        rowKey={(row) => `${row.from}-${row.to}`}
        columns={columns}
        dataSource={sortedMoves(moves)}
        pagination={false}
        locale={{ emptyText: t("moves.empty") }}
      />
    </Card>
  );
}

function BreakdownTable({ by, currency }: { by: BreakdownBy; currency: string }) {
  const { t, i18n } = useTranslation("value");
  const breakdown = useBreakdown(by);
  if (breakdown.isPending) return <Loading rows={4} />;
  if (breakdown.isError) return <ErrorState error={breakdown.error} onRetry={() => void breakdown.refetch()} />;
  const lang = i18n.language;
  const num = (key: "customers" | "paying" | "orders") => ({
    key,
    title: t(`breakdown.${key}`),
    align: "right" as const,
    sorter: (a: BreakdownRow, b: BreakdownRow) => a[key] - b[key],
    render: (_: unknown, row: BreakdownRow) => count(row[key], lang),
  });
  const hint = (title: string, text: string) => (
    <Tooltip title={text}>
      <span>
        {title} <QuestionCircleOutlined />
      </span>
    </Tooltip>
  );
  const columns: ColumnsType<BreakdownRow> = [
    { key: "label", title: t(`breakdown.label.${by}`), render: (_, row) => rowLabel(row, by, t) },
    num("customers"),
    num("paying"),
    num("orders"),
    {
      key: "ltv",
      title: t("breakdown.ltv"),
      align: "right",
      sorter: (a, b) => Number(a.ltv) - Number(b.ltv),
      render: (_, row) => money(row.ltv, currency, lang),
    },
    {
      key: "average_ltv",
      title: hint(t("breakdown.averageLtv"), t("breakdown.averageLtvHint")),
      align: "right",
      sorter: (a, b) => Number(a.average_ltv) - Number(b.average_ltv),
      render: (_, row) => money(row.average_ltv, currency, lang),
    },
    {
      key: "repurchase_rate",
      title: hint(t("breakdown.repurchaseRate"), t("breakdown.repurchaseRateHint")),
      align: "right",
      sorter: (a, b) => a.repurchase_rate - b.repurchase_rate,
      render: (_, row) => percent(row.repurchase_rate),
    },
  ];
  return (
    <Table<BreakdownRow>
      size="small"
      aria-label={t(`breakdown.by.${by}`)}
      rowKey={(row) => row.key || "-"}
      columns={columns}
      dataSource={breakdown.data.rows}
      loading={breakdown.isFetching}
      pagination={breakdown.data.rows.length > 20 ? { pageSize: 20, showSizeChanger: false } : false}
      scroll={{ x: 860 }}
      locale={{ emptyText: t("breakdown.empty") }}
    />
  );
}

function BreakdownCard({ currency }: { currency: string }) {
  const { t } = useTranslation("value");
  const [params, setParams] = useSearchParams();
  const by = readBreakdown(params.get("by"));
  return (
    <Card title={t("breakdown.title")}>
      <Tabs
        activeKey={by}
        onChange={(key) => setParams(key === "channel" ? {} : { by: key }, { replace: true })}
        items={BREAKDOWNS.map((key) => ({ key, label: t(`breakdown.by.${key}`) }))}
      />
      <BreakdownTable by={by} currency={currency} />
    </Card>
  );
}

function Overview({ overview, settings }: { overview: TiersOverview; settings: ValueSettings | undefined }) {
  const { t, i18n } = useTranslation("value");
  return (
    <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
      <Space size="large" wrap>
        <Statistic title={t("overview.total")} value={count(overview.total, i18n.language)} />
        <Statistic
          title={
            <Tooltip title={t("overview.averageScoreHint")}>
              <span>
                {t("overview.averageScore")} <QuestionCircleOutlined />
              </span>
            </Tooltip>
          }
          value={averageScore(overview.average_score)}
          suffix="/ 100"
        />
      </Space>
      <div style={{ display: "grid", gridTemplateColumns: "repeat(auto-fit, minmax(190px, 1fr))", gap: 16 }}>
        {tierCards(overview.tiers).map((row) => (
          <TierCard key={row.tier} row={row} settings={settings} />
        ))}
      </div>
      <MovesCard moves={overview.moves} />
      <BreakdownCard currency={settings?.currency ?? "CNY"} />
    </Space>
  );
}

export default function ValuePage() {
  const { t } = useTranslation("value");
  const { role } = useSession();
  const navigate = useNavigate();
  const tiers = useTiers();
  const settings = useValueSettings();
  const manager = canManage(role);
  const computedAt = tiers.data?.computed_at ?? null;
  return (
    <div>
      <Space style={{ width: "100%", justifyContent: "space-between" }} align="start" wrap>
        <Typography.Title level={3}>{t("overview.title")}</Typography.Title>
        <Space wrap>
          {computedAt && (
            <Tooltip title={t("overview.computedHint")}>
              <Typography.Text type="secondary" data-testid="computed-at">
                {t("overview.computedAt", { when: dateTime(computedAt) })}
              </Typography.Text>
            </Tooltip>
          )}
          {manager && <RecomputeButton />}
          {role === "admin" && (
            <Button icon={<SettingOutlined />} onClick={() => navigate("/value/settings")}>
              {t("overview.settings")}
            </Button>
          )}
        </Space>
      </Space>
      <Typography.Paragraph type="secondary">{manager ? t("overview.intro") : t("overview.introSales")}</Typography.Paragraph>
      {tiers.isPending ? (
        <Loading rows={8} />
      ) : tiers.isError ? (
        <ErrorState error={tiers.error} onRetry={() => void tiers.refetch()} />
      ) : tiers.data.computed_at === null && tiers.data.total === 0 ? (
        <Card>
          <EmptyState description={t("overview.emptyTitle")}>
            <Typography.Paragraph type="secondary" style={{ maxWidth: 560, margin: "0 auto" }}>
              {t("overview.emptyHint")}
              {manager && ` ${t("overview.emptyHintManager")}`}
            </Typography.Paragraph>
          </EmptyState>
        </Card>
      ) : (
        <Overview overview={tiers.data} settings={settings.data} />
      )}
    </div>
  );
}
