// Members of the tenant and their roles: list, invite (an existing account, or a new one created with
// the password given), change role and data scope, remove (the user account stays). An invited user
// joins when they accept; pending invitations are listed below the members and can be taken back.
// Changing or removing one's own membership refreshes the session (role, menu); removing it leaves
// for the home page.
import "./strings";

import { DeleteOutlined, EditOutlined, StopOutlined, UserAddOutlined } from "@ant-design/icons";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { App, AutoComplete, Button, Form, Input, Modal, Popconfirm, Select, Space, Table, Tag, TreeSelect, Typography } from "antd";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router";

import { client, data, type Schemas } from "../../api/client";
import { ME_KEY, useSession } from "../../auth";
import { Pager } from "../../components/Pager";
import { EmptyState, ErrorState, Loading, errorMessage } from "../../components/states";
import { dateTime } from "../../lib/format";
import {
  DATA_SCOPES,
  type DataScope,
  type DepartmentNode,
  type Invitation,
  type Member,
  PAGE_SIZE,
  ROLES,
  STAFF_OPTIONS_SIZE,
  type Role,
  applyFieldErrors,
  departmentIds,
  keys,
} from "./api";

const ROLE_COLOR: Record<Role, string> = { admin: "red", operator: "blue", sales: "green" };

interface MemberValues {
  username: string;
  email: string;
  password: string;
  role: Role;
  data_scope: DataScope;
  wecom_userid: string;
  department_ids: number[];
}

const FIELDS = ["username", "email", "password", "role", "data_scope", "wecom_userid", "department_ids"] as const;

interface TreeNode {
  value: number;
  title: string;
  children: TreeNode[];
}

function toTree(nodes: DepartmentNode[]): TreeNode[] {
  return nodes.map((node) => ({
    value: node.wecom_id,
    title: node.name,
    children: toTree((node.children ?? []) as unknown as DepartmentNode[]),
  }));
}

function flatten(nodes: TreeNode[], out = new Map<number, string>()): Map<number, string> {
  for (const node of nodes) {
    out.set(node.value, node.title);
    flatten(node.children, out);
  }
  return out;
}

function useDepartmentTree() {
  const departments = useQuery({
    queryKey: keys.departments,
    queryFn: () => data(client.GET("/api/v1/departments/")),
    staleTime: 5 * 60_000,
  });
  const tree = useMemo(() => toTree(departments.data ?? []), [departments.data]);
  const names = useMemo(() => flatten(tree), [tree]);
  return { tree, names, loading: departments.isPending };
}

/** WeCom userids to pick from (staff synced from WeCom), searched as the admin types. */
function StaffUseridInput({ value, onChange, id }: { value?: string; onChange?: (v: string) => void; id?: string }) {
  const { t } = useTranslation("settings");
  const [search, setSearch] = useState("");
  const staff = useQuery({
    queryKey: keys.staff(search),
    queryFn: () => data(client.GET("/api/v1/staff/", { params: { query: { page_size: STAFF_OPTIONS_SIZE, search: search || undefined } } })),
    staleTime: 60_000,
    placeholderData: keepPreviousData,
  });
  const options = (staff.data?.results ?? []).map((s) => ({
    value: s.userid,
    label: (
      <Space>
        {s.name || s.userid}
        <Typography.Text type="secondary">{s.userid}</Typography.Text>
      </Space>
    ),
  }));
  return (
    <AutoComplete
      id={id}
      value={value}
      options={options}
      onSearch={setSearch}
      onChange={(v: string) => onChange?.(v)}
      placeholder={t("members.wecomUseridPlaceholder")}
    />
  );
}

function MemberModal({ member, open, onClose }: { member: Member | null; open: boolean; onClose: () => void }) {
  const { t } = useTranslation("settings");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const { me } = useSession();
  const [form] = Form.useForm<MemberValues>();
  const departments = useDepartmentTree();
  const creating = member === null;
  const role = Form.useWatch("role", form);
  const scope = Form.useWatch("data_scope", form);

  const save = useMutation({
    mutationFn: async (values: MemberValues) => {
      if (!member) {
        return data(
          client.POST("/api/v1/invitations/", {
            body: {
              ...values,
              // Blank means "not given" for these (the API refuses an empty string).
              password: values.password || undefined,
              wecom_userid: values.wecom_userid || undefined,
              email: values.email || undefined,
              department_ids: values.department_ids ?? [],
            } as Schemas["InvitationCreateRequest"],
          }),
        );
      }
      const { role, data_scope, wecom_userid, department_ids } = values;
      return data(
        client.PATCH("/api/v1/members/{id}/", {
          params: { path: { id: member.id } },
          body: { role, data_scope, wecom_userid: wecom_userid ?? "", department_ids: department_ids ?? [] },
        }),
      );
    },
    // A new member's password is in the variables: dropped once settled (reset) and from the
    // mutation cache (gcTime 0).
    gcTime: 0,
    onSuccess: (saved) => {
      void queryClient.invalidateQueries({ queryKey: creating ? keys.invitations : keys.members });
      // My own role, scope or departments changed: the session (menu, permissions) follows.
      if (member && member.username === me?.username) void queryClient.invalidateQueries({ queryKey: ME_KEY });
      void message.success(creating ? t("members.invited", { name: saved.username }) : t("members.updated", { name: saved.username }));
      onClose();
    },
    onError: (error) => {
      if (!applyFieldErrors(form, error, FIELDS)) void message.error(errorMessage(error));
    },
    onSettled: () => {
      save.reset();
    },
  });

  const initial: Partial<MemberValues> = member
    ? {
        role: member.role,
        data_scope: member.data_scope ?? "all",
        wecom_userid: member.wecom_userid ?? "",
        department_ids: departmentIds(member),
      }
    : { role: "operator", data_scope: "all", wecom_userid: "", department_ids: [], email: "", password: "" };

  return (
    <Modal
      open={open}
      title={member ? t("members.editTitle", { name: member.username }) : t("members.addTitle")}
      okText={creating ? t("members.add") : t("common:action.save")}
      cancelText={t("common:action.cancel")}
      onOk={() => form.submit()}
      confirmLoading={save.isPending}
      onCancel={onClose}
      destroyOnHidden
    >
      <Form<MemberValues>
        form={form}
        layout="vertical"
        initialValues={initial}
        preserve={false}
        onFinish={(values) => save.mutate(values)}
        onValuesChange={(changed: Partial<MemberValues>) => {
          // A sales member never sees every customer: follow the role with a sensible scope.
          if (changed.role === "sales" && form.getFieldValue("data_scope") === "all") form.setFieldValue("data_scope", "self");
        }}
      >
        {creating && (
          <>
            <Typography.Paragraph type="secondary">{t("members.inviteHelp")}</Typography.Paragraph>
            <Form.Item name="username" label={t("members.username")} rules={[{ required: true, message: t("required") }]}>
              <Input autoComplete="off" />
            </Form.Item>
            <Form.Item name="email" label={t("members.email")} rules={[{ type: "email", message: t("members.emailInvalid") }]}>
              <Input type="email" autoComplete="off" />
            </Form.Item>
            <Form.Item name="password" label={t("members.password")} extra={t("members.passwordHelp")}>
              <Input.Password autoComplete="new-password" />
            </Form.Item>
          </>
        )}
        <Form.Item name="role" label={t("members.role")} rules={[{ required: true, message: t("required") }]}>
          <Select options={ROLES.map((r) => ({ value: r, label: t(`role.${r}`) }))} />
        </Form.Item>
        <Form.Item name="data_scope" label={t("members.dataScope")} extra={t(`scopeHelp.${scope ?? "all"}`)}>
          <Select
            options={DATA_SCOPES.map((s) => ({ value: s, label: t(`scope.${s}`), disabled: role === "sales" && s === "all" }))}
          />
        </Form.Item>
        <Form.Item name="wecom_userid" label={t("members.wecomUserid")} extra={t("members.wecomUseridHelp")}>
          <StaffUseridInput />
        </Form.Item>
        {scope === "departments" && (
          <Form.Item name="department_ids" label={t("members.departments")}>
            <TreeSelect
              multiple
              treeDefaultExpandAll
              showSearch={{ treeNodeFilterProp: "title" }}
              loading={departments.loading}
              treeData={departments.tree}
              placeholder={t("members.departmentsPlaceholder")}
            />
          </Form.Item>
        )}
      </Form>
    </Modal>
  );
}

/** The tenant's pending invitations: who was invited, with which role, and a way to take it back. */
function PendingInvitations() {
  const { t } = useTranslation("settings");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const invitations = useQuery({
    queryKey: keys.invitations,
    queryFn: () => data(client.GET("/api/v1/invitations/", { params: { query: { status: "pending", page_size: 100 } } })),
  });
  const revoke = useMutation({
    mutationFn: (invitation: Invitation) =>
      data(client.POST("/api/v1/invitations/{id}/revoke/", { params: { path: { id: invitation.id } } })),
    onSuccess: (_, invitation) => void message.success(t("members.revoked", { name: invitation.username })),
    onError: (error) => void message.error(errorMessage(error)),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: keys.invitations }),
  });
  const rows = invitations.data?.results ?? [];
  if (!rows.length) return null;
  const columns = [
    { title: t("members.username"), key: "username", render: (_: unknown, i: Invitation) => <Typography.Text strong>{i.username}</Typography.Text> },
    { title: t("members.role"), key: "role", render: (_: unknown, i: Invitation) => <Tag color={ROLE_COLOR[i.role]}>{t(`role.${i.role}`)}</Tag> },
    { title: t("members.invitedBy"), key: "by", render: (_: unknown, i: Invitation) => i.created_by?.name ?? "—" },
    { title: t("members.invitedAt"), key: "at", render: (_: unknown, i: Invitation) => dateTime(i.created_at) },
    {
      title: t("actions"),
      key: "actions",
      render: (_: unknown, i: Invitation) => (
        <Popconfirm
          title={t("members.revokeConfirm", { name: i.username })}
          okText={t("members.revoke")}
          okButtonProps={{ danger: true }}
          cancelText={t("common:action.cancel")}
          onConfirm={() => revoke.mutateAsync(i).catch(() => undefined)}
        >
          <Button size="small" danger icon={<StopOutlined />} aria-label={t("members.revokeLabel", { name: i.username })}>
            {t("members.revoke")}
          </Button>
        </Popconfirm>
      ),
    },
  ];
  return (
    <div style={{ marginTop: 24 }}>
      <Typography.Title level={5}>{t("members.pending")}</Typography.Title>
      <Typography.Paragraph type="secondary">{t("members.pendingHelp")}</Typography.Paragraph>
      <Table<Invitation> rowKey="id" aria-label={t("members.pending")} columns={columns} dataSource={rows} pagination={false} />
    </div>
  );
}

export default function MembersTab() {
  const { t } = useTranslation("settings");
  const { message } = App.useApp();
  const { me } = useSession();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [page, setPage] = useState(1);
  const [roleFilter, setRoleFilter] = useState<Role | undefined>();
  const [search, setSearch] = useState("");
  const [editing, setEditing] = useState<Member | null>(null);
  const [modalOpen, setModalOpen] = useState(false);
  const departments = useDepartmentTree();

  const members = useQuery({
    queryKey: [...keys.memberList(page), roleFilter ?? "", search],
    queryFn: () =>
      data(
        client.GET("/api/v1/members/", {
          params: { query: { page, page_size: PAGE_SIZE, role: roleFilter, username: search || undefined } },
        }),
      ),
    placeholderData: keepPreviousData,
  });

  const remove = useMutation({
    mutationFn: (member: Member) => data(client.DELETE("/api/v1/members/{id}/", { params: { path: { id: member.id } } })),
    onSuccess: (_, member) => {
      void message.success(t("members.removed", { name: member.username }));
      if (member.username === me?.username) {
        // I left this tenant: my session changes, and this page is no longer mine to see.
        void queryClient.invalidateQueries({ queryKey: ME_KEY });
        void navigate("/");
      }
    },
    onError: (error) => void message.error(errorMessage(error)),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: keys.members }),
  });

  const open = (member: Member | null) => {
    setEditing(member);
    setModalOpen(true);
  };

  const filtered = Boolean(roleFilter || search);
  const columns = [
    {
      title: t("members.username"),
      key: "username",
      render: (_: unknown, m: Member) => (
        <Space orientation="vertical" size={0}>
          <Typography.Text strong>{m.username}</Typography.Text>
          {m.email && <Typography.Text type="secondary">{m.email}</Typography.Text>}
        </Space>
      ),
    },
    {
      title: t("members.role"),
      key: "role",
      render: (_: unknown, m: Member) => <Tag color={ROLE_COLOR[m.role]}>{t(`role.${m.role}`)}</Tag>,
    },
    { title: t("members.dataScope"), key: "scope", render: (_: unknown, m: Member) => t(`scope.${m.data_scope ?? "all"}`) },
    { title: t("members.wecomUserid"), key: "wecom", render: (_: unknown, m: Member) => m.wecom_userid || "—" },
    {
      title: t("members.departments"),
      key: "departments",
      render: (_: unknown, m: Member) => {
        const ids = departmentIds(m);
        return ids.length ? ids.map((id) => <Tag key={id}>{departments.names.get(id) ?? `#${id}`}</Tag>) : "—";
      },
    },
    { title: t("members.since"), key: "created", render: (_: unknown, m: Member) => dateTime(m.created_at) },
    {
      title: t("actions"),
      key: "actions",
      render: (_: unknown, m: Member) => (
        <Space>
          <Button size="small" icon={<EditOutlined />} onClick={() => open(m)} aria-label={t("members.editLabel", { name: m.username })}>
            {t("common:action.edit")}
          </Button>
          <Popconfirm
            title={t("members.removeConfirm", { name: m.username })}
            description={m.username === me?.username ? t("members.removeSelf") : undefined}
            okText={t("members.remove")}
            okButtonProps={{ danger: true }}
            cancelText={t("common:action.cancel")}
            onConfirm={() => remove.mutateAsync(m).catch(() => undefined)}
          >
            <Button size="small" danger icon={<DeleteOutlined />} aria-label={t("members.removeLabel", { name: m.username })}>
              {t("members.remove")}
            </Button>
          </Popconfirm>
        </Space>
      ),
    },
  ];

  return (
    <div>
      <div style={{ display: "flex", flexWrap: "wrap", gap: 8, marginBottom: 16 }}>
        <Select
          allowClear
          aria-label={t("members.filterRole")}
          placeholder={t("members.allRoles")}
          style={{ width: 160 }}
          value={roleFilter}
          options={ROLES.map((r) => ({ value: r, label: t(`role.${r}`) }))}
          onChange={(value?: Role) => {
            setRoleFilter(value);
            setPage(1);
          }}
        />
        <Input.Search
          allowClear
          aria-label={t("members.search")}
          placeholder={t("members.search")}
          style={{ width: 240 }}
          onSearch={(value) => {
            setSearch(value.trim());
            setPage(1);
          }}
        />
        <div style={{ flex: 1 }} />
        <Button type="primary" icon={<UserAddOutlined />} onClick={() => open(null)}>
          {t("members.add")}
        </Button>
      </div>
      {members.isPending ? (
        <Loading />
      ) : members.isError ? (
        <ErrorState error={members.error} onRetry={() => void members.refetch()} />
      ) : (
        <>
          <Table<Member>
            rowKey="id"
            aria-label={t("tabs.members")}
            columns={columns}
            dataSource={members.data.results}
            loading={members.isFetching}
            pagination={false}
            scroll={{ x: 900 }}
            locale={{ emptyText: <EmptyState description={filtered ? t("members.emptyFiltered") : t("members.empty")} /> }}
          />
          <Pager page={page} hasNext={!!members.data.next} onPage={setPage} loading={members.isFetching} />
        </>
      )}
      <PendingInvitations />
      <MemberModal
        key={editing?.id ?? "new"}
        member={editing}
        open={modalOpen}
        onClose={() => setModalOpen(false)}
      />
    </div>
  );
}
