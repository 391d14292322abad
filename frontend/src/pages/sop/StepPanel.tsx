// The panel beside the flow that edits the selected step: its id and title, then the settings of its type
// (a duration, a time and weekday, a branch's conditions, a split's branches, an action's content,
// tags, stage, points or members). The API's messages for the step show under the field they name.
import "./strings";

import { ArrowDownOutlined, ArrowUpOutlined, DeleteOutlined, PaperClipOutlined, PlusOutlined } from "@ant-design/icons";
import { Alert, Button, Card, Input, InputNumber, List, Popconfirm, Radio, Select, Space, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import MaterialPicker from "../../components/MaterialPicker";
import { ATTACHMENT_KINDS } from "../campaigns/materials";
import { useStages, useTagGroups } from "../customers/api";
import { TagPicker } from "../customers/controls";
import { StaffPicker } from "../groups/bits";
import { useMaterialsByIds } from "../library/api";
import { Errors, Labeled, TimeInput, WeekdaySelect, useStepName } from "./bits";
import CriteriaEditor from "./CriteriaEditor";
import { STEP_ID, fieldMessages } from "./definition";
import { CONTENT_ACTIONS, type Step } from "./types";

const MAX_ATTACHMENTS = 9;

function Attachments({ step, onChange, errors }: { step: Step; onChange: (step: Step) => void; errors: (f: string) => string[] }) {
  const { t } = useTranslation("sop");
  const [open, setOpen] = useState(false);
  const attached = step.attachments ?? [];
  const materials = useMaterialsByIds(attached.map((a) => a.material_id));
  return (
    <Labeled id="step-attachments" label={t("panel.attachments")} errors={errors("attachments")}>
      <List
        size="small"
        dataSource={attached}
        locale={{ emptyText: " " }}
        renderItem={(a, i) => (
          <List.Item
            actions={[
              <Button
                key="remove"
                type="text"
                danger
                size="small"
                icon={<DeleteOutlined />}
                aria-label={t("panel.removeAttachment")}
                onClick={() => onChange({ ...step, attachments: attached.filter((_, j) => j !== i) })}
              />,
            ]}
          >
            <Space>
              <PaperClipOutlined />
              {materials.data?.[a.material_id]?.title ?? t("panel.materialMissing", { id: a.material_id })}
            </Space>
            <Errors messages={errors(`attachments.${i}`)} />
          </List.Item>
        )}
      />
      <Button id="step-attachments" icon={<PlusOutlined />} disabled={attached.length >= MAX_ATTACHMENTS} onClick={() => setOpen(true)}>
        {t("panel.addAttachment")}
      </Button>
      <MaterialPicker
        open={open}
        onClose={() => setOpen(false)}
        kinds={ATTACHMENT_KINDS}
        max={MAX_ATTACHMENTS - attached.length}
        exclude={attached.map((a) => a.material_id)}
        onPick={(picked) => onChange({ ...step, attachments: [...attached, ...picked.map((m) => ({ material_id: m.id }))] })}
      />
    </Labeled>
  );
}

function SplitBranches({ step, onChange, errors }: { step: Step; onChange: (step: Step) => void; errors: (f: string) => string[] }) {
  const { t } = useTranslation("sop");
  const branches = step.branches ?? [];
  const total = branches.reduce((sum, b) => sum + (b.percent ?? 0), 0);
  const set = (i: number, patch: Partial<(typeof branches)[number]>) =>
    onChange({ ...step, branches: branches.map((b, j) => (j === i ? { ...b, ...patch } : b)) });
  const nextId = () => {
    const used = new Set(branches.map((b) => b.id));
    return "abcdefghij".split("").find((c) => !used.has(c)) ?? `b${branches.length + 1}`;
  };
  return (
    <div>
      <Typography.Paragraph type="secondary">{t("panel.splitHint")}</Typography.Paragraph>
      {branches.map((branch, i) => (
        <Space key={i} align="start" wrap style={{ display: "flex", marginBottom: 4 }} data-testid="split-branch">
          <Labeled id={`branch-${i}-id`} label={t("panel.branchId")} errors={errors(`branches.${i}.id`)}>
            <Input id={`branch-${i}-id`} value={branch.id} maxLength={32} style={{ width: 80 }} onChange={(e) => set(i, { id: e.target.value })} />
          </Labeled>
          <Labeled id={`branch-${i}-name`} label={t("panel.branchName")} errors={errors(`branches.${i}.name`)}>
            <Input id={`branch-${i}-name`} value={branch.name ?? ""} maxLength={40} style={{ width: 120 }} onChange={(e) => set(i, { name: e.target.value })} />
          </Labeled>
          <Labeled id={`branch-${i}-percent`} label={t("panel.percent")} errors={errors(`branches.${i}.percent`)}>
            <InputNumber<number> id={`branch-${i}-percent`} min={0} max={100} precision={0} value={branch.percent ?? 0} onChange={(v) => set(i, { percent: v ?? 0 })} />
          </Labeled>
          <Button
            type="text"
            danger
            style={{ marginTop: 26 }}
            icon={<DeleteOutlined />}
            aria-label={t("panel.removeBranch")}
            disabled={branches.length <= 2}
            onClick={() => onChange({ ...step, branches: branches.filter((_, j) => j !== i) })}
          />
        </Space>
      ))}
      <Typography.Text type={total === 100 ? "secondary" : "danger"} style={{ display: "block", marginBottom: 8 }}>
        {t("panel.percentTotal", { total })}
      </Typography.Text>
      <Button
        icon={<PlusOutlined />}
        disabled={branches.length >= 5}
        onClick={() => {
          const id = nextId();
          onChange({ ...step, branches: [...branches, { id, name: id.toUpperCase(), percent: 0, steps: [] }] });
        }}
      >
        {t("panel.addBranch")}
      </Button>
    </div>
  );
}

export default function StepPanel({
  step,
  errors,
  onChange,
  onRemove,
  onClose,
  onMove,
  canMove,
}: {
  step: Step;
  /** The API's messages for this step, by field path inside it. */
  errors: Map<string, string[]> | undefined;
  onChange: (step: Step) => void;
  onRemove: () => void;
  onClose: () => void;
  /** Moves the step up (-1) or down (1) in its list (the keyboard's way to reorder); null: cannot. */
  onMove: ((delta: -1 | 1) => void) | null;
  canMove: { up: boolean; down: boolean };
}) {
  const { t } = useTranslation("sop");
  const stepName = useStepName();
  const tagGroups = useTagGroups();
  const stages = useStages();
  const at = (field: string) => fieldMessages(errors, field);
  const exact = (field: string) => errors?.get(field) ?? [];

  return (
    <Card
      size="small"
      data-testid="step-panel"
      role="region"
      aria-label={t("panel.title")}
      title={`${t("panel.title")} · ${stepName(step)}`}
      extra={
        <Popconfirm title={t("panel.removeConfirm")} onConfirm={onRemove} okText={t("common:action.delete")} cancelText={t("common:action.cancel")}>
          <Button danger size="small" icon={<DeleteOutlined />}>
            {t("panel.remove")}
          </Button>
        </Popconfirm>
      }
      actions={[
        <Button key="up" icon={<ArrowUpOutlined />} disabled={!onMove || !canMove.up} onClick={() => onMove?.(-1)}>
          {t("panel.moveUp")}
        </Button>,
        <Button key="down" icon={<ArrowDownOutlined />} disabled={!onMove || !canMove.down} onClick={() => onMove?.(1)}>
          {t("panel.moveDown")}
        </Button>,
        <Button key="done" type="primary" onClick={onClose}>
          {t("panel.done")}
        </Button>,
      ]}
    >
      <div>
        {exact("").length > 0 && <Alert type="error" showIcon title={exact("").join(" ")} style={{ marginBottom: 12 }} />}
        {step.type === "action" && step.action && (
          <Typography.Paragraph type="secondary">{t(`step.actionHint.${step.action}`, { defaultValue: "" })}</Typography.Paragraph>
        )}
        <Space align="start" wrap>
          <Labeled id="step-id" label={t("panel.id")} hint={t("panel.idHint")} errors={STEP_ID.test(step.id) ? at("id") : [t("panel.idInvalid"), ...at("id")]}>
            <Input id="step-id" value={step.id} maxLength={32} style={{ width: 180 }} onChange={(e) => onChange({ ...step, id: e.target.value.toLowerCase() })} />
          </Labeled>
          <Labeled id="step-title" label={t("panel.stepTitle")} errors={at("title")}>
            <Input
              id="step-title"
              value={step.title ?? ""}
              maxLength={100}
              placeholder={t("panel.titlePlaceholder")}
              style={{ width: 260 }}
              onChange={(e) => onChange({ ...step, title: e.target.value })}
            />
          </Labeled>
        </Space>

        {step.type === "wait" && (
          <>
            <Space align="start" wrap>
              <Labeled id="wait-days" label={t("panel.waitDays")} errors={at("days")}>
                <InputNumber<number> id="wait-days" min={0} max={365} precision={0} value={step.days ?? 0} onChange={(v) => onChange({ ...step, days: v ?? 0 })} />
              </Labeled>
              <Labeled id="wait-hours" label={t("panel.waitHours")} errors={at("hours")}>
                <InputNumber<number> id="wait-hours" min={0} max={23} precision={0} value={step.hours ?? 0} onChange={(v) => onChange({ ...step, hours: v ?? 0 })} />
              </Labeled>
              <Labeled id="wait-minutes" label={t("panel.waitMinutes")} errors={at("minutes")}>
                <InputNumber<number> id="wait-minutes" min={0} max={59} precision={0} value={step.minutes ?? 0} onChange={(v) => onChange({ ...step, minutes: v ?? 0 })} />
              </Labeled>
            </Space>
            <Typography.Paragraph type="secondary">{t("panel.waitHint")}</Typography.Paragraph>
          </>
        )}

        {step.type === "wait_until" && (
          <Space align="start" wrap>
            <Labeled id="until-time" label={t("panel.untilTime")} errors={at("time")}>
              <TimeInput id="until-time" value={step.time} onChange={(time) => onChange({ ...step, time })} />
            </Labeled>
            <Labeled id="until-weekday" label={t("panel.untilWeekday")} errors={at("weekday")}>
              <WeekdaySelect id="until-weekday" allowAny value={step.weekday ?? null} onChange={(v) => onChange({ ...step, weekday: v as number | null })} />
            </Labeled>
          </Space>
        )}

        {step.type === "wait_business_hours" && <Typography.Paragraph type="secondary">{t("panel.businessHint")}</Typography.Paragraph>}

        {step.type === "branch" && (
          <>
            <Typography.Paragraph type="secondary">{t("panel.branchHint")}</Typography.Paragraph>
            <Labeled id="branch-match" label={t("panel.match")} errors={at("if.match")}>
              <Radio.Group
                id="branch-match"
                value={step.if?.match ?? "all"}
                onChange={(e) => onChange({ ...step, if: { ...step.if, match: e.target.value } })}
                options={[
                  { value: "all", label: t("panel.matchAll") },
                  { value: "any", label: t("panel.matchAny") },
                ]}
              />
            </Labeled>
            <Typography.Text strong>{t("panel.criteria")}</Typography.Text>
            <Errors messages={exact("if.criteria")} />
            <CriteriaEditor
              idPrefix="branch-criteria"
              value={step.if?.criteria ?? []}
              onChange={(criteria) => onChange({ ...step, if: { match: step.if?.match ?? "all", criteria } })}
              errors={(path, whole) => (whole ? exact(`if.criteria.${path}`) : at(`if.criteria.${path}`))}
            />
          </>
        )}

        {step.type === "split" && (
          <>
            <Errors messages={exact("branches")} />
            <SplitBranches step={step} onChange={onChange} errors={at} />
          </>
        )}

        {step.type === "action" && step.action && (CONTENT_ACTIONS.includes(step.action) || step.action === "notify") && (
          <Labeled id="step-text" label={t("panel.text")} errors={at("text")}>
            <Input.TextArea
              id="step-text"
              value={step.text ?? ""}
              rows={5}
              showCount
              maxLength={4000}
              placeholder={t("panel.textPlaceholder")}
              onChange={(e) => onChange({ ...step, text: e.target.value })}
            />
          </Labeled>
        )}
        {step.type === "action" && step.action && CONTENT_ACTIONS.includes(step.action) && (
          <Attachments step={step} onChange={onChange} errors={at} />
        )}
        {step.type === "action" && (step.action === "tag_add" || step.action === "tag_remove") && (
          <Labeled id="step-tags" label={t("panel.tags")} errors={at("tag_ids")}>
            <TagPicker id="step-tags" groups={tagGroups.data} loading={tagGroups.isPending} value={step.tag_ids ?? []} onChange={(tag_ids) => onChange({ ...step, tag_ids })} />
          </Labeled>
        )}
        {step.type === "action" && step.action === "set_stage" && (
          <Labeled id="step-stage" label={t("panel.stage")} errors={at("stage_id")}>
            <Select<number | 0>
              id="step-stage"
              style={{ width: 240 }}
              loading={stages.isPending}
              value={step.stage_id ?? 0}
              options={[{ value: 0, label: t("panel.clearStage") }, ...(stages.data ?? []).map((s) => ({ value: s.id, label: s.name }))]}
              onChange={(v) => onChange({ ...step, stage_id: v || null })}
            />
          </Labeled>
        )}
        {step.type === "action" && step.action === "grant_points" && (
          <Space align="start" wrap>
            <Labeled id="step-points" label={t("panel.points")} errors={at("points")}>
              <InputNumber<number> id="step-points" min={1} max={100000} precision={0} value={step.points ?? null} onChange={(v) => onChange({ ...step, points: v ?? 0 })} />
            </Labeled>
            <Labeled id="step-note" label={t("panel.note")} errors={at("note")}>
              <Input id="step-note" value={step.note ?? ""} maxLength={200} style={{ width: 260 }} onChange={(e) => onChange({ ...step, note: e.target.value })} />
            </Labeled>
          </Space>
        )}
        {step.type === "action" && step.action === "notify" && (
          <Labeled id="step-staff" label={t("panel.staff")} errors={at("staff_ids")}>
            <StaffPicker id="step-staff" multiple value={step.staff_ids ?? []} onChange={(staff_ids) => onChange({ ...step, staff_ids })} />
          </Labeled>
        )}
      </div>
    </Card>
  );
}
