// The shell: role-aware navigation, tenant switcher, notifications, language and logout.
import {
  BarChartOutlined,
  CameraOutlined,
  CarryOutOutlined,
  CommentOutlined,
  DashboardOutlined,
  FolderOpenOutlined,
  FundOutlined,
  LogoutOutlined,
  MailOutlined,
  NodeIndexOutlined,
  NotificationOutlined,
  QrcodeOutlined,
  SettingOutlined,
  TagsOutlined,
  TeamOutlined,
  UserDeleteOutlined,
  UserOutlined,
  UsergroupAddOutlined,
  WechatOutlined,
} from "@ant-design/icons";
import { App, Button, Dropdown, Layout, Menu, Select, Space, Typography } from "antd";
import type { ReactNode } from "react";
import { Suspense } from "react";
import { useTranslation } from "react-i18next";
import { Link, Navigate, Outlet, useLocation, useNavigate } from "react-router";

import { type Role, useLogout, useSession, useSwitchTenant } from "../auth";
import { Loading, errorMessage } from "../components/states";
import { selectedKey } from "../lib/paths";
import NotificationBell from "../pages/churn/NotificationBell";
import LanguageSwitch from "./LanguageSwitch";

interface NavItem {
  key: string;
  icon: ReactNode;
  label: string;
  roles: Role[];
}

export function useNavItems(role: Role | null): NavItem[] {
  const { t } = useTranslation();
  const all: NavItem[] = [
    { key: "/", icon: <DashboardOutlined />, label: t("nav.overview"), roles: ["admin", "operator", "sales"] },
    {
      key: "/customers",
      icon: <UserOutlined />,
      label: role === "sales" ? t("nav.myCustomers") : t("nav.customers"),
      roles: ["admin", "operator", "sales"],
    },
    { key: "/customers/lost", icon: <UserDeleteOutlined />, label: t("nav.lost"), roles: ["admin", "operator", "sales"] },
    { key: "/value", icon: <FundOutlined />, label: t("nav.value"), roles: ["admin", "operator", "sales"] },
    {
      key: "/groups",
      icon: <WechatOutlined />,
      label: role === "sales" ? t("nav.myGroups") : t("nav.groups"),
      roles: ["admin", "operator", "sales"],
    },
    { key: "/groups/stats", icon: <BarChartOutlined />, label: t("nav.groupStats"), roles: ["admin", "operator", "sales"] },
    { key: "/groups/codes", icon: <UsergroupAddOutlined />, label: t("nav.groupCodes"), roles: ["admin", "operator"] },
    { key: "/groups/welcome", icon: <CommentOutlined />, label: t("nav.groupWelcome"), roles: ["admin", "operator"] },
    { key: "/campaigns", icon: <NotificationOutlined />, label: t("nav.campaigns"), roles: ["admin", "operator", "sales"] },
    { key: "/moments", icon: <CameraOutlined />, label: t("nav.moments"), roles: ["admin", "operator", "sales"] },
    { key: "/sop", icon: <NodeIndexOutlined />, label: t("nav.sop"), roles: ["admin", "operator"] },
    { key: "/sop/tasks", icon: <CarryOutOutlined />, label: t("nav.sopTasks"), roles: ["admin", "operator", "sales"] },
    { key: "/channels", icon: <QrcodeOutlined />, label: t("nav.channels"), roles: ["admin", "operator"] },
    { key: "/library", icon: <FolderOpenOutlined />, label: t("nav.library"), roles: ["admin", "operator"] },
    { key: "/tags", icon: <TagsOutlined />, label: t("nav.tags"), roles: ["admin", "operator"] },
    { key: "/staff", icon: <TeamOutlined />, label: t("nav.staff"), roles: ["admin", "operator"] },
    { key: "/settings", icon: <SettingOutlined />, label: t("nav.settings"), roles: ["admin"] },
  ];
  return all.filter((item) => role !== null && item.roles.includes(role));
}

function TenantSwitcher() {
  const { me } = useSession();
  const switchTenant = useSwitchTenant();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const { t } = useTranslation();
  if (!me?.active_tenant) return null;
  if (me.memberships.length < 2) return <Typography.Text strong>{me.active_tenant.name}</Typography.Text>;
  return (
    <Select
      aria-label={t("shell.tenant")}
      style={{ minWidth: 180 }}
      value={me.active_tenant.slug}
      loading={switchTenant.isPending}
      options={me.memberships.map((m) => ({ value: m.tenant.slug, label: m.tenant.name }))}
      onChange={(slug) =>
        switchTenant.mutate(slug, {
          onSuccess: () => navigate("/"),
          onError: (error) => void message.error(errorMessage(error)),
        })
      }
    />
  );
}

export default function AppLayout() {
  const { me, role } = useSession();
  const { t } = useTranslation();
  const location = useLocation();
  const navigate = useNavigate();
  const logout = useLogout();
  const items = useNavItems(role);

  // Without a tenant nothing but the invitations page has anything to show (a new account, or one
  // removed from its last tenant): that is where such a user accepts an invitation.
  if (me && !me.active_tenant && location.pathname !== "/invitations") return <Navigate to="/invitations" replace />;

  return (
    <Layout style={{ minHeight: "100vh" }}>
      <Layout.Sider breakpoint="lg" collapsedWidth={0} theme="light" width={200}>
        <div style={{ padding: 16, fontWeight: 600, fontSize: 18 }}>{t("app.name")}</div>
        <Menu
          mode="inline"
          selectedKeys={[selectedKey(location.pathname, items.map((i) => i.key))]}
          items={items.map((item) => ({ key: item.key, icon: item.icon, label: <Link to={item.key}>{item.label}</Link> }))}
        />
      </Layout.Sider>
      <Layout>
        <Layout.Header
          style={{ background: "#fff", display: "flex", justifyContent: "flex-end", alignItems: "center", paddingInline: 24 }}
        >
          <Space size="middle">
            <TenantSwitcher />
            <NotificationBell />
            <LanguageSwitch />
            <Dropdown
              trigger={["click"]}
              menu={{
                items: [
                  { key: "invitations", icon: <MailOutlined />, label: t("shell.invitations") },
                  { key: "logout", icon: <LogoutOutlined />, label: t("shell.logout") },
                ],
                onClick: ({ key }) => {
                  if (key === "invitations") void navigate("/invitations");
                  else logout.mutate(undefined, { onSettled: () => navigate("/login") });
                },
              }}
            >
              <Button type="text" data-testid="user-menu">
                {me?.username}
                {role ? ` · ${t(`shell.role.${role}`)}` : ""}
              </Button>
            </Dropdown>
          </Space>
        </Layout.Header>
        <Layout.Content style={{ margin: 24 }}>
          <Suspense fallback={<Loading />}>
            <Outlet />
          </Suspense>
        </Layout.Content>
      </Layout>
    </Layout>
  );
}
