// Routes, split by page (each page is its own chunk), with role-aware guards.
import { Button, Result, Spin } from "antd";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { createBrowserRouter, Navigate, Outlet, useLocation, useNavigate, useRouteError } from "react-router";

import { type Role, useSession } from "./auth";
import AppLayout from "./layout/AppLayout";
import { loginPath } from "./lib/paths";
import LoginPage from "./pages/LoginPage";

function RequireSession() {
  const { me, loading } = useSession();
  const location = useLocation();
  const { t } = useTranslation();
  if (loading) {
    return (
      <div style={{ display: "grid", placeItems: "center", height: "100vh" }}>
        <Spin size="large" aria-label={t("state.loading")} />
      </div>
    );
  }
  if (!me) return <Navigate to={loginPath(location)} replace />;
  return <AppLayout />;
}

/** A page only some roles may open; others see why instead of a broken page. */
export function RequireRole({ roles, children }: { roles: Role[]; children?: ReactNode }) {
  const { role } = useSession();
  const { t } = useTranslation();
  const navigate = useNavigate();
  if (!role || !roles.includes(role)) {
    return (
      <Result
        status="403"
        title="403"
        subTitle={t("state.forbidden")}
        extra={<Button onClick={() => navigate("/")}>{t("state.backHome")}</Button>}
      />
    );
  }
  return <>{children ?? <Outlet />}</>;
}

/** A page that crashed or could not load: say so in the user's language and offer a reload (after a
 * release, a tab still running the old build cannot find its old page chunks). */
function RouteError() {
  const error = useRouteError();
  const { t } = useTranslation();
  const text = error instanceof Error ? error.message : String(error);
  const stale = /dynamically imported module|Importing a module script failed|error loading dynamically/i.test(text);
  return (
    <Result
      status="error"
      title={stale ? t("state.newVersion") : t("state.crashed")}
      subTitle={stale ? undefined : text}
      extra={
        <Button type="primary" onClick={() => window.location.reload()}>
          {t("state.reload")}
        </Button>
      }
    />
  );
}

function NotFound() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  return (
    <Result
      status="404"
      title="404"
      subTitle={t("state.notFound")}
      extra={<Button onClick={() => navigate("/")}>{t("state.backHome")}</Button>}
    />
  );
}

const page = (load: () => Promise<{ default: React.ComponentType }>) => async () => ({
  Component: (await load()).default,
});

const MANAGERS: Role[] = ["admin", "operator"];

export const router = createBrowserRouter([
  { path: "/login", element: <LoginPage />, errorElement: <RouteError /> },
  {
    path: "/",
    element: <RequireSession />,
    errorElement: <RouteError />,
    children: [
      {
        // A page that fails renders its error inside the shell, so navigation stays usable.
        errorElement: <RouteError />,
        children: [
          { index: true, lazy: page(() => import("./pages/overview/OverviewPage")) },
          // Any signed-in user, with or without a tenant: the invitations waiting for their answer.
          { path: "invitations", lazy: page(() => import("./pages/invitations/InvitationsPage")) },
          { path: "customers", lazy: page(() => import("./pages/customers/CustomersPage")) },
          { path: "customers/lost", lazy: page(() => import("./pages/churn/LostPage")) },
          // The customer page (客户画像): anyone who can see the customer (the API scopes it).
          { path: "customers/:id", lazy: page(() => import("./pages/customers/CustomerProfilePage")) },
          // Sales members see the groups they own (the API scopes them), read-only.
          { path: "groups", lazy: page(() => import("./pages/groups/GroupsPage")) },
          // WeCom's daily group figures (sales: of the groups they own; the API scopes them).
          { path: "groups/stats", lazy: page(() => import("./pages/groups/GroupStatsPage")) },
          { path: "groups/:id", lazy: page(() => import("./pages/groups/GroupDetailPage")) },
          // Mass messages: sales see the campaigns they have a task in, and their own tasks (the API scopes them).
          { path: "campaigns", lazy: page(() => import("./pages/campaigns/CampaignsPage")) },
          {
            path: "campaigns/settings",
            element: <RequireRole roles={["admin"]} />,
            children: [{ index: true, lazy: page(() => import("./pages/campaigns/CampaignSettingsPage")) }],
          },
          { path: "campaigns/:id", lazy: page(() => import("./pages/campaigns/CampaignPage")) },
          // Moments (朋友圈): sales see the tasks they were asked to publish and their own copy (the API scopes them).
          { path: "moments", lazy: page(() => import("./pages/moments/MomentsPage")) },
          { path: "moments/ranking", lazy: page(() => import("./pages/moments/RankingPage")) },
          { path: "moments/tasks/:id", lazy: page(() => import("./pages/moments/MomentTaskPage")) },
          { path: "moments/:id", lazy: page(() => import("./pages/moments/MomentPage")) },
          // Customer value (客户价值): tiers and spending (sales: of their customers; the API scopes them).
          { path: "value", lazy: page(() => import("./pages/value/ValuePage")) },
          {
            path: "value/settings",
            element: <RequireRole roles={["admin"]} />,
            children: [{ index: true, lazy: page(() => import("./pages/value/ValueSettingsPage")) }],
          },
          // SOP automations: every member sees their own SOP tasks (the page the WeCom reminder links to);
          // the SOPs themselves are managed by admins and operators.
          { path: "sop/tasks", lazy: page(() => import("./pages/sop/SopTasksPage")) },
          {
            element: <RequireRole roles={MANAGERS} />,
            children: [
              { path: "sop", lazy: page(() => import("./pages/sop/SopsPage")) },
              { path: "sop/:id", lazy: page(() => import("./pages/sop/SopBuilderPage")) },
              { path: "sop/:id/report", lazy: page(() => import("./pages/sop/SopReportPage")) },
              { path: "tags", lazy: page(() => import("./pages/tags/TagsPage")) },
              { path: "staff", lazy: page(() => import("./pages/staff/StaffPage")) },
              { path: "channels", lazy: page(() => import("./pages/channels/ChannelsPage")) },
              { path: "channels/new", lazy: page(() => import("./pages/channels/ChannelFormPage")) },
              { path: "channels/welcome", lazy: page(() => import("./pages/channels/WelcomeDefaultPage")) },
              { path: "channels/:id", lazy: page(() => import("./pages/channels/ChannelDetailPage")) },
              { path: "channels/:id/edit", lazy: page(() => import("./pages/channels/ChannelFormPage")) },
              { path: "groups/codes", lazy: page(() => import("./pages/groups/CodesPage")) },
              { path: "groups/codes/new", lazy: page(() => import("./pages/groups/CodeFormPage")) },
              { path: "groups/codes/:id", lazy: page(() => import("./pages/groups/CodeDetailPage")) },
              { path: "groups/codes/:id/edit", lazy: page(() => import("./pages/groups/CodeFormPage")) },
              { path: "groups/welcome", lazy: page(() => import("./pages/groups/TemplatesPage")) },
              { path: "groups/welcome/new", lazy: page(() => import("./pages/groups/TemplateFormPage")) },
              { path: "groups/welcome/:id/edit", lazy: page(() => import("./pages/groups/TemplateFormPage")) },
              // The content library (素材库): what welcomes, group welcomes and mass messages attach.
              { path: "library", lazy: page(() => import("./pages/library/LibraryPage")) },
              { path: "campaigns/new", lazy: page(() => import("./pages/campaigns/CampaignFormPage")) },
              { path: "campaigns/:id/edit", lazy: page(() => import("./pages/campaigns/CampaignFormPage")) },
              { path: "campaigns/do-not-disturb", lazy: page(() => import("./pages/campaigns/DoNotDisturbPage")) },
              { path: "moments/new", lazy: page(() => import("./pages/moments/MomentFormPage")) },
              { path: "moments/tasks/:id/edit", lazy: page(() => import("./pages/moments/MomentFormPage")) },
              // Admins change the settings; operators read them and run the members' posts sync.
              { path: "moments/settings", lazy: page(() => import("./pages/moments/MomentSettingsPage")) },
            ],
          },
          {
            path: "settings",
            element: <RequireRole roles={["admin"]} />,
            children: [
              // "/settings" alone matches this route with no child: open the first tab.
              { index: true, element: <Navigate to="/settings/wecom" replace /> },
              { path: "*", lazy: page(() => import("./pages/settings/SettingsPage")) },
            ],
          },
          { path: "*", element: <NotFound /> },
        ],
      },
    ],
  },
]);
