// Small pieces the SOP pages share: status and kind tags, a step's name and one-line summary, a
// labelled field with its errors, and the time and weekday controls.
import "./strings";

import { Select, Tag, TimePicker, Tooltip, Typography } from "antd";
import dayjs from "dayjs";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";

import type { Kind, SopStatus, Step } from "./types";

const STATUS_COLOR: Record<SopStatus, string> = { draft: "default", live: "green", paused: "orange", stopped: "red" };

export function StatusTag({ status }: { status: SopStatus }) {
  const { t } = useTranslation("sop");
  return (
    <Tooltip title={t(`statusHint.${status}`, { defaultValue: "" })}>
      <Tag color={STATUS_COLOR[status] ?? "default"} data-testid="sop-status" tabIndex={0}>
        {t(`status.${status}`, { defaultValue: status })}
      </Tag>
    </Tooltip>
  );
}

export function KindTag({ kind }: { kind: Kind }) {
  const { t } = useTranslation("sop");
  return <Tag color={kind === "group" ? "purple" : "blue"}>{t(`kind.${kind}`, { defaultValue: kind })}</Tag>;
}

/** The step's kind in words ("Wait", "Remind the member to send"). */
export function useStepName() {
  const { t } = useTranslation("sop");
  return (step: Step) =>
    step.type === "action" && step.action ? t(`step.action.${step.action}`, { defaultValue: step.action }) : t(`step.type.${step.type}`, { defaultValue: step.type });
}

/** What a step does, in one line. */
export function useStepSummary() {
  const { t } = useTranslation("sop");
  return (step: Step, stageName: (id: number) => string): string => {
    switch (step.type) {
      case "wait": {
        const parts = [
          step.days ? `${step.days} ${t("step.days")}` : "",
          step.hours ? `${step.hours} ${t("step.hours")}` : "",
          step.minutes ? `${step.minutes} ${t("step.minutes")}` : "",
        ].filter(Boolean);
        return parts.length ? t("step.summary.wait", { text: parts.join(" ") }) : t("step.summary.waitNone");
      }
      case "wait_until":
        return step.weekday
          ? t("step.summary.untilWeekday", { weekday: t(`weekday.${step.weekday}`), time: step.time ?? "" })
          : t("step.summary.until", { time: step.time ?? "" });
      case "wait_business_hours":
        return t("step.summary.business");
      case "branch":
        return t("step.summary.branch", {
          count: step.if?.criteria?.length ?? 0,
          match: step.if?.match === "any" ? t("panel.matchAny") : t("panel.matchAll"),
        });
      case "split":
        return (step.branches ?? []).map((b) => `${b.name || b.id} ${b.percent ?? 0}%`).join(" / ");
      case "action":
        switch (step.action) {
          case "tag_add":
          case "tag_remove":
            return t("step.summary.tags", { count: step.tag_ids?.length ?? 0 });
          case "set_stage":
            return step.stage_id ? t("step.summary.stage", { name: stageName(step.stage_id) }) : t("step.summary.stageNone");
          case "grant_points":
            return t("step.summary.points", { points: step.points ?? 0 });
          case "notify":
            return `${t("step.summary.notify", { count: step.staff_ids?.length ?? 0 })}${step.text ? ` · ${snippet(step.text)}` : ""}`;
          default: {
            const text = step.text?.trim() ? snippet(step.text) : t("step.summary.noText");
            const count = step.attachments?.length ?? 0;
            return count ? `${text} ${t("step.summary.attachments", { count })}` : text;
          }
        }
      default:
        return "";
    }
  };
}

export function snippet(text: string, max = 48): string {
  const line = text.trim().split("\n")[0] ?? "";
  const chars = Array.from(line);
  return chars.length > max ? `${chars.slice(0, max).join("")}…` : line;
}

/** A visible label tied to its control by id, with the API's messages for it underneath. */
export function Labeled({ id, label, hint, errors = [], children }: { id: string; label: ReactNode; hint?: ReactNode; errors?: string[]; children: ReactNode }) {
  return (
    <div style={{ marginBottom: 14 }} data-invalid={errors.length ? "true" : undefined}>
      <label htmlFor={id} style={{ display: "block", marginBottom: 4, fontWeight: 500 }}>
        {label}
      </label>
      {children}
      {hint && (
        <Typography.Text type="secondary" style={{ display: "block", fontSize: 12, marginTop: 2 }}>
          {hint}
        </Typography.Text>
      )}
      <Errors messages={errors} />
    </div>
  );
}

export function Errors({ messages }: { messages: string[] }) {
  if (!messages.length) return null;
  return (
    <div role="alert" data-testid="field-error">
      {messages.map((m, i) => (
        <Typography.Text key={i} type="danger" style={{ display: "block", fontSize: 12 }}>
          {m}
        </Typography.Text>
      ))}
    </div>
  );
}

/** "HH:mm" as the definition writes it. */
export function TimeInput({ id, value, onChange, ariaLabel }: { id?: string; value?: string; onChange: (value: string) => void; ariaLabel?: string }) {
  const parsed = value && /^\d{2}:\d{2}$/.test(value) ? dayjs(`2000-01-01T${value}`) : null;
  return (
    <TimePicker
      id={id}
      aria-label={ariaLabel}
      format="HH:mm"
      minuteStep={5}
      needConfirm={false}
      value={parsed}
      onChange={(time) => onChange(time ? time.format("HH:mm") : "")}
    />
  );
}

export function WeekdaySelect({
  id,
  value,
  onChange,
  multiple,
  allowAny,
}: {
  id?: string;
  value: number[] | number | null | undefined;
  onChange: (value: number[] | number | null) => void;
  multiple?: boolean;
  allowAny?: boolean;
}) {
  const { t } = useTranslation("sop");
  const options = [1, 2, 3, 4, 5, 6, 7].map((d) => ({ value: d, label: t(`weekday.${d}`) }));
  if (multiple) {
    return (
      <Select<number[]>
        id={id}
        mode="multiple"
        options={options}
        value={Array.isArray(value) ? value : []}
        onChange={(v) => onChange([...v].sort((a, b) => a - b))}
        style={{ width: "100%" }}
      />
    );
  }
  return (
    <Select<number | 0>
      id={id}
      options={[...(allowAny ? [{ value: 0, label: t("panel.anyDay") }] : []), ...options]}
      value={typeof value === "number" ? value : 0}
      onChange={(v) => onChange(v || null)}
      style={{ width: 160 }}
    />
  );
}
