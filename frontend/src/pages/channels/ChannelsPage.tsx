// Channel codes (渠道活码): every code with its QR, members, auto-tags and the customers it brought
// (adds, losses, net) over the chosen dates; search, paging and the range live in the URL.
import "./strings";

import { DeleteOutlined, DownloadOutlined, EditOutlined, MessageOutlined, PlusOutlined, QrcodeOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { App, Button, Card, Input, Space, Table, Tag, Tooltip, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useSearchParams } from "react-router";

import { Pager } from "../../components/Pager";
import { EmptyState, ErrorState, Loading, errorMessage } from "../../components/states";
import { type Channel, api, keys, qrUrl, useChannels } from "./api";
import { GREEN, Net, RED } from "./bits";
import { type ListView, readList, writeList } from "./params";
import { RangeControl, useUrlRange } from "./RangeControl";
import { isEmptyWelcome } from "./welcome";

const MAX_SHOWN = 3;

function Names({ names, more }: { names: string[]; more?: string }) {
  const shown = names.slice(0, MAX_SHOWN);
  const rest = names.slice(MAX_SHOWN);
  return (
    <Space size={[4, 4]} wrap>
      {shown.map((name, i) => (
        <Tag key={`${name}-${i}`}>{name}</Tag>
      ))}
      {rest.length > 0 && (
        <Tooltip title={rest.join(", ")}>
          <Tag tabIndex={0}>+{rest.length}</Tag>
        </Tooltip>
      )}
      {more && <Typography.Text type="secondary">{more}</Typography.Text>}
    </Space>
  );
}

export default function ChannelsPage() {
  const { t } = useTranslation("channels");
  const { message, modal } = App.useApp();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const view = readList(params);
  const [range, setRange] = useUrlRange();
  const channels = useChannels(view, range);
  const setView = (next: ListView) => setParams(writeList(params, next));

  const remove = useMutation({
    mutationFn: (channel: Channel) => api.remove(channel.id),
    onSuccess: (_result, channel) => void message.success(t("list.deleted", { name: channel.name })),
    onError: (error) => void message.error(errorMessage(error)),
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.channels }),
  });

  const confirmDelete = (channel: Channel) =>
    modal.confirm({
      title: t("list.deleteTitle", { name: channel.name }),
      content: t("list.deleteBody"),
      okText: t("common:action.delete"),
      okButtonProps: { danger: true },
      cancelText: t("common:action.cancel"),
      onOk: () => remove.mutateAsync(channel).catch(() => undefined),
    });

  const newButton = (
    <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate("/channels/new")}>
      {t("list.new")}
    </Button>
  );

  const columns: ColumnsType<Channel> = [
    {
      key: "qr",
      title: t("list.qr"),
      width: 84,
      render: (_, channel) => (
        <Link to={`/channels/${channel.id}`} aria-label={t("list.open", { name: channel.name })}>
          <img
            src={qrUrl(channel.id)}
            alt={t("list.qrOf", { name: channel.name })}
            loading="lazy"
            width={56}
            height={56}
            style={{ display: "block", border: "1px solid #f0f0f0", borderRadius: 4, background: "#fff" }}
            data-testid="qr-thumb"
          />
        </Link>
      ),
    },
    {
      key: "name",
      title: t("list.name"),
      render: (_, channel) => (
        <Space orientation="vertical" size={2}>
          <Link to={`/channels/${channel.id}`}>
            <Typography.Text strong>{channel.name}</Typography.Text>
          </Link>
          <Space size={4} wrap>
            <Tag>{channel.multi ? t("list.multi") : t("list.single")}</Tag>
            {isEmptyWelcome(channel.welcome) ? <Tag>{t("list.defaultWelcome")}</Tag> : <Tag color="blue">{t("list.ownWelcome")}</Tag>}
            {channel.schedule.length > 0 && <Tag color="purple">{t("list.scheduled")}</Tag>}
          </Space>
        </Space>
      ),
    },
    {
      key: "members",
      title: t("list.members"),
      render: (_, channel) => {
        const members = channel.members.filter((m) => channel.user_ids.includes(m.id)).map((m) => m.name || `#${m.id}`);
        const departments = channel.department_ids.length;
        return <Names names={members} more={departments ? t("list.departments", { count: departments }) : undefined} />;
      },
    },
    {
      key: "tags",
      title: t("list.tags"),
      render: (_, channel) => (channel.tags.length ? <Names names={channel.tags.map((tag) => tag.name)} /> : <Typography.Text type="secondary">—</Typography.Text>),
    },
    { key: "adds", title: t("stats.adds"), align: "right", render: (_, c) => <span style={{ color: GREEN }}>{c.stats?.adds ?? 0}</span> },
    { key: "losses", title: t("stats.losses"), align: "right", render: (_, c) => <span style={{ color: RED }}>{c.stats?.losses ?? 0}</span> },
    { key: "net", title: t("stats.net"), align: "right", render: (_, c) => <Net value={c.stats?.net ?? 0} /> },
    {
      key: "actions",
      title: t("list.actions"),
      width: 250,
      render: (_, channel) => (
        <Space size={0} wrap>
          <Button type="link" size="small" icon={<EditOutlined />} aria-label={t("list.editLabel", { name: channel.name })} onClick={() => navigate(`/channels/${channel.id}/edit`)}>
            {t("common:action.edit")}
          </Button>
          <Button type="link" size="small" icon={<DownloadOutlined />} href={qrUrl(channel.id, true)} aria-label={t("list.downloadLabel", { name: channel.name })}>
            {t("list.download")}
          </Button>
          <Button
            type="link"
            size="small"
            danger
            icon={<DeleteOutlined />}
            aria-label={t("list.deleteLabel", { name: channel.name })}
            onClick={() => confirmDelete(channel)}
          >
            {t("common:action.delete")}
          </Button>
        </Space>
      ),
    },
  ];

  const rows = channels.data?.results ?? [];
  const empty =
    view.search || view.page > 1 ? (
      <EmptyState description={view.search ? t("list.noMatch", { search: view.search }) : t("list.pastEnd")}>
        <Button onClick={() => setView({ ...view, search: "", page: 1 })}>{t("list.showAll")}</Button>
      </EmptyState>
    ) : (
      <EmptyState description={t("list.empty")}>
        <Typography.Paragraph type="secondary" style={{ maxWidth: 480, margin: "0 auto 16px" }}>
          {t("list.emptyHint")}
        </Typography.Paragraph>
        <Button type="primary" icon={<QrcodeOutlined />} onClick={() => navigate("/channels/new")}>
          {t("list.createFirst")}
        </Button>
      </EmptyState>
    );

  return (
    <div>
      <Space style={{ width: "100%", justifyContent: "space-between" }} align="start" wrap>
        <Typography.Title level={3}>{t("list.title")}</Typography.Title>
        <Space wrap>
          <Button icon={<MessageOutlined />} onClick={() => navigate("/channels/welcome")}>
            {t("list.defaultWelcomeLink")}
          </Button>
          {newButton}
        </Space>
      </Space>
      <Typography.Paragraph type="secondary">{t("list.intro")}</Typography.Paragraph>
      <Card size="small" style={{ marginBottom: 16 }}>
        <Space wrap size="middle">
          <Input.Search
            key={view.search}
            defaultValue={view.search}
            allowClear
            aria-label={t("list.search")}
            placeholder={t("list.search")}
            onSearch={(search) => setView({ ...view, search: search.trim(), page: 1 })}
            style={{ width: 260 }}
          />
          <Space>
            <Typography.Text type="secondary">{t("range.stats")}</Typography.Text>
            <RangeControl value={range} onChange={setRange} />
          </Space>
        </Space>
      </Card>
      {channels.isPending ? (
        <Loading rows={6} />
      ) : channels.isError ? (
        <ErrorState error={channels.error} onRetry={() => void channels.refetch()} />
      ) : (
        <>
          <Table<Channel>
            rowKey="id"
            aria-label={t("list.title")}
            columns={columns}
            dataSource={rows}
            loading={channels.isFetching}
            pagination={false}
            scroll={{ x: 1000 }}
            locale={{ emptyText: empty }}
          />
          {(view.page > 1 || channels.data.next) && (
            <Pager
              page={view.page}
              hasNext={!!channels.data.next}
              onPage={(page) => setView({ ...view, page })}
              pageSize={view.pageSize}
              onPageSize={(pageSize) => setView({ ...view, pageSize, page: 1 })}
              loading={channels.isFetching}
            />
          )}
        </>
      )}
    </div>
  );
}
