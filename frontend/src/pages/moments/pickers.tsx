// The compose page's pickers: members (searched on the server; names remembered so chosen members
// outside the current options and the preview's name still read) and departments (Siyu's ids, as the
// task stores them).
import "./strings";

import { Select, TreeSelect } from "antd";
import { useDeferredValue, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import { type DepartmentNode, useDepartments, useStaffOptions } from "../customers/api";

export function StaffSelect({
  id,
  value,
  onChange,
  names,
  onNames,
  placeholder,
  ariaLabel,
}: {
  id?: string;
  value?: number[];
  onChange?: (ids: number[]) => void;
  /** Staff id → name of every member seen (the task's, the options'). */
  names: ReadonlyMap<number, string>;
  onNames: (staff: { id: number; name: string }[]) => void;
  placeholder?: string;
  ariaLabel?: string;
}) {
  const { t } = useTranslation("moments");
  const [search, setSearch] = useState("");
  const deferred = useDeferredValue(search.trim());
  const staff = useStaffOptions(deferred);
  const results = staff.data?.results;
  useEffect(() => {
    if (results) onNames(results.map((s) => ({ id: s.id, name: s.name || s.userid })));
  }, [results, onNames]);
  // Only members who may publish (active, with WeCom's customer-contact permission) can be picked.
  const options = (results ?? []).map((s) => {
    const allowed = s.is_active && s.has_contact_permission;
    return { value: s.id, label: allowed ? s.name || s.userid : t("compose.cannotPublish", { name: s.name || s.userid }), disabled: !allowed };
  });
  for (const chosen of value ?? []) {
    if (!options.some((o) => o.value === chosen)) options.push({ value: chosen, label: names.get(chosen) ?? `#${chosen}`, disabled: false });
  }
  return (
    <Select<number[]>
      id={id}
      aria-label={ariaLabel}
      mode="multiple"
      allowClear
      showSearch={{ filterOption: false, onSearch: setSearch, searchValue: search }}
      placeholder={placeholder}
      loading={staff.isFetching}
      options={options}
      value={value ?? []}
      onChange={(ids) => {
        setSearch("");
        onChange?.(ids ?? []);
      }}
      notFoundContent={staff.isFetching ? t("common:state.loading") : t("common:state.empty")}
      style={{ width: "100%" }}
    />
  );
}

interface TreeNode {
  value: number;
  title: string;
  children: TreeNode[];
}

/** The department tree for a TreeSelect, valued by Siyu's id or by WeCom's (the ranking's filter). */
export function departmentTree(nodes: DepartmentNode[] | undefined, by: "id" | "wecom_id" = "id"): TreeNode[] {
  return (nodes ?? []).map((node) => ({ value: node[by], title: node.name, children: departmentTree(node.children as unknown as DepartmentNode[], by) }));
}

export function DepartmentSelect({ id, value, onChange, placeholder }: { id?: string; value?: number[]; onChange?: (ids: number[]) => void; placeholder?: string }) {
  const departments = useDepartments();
  return (
    <TreeSelect<number[]>
      id={id}
      multiple
      allowClear
      showSearch={{ treeNodeFilterProp: "title" }}
      treeDefaultExpandAll
      placeholder={placeholder}
      loading={departments.isPending}
      treeData={departmentTree(departments.data)}
      value={value ?? []}
      onChange={(ids) => onChange?.(ids ?? [])}
      style={{ width: "100%" }}
    />
  );
}
