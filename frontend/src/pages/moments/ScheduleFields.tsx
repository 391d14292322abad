// When to publish: now (WeCom makes the post at once and each member publishes it from the WeCom
// app), or at a date and time in the tenant's zone. Loaded after the compose page's first screen
// (antd's date picker is large; import it with React.lazy).
import "./strings";

import { useTranslation } from "react-i18next";

import WhenFields from "../../components/WhenFields";

export default function ScheduleFields({ timeZone }: { timeZone: string }) {
  const { t } = useTranslation("moments");
  return (
    <WhenFields
      timeZone={timeZone}
      labels={{
        when: t("compose.when"),
        now: t("compose.now"),
        at: t("compose.at"),
        dateTime: t("compose.dateTime"),
        zone: (zone) => t("compose.zone", { zone }),
        required: t("compose.dateRequired"),
      }}
    />
  );
}
