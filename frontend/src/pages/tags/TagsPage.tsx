// Tags: the corp's tag groups and tags. Every change is made in WeCom first (the API calls
// add/edit/del_corp_tag) and each item shows its WeCom id and whether it is in sync with WeCom.
// WeCom lets an app rename, reorder and delete only the tags it created: the others (`editable:
// false`, made in the admin console) are shown read-only, with their actions disabled and why.
import {
  ArrowDownOutlined,
  ArrowUpOutlined,
  CheckCircleOutlined,
  DeleteOutlined,
  EditOutlined,
  LockOutlined,
  PlusOutlined,
  ReloadOutlined,
} from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { App, Button, Card, Space, Switch, Table, Tag as AntTag, Tooltip, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

import { canManage, useSession } from "../../auth";
import { EmptyState, errorMessage, QueryState } from "../../components/states";
import { api, keys, type Tag, type TagGroup, useTagGroups } from "./api";
import { CreateGroupDialog, NameDialog } from "./dialogs";
import { byWeComOrder, type Ordered, planMove } from "./order";
import { RefusalNote, type WeComRefusal, wecomRefusal } from "./wecom";
import { dateTime } from "../../lib/format";

type ItemKey = `group:${number}` | `tag:${number}`;

/** A write to WeCom: what it changes, and what to say when WeCom accepted it. */
interface Write {
  item: ItemKey | null;
  run: () => Promise<unknown>;
  done: string;
  /** Deletes take tags off customers: their lists and the overview's numbers change too. */
  touchesCustomers?: boolean;
  /** The caller shows the error itself (a dialog); otherwise a message says it. */
  inline?: boolean;
}

type Dialog =
  | { kind: "create" }
  | { kind: "renameGroup"; group: TagGroup }
  | { kind: "addTag"; group: TagGroup }
  | { kind: "renameTag"; tag: Tag }
  | null;

type Direction = "up" | "down";

const moveId = (item: ItemKey, direction: Direction) => `${item.replace(":", "-")}-${direction}`;

function useTagWrites() {
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  // WeCom's last refusal per item, shown in its sync state until a change to it succeeds.
  const [refusals, setRefusals] = useState<Partial<Record<ItemKey, WeComRefusal>>>({});
  const setRefusal = (item: ItemKey, refusal: WeComRefusal | null) =>
    setRefusals((current) => {
      const next = { ...current };
      if (refusal) next[item] = refusal;
      else delete next[item];
      return next;
    });

  const mutation = useMutation({
    mutationFn: (write: Write) => write.run(),
    onSuccess: (_result, write) => {
      if (write.item) setRefusal(write.item, null);
      void message.success(write.done);
    },
    onError: (error, write) => {
      const refusal = wecomRefusal(error);
      if (write.item && refusal) setRefusal(write.item, refusal);
      if (!write.inline) void message.error(errorMessage(error));
    },
    // Also after a refusal: WeCom may know something this page does not (a tag deleted there).
    onSettled: async (_result, _error, write) => {
      const stale = [keys.tagGroups, ...(write.touchesCustomers ? [keys.contacts, keys.overview] : [])];
      await Promise.all(stale.map((queryKey) => queryClient.invalidateQueries({ queryKey })));
    },
  });
  return { mutation, refusals, dismiss: (item: ItemKey) => setRefusal(item, null) };
}

function SyncState({
  item,
  deleted,
  syncedAt,
  refusal,
  onDismiss,
}: {
  item: ItemKey;
  deleted: boolean;
  syncedAt: string;
  refusal?: WeComRefusal;
  onDismiss: (item: ItemKey) => void;
}) {
  const { t } = useTranslation("tags");
  if (deleted) return <AntTag>{t("sync.deleted")}</AntTag>;
  if (refusal) return <RefusalNote refusal={refusal} onDismiss={() => onDismiss(item)} />;
  const confirmed = t("sync.confirmedAt", { time: dateTime(syncedAt) });
  return (
    <Tooltip title={confirmed}>
      <AntTag color="success" icon={<CheckCircleOutlined />} tabIndex={0} aria-label={`${t("sync.inSync")} · ${confirmed}`}>
        {t("sync.inSync")}
      </AntTag>
    </Tooltip>
  );
}

function ReadOnlyBadge({ name }: { name: string }) {
  const { t } = useTranslation("tags");
  return (
    <Tooltip title={t("readOnly.tooltip")}>
      <AntTag icon={<LockOutlined />} tabIndex={0} aria-label={`${name}: ${t("readOnly.badge")}. ${t("readOnly.tooltip")}`}>
        {t("readOnly.badge")}
      </AntTag>
    </Tooltip>
  );
}

type Editable = Ordered & { editable: boolean };

/** The move, changing the order of none but the items WeCom lets this app edit (empty: impossible). */
function planEditableMove(items: readonly Editable[], index: number, delta: -1 | 1): Ordered[] {
  const editable = new Map(items.map((item) => [item.id, item.editable]));
  return planMove(items, index, delta, (id) => editable.get(id) === true);
}

const movable = (items: readonly Editable[], index: number, delta: -1 | 1) =>
  planEditableMove(items, index, delta).length > 0;

function WeComId({ id }: { id: string }) {
  const { t } = useTranslation("tags");
  return (
    <Typography.Text code copyable={{ text: id }} style={{ fontSize: 12 }} aria-label={`${t("wecomId")} ${id}`}>
      {id}
    </Typography.Text>
  );
}

function MoveButtons({
  item,
  labels,
  first,
  last,
  blocked,
  busy,
  onMove,
}: {
  item: ItemKey;
  labels: { up: string; down: string };
  first: boolean;
  last: boolean;
  /** The move would reorder an item this app may not edit in WeCom. */
  blocked: { up: boolean; down: boolean };
  busy: boolean;
  onMove: (direction: Direction) => void;
}) {
  const { t } = useTranslation("tags");
  const hint = (direction: Direction) => (!(direction === "up" ? first : last) && blocked[direction] ? t("readOnly.moveBlocked") : labels[direction]);
  return (
    <Space.Compact>
      <Tooltip title={hint("up")}>
        <Button
          size="small"
          icon={<ArrowUpOutlined />}
          aria-label={labels.up}
          data-move={moveId(item, "up")}
          disabled={first || blocked.up || busy}
          onClick={() => onMove("up")}
        />
      </Tooltip>
      <Tooltip title={hint("down")}>
        <Button
          size="small"
          icon={<ArrowDownOutlined />}
          aria-label={labels.down}
          data-move={moveId(item, "down")}
          disabled={last || blocked.down || busy}
          onClick={() => onMove("down")}
        />
      </Tooltip>
    </Space.Compact>
  );
}

interface Actions {
  busy: boolean;
  manage: boolean;
  refusals: Partial<Record<ItemKey, WeComRefusal>>;
  dismiss: (item: ItemKey) => void;
  moveGroup: (group: TagGroup, direction: Direction) => void;
  moveTag: (group: TagGroup, tag: Tag, direction: Direction) => void;
  openDialog: (dialog: Dialog) => void;
  deleteGroup: (group: TagGroup) => void;
  deleteTag: (group: TagGroup, tag: Tag) => void;
}

function TagTable({ group, actions }: { group: TagGroup; actions: Actions }) {
  const { t } = useTranslation("tags");
  const live = group.tags.filter((tag) => !tag.deleted);
  const columns: ColumnsType<Tag> = [
    {
      key: "name",
      title: t("column.name"),
      width: "24%",
      render: (_, tag) => (
        <Space size={4} wrap>
          <Typography.Text delete={tag.deleted}>{tag.name}</Typography.Text>
          {!tag.editable && !tag.deleted && <ReadOnlyBadge name={tag.name} />}
        </Space>
      ),
    },
    { key: "wecomId", title: t("column.wecomId"), width: "32%", render: (_, tag) => <WeComId id={tag.wecom_id} /> },
    {
      key: "sync",
      title: t("column.sync"),
      render: (_, tag) => (
        <SyncState
          item={`tag:${tag.id}`}
          deleted={tag.deleted}
          syncedAt={tag.synced_at}
          refusal={actions.refusals[`tag:${tag.id}`]}
          onDismiss={actions.dismiss}
        />
      ),
    },
  ];
  if (actions.manage) {
    columns.push(
      {
        key: "order",
        title: t("column.order"),
        width: 90,
        render: (_, tag) => {
          if (tag.deleted || group.deleted) return null;
          const ordered = byWeComOrder(live);
          const index = ordered.findIndex((other) => other.id === tag.id);
          return (
            <MoveButtons
              item={`tag:${tag.id}`}
              labels={{ up: t("tag.moveUp", { name: tag.name }), down: t("tag.moveDown", { name: tag.name }) }}
              first={index === 0}
              last={index === live.length - 1}
              blocked={{ up: !movable(ordered, index, -1), down: !movable(ordered, index, 1) }}
              busy={actions.busy}
              onMove={(direction) => actions.moveTag(group, tag, direction)}
            />
          );
        },
      },
      {
        key: "actions",
        title: t("column.actions"),
        width: 190,
        render: (_, tag) =>
          tag.deleted || group.deleted ? null : (
            <Space size={4}>
              <Tooltip title={tag.editable ? undefined : t("readOnly.tooltip")}>
                <Button
                  size="small"
                  type="link"
                  icon={<EditOutlined />}
                  aria-label={t("tag.renameLabel", { name: tag.name })}
                  disabled={!tag.editable}
                  onClick={() => actions.openDialog({ kind: "renameTag", tag })}
                >
                  {t("tag.rename")}
                </Button>
              </Tooltip>
              <Tooltip title={tag.editable ? undefined : t("readOnly.tooltip")}>
                <Button
                  size="small"
                  type="link"
                  danger
                  icon={<DeleteOutlined />}
                  aria-label={t("tag.deleteLabel", { name: tag.name })}
                  disabled={!tag.editable}
                  onClick={() => actions.deleteTag(group, tag)}
                >
                  {t("tag.delete")}
                </Button>
              </Tooltip>
            </Space>
          ),
      },
    );
  }
  return (
    <Table<Tag>
      size="small"
      rowKey="id"
      columns={columns}
      dataSource={group.tags}
      pagination={false}
      locale={{ emptyText: t("group.noTags") }}
      // The same column widths in every group's table, so the cards line up.
      tableLayout="fixed"
      scroll={{ x: 900 }}
    />
  );
}

function GroupCard({
  group,
  index,
  count,
  blocked,
  actions,
}: {
  group: TagGroup;
  /** Its place among the live groups (-1 when deleted). */
  index: number;
  count: number;
  blocked: { up: boolean; down: boolean };
  actions: Actions;
}) {
  const { t } = useTranslation("tags");
  const item: ItemKey = `group:${group.id}`;
  const liveTags = group.tags.filter((tag) => !tag.deleted).length;
  const manageable = actions.manage && !group.deleted;
  // Deleting a group deletes its tags: WeCom refuses unless the app made the group and each of them.
  const undeletable = !group.editable
    ? t("readOnly.tooltip")
    : group.tags.some((tag) => !tag.deleted && !tag.editable)
      ? t("readOnly.groupHolds")
      : undefined;
  const title = (
    <Space wrap>
      <Typography.Text strong delete={group.deleted}>
        {group.name}
      </Typography.Text>
      {!group.editable && !group.deleted && <ReadOnlyBadge name={group.name} />}
      <Typography.Text type="secondary">{t("tagCount", { count: liveTags })}</Typography.Text>
    </Space>
  );
  const extra = manageable ? (
    <Space wrap>
      <MoveButtons
        item={item}
        labels={{ up: t("group.moveUp", { name: group.name }), down: t("group.moveDown", { name: group.name }) }}
        first={index === 0}
        last={index === count - 1}
        blocked={blocked}
        busy={actions.busy}
        onMove={(direction) => actions.moveGroup(group, direction)}
      />
      <Button
        size="small"
        icon={<PlusOutlined />}
        aria-label={t("group.addTagLabel", { name: group.name })}
        onClick={() => actions.openDialog({ kind: "addTag", group })}
      >
        {t("group.addTag")}
      </Button>
      <Tooltip title={group.editable ? undefined : t("readOnly.tooltip")}>
        <Button
          size="small"
          icon={<EditOutlined />}
          aria-label={t("group.renameLabel", { name: group.name })}
          disabled={!group.editable}
          onClick={() => actions.openDialog({ kind: "renameGroup", group })}
        >
          {t("group.rename")}
        </Button>
      </Tooltip>
      <Tooltip title={undeletable}>
        <Button
          size="small"
          danger
          icon={<DeleteOutlined />}
          aria-label={t("group.deleteLabel", { name: group.name })}
          disabled={undeletable !== undefined}
          onClick={() => actions.deleteGroup(group)}
        >
          {t("group.delete")}
        </Button>
      </Tooltip>
    </Space>
  ) : null;
  return (
    <section aria-label={group.name} data-testid="tag-group">
      <Card size="small" title={title} extra={extra}>
        <Space wrap size="middle" style={{ marginBottom: 12 }}>
          <Space size={4}>
            <Typography.Text type="secondary">{t("wecomId")}</Typography.Text>
            <WeComId id={group.wecom_id} />
          </Space>
          <SyncState
            item={item}
            deleted={group.deleted}
            syncedAt={group.synced_at}
            refusal={actions.refusals[item]}
            onDismiss={actions.dismiss}
          />
        </Space>
        <TagTable group={group} actions={actions} />
      </Card>
    </section>
  );
}

export default function TagsPage() {
  const { t } = useTranslation("tags");
  const { role } = useSession();
  const { modal } = App.useApp();
  const [withDeleted, setWithDeleted] = useState(false);
  const [dialog, setDialog] = useState<Dialog>(null);
  const groups = useTagGroups(withDeleted);
  const { mutation, refusals, dismiss } = useTagWrites();
  const write = (w: Write) => mutation.mutateAsync(w);
  const busy = mutation.isPending;

  // Keyboard users keep their place: after a move, focus goes back to the button they pressed (or
  // its twin when the item reached an end), wherever the row was re-rendered.
  const refocus = useRef<{ item: ItemKey; direction: Direction } | null>(null);
  useEffect(() => {
    const wanted = refocus.current;
    if (!wanted || busy) return;
    refocus.current = null;
    const other: Direction = wanted.direction === "up" ? "down" : "up";
    for (const direction of [wanted.direction, other]) {
      const button = document.querySelector<HTMLButtonElement>(`[data-move="${moveId(wanted.item, direction)}"]`);
      if (button && !button.disabled) {
        button.focus();
        break;
      }
    }
  }, [groups.data, busy]);

  const move = (item: ItemKey, changes: Ordered[], direction: Direction, run: () => Promise<unknown>) => {
    if (changes.length === 0) return;
    refocus.current = { item, direction };
    write({ item, run, done: t("done.moved") }).catch(() => {});
  };

  const liveGroups = (groups.data ?? []).filter((group) => !group.deleted);

  const actions: Actions = {
    busy,
    manage: canManage(role),
    refusals,
    dismiss,
    openDialog: setDialog,
    moveGroup: (group, direction) => {
      const list = byWeComOrder(liveGroups);
      const changes = planEditableMove(list, list.findIndex((g) => g.id === group.id), direction === "up" ? -1 : 1);
      move(`group:${group.id}`, changes, direction, () => api.reorderGroups(changes));
    },
    moveTag: (group, tag, direction) => {
      const list = byWeComOrder(group.tags.filter((other) => !other.deleted));
      const changes = planEditableMove(list, list.findIndex((other) => other.id === tag.id), direction === "up" ? -1 : 1);
      move(`tag:${tag.id}`, changes, direction, () => api.reorderTags(changes));
    },
    deleteGroup: (group) => {
      const count = group.tags.filter((tag) => !tag.deleted).length;
      modal.confirm({
        title: t("confirm.deleteGroupTitle", { name: group.name }),
        content: t("confirm.deleteGroupBody", { count }),
        okText: t("confirm.ok"),
        okButtonProps: { danger: true },
        cancelText: t("common:action.cancel"),
        onOk: () =>
          write({
            item: `group:${group.id}`,
            run: () => api.deleteGroup(group.id),
            done: t("done.deleted", { name: group.name }),
            touchesCustomers: true,
          }).catch(() => {}),
      });
    },
    deleteTag: (group, tag) => {
      const last = group.tags.filter((other) => !other.deleted).length === 1;
      modal.confirm({
        title: t("confirm.deleteTagTitle", { name: tag.name }),
        content: (
          <>
            <p>{t("confirm.deleteTagBody")}</p>
            {last && <p>{t("confirm.lastTag", { group: group.name })}</p>}
          </>
        ),
        okText: t("confirm.ok"),
        okButtonProps: { danger: true },
        cancelText: t("common:action.cancel"),
        onOk: () =>
          write({
            item: `tag:${tag.id}`,
            run: () => api.deleteTag(tag.id),
            done: t("done.deleted", { name: tag.name }),
            touchesCustomers: true,
          }).catch(() => {}),
      });
    },
  };

  const newGroupButton = actions.manage ? (
    <Button type="primary" icon={<PlusOutlined />} onClick={() => setDialog({ kind: "create" })}>
      {t("newGroup")}
    </Button>
  ) : null;

  return (
    <>
      <Space style={{ width: "100%", justifyContent: "space-between" }} align="start" wrap>
        <Typography.Title level={3}>{t("title")}</Typography.Title>
        <Space wrap>
          <Space size={6}>
            <Switch id="tags-show-deleted" size="small" checked={withDeleted} onChange={setWithDeleted} />
            <label htmlFor="tags-show-deleted">{t("showDeleted")}</label>
          </Space>
          <Button icon={<ReloadOutlined />} loading={groups.isFetching && !groups.isPending} onClick={() => void groups.refetch()}>
            {t("common:action.refresh")}
          </Button>
          {newGroupButton}
        </Space>
      </Space>
      <Typography.Paragraph type="secondary">{t("intro")}</Typography.Paragraph>

      <QueryState
        query={groups}
        isEmpty={(list) => list.length === 0}
        empty={
          <Card>
            <EmptyState description={t("empty")}>
              <Typography.Paragraph type="secondary">{t("emptyHint")}</Typography.Paragraph>
              {newGroupButton}
            </EmptyState>
          </Card>
        }
      >
        {(list) => {
          const ordered = byWeComOrder(list);
          const live = ordered.filter((group) => !group.deleted);
          return (
            <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
              {ordered.map((group) => {
                const index = live.findIndex((other) => other.id === group.id);
                return (
                  <GroupCard
                    key={group.id}
                    group={group}
                    index={index}
                    count={live.length}
                    blocked={{ up: !movable(live, index, -1), down: !movable(live, index, 1) }}
                    actions={actions}
                  />
                );
              })}
            </Space>
          );
        }}
      </QueryState>

      {dialog?.kind === "create" && (
        <CreateGroupDialog
          onClose={() => setDialog(null)}
          onCreate={({ name, tags }) =>
            write({ item: null, run: () => api.createGroup(name, tags), done: t("done.created", { name }), inline: true })
          }
        />
      )}
      {dialog?.kind === "renameGroup" && (
        <NameDialog
          formName="tag-group-rename"
          title={t("form.renameGroupTitle")}
          label={t("form.groupName")}
          initial={dialog.group.name}
          okText={t("form.submitSave")}
          onClose={() => setDialog(null)}
          onSubmit={(name) =>
            write({
              item: `group:${dialog.group.id}`,
              run: () => api.renameGroup(dialog.group.id, name),
              done: t("done.renamed", { name }),
              inline: true,
            })
          }
        />
      )}
      {dialog?.kind === "renameTag" && (
        <NameDialog
          formName="tag-rename"
          title={t("form.renameTagTitle")}
          label={t("form.tagName")}
          initial={dialog.tag.name}
          okText={t("form.submitSave")}
          onClose={() => setDialog(null)}
          onSubmit={(name) =>
            write({
              item: `tag:${dialog.tag.id}`,
              run: () => api.renameTag(dialog.tag.id, name),
              done: t("done.renamed", { name }),
              inline: true,
            })
          }
        />
      )}
      {dialog?.kind === "addTag" && (
        <NameDialog
          formName="tag-add"
          title={t("form.addTagTitle", { group: dialog.group.name })}
          label={t("form.tagName")}
          okText={t("form.submitCreate")}
          onClose={() => setDialog(null)}
          onSubmit={(name) =>
            write({
              item: `group:${dialog.group.id}`,
              run: () => api.addTag(dialog.group.id, name),
              done: t("done.tagAdded", { name }),
              inline: true,
            })
          }
        />
      )}
    </>
  );
}
