// WeCom's refusals (problem type `wecom_error`): WeCom's errcode and the API's hint, shown where the
// change was asked for (in its dialog) and on the item it was about (its sync state).
import { CloseOutlined, ExclamationCircleOutlined } from "@ant-design/icons";
import { Alert, Button, Space, Tag, Typography } from "antd";
import { useTranslation } from "react-i18next";

import { ApiError } from "../../api/client";
import { errorMessage } from "../../components/states";

export interface WeComRefusal {
  /** WeCom's errcode, or null when WeCom could not be reached. */
  errcode: string | null;
  hint: string;
  detail: string;
}

export function wecomRefusal(error: unknown): WeComRefusal | null {
  if (!(error instanceof ApiError) || error.problem.type !== "wecom_error") return null;
  const first = error.problem.errors[0];
  const code = (first?.code ?? "").replace(/^wecom_/, "");
  return {
    errcode: /^-?\d+$/.test(code) ? code : null,
    hint: first?.message ?? "",
    detail: error.problem.detail,
  };
}

/** A failed write, in a dialog: WeCom's refusal with its errcode and hint, or the API's error. */
export function WriteErrorAlert({ error }: { error: unknown }) {
  const { t } = useTranslation("tags");
  const refusal = wecomRefusal(error);
  if (!refusal) {
    return <Alert type="error" showIcon role="alert" title={t("failed")} description={errorMessage(error)} />;
  }
  return (
    <Alert
      type="error"
      showIcon
      role="alert"
      title={refusal.errcode ? t("wecom.refused", { errcode: refusal.errcode }) : t("wecom.unreachable")}
      description={
        <>
          {refusal.hint && <div>{refusal.hint}</div>}
          <Typography.Text type="secondary">
            {refusal.detail} {t("wecom.nothingChanged")}
          </Typography.Text>
        </>
      }
    />
  );
}

/** On an item: WeCom refused the last change made to it (so it kept what WeCom has). */
export function RefusalNote({ refusal, onDismiss }: { refusal: WeComRefusal; onDismiss: () => void }) {
  const { t } = useTranslation("tags");
  return (
    <Space orientation="vertical" size={2} data-testid="wecom-refusal">
      <Space size={4}>
        <Tag color="error" icon={<ExclamationCircleOutlined />} style={{ marginInlineEnd: 0 }}>
          {refusal.errcode ? t("sync.refused") : t("wecom.unreachable")}
        </Tag>
        <Button size="small" type="text" icon={<CloseOutlined />} aria-label={t("sync.dismiss")} onClick={onDismiss} />
      </Space>
      <Typography.Text type="danger" style={{ fontSize: 12 }}>
        {refusal.errcode && <>{t("sync.errcode", { errcode: refusal.errcode })}: </>}
        {refusal.hint || refusal.detail}
      </Typography.Text>
    </Space>
  );
}
