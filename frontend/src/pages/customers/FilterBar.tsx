// Every filter of the contacts list; each change goes to the URL (the page reads its state from there).
import { ClearOutlined, DownOutlined, UpOutlined } from "@ant-design/icons";
import { Badge, Button, Input, Select, Skeleton, TreeSelect } from "antd";
import { Suspense, lazy, useDeferredValue, useState } from "react";
import { useTranslation } from "react-i18next";

import { type DepartmentNode, useDepartments, useStaffOptions, useStages, useTagGroups } from "./api";
import { DraftInput, Field, TagPicker, useLabels } from "./controls";
import {
  ADD_WAYS,
  type CustomerFilters,
  EMPTY_FILTERS,
  GENDERS,
  STATUSES,
  VALUE_FILTERS,
  filtersToParams,
  hasActiveFilters,
} from "./filters";

const DateRange = lazy(() => import("../../components/DateRange"));
// The value, points and profile filters load when their panel is first opened.
const ValueFilters = lazy(() => import("./ValueFilters"));

/** How many of the value filters are set, each profile condition counted (the panel's toggle shows it). */
function valueFilterCount(filters: CustomerFilters): number {
  const params = filtersToParams(filters);
  return VALUE_FILTERS.filter((name) => name !== "profile" && name in params).length + filters.profile.length;
}

interface TreeNode {
  value: number;
  title: string;
  children: TreeNode[];
}

function departmentTree(nodes: DepartmentNode[] | undefined): TreeNode[] {
  return (nodes ?? []).map((node) => ({
    value: node.wecom_id,
    title: node.name,
    children: departmentTree(node.children as unknown as DepartmentNode[]),
  }));
}

function StaffPicker({ value, onChange }: { value: string; onChange: (userid: string) => void }) {
  const { t } = useTranslation("customers");
  const [search, setSearch] = useState("");
  const deferred = useDeferredValue(search);
  const staff = useStaffOptions(deferred.trim());
  const options = (staff.data?.results ?? []).map((s) => ({
    value: s.userid,
    label: s.name && s.name !== s.userid ? `${s.name} (${s.userid})` : s.userid,
  }));
  if (value && !options.some((o) => o.value === value)) options.unshift({ value, label: value });
  return (
    <Select
      id="filter-staff"
      allowClear
      showSearch={{ filterOption: false, onSearch: setSearch }}
      placeholder={t("filter.anyone")}
      loading={staff.isFetching}
      options={options}
      value={value || undefined}
      onChange={(userid) => {
        setSearch("");
        onChange(userid ?? "");
      }}
      notFoundContent={staff.isFetching ? t("common:state.loading") : t("common:state.empty")}
    />
  );
}

export default function FilterBar({
  filters,
  onChange,
}: {
  filters: CustomerFilters;
  onChange: (patch: Partial<CustomerFilters>) => void;
}) {
  const { t } = useTranslation("customers");
  const labels = useLabels();
  const tagGroups = useTagGroups();
  const stages = useStages();
  const departments = useDepartments();
  const tagProps = { groups: tagGroups.data, loading: tagGroups.isPending, placeholder: t("filter.anyTag") };
  const valueCount = valueFilterCount(filters);
  // Open when a link or a segment sets one of them; closed again only by the person.
  const [valueOpen, setValueOpen] = useState(valueCount > 0);
  const [seenCount, setSeenCount] = useState(valueCount);
  if (seenCount !== valueCount) {
    setSeenCount(valueCount);
    if (seenCount === 0 && valueCount > 0) setValueOpen(true);
  }

  return (
    <div
      role="search"
      aria-label={t("filter.title")}
      style={{ display: "flex", flexWrap: "wrap", gap: 12, alignItems: "flex-end", marginBottom: 16 }}
    >
      <Field id="filter-search" label={t("filter.search")} width={240}>
        <DraftInput
          id="filter-search"
          search
          value={filters.search}
          placeholder={t("filter.searchPlaceholder")}
          onCommit={(search) => onChange({ search })}
        />
      </Field>
      <Field id="filter-tags-all" label={t("filter.tagsAll")} width={240}>
        <TagPicker id="filter-tags-all" {...tagProps} value={filters.tags_all} onChange={(ids) => onChange({ tags_all: ids })} />
      </Field>
      <Field id="filter-tags-any" label={t("filter.tagsAny")} width={240}>
        <TagPicker id="filter-tags-any" {...tagProps} value={filters.tags_any} onChange={(ids) => onChange({ tags_any: ids })} />
      </Field>
      <Field id="filter-tags-none" label={t("filter.tagsNone")} width={240}>
        <TagPicker
          id="filter-tags-none"
          {...tagProps}
          value={filters.tags_none}
          onChange={(ids) => onChange({ tags_none: ids })}
        />
      </Field>
      <Field id="filter-staff" label={t("filter.staff")}>
        <StaffPicker value={filters.staff} onChange={(staff) => onChange({ staff })} />
      </Field>
      <Field id="filter-department" label={t("filter.department")}>
        <TreeSelect
          id="filter-department"
          allowClear
          showSearch={{ treeNodeFilterProp: "title" }}
          treeDefaultExpandAll
          placeholder={t("filter.anyDepartment")}
          loading={departments.isPending}
          treeData={departmentTree(departments.data)}
          value={filters.department ?? undefined}
          onChange={(department: number | undefined) => onChange({ department: department ?? null })}
        />
      </Field>
      <Field id="filter-state" label={t("filter.channel")} width={160}>
        <DraftInput
          id="filter-state"
          value={filters.state}
          placeholder={t("filter.channelPlaceholder")}
          onCommit={(state) => onChange({ state })}
        />
      </Field>
      <Field id="filter-add-way" label={t("filter.addWay")} width={180}>
        <Select
          id="filter-add-way"
          allowClear
          placeholder={t("filter.any")}
          options={ADD_WAYS.map((way) => ({ value: way, label: labels.addWay(way) }))}
          value={filters.add_way ?? undefined}
          onChange={(way) => onChange({ add_way: way ?? null })}
        />
      </Field>
      <Field id="filter-stage" label={t("filter.stage")} width={160}>
        <Select
          id="filter-stage"
          allowClear
          placeholder={t("filter.any")}
          loading={stages.isPending}
          options={(stages.data ?? []).map((stage) => ({ value: stage.id, label: stage.name }))}
          value={filters.stage ?? undefined}
          onChange={(stage) => onChange({ stage: stage ?? null })}
        />
      </Field>
      <Field id="filter-status" label={t("filter.status")} width={140}>
        <Select
          id="filter-status"
          allowClear
          placeholder={t("filter.any")}
          options={STATUSES.map((status) => ({ value: status, label: labels.status(status) }))}
          value={filters.status ?? undefined}
          onChange={(status) => onChange({ status: status ?? null })}
        />
      </Field>
      <Field id="filter-gender" label={t("filter.gender")} width={120}>
        <Select
          id="filter-gender"
          allowClear
          placeholder={t("filter.any")}
          options={GENDERS.map((gender) => ({ value: gender, label: labels.gender(gender) }))}
          value={filters.gender ?? undefined}
          onChange={(gender) => onChange({ gender: gender ?? null })}
        />
      </Field>
      <Field id="filter-added" label={t("filter.added")} width={260}>
        <Suspense fallback={<Input disabled />}>
          <DateRange
            id="filter-added"
            from={filters.added_after}
            to={filters.added_before}
            onChange={(added_after, added_before) => onChange({ added_after, added_before })}
          />
        </Suspense>
      </Field>
      <Badge count={valueCount} size="small">
        <Button
          icon={valueOpen ? <UpOutlined /> : <DownOutlined />}
          aria-expanded={valueOpen}
          aria-controls="value-filters"
          onClick={() => setValueOpen(!valueOpen)}
        >
          {t("filter.value")}
        </Button>
      </Badge>
      {hasActiveFilters(filters) && (
        <Button icon={<ClearOutlined />} onClick={() => onChange(EMPTY_FILTERS)}>
          {t("filter.clear")}
        </Button>
      )}
      {valueOpen && (
        <div id="value-filters" style={{ width: "100%", borderTop: "1px dashed #d9d9d9", paddingTop: 12 }}>
          <Suspense fallback={<Skeleton.Input active block />}>
            <ValueFilters filters={filters} onChange={onChange} />
          </Suspense>
        </div>
      )}
    </div>
  );
}
