// Pickers of the channel form: staff (searched on the server, names remembered for the preview and
// for chosen members outside the current page of options) and WeCom departments.
import "./strings";

import { Select, TreeSelect } from "antd";
import { useCallback, useDeferredValue, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import type { Schemas } from "../../api/client";
import { useDepartments, useStaffOptions } from "./api";

type DepartmentNode = Schemas["DepartmentNode"];

/** Staff id → name, of every member the form has seen (the channel's, the pickers' options). */
export type NameBook = ReadonlyMap<number, string>;

export function useNameBook(initial: { id: number; name: string }[]): [NameBook, (staff: { id: number; name: string }[]) => void] {
  const [book, setBook] = useState<Map<number, string>>(() => new Map(initial.map((s) => [s.id, s.name])));
  const remember = useCallback((staff: { id: number; name: string }[]) => {
    setBook((current) => {
      const missing = staff.filter((s) => s.name && current.get(s.id) !== s.name);
      if (!missing.length) return current;
      const next = new Map(current);
      for (const s of missing) next.set(s.id, s.name);
      return next;
    });
  }, []);
  return [book, remember];
}

export function StaffSelect({
  id,
  value,
  onChange,
  names,
  onNames,
  single,
  placeholder,
  ariaLabel,
}: {
  id?: string;
  value?: number[];
  onChange?: (ids: number[]) => void;
  names: NameBook;
  onNames: (staff: { id: number; name: string }[]) => void;
  /** One member only (a single-member code): picking another replaces it. */
  single?: boolean;
  placeholder?: string;
  ariaLabel?: string;
}) {
  const { t } = useTranslation("channels");
  const [search, setSearch] = useState("");
  const deferred = useDeferredValue(search.trim());
  const staff = useStaffOptions(deferred);
  const results = staff.data?.results;
  useEffect(() => {
    if (results) onNames(results.map((s) => ({ id: s.id, name: s.name || s.userid })));
  }, [results, onNames]);

  const options = (results ?? []).map((s: Schemas["Staff"]) => ({
    value: s.id,
    label: s.has_contact_permission ? s.name || s.userid : t("picker.noPermission", { name: s.name || s.userid }),
    disabled: !s.has_contact_permission,
  }));
  // Chosen members outside this page of options keep their names (listed last: while searching,
  // the matches come first).
  for (const chosen of value ?? []) {
    if (!options.some((o) => o.value === chosen)) {
      options.push({ value: chosen, label: names.get(chosen) ?? `#${chosen}`, disabled: false });
    }
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
        const next = ids ?? [];
        // A single-member code keeps the last one picked.
        onChange?.(single && next.length > 1 ? next.slice(-1) : next);
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

function tree(nodes: DepartmentNode[] | undefined): TreeNode[] {
  return (nodes ?? []).map((node) => ({
    value: node.wecom_id,
    title: node.name,
    children: tree(node.children as unknown as DepartmentNode[]),
  }));
}

/** WeCom department id → name, from the department tree. */
export function departmentNames(nodes: DepartmentNode[] | undefined, into = new Map<number, string>()): Map<number, string> {
  for (const node of nodes ?? []) {
    into.set(node.wecom_id, node.name);
    departmentNames(node.children as unknown as DepartmentNode[], into);
  }
  return into;
}

export function DepartmentSelect({
  id,
  value,
  onChange,
  placeholder,
}: {
  id?: string;
  value?: number[];
  onChange?: (ids: number[]) => void;
  placeholder?: string;
}) {
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
      treeData={tree(departments.data)}
      value={value ?? []}
      onChange={(ids) => onChange?.(ids ?? [])}
      style={{ width: "100%" }}
    />
  );
}
