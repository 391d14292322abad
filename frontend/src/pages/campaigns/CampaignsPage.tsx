// Mass messages (群发): every campaign with its status, when it was (or will be) sent and how far it
// got (members who confirmed, recipients who got it); filters and page live in the URL. Sales see the
// campaigns they have a task in (the API scopes them), read-only.
import "./strings";

import { NotificationOutlined, PlusOutlined, SettingOutlined, StopOutlined } from "@ant-design/icons";
import { Button, Card, Input, Progress, Select, Space, Table, Tag, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useSearchParams } from "react-router";

import { canManage, useSession } from "../../auth";
import { Pager } from "../../components/Pager";
import { EmptyState, ErrorState, Loading } from "../../components/states";
import { actorName } from "../../lib/actor";
import { campaignProgress, formatCount, zonedDateTime } from "../../lib/campaigns";
import { dateTime } from "../../lib/format";
import { useCampaigns, useTenantZone } from "./api";
import { StatusTag, useCampaignLabels } from "./bits";
import { CAMPAIGN_STATUSES, CHAT_TYPES, type ListView, hasListFilters, readList, writeList } from "./params";
import type { Campaign } from "./types";

/** When it went out, or when it will. */
function When({ campaign, zone }: { campaign: Campaign; zone: string }) {
  const { t } = useTranslation("campaigns");
  if (campaign.dispatched_at) return <span>{dateTime(campaign.dispatched_at)}</span>;
  if (campaign.scheduled_at) {
    return (
      <Space orientation="vertical" size={0}>
        <span>{zonedDateTime(campaign.scheduled_at, zone)}</span>
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {t("list.scheduledFor")}
        </Typography.Text>
      </Space>
    );
  }
  return <Typography.Text type="secondary">—</Typography.Text>;
}

function ProgressCell({ campaign }: { campaign: Campaign }) {
  const { t, i18n } = useTranslation("campaigns");
  if (!campaign.recipients && !campaign.members) return <Typography.Text type="secondary">—</Typography.Text>;
  const n = (v: number) => formatCount(v, i18n.language);
  const progress = campaignProgress(campaign);
  return (
    <Space orientation="vertical" size={0} style={{ minWidth: 180 }}>
      <Typography.Text style={{ fontSize: 12 }}>
        {t("list.confirmed", { confirmed: n(campaign.confirmed_members), members: n(campaign.members) })}
      </Typography.Text>
      <Typography.Text style={{ fontSize: 12 }}>
        {t("list.sentOf", { sent: n(campaign.sent), recipients: n(campaign.recipients) })}
      </Typography.Text>
      <Progress
        size="small"
        percent={progress.percent}
        success={{ percent: progress.sentPercent }}
        showInfo={false}
        aria-label={t("list.progressLabel", { name: campaign.name })}
      />
    </Space>
  );
}

export default function CampaignsPage() {
  const { t } = useTranslation("campaigns");
  const { role } = useSession();
  const manager = canManage(role);
  const navigate = useNavigate();
  const labels = useCampaignLabels();
  const [params, setParams] = useSearchParams();
  const view = readList(params);
  const campaigns = useCampaigns(view);
  const zone = useTenantZone();
  const setView = (next: ListView) => setParams(writeList(next));

  const columns: ColumnsType<Campaign> = [
    {
      key: "name",
      title: t("list.name"),
      render: (_, campaign) => (
        <Link to={campaign.status === "draft" && manager ? `/campaigns/${campaign.id}/edit` : `/campaigns/${campaign.id}`}>
          <Typography.Text strong>{campaign.name}</Typography.Text>
        </Link>
      ),
    },
    { key: "type", title: t("list.type"), render: (_, campaign) => <Tag>{labels.chatType(campaign.chat_type)}</Tag> },
    { key: "status", title: t("list.status"), render: (_, campaign) => <StatusTag status={campaign.status} /> },
    { key: "when", title: t("list.when"), render: (_, campaign) => <When campaign={campaign} zone={zone} /> },
    { key: "progress", title: t("list.progress"), render: (_, campaign) => <ProgressCell campaign={campaign} /> },
    {
      key: "created_by",
      title: t("list.createdBy"),
      render: (_, campaign) => (
        <Space orientation="vertical" size={0}>
          <span>{actorName(campaign.created_by, t) ?? "—"}</span>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {dateTime(campaign.created_at)}
          </Typography.Text>
        </Space>
      ),
    },
  ];

  const newButton = manager && (
    <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate("/campaigns/new")}>
      {t("list.new")}
    </Button>
  );

  const rows = campaigns.data?.results ?? [];
  const empty =
    hasListFilters(view) || view.page > 1 ? (
      <EmptyState description={view.page > 1 && !hasListFilters(view) ? t("list.pastEnd") : t("list.noMatch")}>
        <Button onClick={() => setView({ ...view, status: null, chatType: null, search: "", page: 1 })}>{t("list.showAll")}</Button>
      </EmptyState>
    ) : (
      <EmptyState description={manager ? t("list.empty") : t("list.emptySales")}>
        {manager && (
          <>
            <Typography.Paragraph type="secondary" style={{ maxWidth: 480, margin: "0 auto 16px" }}>
              {t("list.emptyHint")}
            </Typography.Paragraph>
            <Button type="primary" icon={<NotificationOutlined />} onClick={() => navigate("/campaigns/new")}>
              {t("list.new")}
            </Button>
          </>
        )}
      </EmptyState>
    );

  return (
    <div>
      <Space style={{ width: "100%", justifyContent: "space-between" }} align="start" wrap>
        <Typography.Title level={3}>{t("list.title")}</Typography.Title>
        <Space wrap>
          {manager && (
            <Button icon={<StopOutlined />} onClick={() => navigate("/campaigns/do-not-disturb")}>
              {t("dnd.title")}
            </Button>
          )}
          {role === "admin" && (
            <Button icon={<SettingOutlined />} onClick={() => navigate("/campaigns/settings")}>
              {t("settings.title")}
            </Button>
          )}
          {newButton}
        </Space>
      </Space>
      <Typography.Paragraph type="secondary">{manager ? t("list.intro") : t("list.introSales")}</Typography.Paragraph>
      <Card size="small" style={{ marginBottom: 16 }}>
        <Space wrap size="middle">
          <Input.Search
            key={view.search}
            defaultValue={view.search}
            allowClear
            aria-label={t("list.search")}
            placeholder={t("list.search")}
            onSearch={(search) => setView({ ...view, search: search.trim(), page: 1 })}
            style={{ width: 240 }}
          />
          <Select
            allowClear
            aria-label={t("list.status")}
            placeholder={t("list.anyStatus")}
            style={{ width: 180 }}
            value={view.status ?? undefined}
            options={CAMPAIGN_STATUSES.map((status) => ({ value: status, label: labels.status(status) }))}
            onChange={(status) => setView({ ...view, status: status ?? null, page: 1 })}
          />
          <Select
            allowClear
            aria-label={t("list.type")}
            placeholder={t("list.anyType")}
            style={{ width: 160 }}
            value={view.chatType ?? undefined}
            options={CHAT_TYPES.map((type) => ({ value: type, label: labels.chatType(type) }))}
            onChange={(chatType) => setView({ ...view, chatType: chatType ?? null, page: 1 })}
          />
        </Space>
      </Card>
      {campaigns.isPending ? (
        <Loading rows={6} />
      ) : campaigns.isError ? (
        <ErrorState error={campaigns.error} onRetry={() => void campaigns.refetch()} />
      ) : (
        <>
          <Table<Campaign>
            rowKey="id"
            aria-label={t("list.title")}
            columns={columns}
            dataSource={rows}
            loading={campaigns.isFetching}
            pagination={false}
            scroll={{ x: 900 }}
            locale={{ emptyText: empty }}
          />
          {(view.page > 1 || campaigns.data.next) && (
            <Pager
              page={view.page}
              hasNext={!!campaigns.data.next}
              onPage={(page) => setView({ ...view, page })}
              pageSize={view.pageSize}
              onPageSize={(pageSize) => setView({ ...view, pageSize, page: 1 })}
              loading={campaigns.isFetching}
            />
          )}
        </>
      )}
    </div>
  );
}
