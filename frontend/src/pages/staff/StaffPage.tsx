// Staff: the WeCom department tree on the left filters the members' table (customer counts, status,
// customer-contact permission); each member links to the customers it follows.
import { ApartmentOutlined, TeamOutlined } from "@ant-design/icons";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Avatar, Button, Card, Col, Input, Row, Select, Space, Table, Tag, Tooltip, Tree, Typography } from "antd";
import type { ColumnsType, SorterResult } from "antd/es/table/interface";
import type { DataNode } from "antd/es/tree";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";

import { client, data, type Schemas } from "../../api/client";
import { Pager } from "../../components/Pager";
import { EmptyState, ErrorState, Loading } from "../../components/states";
import {
  apiQuery,
  customersOf,
  customersOfDepartment,
  isFiltered,
  type Ordering,
  paramsFromView,
  type StaffStatus,
  type StaffView,
  viewFromParams,
  withFilters,
} from "./params";
import { date } from "../../lib/format";

type Staff = Schemas["Staff"];

/** The API types nested departments loosely; they are department nodes all the way down. */
interface Department {
  id: number;
  wecom_id: number;
  name: string;
  parent_wecom_id: number;
  order: number;
  children: Department[];
}

function useDepartments() {
  return useQuery({
    queryKey: ["departments"],
    queryFn: async () => (await data(client.GET("/api/v1/departments/"))) as unknown as Department[],
    staleTime: 5 * 60_000,
  });
}

function departmentNames(tree: Department[] | undefined): Map<number, string> {
  const names = new Map<number, string>();
  const walk = (nodes: Department[]) =>
    nodes.forEach((node) => {
      names.set(node.wecom_id, node.name);
      walk(node.children ?? []);
    });
  walk(tree ?? []);
  return names;
}

function treeData(nodes: Department[]): DataNode[] {
  return nodes.map((node) => ({ key: node.wecom_id, title: node.name, children: treeData(node.children ?? []) }));
}

function DepartmentTree({ value, onChange }: { value: number | null; onChange: (department: number | null) => void }) {
  const { t } = useTranslation("staff");
  const departments = useDepartments();
  let body;
  if (departments.isPending) body = <Loading rows={6} />;
  else if (departments.isError) body = <ErrorState error={departments.error} onRetry={() => void departments.refetch()} />;
  else if (departments.data.length === 0) body = <EmptyState description={t("noDepartments")} />;
  else {
    body = (
      <Tree
        aria-label={t("departments")}
        showLine
        blockNode
        defaultExpandAll
        treeData={treeData(departments.data)}
        selectedKeys={value !== null ? [value] : []}
        // Clicking the selected department again shows everyone again.
        onSelect={(keys) => onChange(keys.length ? Number(keys[0]) : null)}
      />
    );
  }
  return (
    <Card
      size="small"
      title={
        <Space>
          <ApartmentOutlined />
          {t("departments")}
        </Space>
      }
    >
      <Button
        type={value === null ? "primary" : "text"}
        size="small"
        icon={<TeamOutlined />}
        aria-pressed={value === null}
        onClick={() => onChange(null)}
        style={{ marginBottom: 8 }}
      >
        {t("allStaff")}
      </Button>
      {body}
    </Card>
  );
}

function SearchBox({ value, onSearch }: { value: string; onSearch: (search: string) => void }) {
  const { t } = useTranslation("staff");
  const [text, setText] = useState(value);
  return (
    <Input.Search
      aria-label={t("filter.search")}
      placeholder={t("filter.searchPlaceholder")}
      allowClear
      value={text}
      onChange={(event) => setText(event.target.value)}
      onSearch={(search) => onSearch(search.trim())}
      style={{ width: 260 }}
    />
  );
}

// WeCom's own statuses besides active (1) and left (5): 2 disabled, 4 not activated.
const WECOM_STATUS_KEYS: Partial<Record<number, "status.disabled" | "status.notActivated">> = {
  2: "status.disabled",
  4: "status.notActivated",
};

function StatusTag({ staff }: { staff: Staff }) {
  const { t } = useTranslation("staff");
  const wecomStatus = WECOM_STATUS_KEYS[staff.wecom_status];
  if (staff.is_active && wecomStatus) return <Tag color="warning">{t(wecomStatus)}</Tag>;
  if (staff.is_active) return <Tag color="success">{t("status.active")}</Tag>;
  if (staff.resigned_at) {
    return <Tag>{t("status.resignedAt", { date: date(staff.resigned_at) })}</Tag>;
  }
  return <Tag color="warning">{t("status.inactive")}</Tag>;
}

/** What the app could not read of a member: outside its visible range, or known from a callback only. */
function DirectoryTag({ staff }: { staff: Staff }) {
  const { t } = useTranslation("staff");
  if (staff.directory_status === "listed") return null;
  const [label, hint, color] =
    staff.directory_status === "outside_visible_range"
      ? [t("directory.outside"), t("directory.outsideHint"), "orange"]
      : [t("directory.notRead"), t("directory.notReadHint"), "default"];
  return (
    <Tooltip title={hint}>
      <Tag color={color} tabIndex={0} aria-label={`${label}: ${hint}`} data-testid="directory-status">
        {label}
      </Tag>
    </Tooltip>
  );
}

const SORT_ORDER = { ascend: "", descend: "-" } as const;

function sortOrderOf(ordering: Ordering, field: "name" | "customer_count") {
  if (ordering === field) return "ascend" as const;
  if (ordering === `-${field}`) return "descend" as const;
  return null;
}

export default function StaffPage() {
  const { t } = useTranslation("staff");
  const [params, setParams] = useSearchParams();
  const view = viewFromParams(params);
  const go = (next: StaffView) => setParams(paramsFromView(next));
  const departments = useDepartments();
  const names = useMemo(() => departmentNames(departments.data), [departments.data]);

  const staff = useQuery({
    queryKey: ["staff", "list", apiQuery(view)],
    queryFn: () => data(client.GET("/api/v1/staff/", { params: { query: apiQuery(view) } })),
    placeholderData: keepPreviousData,
  });

  const columns: ColumnsType<Staff> = [
    {
      key: "name",
      dataIndex: "name",
      title: t("column.name"),
      sorter: true,
      sortOrder: sortOrderOf(view.ordering, "name"),
      render: (_, member) => (
        <Space>
          <Avatar size="small" src={member.avatar || undefined}>
            {(member.name || member.userid).slice(0, 1)}
          </Avatar>
          <Space orientation="vertical" size={0}>
            <Space size={4} wrap>
              <span>{member.name || member.userid}</span>
              <DirectoryTag staff={member} />
            </Space>
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {member.userid}
            </Typography.Text>
          </Space>
        </Space>
      ),
    },
    { key: "position", title: t("column.position"), render: (_, member) => member.position || "—" },
    {
      key: "departments",
      title: t("column.departments"),
      render: (_, member) => {
        const ids = Array.isArray(member.department_ids) ? (member.department_ids as number[]) : [];
        return ids.length ? ids.map((id) => names.get(id) ?? t("unknownDepartment", { id })).join("、") : "—";
      },
    },
    { key: "status", title: t("column.status"), render: (_, member) => <StatusTag staff={member} /> },
    {
      key: "permission",
      title: t("column.permission"),
      render: (_, member) =>
        member.has_contact_permission ? (
          <Tag color="blue">{t("permission.yes")}</Tag>
        ) : (
          <Tooltip title={t("permission.noHint")}>
            <Tag tabIndex={0} aria-label={`${t("permission.no")}: ${t("permission.noHint")}`}>
              {t("permission.no")}
            </Tag>
          </Tooltip>
        ),
    },
    {
      key: "customer_count",
      dataIndex: "customer_count",
      title: t("column.customers"),
      align: "right",
      sorter: true,
      sortOrder: sortOrderOf(view.ordering, "customer_count"),
      sortDirections: ["descend", "ascend"],
      render: (_, member) => (
        <Link
          to={customersOf(member.userid)}
          aria-label={t("customersOf", { name: member.name || member.userid, count: member.customer_count })}
          data-testid="customer-count"
        >
          {member.customer_count}
        </Link>
      ),
    },
  ];

  const onSort = (sorter: SorterResult<Staff> | SorterResult<Staff>[]) => {
    const one = Array.isArray(sorter) ? sorter[0] : sorter;
    const field = one?.columnKey === "customer_count" ? "customer_count" : "name";
    const ordering: Ordering = one?.order ? (`${SORT_ORDER[one.order]}${field}` as Ordering) : "name";
    if (ordering !== view.ordering) go(withFilters(view, { ordering }));
  };

  let body;
  if (staff.isPending) body = <Loading />;
  else if (staff.isError) body = <ErrorState error={staff.error} onRetry={() => void staff.refetch()} />;
  else if (staff.data.results.length === 0 && view.page === 1) {
    const onlyDepartment = view.department !== null && !view.search && view.status === "all";
    body = (
      <EmptyState
        description={onlyDepartment ? t("emptyDepartment") : isFiltered(view) ? t("emptyFiltered") : t("empty")}
      />
    );
  } else {
    body = (
      <>
        <Table<Staff>
          rowKey="id"
          columns={columns}
          dataSource={staff.data.results}
          pagination={false}
          loading={staff.isFetching && staff.isPlaceholderData}
          onChange={(_pagination, _filters, sorter) => onSort(sorter)}
          scroll={{ x: "max-content" }}
          showSorterTooltip={false}
        />
        <Pager
          page={view.page}
          hasNext={Boolean(staff.data.next)}
          onPage={(page) => go({ ...view, page })}
          pageSize={view.pageSize}
          onPageSize={(pageSize) => go({ ...view, pageSize, page: 1 })}
          loading={staff.isFetching}
        />
      </>
    );
  }

  const departmentName = view.department !== null ? (names.get(view.department) ?? String(view.department)) : null;

  return (
    <>
      <Typography.Title level={3}>{t("title")}</Typography.Title>
      <Typography.Paragraph type="secondary">{t("intro")}</Typography.Paragraph>
      <Row gutter={[16, 16]}>
        <Col xs={24} lg={6}>
          <DepartmentTree value={view.department} onChange={(department) => go(withFilters(view, { department }))} />
        </Col>
        <Col xs={24} lg={18}>
          <Card
            size="small"
            title={departmentName ? t("departmentMembers", { name: departmentName }) : t("allStaff")}
            extra={
              view.department !== null ? (
                <Link to={customersOfDepartment(view.department)}>{t("departmentCustomers")}</Link>
              ) : null
            }
          >
            <Space wrap style={{ marginBottom: 16 }}>
              <SearchBox key={view.search} value={view.search} onSearch={(search) => go(withFilters(view, { search }))} />
              <Select<StaffStatus>
                aria-label={t("filter.status")}
                style={{ width: 220 }}
                value={view.status}
                onChange={(status) => go(withFilters(view, { status }))}
                options={[
                  { value: "all", label: t("filter.all") },
                  { value: "active", label: t("filter.active") },
                  { value: "inactive", label: t("filter.inactive") },
                ]}
              />
            </Space>
            {body}
          </Card>
        </Col>
      </Row>
    </>
  );
}
