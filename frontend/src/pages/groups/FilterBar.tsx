// The groups list's filters; each change goes to the URL (the page reads its state from there).
import "./strings";

import { ClearOutlined } from "@ant-design/icons";
import { Button, Input, Select, Space } from "antd";
import { Suspense, lazy, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import { DraftInput, Field } from "../customers/controls";
import { useGroupTags } from "./api";
import { StaffPicker, tagOptions, useGroupLabels } from "./bits";
import { EMPTY_FILTERS, GROUP_STATUSES, type GroupFilters, MEMBERS_MAX, hasFilters, parseCount } from "./params";

const DateRange = lazy(() => import("../../components/DateRange"));

/** A count that applies on Enter or when leaving the field (each change is a server query). A plain
 * numeric input: InputNumber would add its own chunk to the list's first screen. */
function DraftNumber({
  id,
  value,
  onCommit,
  placeholder,
  ariaLabel,
}: {
  id: string;
  value: number | null;
  onCommit: (value: number | null) => void;
  placeholder?: string;
  ariaLabel?: string;
}) {
  const [draft, setDraft] = useState(value === null ? "" : String(value));
  useEffect(() => setDraft(value === null ? "" : String(value)), [value]);
  const commit = () => {
    const parsed = parseCount(draft);
    const next = parsed === null ? null : Math.min(parsed, MEMBERS_MAX);
    // What cannot be read as a count is dropped (the field shows the filter that applies).
    setDraft(next === null ? "" : String(next));
    if (next !== value) onCommit(next);
  };
  return (
    <Input
      id={id}
      aria-label={ariaLabel}
      type="number"
      inputMode="numeric"
      min={0}
      max={MEMBERS_MAX}
      step={1}
      value={draft}
      placeholder={placeholder}
      onChange={(e) => setDraft(e.target.value)}
      onBlur={commit}
      onPressEnter={commit}
      style={{ width: "100%" }}
    />
  );
}

export default function FilterBar({
  filters,
  onChange,
  showOwner,
  ownerNames,
}: {
  filters: GroupFilters;
  onChange: (patch: Partial<GroupFilters>) => void;
  /** Sales members see only their own groups: no owner to choose. */
  showOwner: boolean;
  ownerNames: ReadonlyMap<number, string>;
}) {
  const { t } = useTranslation("groups");
  const labels = useGroupLabels();
  const tags = useGroupTags();

  return (
    <div role="search" aria-label={t("filter.title")} style={{ display: "flex", flexWrap: "wrap", gap: 12, alignItems: "flex-end", marginBottom: 16 }}>
      <Field id="group-filter-q" label={t("filter.name")} width={220}>
        <DraftInput id="group-filter-q" search value={filters.q} placeholder={t("filter.namePlaceholder")} onCommit={(q) => onChange({ q })} />
      </Field>
      {showOwner && (
        <Field id="group-filter-owner" label={t("filter.owner")} width={220}>
          <StaffPicker
            id="group-filter-owner"
            multiple
            value={filters.owner}
            known={ownerNames}
            placeholder={t("filter.anyOwner")}
            onChange={(owner) => onChange({ owner })}
          />
        </Field>
      )}
      <Field id="group-filter-tag" label={t("filter.tag")} width={220}>
        <Select<number[]>
          id="group-filter-tag"
          mode="multiple"
          allowClear
          showSearch={{ optionFilterProp: "label" }}
          maxTagCount="responsive"
          placeholder={t("filter.anyTag")}
          loading={tags.isPending}
          options={tagOptions(tags.data)}
          value={filters.tag}
          onChange={(tag) => onChange({ tag: tag ?? [] })}
          notFoundContent={t("filter.noTags")}
        />
      </Field>
      <Field id="group-filter-status" label={t("filter.status")} width={200}>
        <Select
          id="group-filter-status"
          mode="multiple"
          allowClear
          maxTagCount="responsive"
          placeholder={t("filter.anyStatus")}
          options={GROUP_STATUSES.map((status) => ({ value: status, label: labels.status(status) }))}
          value={filters.status}
          onChange={(status) => onChange({ status: status ?? [] })}
        />
      </Field>
      <Field id="group-filter-created" label={t("filter.created")} width={260}>
        <Suspense fallback={<Input disabled />}>
          <DateRange
            id="group-filter-created"
            from={filters.created_after}
            to={filters.created_before}
            onChange={(created_after, created_before) => onChange({ created_after, created_before })}
          />
        </Suspense>
      </Field>
      <Field id="group-filter-members-min" label={t("filter.members")} width={200}>
        <Space.Compact style={{ width: "100%" }}>
          <DraftNumber
            id="group-filter-members-min"
            ariaLabel={t("filter.membersMin")}
            placeholder={t("filter.min")}
            value={filters.members_min}
            onCommit={(members_min) => onChange({ members_min })}
          />
          <DraftNumber
            id="group-filter-members-max"
            ariaLabel={t("filter.membersMax")}
            placeholder={t("filter.max")}
            value={filters.members_max}
            onCommit={(members_max) => onChange({ members_max })}
          />
        </Space.Compact>
      </Field>
      {hasFilters(filters) && (
        <Button icon={<ClearOutlined />} onClick={() => onChange(EMPTY_FILTERS)}>
          {t("filter.clear")}
        </Button>
      )}
    </div>
  );
}
