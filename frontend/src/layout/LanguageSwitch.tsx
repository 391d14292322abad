import { Segmented } from "antd";
import { useTranslation } from "react-i18next";

import { type Lang, setLang } from "../i18n";

export default function LanguageSwitch() {
  const { i18n, t } = useTranslation();
  return (
    <Segmented<Lang>
      size="small"
      aria-label={t("shell.language")}
      value={i18n.language === "en" ? "en" : "zh"}
      options={[
        { label: "中文", value: "zh" },
        { label: "EN", value: "en" },
      ]}
      onChange={setLang}
    />
  );
}
