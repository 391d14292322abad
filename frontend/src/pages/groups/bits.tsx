// Small pieces the group pages share: labels of the API's enums, the status tag, group tag chips and
// colours, and the staff picker (owner filter, new owner of a transfer).
import "./strings";

import { UserOutlined } from "@ant-design/icons";
import { Avatar, Button, Select, Space, Tag, Tooltip, Typography } from "antd";
import { useDeferredValue, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import { initial } from "../customers/controls";
import { type GroupMember, useOwnerOptions } from "./api";
import type { GroupStatus } from "./params";

/** Colours a group tag may have (Ant Design's preset names: readable on a light and a tag background). */
export const TAG_COLORS = ["blue", "green", "gold", "orange", "red", "magenta", "purple", "geekblue", "cyan", "lime"] as const;

const STATUS_COLOR: Record<GroupStatus, string> = {
  normal: "green",
  owner_resigned: "orange",
  inheriting: "processing",
  inherited: "blue",
  dismissed: "default",
};

export function useGroupLabels() {
  const { t } = useTranslation("groups");
  return {
    status: (status: string) => t(`status.${status}`, { defaultValue: status }),
    statusHint: (status: string) => t(`statusHint.${status}`, { defaultValue: "" }),
    joinScene: (scene: number | null | undefined) => t(`joinScene.${scene ?? 0}`, { defaultValue: String(scene) }),
    quitScene: (scene: number | null | undefined) => (scene === null || scene === undefined ? "" : t(`quitScene.${scene}`, { defaultValue: String(scene) })),
    memberType: (type: string) => t(`memberType.${type}`, { defaultValue: type }),
  };
}

export function StatusTag({ status }: { status: string }) {
  const labels = useGroupLabels();
  const hint = labels.statusHint(status);
  const tag = (
    <Tag color={STATUS_COLOR[status as GroupStatus] ?? "default"} data-testid="group-status" tabIndex={hint ? 0 : undefined}>
      {labels.status(status)}
    </Tag>
  );
  return hint ? <Tooltip title={hint}>{tag}</Tooltip> : tag;
}

export interface TagRef {
  id: number;
  name: string;
  color?: string;
}

const SHOWN = 3;

export function TagChips({ tags, max = SHOWN }: { tags: TagRef[]; max?: number }) {
  const { t } = useTranslation("groups");
  if (!tags.length) return <Typography.Text type="secondary">—</Typography.Text>;
  const rest = tags.slice(max);
  return (
    <Space size={[0, 4]} wrap>
      {tags.slice(0, max).map((tag) => (
        <Tag key={tag.id} color={tag.color || undefined}>
          {tag.name}
        </Tag>
      ))}
      {rest.length > 0 && (
        <Tooltip title={rest.map((tag) => tag.name).join(", ")} trigger={["hover", "focus"]}>
          <Tag tabIndex={0} aria-label={t("list.moreTags", { tags: rest.map((tag) => tag.name).join(", ") })}>
            +{rest.length}
          </Tag>
        </Tooltip>
      )}
    </Space>
  );
}

export function Owner({ owner }: { owner: { name: string; userid: string; avatar?: string } | null | undefined }) {
  const { t } = useTranslation("groups");
  if (!owner) return <Typography.Text type="secondary">{t("list.noOwner")}</Typography.Text>;
  const name = owner.name || owner.userid;
  return (
    <Space size={6}>
      <Avatar size="small" src={owner.avatar || undefined} alt="">
        {initial(name)}
      </Avatar>
      <span>{name}</span>
    </Space>
  );
}

/** Group tags for a Select: coloured, searchable by name. */
export function tagOptions(tags: TagRef[] | undefined) {
  return (tags ?? []).map((tag) => ({
    value: tag.id,
    label: tag.name,
    title: tag.name,
  }));
}

/**
 * Staff searched on the server, picked by id. `multiple` for a filter; single for a new owner.
 * `activeOnly` leaves out former staff and those without the customer-contact permission (who cannot
 * own a group). Names of the chosen ones are remembered, so a value outside the current options
 * still shows a name.
 */
export function StaffPicker({
  id,
  value,
  onChange,
  multiple,
  activeOnly,
  placeholder,
  ariaLabel,
  known,
}: {
  id?: string;
  value: number[];
  onChange: (ids: number[]) => void;
  multiple?: boolean;
  activeOnly?: boolean;
  placeholder?: string;
  ariaLabel?: string;
  /** Names already known (the owners on the page), by staff id. */
  known?: ReadonlyMap<number, string>;
}) {
  const { t } = useTranslation("groups");
  const [search, setSearch] = useState("");
  const deferred = useDeferredValue(search.trim());
  const staff = useOwnerOptions(deferred);
  const [names, setNames] = useState<Map<number, string>>(() => new Map());
  const results = staff.data?.results;
  useEffect(() => {
    if (!results?.length) return;
    setNames((current) => {
      const next = new Map(current);
      for (const s of results) next.set(s.id, s.name || s.userid);
      return next;
    });
  }, [results]);

  const options = (results ?? [])
    .filter((s) => !activeOnly || (s.is_active && s.has_contact_permission))
    .map((s) => ({
      value: s.id,
      label: s.is_active ? s.name || s.userid : t("picker.former", { name: s.name || s.userid }),
    }));
  for (const chosen of value) {
    if (!options.some((o) => o.value === chosen)) {
      options.push({ value: chosen, label: names.get(chosen) ?? known?.get(chosen) ?? `#${chosen}` });
    }
  }
  return (
    <Select<number | number[]>
      id={id}
      aria-label={ariaLabel}
      mode={multiple ? "multiple" : undefined}
      allowClear
      showSearch={{ filterOption: false, onSearch: setSearch, searchValue: search }}
      maxTagCount="responsive"
      placeholder={placeholder}
      loading={staff.isFetching}
      options={options}
      value={multiple ? value : (value[0] ?? undefined)}
      onChange={(next) => {
        setSearch("");
        if (Array.isArray(next)) onChange(next);
        else onChange(next === undefined || next === null ? [] : [next]);
      }}
      notFoundContent={staff.isFetching ? t("common:state.loading") : t("common:state.empty")}
      style={{ width: "100%" }}
    />
  );
}

/** Who someone is: a customer with a contact opens the customer; a person's group nickname under it. */
export function MemberName({ member, onOpen }: { member: GroupMember; onOpen: (contact: number) => void }) {
  const { t } = useTranslation("groups");
  const name = member.name || member.group_nickname || member.userid;
  return (
    <Space orientation="vertical" size={0}>
      {member.contact_id ? (
        <Button type="link" style={{ padding: 0, height: "auto" }} icon={<UserOutlined />} onClick={() => onOpen(member.contact_id as number)} aria-label={t("members.open", { name })}>
          {name}
        </Button>
      ) : (
        <Typography.Text>{name}</Typography.Text>
      )}
      {member.group_nickname && member.group_nickname !== name && (
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {t("members.nickname", { nickname: member.group_nickname })}
        </Typography.Text>
      )}
    </Space>
  );
}

