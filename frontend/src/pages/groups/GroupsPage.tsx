// Customer groups (客户群; a sales member's "My groups": the API scopes the rows): the filtered,
// sorted, paginated list with its state in the URL; for managers, bulk tag / untag, group tags, and
// (admins) transfers to a new owner and "Sync groups" with its progress.
import "./strings";

import { QrcodeOutlined, SwapOutlined, TagsOutlined } from "@ant-design/icons";
import { App, Button, Dropdown, Space, Table, Typography } from "antd";
import type { SorterResult } from "antd/es/table/interface";
import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useSearchParams } from "react-router";

import { canManage, useSession } from "../../auth";
import { Pager } from "../../components/Pager";
import { EmptyState, ErrorState, Loading } from "../../components/states";
import { dateTime } from "../../lib/format";
import { type Group, useGroups } from "./api";
import { Owner, StatusTag, TagChips } from "./bits";
import FilterBar from "./FilterBar";
import { SyncGroupsButton, SyncLine, useGroupSync } from "./GroupSync";
import {
  EMPTY_FILTERS,
  type GroupFilters,
  type GroupListState,
  hasFilters,
  orderingFrom,
  readGroupList,
  sortOrderOf,
  withFilters,
  withOrdering,
  withPage,
  withPageSize,
  writeGroupList,
} from "./params";

// Dialogs load when first opened, so the list's first screen stays small.
const TagsModal = lazy(() => import("./TagsModal"));
const BulkModals = {
  BulkTagModal: lazy(() => import("./BulkModals").then((m) => ({ default: m.BulkTagModal }))),
  TransferModal: lazy(() => import("./BulkModals").then((m) => ({ default: m.TransferModal }))),
};

/** The list's state lives in the URL; kept in React state too, updated at once (see CustomersPage). */
function useListState(): [GroupListState, (next: GroupListState) => void] {
  const [params, setParams] = useSearchParams();
  const search = params.toString();
  const [state, setState] = useState(() => readGroupList(search));
  const written = useRef(search);
  useEffect(() => {
    if (search !== written.current) {
      written.current = search;
      setState(readGroupList(search));
    }
  }, [search]);
  const update = useCallback(
    (next: GroupListState) => {
      setState(next);
      const query = writeGroupList(next).toString();
      if (query !== written.current) {
        written.current = query;
        setParams(query);
      }
    },
    [setParams],
  );
  return [state, update];
}

type Dialog = { kind: "tags" } | { kind: "tag" | "untag" } | { kind: "transfer" } | null;

export default function GroupsPage() {
  const { t } = useTranslation("groups");
  const { role } = useSession();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const isAdmin = role === "admin";
  const manager = canManage(role);
  const [state, setState] = useListState();
  const groups = useGroups(state);
  const { latest, start } = useGroupSync();
  // Selected rows (kept across pages: the bulk actions need their names and owners).
  const [selected, setSelected] = useState<Map<number, Group>>(() => new Map());
  const [dialog, setDialog] = useState<Dialog>(null);
  const filterKey = JSON.stringify(state.filters);
  useEffect(() => setSelected(new Map()), [filterKey]);

  const rows = groups.data?.results ?? [];
  const ownerNames = useMemo(() => {
    const names = new Map<number, string>();
    for (const row of rows) if (row.owner) names.set(row.owner.id, row.owner.name || row.owner.userid);
    return names;
  }, [rows]);
  const setFilters = (patch: Partial<GroupFilters>) => setState(withFilters(state, patch));
  const filtered = hasFilters(state.filters);
  const title = role === "sales" ? t("list.titleMine") : t("list.title");
  const run = latest.data;

  const columns = [
    {
      key: "name",
      title: t("list.name"),
      sorter: true,
      sortOrder: sortOrderOf(state.ordering, "name"),
      render: (_: unknown, group: Group) => (
        <Space orientation="vertical" size={0}>
          <Link to={`/groups/${group.id}`}>
            <Typography.Text strong>{group.name || t("list.unnamed")}</Typography.Text>
          </Link>
          {group.notice && (
            <Typography.Text type="secondary" ellipsis={{ tooltip: group.notice }} style={{ maxWidth: 280, fontSize: 12 }}>
              {group.notice}
            </Typography.Text>
          )}
        </Space>
      ),
    },
    { key: "owner", title: t("list.owner"), render: (_: unknown, group: Group) => <Owner owner={group.owner} /> },
    {
      key: "members",
      title: t("list.members"),
      sorter: true,
      sortOrder: sortOrderOf(state.ordering, "members"),
      align: "right" as const,
      render: (_: unknown, group: Group) => (
        <span data-testid="member-count">
          {group.member_count}
          <Typography.Text type="secondary"> / {t("list.customers", { count: group.customer_count })}</Typography.Text>
        </span>
      ),
    },
    { key: "status", title: t("list.status"), render: (_: unknown, group: Group) => <StatusTag status={group.status} /> },
    { key: "tags", title: t("list.tags"), render: (_: unknown, group: Group) => <TagChips tags={group.tags} /> },
    {
      key: "created",
      title: t("list.created"),
      sorter: true,
      sortOrder: sortOrderOf(state.ordering, "created"),
      render: (_: unknown, group: Group) => dateTime(group.wecom_created_at),
    },
  ];

  const neverSynced = run === null && !filtered && state.page === 1;
  const empty =
    state.page > 1 ? (
      <EmptyState description={t("list.pastEnd")}>
        <Button type="primary" onClick={() => setState(withPage(state, 1))}>
          {t("list.firstPage")}
        </Button>
      </EmptyState>
    ) : filtered ? (
      <EmptyState description={t("list.noMatch")}>
        <Button type="primary" onClick={() => setFilters(EMPTY_FILTERS)}>
          {t("filter.clear")}
        </Button>
      </EmptyState>
    ) : (
      <EmptyState description={<span data-testid="groups-empty">{neverSynced ? t("list.neverSynced") : role === "sales" ? t("list.noneMine") : t("list.none")}</span>}>
        {(isAdmin || neverSynced) && (
          <Typography.Paragraph type="secondary" style={{ maxWidth: 520, margin: "0 auto 12px" }}>
            {isAdmin ? t("list.syncHint") : t("list.askAdmin")}
          </Typography.Paragraph>
        )}
        {isAdmin && <SyncGroupsButton primary run={run} pending={start.isPending} onSync={() => start.mutate()} />}
      </EmptyState>
    );

  const chosen = [...selected.values()];
  const clearSelection = () => setSelected(new Map());

  return (
    <div>
      <div style={{ display: "flex", flexWrap: "wrap", gap: 12, justifyContent: "space-between", alignItems: "center" }}>
        <Typography.Title level={3} style={{ margin: 0 }}>
          {title}
        </Typography.Title>
        <Space wrap>
          {manager && (
            <>
              <Button icon={<QrcodeOutlined />} onClick={() => navigate("/groups/codes")}>
                {t("codes.nav")}
              </Button>
              <Button icon={<TagsOutlined />} onClick={() => setDialog({ kind: "tags" })}>
                {t("tags.manage")}
              </Button>
            </>
          )}
          {isAdmin && <SyncGroupsButton run={run} pending={start.isPending} onSync={() => start.mutate()} />}
        </Space>
      </div>
      <Typography.Paragraph type="secondary" style={{ marginTop: 8 }}>
        {role === "sales" ? t("list.introMine") : t("list.intro")}
      </Typography.Paragraph>
      <SyncLine run={run} isAdmin={isAdmin} />
      <FilterBar filters={state.filters} onChange={setFilters} showOwner={role !== "sales"} ownerNames={ownerNames} />
      {manager && (
        <div style={{ display: "flex", flexWrap: "wrap", gap: 8, alignItems: "center", marginBottom: 12 }}>
          <Dropdown
            trigger={["click"]}
            disabled={!chosen.length}
            menu={{
              items: [
                { key: "tag", label: t("bulk.tag") },
                { key: "untag", label: t("bulk.untag") },
              ],
              onClick: ({ key }) => setDialog({ kind: key as "tag" | "untag" }),
            }}
          >
            <Button icon={<TagsOutlined />} disabled={!chosen.length}>
              {t("bulk.button")}
            </Button>
          </Dropdown>
          {isAdmin && (
            <Button icon={<SwapOutlined />} disabled={!chosen.length} onClick={() => setDialog({ kind: "transfer" })}>
              {t("transfer.button")}
            </Button>
          )}
          <Typography.Text type="secondary">
            {chosen.length ? t("selection.count", { count: chosen.length }) : t("selection.hint")}
          </Typography.Text>
          {chosen.length > 0 && (
            <Button type="link" onClick={clearSelection}>
              {t("selection.clear")}
            </Button>
          )}
        </div>
      )}
      {groups.isPending || latest.isPending ? (
        <Loading rows={8} />
      ) : groups.isError ? (
        <div style={{ textAlign: "center" }} data-testid="list-error">
          <ErrorState error={groups.error} onRetry={() => void groups.refetch()} />
          {filtered && <Button onClick={() => setFilters(EMPTY_FILTERS)}>{t("filter.clear")}</Button>}
        </div>
      ) : (
        <>
          <Table<Group>
            rowKey="id"
            aria-label={title}
            columns={columns}
            dataSource={rows}
            loading={groups.isFetching}
            pagination={false}
            scroll={{ x: 960 }}
            locale={{ emptyText: empty }}
            rowSelection={
              manager
                ? {
                    selectedRowKeys: [...selected.keys()],
                    preserveSelectedRowKeys: true,
                    getCheckboxProps: (group) => ({ "aria-label": t("selection.select", { name: group.name || group.chat_id }) }),
                    onChange: (_keys, picked) =>
                      setSelected((current) => {
                        const next = new Map<number, Group>();
                        // Rows of other pages stay chosen: antd gives only this page's rows back.
                        for (const [id, group] of current) if (!rows.some((r) => r.id === id)) next.set(id, group);
                        for (const group of picked) if (group) next.set(group.id, group);
                        return next;
                      }),
                  }
                : undefined
            }
            onChange={(_p, _f, sorter) => {
              const s = (Array.isArray(sorter) ? sorter[0] : sorter) as SorterResult<Group> | undefined;
              setState(withOrdering(state, orderingFrom(s?.columnKey as string | undefined, s?.order)));
            }}
          />
          {(state.page > 1 || groups.data.next) && (
            <Pager
              page={state.page}
              hasNext={!!groups.data.next}
              onPage={(page) => setState(withPage(state, page))}
              pageSize={state.pageSize}
              onPageSize={(size) => setState(withPageSize(state, size))}
              loading={groups.isFetching}
            />
          )}
        </>
      )}
      <Suspense fallback={null}>
        {dialog?.kind === "tags" && <TagsModal onClose={() => setDialog(null)} />}
        {(dialog?.kind === "tag" || dialog?.kind === "untag") && (
          <BulkModals.BulkTagModal
            action={dialog.kind}
            groups={chosen}
            onClose={() => setDialog(null)}
            onDone={() => {
              setDialog(null);
              clearSelection();
            }}
          />
        )}
        {dialog?.kind === "transfer" && (
          <BulkModals.TransferModal
            groups={chosen}
            onClose={() => setDialog(null)}
            onStarted={() => {
              clearSelection();
              void message.info(t("transfer.started"));
            }}
          />
        )}
      </Suspense>
    </div>
  );
}
