// The contacts list's filters on a customer's value, points and profile (issue 17): tier, score and
// lifetime-value ranges, orders, purchase windows, points, level, and profile conditions built from
// the tenant's fields. Loaded when the panel is first opened (import it with React.lazy).
import { CloseOutlined, PlusOutlined } from "@ant-design/icons";
import { Button, Input, InputNumber, Select, Space, Tag, Typography } from "antd";
import { Suspense, lazy, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import { type FieldKind, type ProfileField, useLevels, useProfileFields } from "./api";
import { Field } from "./controls";
import {
  type ClauseOp,
  type CustomerFilters,
  type ProfileClause,
  MAX_CLAUSES,
  MAX_DAYS,
  PRESENCE_OPS,
  TIERS,
  clauseText,
  parseAmount,
} from "./filters";

const DateInput = lazy(() => import("./DateInput"));

/** The conditions each kind of field takes (contacts/filters.py). */
export const KIND_OPS: Record<FieldKind, ClauseOp[]> = {
  text: ["=", "!=", "~", "?", "!?"],
  number: ["=", "!=", ">=", "<=", "?", "!?"],
  date: ["=", "!=", ">=", "<=", "?", "!?"],
  choice: ["=", "!=", "?", "!?"],
  multi_choice: ["=", "!=", "?", "!?"],
};

/** A condition in words for a kind of field ("includes" for a multiple choice, "on or after" for a date). */
export function useOpLabel() {
  const { t } = useTranslation("customers");
  return (op: ClauseOp, kind: FieldKind | undefined) => {
    if (kind === "multi_choice" && op === "=") return t("filter.op.contains");
    if (kind === "multi_choice" && op === "!=") return t("filter.op.notContains");
    if (kind === "date" && op === ">=") return t("filter.op.onOrAfter");
    if (kind === "date" && op === "<=") return t("filter.op.onOrBefore");
    return t(`filter.op.${op}`);
  };
}

/** A whole number applied on Enter or when leaving the box (each change is a server query). */
function DraftNumber({
  id,
  value,
  onCommit,
  min,
  max,
  ariaLabel,
  placeholder,
  suffix,
}: {
  id: string;
  value: number | null;
  onCommit: (value: number | null) => void;
  min: number;
  max?: number;
  ariaLabel?: string;
  placeholder?: string;
  suffix?: string;
}) {
  const [draft, setDraft] = useState<number | null>(value);
  useEffect(() => setDraft(value), [value]);
  const commit = () => {
    if (draft !== value) onCommit(draft);
  };
  return (
    <InputNumber<number>
      id={id}
      aria-label={ariaLabel}
      placeholder={placeholder}
      min={min}
      max={max}
      precision={0}
      value={draft}
      onChange={(next) => setDraft(next ?? null)}
      onBlur={commit}
      onPressEnter={commit}
      suffix={suffix}
      style={{ width: "100%" }}
    />
  );
}

/** An amount (≥ 0, 2 decimals), kept as the API's decimal string. */
function DraftAmount({
  id,
  value,
  onCommit,
  ariaLabel,
  placeholder,
}: {
  id: string;
  value: string;
  onCommit: (value: string) => void;
  ariaLabel?: string;
  placeholder?: string;
}) {
  const [draft, setDraft] = useState<string>(value);
  useEffect(() => setDraft(value), [value]);
  const commit = () => {
    const next = parseAmount(draft);
    if (next !== value) onCommit(next);
    else setDraft(value);
  };
  return (
    <InputNumber<string>
      id={id}
      aria-label={ariaLabel}
      placeholder={placeholder}
      stringMode
      min="0"
      precision={2}
      value={draft || null}
      onChange={(next) => setDraft(next ?? "")}
      onBlur={commit}
      onPressEnter={commit}
      style={{ width: "100%" }}
    />
  );
}

/** The value box of a new condition, by the field's kind. */
function ClauseValue({
  field,
  value,
  onChange,
}: {
  field: ProfileField | undefined;
  value: string;
  onChange: (value: string) => void;
}) {
  const { t } = useTranslation("customers");
  const common = { id: "filter-profile-value", "aria-label": t("filter.profileValue") };
  if (!field) return <Input {...common} disabled />;
  switch (field.kind) {
    case "number":
      return (
        <InputNumber<string>
          {...common}
          stringMode
          value={value || null}
          onChange={(next) => onChange(next ?? "")}
          style={{ width: "100%" }}
        />
      );
    case "date":
      return (
        <Suspense fallback={<Input {...common} disabled />}>
          <DateInput id={common.id} ariaLabel={common["aria-label"]} value={value} onChange={onChange} />
        </Suspense>
      );
    case "choice":
    case "multi_choice":
      return (
        <Select
          {...common}
          showSearch={{ optionFilterProp: "label" }}
          options={field.choices.map((choice) => ({ value: choice, label: choice }))}
          value={value || undefined}
          onChange={(next: string | undefined) => onChange(next ?? "")}
        />
      );
    default:
      return <Input {...common} maxLength={200} value={value} onChange={(e) => onChange(e.target.value)} />;
  }
}

/** The profile conditions: those set (each removable), and a row to add one from a field picker. */
function ProfileClauses({
  clauses,
  onChange,
}: {
  clauses: ProfileClause[];
  onChange: (clauses: ProfileClause[]) => void;
}) {
  const { t } = useTranslation("customers");
  const opLabel = useOpLabel();
  const fields = useProfileFields();
  const active = (fields.data ?? []).filter((field) => !field.archived);
  const byKey = new Map((fields.data ?? []).map((field) => [field.key, field]));
  const [key, setKey] = useState<string | null>(null);
  const field = key ? byKey.get(key) : undefined;
  const ops = field ? KIND_OPS[field.kind] : [];
  const [op, setOp] = useState<ClauseOp>("=");
  const [value, setValue] = useState("");
  const presence = PRESENCE_OPS.includes(op);
  const full = clauses.length >= MAX_CLAUSES;
  const badValue = !presence && value.includes(";");
  const ready = !!field && ops.includes(op) && (presence || value.trim() !== "") && !badValue && !full;

  const describe = (clause: ProfileClause) => {
    const f = byKey.get(clause.key);
    const name = f?.label || clause.key;
    const words = opLabel(clause.op, f?.kind);
    return PRESENCE_OPS.includes(clause.op) ? `${name} ${words}` : `${name} ${words} ${clause.value}`;
  };

  const add = () => {
    if (!ready || !field) return;
    const clause: ProfileClause = { key: field.key, op, value: presence ? "" : value.trim() };
    if (!clauses.some((c) => clauseText(c) === clauseText(clause))) onChange([...clauses, clause]);
    setValue("");
  };

  return (
    <div style={{ display: "flex", flexDirection: "column", gap: 8, width: "100%" }} data-testid="profile-clauses">
      <Typography.Text style={{ fontSize: 12, color: "rgba(0,0,0,0.65)" }}>{t("filter.profile")}</Typography.Text>
      {clauses.length > 0 && (
        <Space size={[4, 4]} wrap>
          {clauses.map((clause) => (
            <Tag key={clauseText(clause)} color="blue" data-testid="profile-clause">
              {describe(clause)}
              <Button
                type="text"
                size="small"
                icon={<CloseOutlined />}
                aria-label={t("filter.profileRemove", { clause: describe(clause) })}
                onClick={() => onChange(clauses.filter((c) => clauseText(c) !== clauseText(clause)))}
                style={{ marginInlineStart: 4, height: 18, width: 18, minWidth: 18 }}
              />
            </Tag>
          ))}
        </Space>
      )}
      <div style={{ display: "flex", flexWrap: "wrap", gap: 8, alignItems: "flex-end" }}>
        <Field id="filter-profile-field" label={t("filter.profileField")} width={200}>
          <Select
            id="filter-profile-field"
            showSearch={{ optionFilterProp: "label" }}
            placeholder={t("filter.profileFieldPlaceholder")}
            loading={fields.isPending}
            options={active.map((f) => ({ value: f.key, label: f.label }))}
            value={key ?? undefined}
            onChange={(next: string) => {
              setKey(next);
              const kind = byKey.get(next)?.kind;
              if (kind && !KIND_OPS[kind].includes(op)) setOp("=");
              setValue("");
            }}
            notFoundContent={t("filter.noProfileFields")}
          />
        </Field>
        <Field id="filter-profile-op" label={t("filter.profileOp")} width={150}>
          <Select
            id="filter-profile-op"
            disabled={!field}
            options={(ops.length ? ops : KIND_OPS.text).map((o) => ({ value: o, label: opLabel(o, field?.kind) }))}
            value={op}
            onChange={(next: ClauseOp) => setOp(next)}
          />
        </Field>
        {!presence && (
          <Field id="filter-profile-value" label={t("filter.profileValue")} width={200}>
            <ClauseValue field={field} value={value} onChange={setValue} />
          </Field>
        )}
        <Button icon={<PlusOutlined />} disabled={!ready} onClick={add}>
          {t("filter.profileAdd")}
        </Button>
      </div>
      {badValue && <Typography.Text type="danger">{t("filter.profileSemicolon")}</Typography.Text>}
      {full && <Typography.Text type="secondary">{t("filter.profileMax", { max: MAX_CLAUSES })}</Typography.Text>}
    </div>
  );
}

export default function ValueFilters({
  filters,
  onChange,
}: {
  filters: CustomerFilters;
  onChange: (patch: Partial<CustomerFilters>) => void;
}) {
  const { t } = useTranslation("customers");
  const levels = useLevels();
  return (
    <div
      role="group"
      aria-label={t("filter.valueTitle")}
      data-testid="value-filters"
      style={{ display: "flex", flexWrap: "wrap", gap: 12, alignItems: "flex-end", width: "100%" }}
    >
      <Field id="filter-tier" label={t("filter.tier")} width={140}>
        <Select
          id="filter-tier"
          allowClear
          placeholder={t("filter.any")}
          options={TIERS.map((tier) => ({ value: tier, label: t(`tier.${tier}`) }))}
          value={filters.tier ?? undefined}
          onChange={(tier) => onChange({ tier: tier ?? null })}
        />
      </Field>
      <Field id="filter-score-min" label={t("filter.score")} width={200}>
        <Space.Compact>
          <DraftNumber
            id="filter-score-min"
            ariaLabel={t("filter.scoreMin")}
            placeholder={t("filter.from")}
            min={0}
            max={100}
            value={filters.score_min}
            onCommit={(score_min) => onChange({ score_min })}
          />
          <DraftNumber
            id="filter-score-max"
            ariaLabel={t("filter.scoreMax")}
            placeholder={t("filter.to")}
            min={0}
            max={100}
            value={filters.score_max}
            onCommit={(score_max) => onChange({ score_max })}
          />
        </Space.Compact>
      </Field>
      <Field id="filter-ltv-min" label={t("filter.ltv")} width={240}>
        <Space.Compact>
          <DraftAmount
            id="filter-ltv-min"
            ariaLabel={t("filter.ltvMin")}
            placeholder={t("filter.from")}
            value={filters.ltv_min}
            onCommit={(ltv_min) => onChange({ ltv_min })}
          />
          <DraftAmount
            id="filter-ltv-max"
            ariaLabel={t("filter.ltvMax")}
            placeholder={t("filter.to")}
            value={filters.ltv_max}
            onCommit={(ltv_max) => onChange({ ltv_max })}
          />
        </Space.Compact>
      </Field>
      <Field id="filter-orders-min" label={t("filter.ordersMin")} width={130}>
        <DraftNumber id="filter-orders-min" min={0} value={filters.orders_min} onCommit={(orders_min) => onChange({ orders_min })} />
      </Field>
      <Field id="filter-purchased-within" label={t("filter.purchasedWithin")} width={210}>
        <DraftNumber
          id="filter-purchased-within"
          min={1}
          max={MAX_DAYS}
          suffix={t("filter.days")}
          value={filters.purchased_within}
          onCommit={(purchased_within) => onChange({ purchased_within })}
        />
      </Field>
      <Field id="filter-not-purchased-within" label={t("filter.notPurchasedWithin")} width={210}>
        <DraftNumber
          id="filter-not-purchased-within"
          min={1}
          max={MAX_DAYS}
          suffix={t("filter.days")}
          value={filters.not_purchased_within}
          onCommit={(not_purchased_within) => onChange({ not_purchased_within })}
        />
      </Field>
      <Field id="filter-points-min" label={t("filter.pointsMin")} width={130}>
        <DraftNumber id="filter-points-min" min={0} value={filters.points_min} onCommit={(points_min) => onChange({ points_min })} />
      </Field>
      <Field id="filter-level" label={t("filter.level")} width={160}>
        <Select
          id="filter-level"
          allowClear
          placeholder={t("filter.anyLevel")}
          loading={levels.isPending}
          options={(levels.data ?? []).map((level) => ({ value: level.id, label: level.name }))}
          value={filters.level ?? undefined}
          onChange={(level) => onChange({ level: level ?? null })}
        />
      </Field>
      <ProfileClauses clauses={filters.profile} onChange={(profile) => onChange({ profile })} />
    </div>
  );
}
