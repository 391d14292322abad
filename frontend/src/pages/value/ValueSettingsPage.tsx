// Customer value settings (admins): the customer profile's own fields, the tier thresholds, the points
// rules and the membership levels, one tab each; the tab is in the URL (?tab=), so each can be linked
// to and reloaded.
import "./strings";

import { ArrowLeftOutlined } from "@ant-design/icons";
import { Space, Tabs, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";

import FieldsTab from "./FieldsTab";
import LevelsTab from "./LevelsTab";
import RulesTab from "./RulesTab";
import ThresholdsTab from "./ThresholdsTab";

const TABS = [
  { key: "fields", Component: FieldsTab },
  { key: "thresholds", Component: ThresholdsTab },
  { key: "rules", Component: RulesTab },
  { key: "levels", Component: LevelsTab },
] as const;
type TabKey = (typeof TABS)[number]["key"];

function readTab(raw: string | null): TabKey {
  return TABS.find((tab) => tab.key === raw)?.key ?? "fields";
}

export default function ValueSettingsPage() {
  const { t } = useTranslation("value");
  const [params, setParams] = useSearchParams();
  const active = readTab(params.get("tab"));
  return (
    <div>
      <Space style={{ marginBottom: 8 }}>
        <Link to="/value">
          <ArrowLeftOutlined /> {t("settings.back")}
        </Link>
      </Space>
      <Typography.Title level={3}>{t("settings.title")}</Typography.Title>
      <Tabs
        activeKey={active}
        onChange={(key) => setParams(key === "fields" ? {} : { tab: key }, { replace: true })}
        destroyOnHidden
        items={TABS.map(({ key, Component }) => ({ key, label: t(`settings.tabs.${key}`), children: <Component /> }))}
      />
    </div>
  );
}
