// Small controls the customers page's parts share: a labelled field, the grouped tag picker, a text
// input that applies on Enter or when leaving it, and the label helpers for API enums.
import { Input, Select, type SelectProps } from "antd";
import { type ReactNode, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import type { TagGroup } from "./api";

/** A visible label tied to its control by id (so `getByLabel` and screen readers find it). */
export function Field({ id, label, children, width = 200 }: { id: string; label: ReactNode; children: ReactNode; width?: number }) {
  return (
    <div style={{ display: "flex", flexDirection: "column", gap: 4, width }}>
      <label htmlFor={id} style={{ fontSize: 12, color: "rgba(0,0,0,0.65)" }}>
        {label}
      </label>
      {children}
    </div>
  );
}

/** Tags grouped by their tag group, in WeCom's order; searchable by name. */
export function tagOptions(groups: TagGroup[] | undefined): NonNullable<SelectProps["options"]> {
  return (groups ?? []).map((group) => ({
    label: group.name,
    title: group.name,
    options: group.tags.map((tag) => ({ value: tag.id, label: tag.name })),
  }));
}

export function TagPicker({
  groups,
  value,
  onChange,
  loading,
  disabled,
  id,
  placeholder,
  ariaLabel,
  describedBy,
}: {
  groups: TagGroup[] | undefined;
  /** Optional so a Form.Item can drive it. */
  value?: number[];
  onChange?: (ids: number[]) => void;
  loading?: boolean;
  disabled?: boolean;
  id?: string;
  placeholder?: string;
  ariaLabel?: string;
  /** The id of a text that explains the picker (why it is disabled). */
  describedBy?: string;
}) {
  return (
    <Select<number[]>
      id={id}
      aria-label={ariaLabel}
      aria-describedby={describedBy}
      mode="multiple"
      allowClear
      showSearch={{ optionFilterProp: "label" }}
      maxTagCount="responsive"
      placeholder={placeholder}
      loading={loading}
      disabled={disabled}
      options={tagOptions(groups)}
      value={value}
      onChange={(ids) => onChange?.(ids ?? [])}
      style={{ width: "100%" }}
    />
  );
}

/** Text that applies on Enter or blur (not on every keystroke: each change is a server query). */
export function DraftInput({
  id,
  value,
  onCommit,
  placeholder,
  search,
}: {
  id: string;
  value: string;
  onCommit: (value: string) => void;
  placeholder?: string;
  search?: boolean;
}) {
  const [draft, setDraft] = useState(value);
  useEffect(() => setDraft(value), [value]);
  const commit = (next: string) => {
    if (next.trim() !== value) onCommit(next.trim());
  };
  const common = {
    id,
    value: draft,
    placeholder,
    allowClear: true,
    onChange: (e: React.ChangeEvent<HTMLInputElement>) => setDraft(e.target.value),
    onBlur: () => commit(draft),
  };
  // Search's clear icon also searches (for ""); a plain input's clear applies at once too.
  if (search) return <Input.Search {...common} onSearch={(text) => commit(text ?? "")} />;
  return <Input {...common} onPressEnter={() => commit(draft)} onClear={() => commit("")} />;
}

/** The first character of a name for an avatar (whole: an emoji is two UTF-16 units). */
export function initial(name: string): string {
  return Array.from(name.trim())[0] ?? "";
}

/** Labels for the API's enums, in the page's language. */
export function useLabels() {
  const { t } = useTranslation("customers");
  return {
    status: (status: string) => t(`status.${status}`, { defaultValue: status }),
    followStatus: (status: string) => t(`followStatus.${status}`, { defaultValue: status }),
    gender: (gender: number) => t(`gender.${gender}`, { defaultValue: String(gender) }),
    addWay: (way: number) => t(`addWay.${way}`, { defaultValue: String(way) }),
    contactType: (type: number) => t(`contactType.${type}`, { defaultValue: String(type) }),
    event: (type: string) => t(`event.${type}`, { defaultValue: type }),
    jobKind: (kind: string) => t(`job.kind.${kind}`, { defaultValue: kind }),
    jobStatus: (status: string) => t(`job.status.${status}`, { defaultValue: status }),
  };
}
