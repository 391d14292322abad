// A list of criteria (a branch's "if", the exit and goal conditions): the customer matches filters
// now (tag, stage, tier, purchased within N days — the simple ones get pickers, any other filter
// the definition holds is kept as it is), an event happened since it entered, or it is (not) in a group.
import "./strings";

import { DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import { Button, Card, InputNumber, Input, Select, Space, Typography } from "antd";
import { useTranslation } from "react-i18next";

import { useStages, useTagGroups } from "../customers/api";
import { TagPicker } from "../customers/controls";
import { Errors, Labeled } from "./bits";
import { CRITERION_EVENTS, type Criterion, type Filters, TIERS } from "./types";

type CriterionType = "filters" | "event" | "in_group";

const SIMPLE = ["tags_any", "tags_none", "stage", "tier", "purchased_within"];

function typeOf(c: Criterion): CriterionType {
  if (c.event !== undefined) return "event";
  if (c.in_group !== undefined) return "in_group";
  return "filters";
}

const ids = (raw: string | undefined) =>
  (raw ?? "")
    .split(",")
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);

function setFilter(filters: Filters, key: string, value: string): Filters {
  const next = { ...filters };
  if (value) next[key] = value;
  else delete next[key];
  return next;
}

export function FiltersEditor({
  idPrefix,
  value,
  onChange,
  errors,
}: {
  idPrefix: string;
  value: Filters;
  onChange: (f: Filters) => void;
  errors: (field: string) => string[];
}) {
  const { t } = useTranslation("sop");
  const tagGroups = useTagGroups();
  const stages = useStages();
  const others = Object.entries(value).filter(([key]) => !SIMPLE.includes(key));
  return (
    <>
      <Labeled id={`${idPrefix}-tags-any`} label={t("criteria.tagsAny")} errors={errors("tags_any")}>
        <TagPicker
          id={`${idPrefix}-tags-any`}
          groups={tagGroups.data}
          loading={tagGroups.isPending}
          value={ids(value.tags_any)}
          onChange={(v) => onChange(setFilter(value, "tags_any", v.join(",")))}
        />
      </Labeled>
      <Labeled id={`${idPrefix}-tags-none`} label={t("criteria.tagsNone")} errors={errors("tags_none")}>
        <TagPicker
          id={`${idPrefix}-tags-none`}
          groups={tagGroups.data}
          loading={tagGroups.isPending}
          value={ids(value.tags_none)}
          onChange={(v) => onChange(setFilter(value, "tags_none", v.join(",")))}
        />
      </Labeled>
      <Space wrap align="start">
        <Labeled id={`${idPrefix}-stage`} label={t("criteria.stage")} errors={errors("stage")}>
          <Select<number | 0>
            id={`${idPrefix}-stage`}
            style={{ width: 180 }}
            loading={stages.isPending}
            value={value.stage ? Number(value.stage) : 0}
            options={[{ value: 0, label: t("criteria.any") }, ...(stages.data ?? []).map((s) => ({ value: s.id, label: s.name }))]}
            onChange={(v) => onChange(setFilter(value, "stage", v ? String(v) : ""))}
          />
        </Labeled>
        <Labeled id={`${idPrefix}-tier`} label={t("criteria.tier")} errors={errors("tier")}>
          <Select<string>
            id={`${idPrefix}-tier`}
            style={{ width: 140 }}
            value={value.tier ?? ""}
            options={[{ value: "", label: t("criteria.any") }, ...TIERS.map((tier) => ({ value: tier, label: t(`tier.${tier}`) }))]}
            onChange={(v) => onChange(setFilter(value, "tier", v))}
          />
        </Labeled>
        <Labeled id={`${idPrefix}-purchased`} label={t("criteria.purchasedWithin")} errors={errors("purchased_within")}>
          <InputNumber<number>
            id={`${idPrefix}-purchased`}
            min={1}
            max={3650}
            precision={0}
            value={value.purchased_within ? Number(value.purchased_within) : null}
            onChange={(v) => onChange(setFilter(value, "purchased_within", v ? String(v) : ""))}
          />
        </Labeled>
      </Space>
      {others.length > 0 && (
        <Typography.Paragraph type="secondary" style={{ fontSize: 12 }}>
          {t("criteria.other", { text: others.map(([k, v]) => `${k}=${v}`).join(", ") })}
        </Typography.Paragraph>
      )}
      <Errors messages={others.flatMap(([key]) => errors(key))} />
    </>
  );
}

export default function CriteriaEditor({
  idPrefix,
  value,
  onChange,
  errors,
}: {
  idPrefix: string;
  value: Criterion[];
  onChange: (criteria: Criterion[]) => void;
  /** The messages at a path under this list ("0.filters.stage", "1.event"), or exactly at it. */
  errors: (path: string, exact?: boolean) => string[];
}) {
  const { t } = useTranslation("sop");
  const set = (i: number, c: Criterion) => onChange(value.map((old, j) => (j === i ? c : old)));
  return (
    <div>
      {value.length === 0 && <Typography.Paragraph type="secondary">{t("criteria.none")}</Typography.Paragraph>}
      {value.map((criterion, i) => {
        const kind = typeOf(criterion);
        const id = `${idPrefix}-${i}`;
        return (
          <Card
            key={i}
            size="small"
            style={{ marginBottom: 8 }}
            data-testid="criterion"
            title={
              <Select<CriterionType>
                aria-label={t("criteria.type")}
                variant="borderless"
                value={kind}
                options={(["filters", "event", "in_group"] as const).map((k) => ({ value: k, label: t(`criteria.types.${k}`) }))}
                onChange={(k) => set(i, k === "filters" ? { filters: {} } : k === "event" ? { event: "purchased" } : { in_group: true })}
                style={{ minWidth: 220 }}
              />
            }
            extra={<Button type="text" danger icon={<DeleteOutlined />} aria-label={t("criteria.remove")} onClick={() => onChange(value.filter((_, j) => j !== i))} />}
          >
            {kind === "filters" && (
              <FiltersEditor
                idPrefix={id}
                value={criterion.filters ?? {}}
                onChange={(filters) => set(i, { filters })}
                errors={(field) => errors(`${i}.filters.${field}`)}
              />
            )}
            {kind === "event" && (
              <Space wrap align="start">
                <Labeled id={`${id}-event`} label={t("criteria.event")} errors={errors(`${i}.event`)}>
                  <Select<string>
                    id={`${id}-event`}
                    style={{ width: 220 }}
                    value={criterion.event}
                    options={CRITERION_EVENTS.map((e) => ({ value: e, label: t(`event.${e}`) }))}
                    onChange={(event) => set(i, event === "custom" ? { event, name: criterion.name ?? "" } : { event })}
                  />
                </Labeled>
                {criterion.event === "custom" && (
                  <Labeled id={`${id}-name`} label={t("criteria.eventName")} errors={errors(`${i}.name`)}>
                    <Input id={`${id}-name`} value={criterion.name ?? ""} maxLength={64} onChange={(e) => set(i, { ...criterion, name: e.target.value })} />
                  </Labeled>
                )}
              </Space>
            )}
            {kind === "in_group" && (
              <Select<string>
                aria-label={t("criteria.types.in_group")}
                style={{ width: 220 }}
                value={criterion.in_group ? "yes" : "no"}
                options={[
                  { value: "yes", label: t("criteria.inGroup") },
                  { value: "no", label: t("criteria.notInGroup") },
                ]}
                onChange={(v) => set(i, { in_group: v === "yes" })}
              />
            )}
            <Errors messages={errors(String(i), true)} />
          </Card>
        );
      })}
      <Button icon={<PlusOutlined />} onClick={() => onChange([...value, { filters: {} }])}>
        {t("criteria.add")}
      </Button>
    </div>
  );
}
