// Settings (admins): the WeCom connection, members and roles, API keys, sync history and the callback
// inbox, one tab each; the tab is the URL (/settings/<tab>), so each can be linked to and reloaded.
import "./strings";

import { Tabs, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Navigate, Route, Routes, useLocation, useNavigate } from "react-router";

import ApiKeysTab from "./ApiKeysTab";
import CallbacksTab from "./CallbacksTab";
import MembersTab from "./MembersTab";
import SyncTab from "./SyncTab";
import WecomTab from "./WecomTab";

const TABS = [
  { key: "wecom", label: "tabs.wecom", Component: WecomTab },
  { key: "members", label: "tabs.members", Component: MembersTab },
  { key: "api-keys", label: "tabs.apiKeys", Component: ApiKeysTab },
  { key: "sync", label: "tabs.sync", Component: SyncTab },
  { key: "callbacks", label: "tabs.callbacks", Component: CallbacksTab },
] as const;

/** The tab a path shows: /settings/members/… → "members"; /settings → "wecom". */
function currentTab(pathname: string): string {
  const segment = pathname.replace(/^\/settings\/?/, "").split("/")[0];
  return TABS.some((tab) => tab.key === segment) ? segment : "wecom";
}

export default function SettingsPage() {
  const { t } = useTranslation("settings");
  const location = useLocation();
  const navigate = useNavigate();
  return (
    <div>
      <Typography.Title level={3}>{t("title")}</Typography.Title>
      <Tabs
        activeKey={currentTab(location.pathname)}
        onChange={(key) => navigate(`/settings/${key}`)}
        items={TABS.map((tab) => ({ key: tab.key, label: t(tab.label) }))}
      />
      <Routes>
        <Route index element={<Navigate to="wecom" replace />} />
        {TABS.map(({ key, Component }) => (
          <Route key={key} path={key} element={<Component />} />
        ))}
        <Route path="*" element={<Navigate to="/settings/wecom" replace />} />
      </Routes>
    </div>
  );
}
