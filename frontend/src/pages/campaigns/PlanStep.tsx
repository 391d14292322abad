// Step 3: the truth before sending — how many will receive it from how many members, who is left out
// and why (with a sample of them), and each member's share (customers and WeCom tasks). The same plan
// the send writes: what is shown here is what is sent.
import "./strings";

import { Alert, Card, Collapse, Space, Spin, Statistic, Table, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { errorMessage } from "../../components/states";
import { formatCount, previewSentence } from "../../lib/campaigns";
import type { PreviewState } from "./AudienceStep";
import { Member } from "./bits";
import { type SkipGroup, skipGroups, toFigures } from "./preview";
import type { PreviewMember } from "./types";

function SkipSample({ group }: { group: SkipGroup }) {
  const { t, i18n } = useTranslation("campaigns");
  if (!group.sample.length) return <Typography.Text type="secondary">{t("plan.noSample")}</Typography.Text>;
  return (
    <Space orientation="vertical" size={4}>
      <Space size={[8, 4]} wrap>
        {group.sample.map((item) =>
          item.contact_id ? (
            <Link key={item.target} to={`/customers?contact=${item.contact_id}`}>
              {item.name || item.target}
            </Link>
          ) : item.group_id ? (
            <Link key={item.target} to={`/groups/${item.group_id}`}>
              {item.name || item.target}
            </Link>
          ) : (
            <Typography.Text key={item.target}>{item.name || item.target}</Typography.Text>
          ),
        )}
      </Space>
      {group.count > group.sample.length && (
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {t("plan.andMore", { n: formatCount(group.count - group.sample.length, i18n.language) })}
        </Typography.Text>
      )}
    </Space>
  );
}

export default function PlanStep({ preview }: { preview: PreviewState }) {
  const { t, i18n } = useTranslation("campaigns");
  const n = (v: number) => formatCount(v, i18n.language);
  if (preview.idle) return <Alert type="info" showIcon title={t("audience.pickSegment")} />;
  if (preview.isError && !preview.data) return <Alert type="error" showIcon title={t("plan.failed")} description={errorMessage(preview.error)} />;
  if (!preview.data) return <Spin aria-label={t("audience.counting")} />;
  const data = preview.data;
  const figures = toFigures(data);
  const unit = figures.chatType === "group" ? "group" : "customer";
  const skipped = skipGroups(data);

  return (
    <Spin spinning={preview.isFetching} aria-label={t("audience.counting")}>
      <Space orientation="vertical" size="middle" style={{ width: "100%" }} data-testid="plan">
        <Alert
          type={figures.recipients ? "info" : "warning"}
          showIcon
          title={<span data-testid="plan-sentence">{previewSentence(figures, t, i18n.language)}</span>}
          description={figures.recipients ? t("plan.howItWorks") : t("plan.nobody")}
        />
        <Card size="small">
          <Space size={48} wrap>
            <Statistic title={t(`audience.matches.${unit}`)} value={n(figures.audience)} />
            <Statistic title={t("audience.willReceive")} value={n(figures.recipients)} />
            <Statistic title={t(`audience.senders.${unit}`)} value={n(figures.members)} />
            <Statistic title={t("plan.tasks")} value={n(data.tasks)} />
          </Space>
          {data.at_risk > 0 && (
            <Alert style={{ marginTop: 12 }} type="warning" showIcon title={t(`plan.atRisk.${unit}`, { count: data.at_risk, n: n(data.at_risk) })} />
          )}
          {(data.lost > 0 || data.dismissed > 0) && (
            <Typography.Paragraph type="secondary" style={{ marginTop: 12, marginBottom: 0 }}>
              {unit === "group" ? t("plan.dismissed", { count: data.dismissed, n: n(data.dismissed) }) : t("plan.lost", { count: data.lost, n: n(data.lost) })}
            </Typography.Paragraph>
          )}
        </Card>
        <Card size="small" title={t("plan.skippedTitle")}>
          {skipped.length === 0 ? (
            <Typography.Text type="secondary">{t("plan.noneSkipped")}</Typography.Text>
          ) : (
            <Collapse
              size="small"
              items={skipped.map((group) => ({
                key: group.reason,
                label: (
                  <Space>
                    <span>{group.reason === "limit" ? t(`plan.reason.limit.${data.rules.receive_limit}`) : t(`plan.reason.${group.reason}`)}</span>
                    <Typography.Text strong>{n(group.count)}</Typography.Text>
                  </Space>
                ),
                children: <SkipSample group={group} />,
              }))}
              data-testid="plan-skipped"
            />
          )}
        </Card>
        <Card size="small" title={t("plan.perMember")}>
          <Table<PreviewMember>
            rowKey={(row) => row.staff.id}
            size="small"
            aria-label={t("plan.perMember")}
            dataSource={data.per_member}
            pagination={data.per_member.length > 20 ? { pageSize: 20, showSizeChanger: false } : false}
            columns={[
              { key: "member", title: t("plan.member"), render: (_, row) => <Member staff={row.staff} /> },
              { key: "recipients", title: t(`plan.recipients.${unit}`), align: "right", render: (_, row) => n(row.recipients) },
              { key: "tasks", title: t("plan.tasks"), align: "right", render: (_, row) => n(row.tasks) },
            ]}
          />
        </Card>
      </Space>
    </Spin>
  );
}
