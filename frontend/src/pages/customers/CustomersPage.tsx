// Customers (a sales member's "My customers": the API scopes the rows): the filtered, ordered,
// paginated list with its state in the URL, saved segments, bulk tag/untag and export as background
// jobs, and the customer drawer.
import { DownloadOutlined, TagsOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { App, Avatar, Button, Dropdown, Space, Table, Tag, Tooltip, Typography } from "antd";
import type { SorterResult } from "antd/es/table/interface";
import { lazy, Suspense, useCallback, useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";

import { client, data } from "../../api/client";
import { canManage, useSession } from "../../auth";
import { Pager } from "../../components/Pager";
import { EmptyState, ErrorState, Loading, errorMessage } from "../../components/states";
import { dateTime } from "../../lib/format";
import { type ContactRow, type Job, idempotencyKey, keys, useContacts } from "./api";
import { initial, useLabels } from "./controls";
import FilterBar from "./FilterBar";
import {
  type CustomerFilters,
  type ListState,
  type Ordering,
  clearFilters,
  filtersToParams,
  hasActiveFilters,
  readListState,
  replaceFilters,
  withContact,
  withFilters,
  withOrdering,
  withPage,
  withPageSize,
  writeListState,
} from "./filters";
import JobsPanel from "./JobsPanel";
import SegmentsBar from "./SegmentsBar";
import { TIER_COLORS, amount } from "./value";

// Loaded when first opened, so a shared /customers link stays within the first screen's budget.
const BulkTagModal = lazy(() => import("./BulkTagModal"));
const ContactDrawer = lazy(() => import("./ContactDrawer"));

const MAX_TAGS_SHOWN = 4;

/** The list's state lives in the URL. It is also kept in React state, updated at once: the router
 * applies URL changes in a transition, and a second change made before that one rendered (two tags
 * picked quickly) must build on the first, not on the URL as it was. */
function useListState(): [ListState, (next: ListState) => void] {
  const [params, setParams] = useSearchParams();
  const search = params.toString();
  const [state, setState] = useState(() => readListState(search));
  const written = useRef(search);
  // Back/forward, a link or a reload: the URL changed without us, and it wins.
  useEffect(() => {
    if (search !== written.current) {
      written.current = search;
      setState(readListState(search));
    }
  }, [search]);
  const update = useCallback(
    (next: ListState) => {
      setState(next);
      const query = writeListState(next).toString();
      if (query !== written.current) {
        written.current = query;
        setParams(query);
      }
    },
    [setParams],
  );
  return [state, update];
}

function savedJobs(key: string): number[] {
  try {
    const saved: unknown = JSON.parse(sessionStorage.getItem(key) ?? "[]");
    return Array.isArray(saved) ? saved.filter((id): id is number => Number.isInteger(id)) : [];
  } catch {
    return [];
  }
}

/** The jobs started here, kept for the browser tab's session (per user and tenant: someone else
 * logging in in the same tab never sees them), so their progress and download survive a reload or
 * a visit to another page. */
function useJobs(user: number | undefined, tenant: string | undefined): [number[], (update: (jobs: number[]) => number[]) => void] {
  const key = user !== undefined && tenant ? `siyu.customers.jobs.${user}.${tenant}` : null;
  // The list belongs to its key: read again (during render) when the user or tenant changes.
  const [state, setState] = useState(() => ({ key, jobs: key ? savedJobs(key) : [] }));
  if (state.key !== key) setState({ key, jobs: key ? savedJobs(key) : [] });
  const jobs = state.key === key ? state.jobs : [];
  useEffect(() => {
    if (state.key) sessionStorage.setItem(state.key, JSON.stringify(state.jobs));
  }, [state]);
  const update = useCallback(
    (change: (jobs: number[]) => number[]) =>
      setState((current) => ({ key: current.key, jobs: change(current.jobs).slice(0, 10) })),
    [],
  );
  return [jobs, update];
}

/** The columns the list sorts by (the API's orderings without the sign). */
type SortField = "name" | "first_added_at" | "score" | "ltv";
const SORT_FIELDS: readonly string[] = ["name", "first_added_at", "score", "ltv"];

function sortOrder(ordering: Ordering | null, field: SortField) {
  if (ordering === field) return "ascend" as const;
  if (ordering === `-${field}`) return "descend" as const;
  return null;
}

export default function CustomersPage() {
  const { t, i18n } = useTranslation("customers");
  const labels = useLabels();
  const { message } = App.useApp();
  const { me, role } = useSession();
  const [state, setState] = useListState();
  const contacts = useContacts(state);
  const [selected, setSelected] = useState<number[]>([]);
  const [bulk, setBulk] = useState<"tag" | "untag" | null>(null);
  const [jobs, setJobs] = useJobs(me?.id, me?.active_tenant?.slug);
  const filterKey = JSON.stringify(filtersToParams(state.filters));

  // A selection belongs to the filter it was made under.
  useEffect(() => setSelected([]), [filterKey]);

  const setFilters = (patch: Partial<CustomerFilters>) => setState(withFilters(state, patch));
  const openContact = (id: number | null) => setState(withContact(state, id));
  const queryClient = useQueryClient();
  const addJob = (job: Job) => {
    // Its card starts from the job as it was started (queued), so it sees it finish (and refreshes
    // the list then) even when it finishes before the first poll.
    queryClient.setQueryData(keys.job(job.id), job);
    if (job.kind !== "export" && job.status !== "queued" && job.status !== "running") {
      // The same job again (an idempotent retry), already done: its changes are in.
      void queryClient.invalidateQueries({ queryKey: keys.contacts });
    }
    setJobs((current) => [job.id, ...current.filter((id) => id !== job.id)]);
  };

  const exportJob = useMutation({
    mutationFn: () =>
      data(
        client.POST("/api/v1/contacts/export/", {
          params: { header: { "Idempotency-Key": idempotencyKey() } },
          body: filtersToParams(state.filters),
        }),
      ),
    onSuccess: (job) => {
      addJob(job);
      void message.info(t("export.started"));
    },
    onError: (error) => void message.error(errorMessage(error)),
  });

  const rows = contacts.data?.results ?? [];
  const filtered = hasActiveFilters(state.filters);
  const title = role === "sales" ? t("titleMine") : t("title");

  const columns = [
    {
      title: t("column.name"),
      key: "name",
      sorter: true,
      sortOrder: sortOrder(state.ordering, "name"),
      render: (_: unknown, row: ContactRow) => (
        <Space>
          <Avatar size="small" src={row.avatar || undefined} alt="">
            {initial(row.name)}
          </Avatar>
          <Space orientation="vertical" size={0}>
            <Button
              type="link"
              style={{ padding: 0, height: "auto" }}
              onClick={() => openContact(row.id)}
              aria-label={t("column.open", { name: row.name || row.external_userid })}
            >
              {row.name || row.external_userid}
            </Button>
            {row.corp_name && <Typography.Text type="secondary">{row.corp_name}</Typography.Text>}
          </Space>
        </Space>
      ),
    },
    {
      title: t("column.tags"),
      key: "tags",
      render: (_: unknown, row: ContactRow) => (
        <Space size={[0, 4]} wrap>
          {row.tags.slice(0, MAX_TAGS_SHOWN).map((tag) => (
            <Tag key={tag.id}>{tag.name}</Tag>
          ))}
          {row.tags.length > MAX_TAGS_SHOWN && (
            <Tooltip
              title={row.tags.slice(MAX_TAGS_SHOWN).map((tag) => tag.name).join(", ")}
              trigger={["hover", "focus"]}
            >
              <Tag
                tabIndex={0}
                aria-label={t("column.moreTags", {
                  tags: row.tags.slice(MAX_TAGS_SHOWN).map((tag) => tag.name).join(", "),
                })}
              >
                +{row.tags.length - MAX_TAGS_SHOWN}
              </Tag>
            </Tooltip>
          )}
        </Space>
      ),
    },
    {
      title: t("column.staff"),
      key: "staff",
      render: (_: unknown, row: ContactRow) => row.staff.map((s) => s.name || s.userid).join(", ") || "—",
    },
    { title: t("column.stage"), key: "stage", render: (_: unknown, row: ContactRow) => row.stage?.name ?? "—" },
    {
      title: t("column.status"),
      key: "status",
      render: (_: unknown, row: ContactRow) => (
        <Tag color={row.status === "active" ? "green" : "default"}>{labels.status(row.status)}</Tag>
      ),
    },
    {
      title: t("column.tier"),
      key: "tier",
      render: (_: unknown, row: ContactRow) =>
        row.tier ? (
          <Tag color={TIER_COLORS[row.tier]} data-testid="row-tier">
            {t(`tier.${row.tier}`)}
          </Tag>
        ) : (
          <Typography.Text type="secondary" title={t("column.notComputed")}>
            —
          </Typography.Text>
        ),
    },
    {
      title: t("column.score"),
      key: "score",
      sorter: true,
      sortOrder: sortOrder(state.ordering, "score"),
      // The highest first: who is worth a look.
      sortDirections: ["descend" as const, "ascend" as const],
      align: "right" as const,
      render: (_: unknown, row: ContactRow) => (row.score === null || row.score === undefined ? "—" : row.score),
    },
    {
      title: t("column.ltv"),
      key: "ltv",
      sorter: true,
      sortOrder: sortOrder(state.ordering, "ltv"),
      // The highest first: who is worth a look.
      sortDirections: ["descend" as const, "ascend" as const],
      align: "right" as const,
      render: (_: unknown, row: ContactRow) => amount(row.ltv, i18n.language),
    },
    {
      title: t("column.added"),
      key: "first_added_at",
      sorter: true,
      sortOrder: sortOrder(state.ordering, "first_added_at"),
      render: (_: unknown, row: ContactRow) => dateTime(row.first_added_at),
    },
  ];

  // Past the last page (the rows of the page it was on are gone, e.g. untagged away): not "no
  // customers", but the way back.
  const empty =
    state.page > 1 ? (
      <EmptyState description={t("empty.pastEnd")}>
        <Button type="primary" onClick={() => setState(withPage(state, 1))}>
          {t("empty.firstPage")}
        </Button>
      </EmptyState>
    ) : (
      <EmptyState description={filtered ? t("empty.filtered") : t("empty.none")}>
        {filtered && (
          <Button type="primary" onClick={() => setState(clearFilters(state))}>
            {t("filter.clear")}
          </Button>
        )}
      </EmptyState>
    );

  return (
    <div>
      <div style={{ display: "flex", flexWrap: "wrap", gap: 12, justifyContent: "space-between", alignItems: "center" }}>
        <Typography.Title level={3} style={{ margin: 0 }}>
          {title}
        </Typography.Title>
        <SegmentsBar
          filters={state.filters}
          canWrite={canManage(role)}
          onOpen={(filters) => setState(replaceFilters(state, filters))}
        />
      </div>
      <div style={{ marginTop: 16 }}>
        <FilterBar filters={state.filters} onChange={setFilters} />
      </div>
      <div style={{ display: "flex", flexWrap: "wrap", gap: 8, alignItems: "center", marginBottom: 12 }}>
        {/* Sales members may tag and export within their own customers (the API scopes both). */}
        <Dropdown
          trigger={["click"]}
          menu={{
            items: [
              { key: "tag", label: t("bulk.tag") },
              { key: "untag", label: t("bulk.untag") },
            ],
            onClick: ({ key }) => setBulk(key as "tag" | "untag"),
          }}
        >
          <Button icon={<TagsOutlined />}>{t("bulk.button")}</Button>
        </Dropdown>
        <Button icon={<DownloadOutlined />} loading={exportJob.isPending} onClick={() => exportJob.mutate()}>
          {filtered ? t("export.filtered") : t("export.all")}
        </Button>
        {selected.length > 0 && (
          <Space>
            <Typography.Text>{t("selection.count", { count: selected.length })}</Typography.Text>
            <Button type="link" onClick={() => setSelected([])}>
              {t("selection.clear")}
            </Button>
          </Space>
        )}
      </div>
      <JobsPanel
        jobs={jobs}
        onDismiss={(id) => setJobs((current) => current.filter((j) => j !== id))}
        onOpenContact={(id) => openContact(id)}
      />
      {contacts.isPending ? (
        <Loading rows={8} />
      ) : contacts.isError ? (
        // Not the previous rows under the new filters: a 400 names the filter that is wrong.
        <div style={{ textAlign: "center" }} data-testid="list-error">
          <ErrorState error={contacts.error} onRetry={() => void contacts.refetch()} />
          {filtered && <Button onClick={() => setState(clearFilters(state))}>{t("filter.clear")}</Button>}
        </div>
      ) : (
        <>
          <Table<ContactRow>
            rowKey="id"
            aria-label={title}
            columns={columns}
            dataSource={rows}
            loading={contacts.isFetching}
            pagination={false}
            scroll={{ x: 1100 }}
            locale={{ emptyText: empty }}
            rowSelection={{
              selectedRowKeys: selected,
              preserveSelectedRowKeys: true,
              onChange: (keys) => setSelected(keys.map(Number)),
            }}
            onChange={(_pagination, _filters, sorter) => {
              const s = (Array.isArray(sorter) ? sorter[0] : sorter) as SorterResult<ContactRow> | undefined;
              const key = String(s?.columnKey ?? "");
              const field = SORT_FIELDS.includes(key) ? (key as SortField) : undefined;
              const ordering = s?.order && field ? ((s.order === "ascend" ? field : `-${field}`) as Ordering) : null;
              setState(withOrdering(state, ordering));
            }}
          />
          <Pager
            page={state.page}
            hasNext={!!contacts.data?.next}
            onPage={(page) => setState(withPage(state, page))}
            pageSize={state.pageSize}
            onPageSize={(size) => setState(withPageSize(state, size))}
            loading={contacts.isFetching}
          />
        </>
      )}
      <Suspense fallback={null}>
        {bulk !== null && (
          <BulkTagModal
            open
            action={bulk}
            selected={selected}
            filters={state.filters}
            onClose={() => setBulk(null)}
            onStarted={(job) => {
              addJob(job);
              setSelected([]);
            }}
          />
        )}
        {state.contact !== null && <ContactDrawer id={state.contact} onClose={() => openContact(null)} />}
      </Suspense>
    </div>
  );
}
