// A button that copies a value (a secret shown once, the callback URL) and says so.
import "./strings";

import { CheckOutlined, CopyOutlined } from "@ant-design/icons";
import { App, Button, Tooltip } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";

async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    // No clipboard API (or no permission): the old way, through a selected textarea.
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  if (!ok) throw new Error("copy failed");
}

export default function CopyButton({ value, label, disabled }: { value: string; label: string; disabled?: boolean }) {
  const { t } = useTranslation("settings");
  const { message } = App.useApp();
  const [copied, setCopied] = useState(false);
  const copy = () =>
    copyText(value).then(
      () => {
        setCopied(true);
        void message.success(t("copy.done"));
        window.setTimeout(() => setCopied(false), 2000);
      },
      () => void message.error(t("copy.failed")),
    );
  return (
    <Tooltip title={label}>
      <Button
        aria-label={label}
        icon={copied ? <CheckOutlined /> : <CopyOutlined />}
        disabled={disabled || !value}
        onClick={() => void copy()}
      />
    </Tooltip>
  );
}
