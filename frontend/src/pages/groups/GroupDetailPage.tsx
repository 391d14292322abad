// One group: its header (owner, status, notice, created, tags — editable by managers), then tabs kept
// in the URL (?tab=): the members (current or every stay, by type, searched; a customer who is a
// contact opens the customer drawer), the join/leave history, and joins, leaves and members per day
// over a date range.
import "./strings";

import { ArrowLeftOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import {
  App,
  Card,
  Descriptions,
  Segmented,
  Select,
  Space,
  Statistic,
  Table,
  Tabs,
  Tag,
  Tooltip,
  Typography,
} from "antd";
import { lazy, Suspense, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams, useSearchParams } from "react-router";

import { canManage, useSession } from "../../auth";
import { Pager } from "../../components/Pager";
import { EmptyState, ErrorState, Loading, QueryState, errorMessage } from "../../components/states";
import { dateTime } from "../../lib/format";
import { DraftInput, Field } from "../customers/controls";
import {
  type GroupDetail,
  type GroupMember,
  type MemberFilter,
  api,
  keys,
  useGroup,
  useGroupTags,
  useMembers,
} from "./api";
import { MemberName, Owner, StatusTag, TagChips, tagOptions, useGroupLabels } from "./bits";

// The first screen is the members tab: the other tabs, and the customer drawer, load when opened.
const HistoryTab = lazy(() => import("./HistoryTab"));
const StatsTab = lazy(() => import("./StatsTab"));
const ContactDrawer = lazy(() => import("../customers/ContactDrawer"));

const TABS = ["members", "history", "stats"] as const;
type TabKey = (typeof TABS)[number];

function TagsEditor({ group }: { group: GroupDetail }) {
  const { t } = useTranslation("groups");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const tags = useGroupTags();
  const [pending, setPending] = useState<number[] | null>(null);
  const change = useMutation({
    mutationFn: (ids: number[]) => api.setTags(group.id, ids),
    onSuccess: () => void message.success(t("detail.tagsSaved")),
    onError: (error) => void message.error(errorMessage(error)),
    onSettled: async () => {
      await queryClient.invalidateQueries({ queryKey: keys.groups });
      await queryClient.invalidateQueries({ queryKey: keys.tags });
      setPending(null);
    },
  });
  return (
    <Select<number[]>
      id="group-tags"
      mode="multiple"
      allowClear
      showSearch={{ optionFilterProp: "label" }}
      style={{ minWidth: 260, maxWidth: 480 }}
      loading={tags.isPending || change.isPending}
      options={tagOptions(tags.data)}
      value={pending ?? group.tags.map((tag) => tag.id)}
      placeholder={t("detail.noTags")}
      notFoundContent={t("detail.noGroupTags")}
      onChange={(ids) => {
        setPending(ids);
        change.mutate(ids);
      }}
    />
  );
}

function Header({ group }: { group: GroupDetail }) {
  const { t } = useTranslation("groups");
  const { role } = useSession();
  const none = <Typography.Text type="secondary">—</Typography.Text>;
  return (
    <Card>
      <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
        <div style={{ display: "grid", gridTemplateColumns: "repeat(auto-fit, minmax(120px, 1fr))", gap: 16 }}>
          <Statistic title={t("detail.members")} value={group.member_count} data-testid="detail-members" />
          <Statistic title={t("detail.customers")} value={group.customer_count} />
          <Statistic title={t("detail.joins7d")} value={group.joins_7d} styles={{ content: { color: group.joins_7d ? "#389e0d" : undefined } }} />
          <Statistic title={t("detail.leaves7d")} value={group.leaves_7d} styles={{ content: { color: group.leaves_7d ? "#cf1322" : undefined } }} />
        </div>
        <Descriptions
          size="small"
          column={{ xs: 1, md: 2 }}
          items={[
            { key: "owner", label: t("detail.owner"), children: <Owner owner={group.owner} /> },
            { key: "status", label: t("detail.status"), children: <StatusTag status={group.status} /> },
            { key: "created", label: t("detail.created"), children: dateTime(group.wecom_created_at) },
            ...(group.dismissed_at ? [{ key: "dismissed", label: t("detail.dismissedAt"), children: dateTime(group.dismissed_at) }] : []),
            { key: "synced", label: t("detail.synced"), children: dateTime(group.synced_at) },
            {
              key: "admins",
              label: t("detail.admins"),
              children: group.admin_userids.length ? <Typography.Text code>{group.admin_userids.join(", ")}</Typography.Text> : none,
            },
            {
              key: "notice",
              label: t("detail.notice"),
              span: "filled" as const,
              children: group.notice ? <span style={{ whiteSpace: "pre-wrap" }}>{group.notice}</span> : none,
            },
            {
              key: "chat",
              label: t("detail.chatId"),
              span: "filled" as const,
              children: (
                <Typography.Text code copyable>
                  {group.chat_id}
                </Typography.Text>
              ),
            },
          ]}
        />
        <Field id="group-tags" label={t("detail.tags")} width={520}>
          {canManage(role) ? <TagsEditor group={group} /> : <TagChips tags={group.tags} max={20} />}
        </Field>
      </Space>
    </Card>
  );
}

function JoinWay({ member }: { member: GroupMember }) {
  const { role } = useSession();
  if (member.join_way) {
    return canManage(role) ? <Link to={`/groups/codes/${member.join_way.id}`}>{member.join_way.name}</Link> : <span>{member.join_way.name}</span>;
  }
  return member.state ? <Typography.Text code>{member.state}</Typography.Text> : <Typography.Text type="secondary">—</Typography.Text>;
}

function MembersTab({ group, onOpen }: { group: GroupDetail; onOpen: (contact: number) => void }) {
  const { t } = useTranslation("groups");
  const labels = useGroupLabels();
  const [filter, setFilter] = useState<MemberFilter>({ current: true, type: null, q: "" });
  const [page, setPage] = useState(1);
  const members = useMembers(group.id, filter, page);
  const update = (patch: Partial<MemberFilter>) => {
    setFilter({ ...filter, ...patch });
    setPage(1);
  };
  return (
    <div>
      <div role="search" aria-label={t("members.filter")} style={{ display: "flex", flexWrap: "wrap", gap: 12, alignItems: "flex-end", marginBottom: 12 }}>
        <Field id="members-stays" label={<span id="members-stays-label">{t("members.stays")}</span>} width={220}>
          <Segmented<"current" | "all">
            id="members-stays"
            aria-labelledby="members-stays-label"
            value={filter.current ? "current" : "all"}
            onChange={(value) => update({ current: value === "current" })}
            options={[
              { value: "current", label: t("members.current") },
              { value: "all", label: t("members.all") },
            ]}
          />
        </Field>
        <Field id="members-type" label={<span id="members-type-label">{t("members.type")}</span>} width={260}>
          <Segmented<"any" | "staff" | "customer">
            id="members-type"
            aria-labelledby="members-type-label"
            value={filter.type ?? "any"}
            onChange={(value) => update({ type: value === "any" ? null : value })}
            options={[
              { value: "any", label: t("members.anyType") },
              { value: "customer", label: labels.memberType("customer") },
              { value: "staff", label: labels.memberType("staff") },
            ]}
          />
        </Field>
        <Field id="members-q" label={t("members.search")} width={240}>
          <DraftInput id="members-q" search value={filter.q} placeholder={t("members.searchPlaceholder")} onCommit={(q) => update({ q })} />
        </Field>
      </div>
      <QueryState query={members}>
        {(data) => (
          <>
            <Table<GroupMember>
              size="small"
              rowKey="id"
              aria-label={t("members.title")}
              dataSource={data.results}
              loading={members.isFetching}
              pagination={false}
              scroll={{ x: 1000 }}
              locale={{
                emptyText: <EmptyState description={filter.q || filter.type || !filter.current ? t("members.noMatch") : t("members.none")} />,
              }}
              columns={[
                { key: "name", title: t("members.name"), render: (_, m) => <MemberName member={m} onOpen={onOpen} /> },
                {
                  key: "type",
                  title: t("members.type"),
                  render: (_, m) => <Tag color={m.type === "customer" ? "green" : "blue"}>{labels.memberType(m.type)}</Tag>,
                },
                { key: "joined", title: t("members.joinedAt"), render: (_, m) => dateTime(m.joined_at) },
                { key: "scene", title: t("members.joinScene"), render: (_, m) => labels.joinScene(m.join_scene) },
                {
                  key: "inviter",
                  title: t("members.inviter"),
                  render: (_, m) => (m.inviter ? m.inviter.name || m.inviter.userid : <Typography.Text type="secondary">—</Typography.Text>),
                },
                { key: "code", title: t("members.joinWay"), render: (_, m) => <JoinWay member={m} /> },
                {
                  key: "left",
                  title: t("members.leftAt"),
                  render: (_, m) =>
                    m.left_at ? (
                      <Space orientation="vertical" size={0}>
                        <span>{dateTime(m.left_at)}</span>
                        {m.quit_scene !== null && <Typography.Text type="secondary">{labels.quitScene(m.quit_scene)}</Typography.Text>}
                      </Space>
                    ) : (
                      <Tag color="green">{t("members.stillIn")}</Tag>
                    ),
                },
              ]}
            />
            {(page > 1 || data.next) && <Pager page={page} hasNext={!!data.next} onPage={setPage} loading={members.isFetching} />}
          </>
        )}
      </QueryState>
    </div>
  );
}

export default function GroupDetailPage() {
  const { t } = useTranslation("groups");
  const id = Number(useParams().id);
  const group = useGroup(id);
  const [params, setParams] = useSearchParams();
  const tab: TabKey = TABS.find((k) => k === params.get("tab")) ?? "members";
  const contact = Number(params.get("contact")) || null;
  const setParam = (name: string, value: string | null) => {
    const next = new URLSearchParams(params);
    if (value === null) next.delete(name);
    else next.set(name, value);
    setParams(next);
  };
  const openContact = (contactId: number | null) => setParam("contact", contactId === null ? null : String(contactId));

  return (
    <div>
      <div>
        <Link to="/groups">
          <ArrowLeftOutlined /> {t("list.title")}
        </Link>
      </div>
      {group.isPending ? (
        <Loading rows={10} />
      ) : group.isError ? (
        <ErrorState error={group.error} onRetry={() => void group.refetch()} />
      ) : (
        <>
          <Space style={{ marginTop: 8 }} align="center" wrap>
            <Typography.Title level={3} style={{ margin: 0 }}>
              {group.data.name || t("list.unnamed")}
            </Typography.Title>
            <StatusTag status={group.data.status} />
            {group.data.status !== "normal" && group.data.status !== "dismissed" && (
              <Tooltip title={t(`statusHint.${group.data.status}`)}>
                <Typography.Text type="secondary" tabIndex={0}>
                  {t("detail.ownerChanging")}
                </Typography.Text>
              </Tooltip>
            )}
          </Space>
          <div style={{ marginTop: 16 }}>
            <Header group={group.data} />
          </div>
          <Card style={{ marginTop: 16 }}>
            <Tabs
              activeKey={tab}
              onChange={(key) => setParam("tab", key === "members" ? null : key)}
              items={[
                { key: "members", label: t("tabs.members", { count: group.data.member_count }), children: <MembersTab group={group.data} onOpen={openContact} /> },
                {
                  key: "history",
                  label: t("tabs.history"),
                  children: (
                    <Suspense fallback={<Loading rows={6} />}>
                      <HistoryTab group={group.data} onOpen={openContact} />
                    </Suspense>
                  ),
                },
                {
                  key: "stats",
                  label: t("tabs.stats"),
                  children: (
                    <Suspense fallback={<Loading rows={6} />}>
                      <StatsTab group={group.data} />
                    </Suspense>
                  ),
                },
              ]}
            />
          </Card>
        </>
      )}
      <Suspense fallback={null}>{contact !== null && <ContactDrawer id={contact} onClose={() => openContact(null)} />}</Suspense>
    </div>
  );
}
