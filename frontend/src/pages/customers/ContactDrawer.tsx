// One customer: profile, follows (who follows them, remark, channel, when added), tags and stage
// (editable), notes and the timeline. Opened from the list; its id is in the URL (?contact=…).
import { DeleteOutlined, IdcardOutlined } from "@ant-design/icons";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import {
  App,
  Avatar,
  Button,
  Descriptions,
  Drawer,
  Form,
  Input,
  List,
  Popconfirm,
  Select,
  Space,
  Table,
  Tabs,
  Tag,
  Typography,
} from "antd";
import { Suspense, lazy, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useLocation } from "react-router";

import { ApiError, client, data, type Schemas } from "../../api/client";
import { useSession } from "../../auth";
import { actorName } from "../../lib/actor";
import { dateTime } from "../../lib/format";
import { Pager } from "../../components/Pager";
import { EmptyState, ErrorState, Loading, QueryState, errorMessage } from "../../components/states";
import { type ContactDetail, keys, useStages, useTagGroups } from "./api";
import { Field, TagPicker, initial, useLabels } from "./controls";
import ContactTimeline from "./ContactTimeline";
import { actionableFollows, tagsOf } from "./follows";

// The Moments card loads after the drawer's first screen, with the Moments strings.
const MomentsEngagement = lazy(() => import("./MomentsEngagement"));

const NOTES_PAGE = 20;

type Follow = Schemas["Follow"];

/** After a change: the drawer's own data (detail, notes, timeline) and the list rows (tags, stage). */
function useInvalidateContacts() {
  const queryClient = useQueryClient();
  return () => queryClient.invalidateQueries({ queryKey: keys.contacts });
}

function TagsEditor({ contact }: { contact: ContactDetail }) {
  const { t } = useTranslation("customers");
  const { message } = App.useApp();
  const { me, role } = useSession();
  const tagGroups = useTagGroups();
  const invalidate = useInvalidateContacts();
  // WeCom tags follows, and the API changes only the active follows the caller may act on (a sales
  // member its own): the picker shows and edits the tags on those. With none (a lost customer,
  // someone else's), it shows the customer's tags, read-only, and says why.
  const mine = actionableFollows(contact.follows, me, role);
  const active = contact.follows.filter((follow) => follow.status === "active");
  const current = tagsOf(mine.length ? mine : active.length ? active : contact.follows);
  const reason = mine.length ? null : active.length ? t("drawer.tagsNotYours") : t("drawer.tagsNoActive");
  // What the picker shows while changes are on their way (it stays usable: picking a second tag
  // before the first one is saved sends a second change, measured against the first).
  const [pending, setPending] = useState<number[] | null>(null);
  const inFlight = useRef(0);
  const change = useMutation({
    mutationFn: (body: { add: number[]; remove: number[] }) =>
      data(client.POST("/api/v1/contacts/{id}/tags/", { params: { path: { id: contact.id } }, body })),
    onSuccess: (result) => {
      if (result.errors.length) {
        void message.warning(
          t("drawer.tagsPartly", { errors: result.errors.map((e) => `${e.staff ?? ""} ${e.message}`.trim()).join("; ") }),
        );
      } else if (result.changed === 0) {
        // No follow in the caller's scope needed (or took) the change: not a success.
        void message.warning(t("drawer.tagsUnchanged"));
      } else {
        void message.success(t("drawer.tagsSaved"));
      }
    },
    onError: (error) => void message.error(errorMessage(error)),
    onSettled: async () => {
      inFlight.current -= 1;
      if (inFlight.current > 0) return;
      await invalidate();
      setPending(null);
    },
  });
  const shown = pending ?? current;
  return (
    <Field id="contact-tags" label={t("drawer.tags")} width={640}>
      <TagPicker
        id="contact-tags"
        groups={tagGroups.data}
        loading={tagGroups.isPending || change.isPending}
        disabled={reason !== null}
        describedBy={reason ? "contact-tags-reason" : undefined}
        value={shown}
        placeholder={reason ? undefined : t("drawer.noTags")}
        onChange={(next) => {
          const add = next.filter((id) => !shown.includes(id));
          const remove = shown.filter((id) => !next.includes(id));
          if (!add.length && !remove.length) return;
          setPending(next);
          inFlight.current += 1;
          change.mutate({ add, remove });
        }}
      />
      {reason && (
        <Typography.Text type="secondary" id="contact-tags-reason">
          {reason}
        </Typography.Text>
      )}
    </Field>
  );
}

function StageEditor({ contact }: { contact: ContactDetail }) {
  const { t } = useTranslation("customers");
  const { message } = App.useApp();
  const stages = useStages();
  const invalidate = useInvalidateContacts();
  const change = useMutation({
    mutationFn: (stage: number | null) =>
      data(client.POST("/api/v1/contacts/{id}/stage/", { params: { path: { id: String(contact.id) } }, body: { stage } })),
    onSuccess: (row) => void message.success(row.stage ? t("drawer.stageSet", { stage: row.stage.name }) : t("drawer.stageCleared")),
    onError: (error) => void message.error(errorMessage(error)),
    onSettled: () => invalidate(),
  });
  return (
    <Field id="contact-stage" label={t("drawer.stage")} width={240}>
      <Select
        id="contact-stage"
        allowClear
        placeholder={t("drawer.noStage")}
        loading={stages.isPending || change.isPending}
        disabled={change.isPending}
        options={(stages.data ?? []).map((stage) => ({ value: stage.id, label: stage.name }))}
        value={contact.stage?.id ?? null}
        onChange={(stage) => change.mutate(stage ?? null)}
        notFoundContent={t("drawer.noStages")}
      />
    </Field>
  );
}

function Profile({ contact }: { contact: ContactDetail }) {
  const { t } = useTranslation("customers");
  const labels = useLabels();
  return (
    <Descriptions
      size="small"
      column={2}
      items={[
        { key: "type", label: t("profile.type"), children: labels.contactType(contact.type) },
        { key: "gender", label: t("profile.gender"), children: labels.gender(contact.gender) },
        { key: "corp", label: t("profile.corp"), children: contact.corp_full_name || contact.corp_name || "—" },
        { key: "position", label: t("profile.position"), children: contact.position || "—" },
        { key: "added", label: t("profile.firstAdded"), children: dateTime(contact.first_added_at) },
        { key: "status", label: t("profile.status"), children: labels.status(contact.status) },
        {
          key: "external",
          label: t("profile.externalUserid"),
          span: 2,
          children: <Typography.Text copyable>{contact.external_userid}</Typography.Text>,
        },
        ...(contact.unionid
          ? [{ key: "unionid", label: "UnionID", span: 2, children: <Typography.Text copyable>{contact.unionid}</Typography.Text> }]
          : []),
      ]}
    />
  );
}

function Follows({ follows }: { follows: Follow[] }) {
  const { t } = useTranslation("customers");
  const labels = useLabels();
  return (
    <Table<Follow>
      size="small"
      rowKey={(follow) => `${follow.staff.userid}-${follow.added_at}`}
      dataSource={follows}
      pagination={false}
      locale={{ emptyText: <EmptyState description={t("drawer.noFollows")} /> }}
      scroll={{ x: true }}
      columns={[
        { title: t("follow.staff"), key: "staff", render: (_, f) => f.staff.name || f.staff.userid },
        {
          title: t("follow.remark"),
          key: "remark",
          render: (_, f) => (
            <Space orientation="vertical" size={0}>
              <span>{f.remark || "—"}</span>
              {f.description && <Typography.Text type="secondary">{f.description}</Typography.Text>}
              {f.remark_mobiles.length > 0 && <Typography.Text type="secondary">{f.remark_mobiles.join(", ")}</Typography.Text>}
            </Space>
          ),
        },
        {
          title: t("follow.channel"),
          key: "channel",
          render: (_, f) => (
            <Space orientation="vertical" size={0}>
              <span>{f.state || "—"}</span>
              <Typography.Text type="secondary">{labels.addWay(f.add_way)}</Typography.Text>
            </Space>
          ),
        },
        { title: t("follow.added"), key: "added", render: (_, f) => dateTime(f.added_at) },
        {
          title: t("follow.status"),
          key: "status",
          render: (_, f) => (
            <Space orientation="vertical" size={0}>
              <Tag color={f.status === "active" ? "green" : "default"}>{labels.followStatus(f.status)}</Tag>
              {f.ended_at && <Typography.Text type="secondary">{dateTime(f.ended_at)}</Typography.Text>}
            </Space>
          ),
        },
      ]}
    />
  );
}

type ContactGroup = ContactDetail["groups"][number];

/** The groups the customer is in, or was in (newest stay first), each linking to its group. */
function Groups({ groups }: { groups: ContactGroup[] }) {
  const { t } = useTranslation("customers");
  return (
    <Table<ContactGroup>
      size="small"
      rowKey={(g) => `${g.id}-${g.joined_at ?? ""}`}
      dataSource={groups}
      pagination={groups.length > 10 ? { pageSize: 10, showSizeChanger: false } : false}
      locale={{ emptyText: <EmptyState description={t("groups.none")} /> }}
      scroll={{ x: true }}
      data-testid="contact-groups"
      columns={[
        { title: t("groups.name"), key: "name", render: (_, g) => <Link to={`/groups/${g.id}`}>{g.name || `#${g.id}`}</Link> },
        { title: t("groups.owner"), key: "owner", render: (_, g) => g.owner_name || "—" },
        { title: t("groups.joined"), key: "joined", render: (_, g) => dateTime(g.joined_at) },
        {
          title: t("groups.status"),
          key: "left",
          render: (_, g) =>
            g.group_status === "dismissed" && !g.left_at ? (
              <Tag>{t("groups.dismissed")}</Tag>
            ) : g.left_at ? (
              <Space orientation="vertical" size={0}>
                <Tag>{t("groups.left")}</Tag>
                <Typography.Text type="secondary">{dateTime(g.left_at)}</Typography.Text>
              </Space>
            ) : (
              <Tag color="green">{t("groups.in")}</Tag>
            ),
        },
      ]}
    />
  );
}

function Notes({ contactId }: { contactId: number }) {
  const { t } = useTranslation("customers");
  const { message } = App.useApp();
  const { me, role } = useSession();
  const [page, setPage] = useState(1);
  const [form] = Form.useForm<{ content: string }>();
  const invalidate = useInvalidateContacts();
  const notes = useQuery({
    queryKey: keys.notes(contactId, page),
    queryFn: () =>
      data(
        client.GET("/api/v1/contacts/{id}/notes/", {
          params: { path: { id: String(contactId) }, query: { page, page_size: NOTES_PAGE } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const add = useMutation({
    mutationFn: (content: string) =>
      data(client.POST("/api/v1/contacts/{id}/notes/", { params: { path: { id: String(contactId) } }, body: { content } })),
    onSuccess: () => {
      form.resetFields();
      setPage(1);
      void message.success(t("notes.added"));
    },
    onError: (error) => {
      const fields = error instanceof ApiError ? error.fieldErrors() : {};
      if (fields.content) form.setFields([{ name: "content", errors: [fields.content] }]);
      else void message.error(errorMessage(error));
    },
    onSettled: () => invalidate(),
  });
  const remove = useMutation({
    mutationFn: (id: number) => data(client.DELETE("/api/v1/notes/{id}/", { params: { path: { id: String(id) } } })),
    onSuccess: () => void message.success(t("notes.deleted")),
    onError: (error) => void message.error(errorMessage(error)),
    onSettled: () => invalidate(),
  });

  return (
    <div>
      <Form form={form} layout="vertical" onFinish={(values) => add.mutate(values.content.trim())}>
        <Form.Item
          name="content"
          label={t("notes.new")}
          rules={[{ required: true, whitespace: true, message: t("notes.required") }]}
        >
          <Input.TextArea rows={3} maxLength={4000} showCount placeholder={t("notes.placeholder")} />
        </Form.Item>
        <Button type="primary" htmlType="submit" loading={add.isPending}>
          {t("notes.add")}
        </Button>
      </Form>
      <div style={{ marginTop: 16 }}>
        <QueryState query={notes} isEmpty={(d) => d.results.length === 0} empty={<EmptyState description={t("notes.empty")} />}>
          {(d) => (
            <>
              <List
                dataSource={d.results}
                renderItem={(note) => {
                  const mine = note.author?.type === "member" && note.author.id === me?.id;
                  return (
                    <List.Item
                      actions={
                        mine || role === "admin"
                          ? [
                              <Popconfirm
                                key="delete"
                                title={t("notes.deleteConfirm")}
                                okText={t("common:action.delete")}
                                okButtonProps={{ danger: true }}
                                cancelText={t("common:action.cancel")}
                                onConfirm={() => remove.mutateAsync(note.id).catch(() => undefined)}
                              >
                                <Button size="small" type="text" danger icon={<DeleteOutlined />} aria-label={t("notes.delete")} />
                              </Popconfirm>,
                            ]
                          : []
                      }
                    >
                      <List.Item.Meta
                        title={
                          <Space>
                            <span>{actorName(note.author, t) ?? t("notes.unknownAuthor")}</span>
                            <Typography.Text type="secondary">{dateTime(note.created_at)}</Typography.Text>
                          </Space>
                        }
                        description={<span style={{ whiteSpace: "pre-wrap", color: "inherit" }}>{note.content}</span>}
                      />
                    </List.Item>
                  );
                }}
              />
              {(page > 1 || d.next) && <Pager page={page} hasNext={!!d.next} onPage={setPage} loading={notes.isFetching} />}
            </>
          )}
        </QueryState>
      </div>
    </div>
  );
}

export default function ContactDrawer({ id, onClose }: { id: number | null; onClose: () => void }) {
  const { t } = useTranslation("customers");
  const labels = useLabels();
  const [tab, setTab] = useState("follows");
  const location = useLocation();
  const detail = useQuery({
    queryKey: keys.detail(id ?? 0),
    queryFn: () =>
      data(client.GET("/api/v1/contacts/{id}/", { params: { path: { id: String(id) } } })) as Promise<ContactDetail>,
    enabled: id !== null,
  });
  const contact = detail.data;

  return (
    <Drawer
      open={id !== null}
      onClose={onClose}
      size={760}
      destroyOnHidden
      title={
        contact ? (
          <Space>
            <Avatar src={contact.avatar || undefined} alt="">
              {initial(contact.name)}
            </Avatar>
            <span>{contact.name || contact.external_userid}</span>
            <Tag color={contact.status === "active" ? "green" : "default"}>{labels.status(contact.status)}</Tag>
          </Space>
        ) : (
          t("drawer.title")
        )
      }
      aria-label={contact ? contact.name : t("drawer.title")}
      afterOpenChange={(open) => !open && setTab("follows")}
      extra={
        id !== null && (
          // The page's back link returns to this list, with its filters.
          <Link to={`/customers/${id}`} state={{ back: `${location.pathname}${location.search}` }} data-testid="open-profile">
            <IdcardOutlined /> {t("drawer.openProfile")}
          </Link>
        )
      }
    >
      {detail.isPending ? (
        <Loading rows={8} />
      ) : detail.isError ? (
        <ErrorState error={detail.error} onRetry={() => void detail.refetch()} />
      ) : contact ? (
        // Keyed by the customer: another one (?contact= changed) starts on page 1 of its notes and
        // timeline, with no pending tag change of the previous one.
        <Space key={contact.id} orientation="vertical" size="large" style={{ width: "100%" }}>
          <Profile contact={contact} />
          <Space wrap align="start" size="large">
            <TagsEditor contact={contact} />
            <StageEditor contact={contact} />
          </Space>
          <Suspense fallback={<Loading rows={2} />}>
            <MomentsEngagement contactId={contact.id} />
          </Suspense>
          <Tabs
            activeKey={tab}
            onChange={setTab}
            items={[
              {
                key: "follows",
                label: t("drawer.follows", { count: contact.follows.length }),
                children: <Follows follows={contact.follows} />,
              },
              {
                key: "groups",
                label: t("drawer.groups", { count: (contact.groups ?? []).filter((g) => !g.left_at).length }),
                children: <Groups groups={contact.groups ?? []} />,
              },
              { key: "notes", label: t("drawer.notes"), children: <Notes contactId={contact.id} /> },
              { key: "timeline", label: t("drawer.timeline"), children: <ContactTimeline contactId={contact.id} /> },
            ]}
          />
        </Space>
      ) : null}
    </Drawer>
  );
}
