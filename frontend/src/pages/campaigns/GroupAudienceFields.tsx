// The group audience's fields (owners, group tags, a name): loaded after the wizard's first screen,
// with the group pages' pickers and strings.
import "./strings";

import { Form, Input, Select, Typography } from "antd";
import { useTranslation } from "react-i18next";

import { useGroupTags } from "../groups/api";
import { StaffPicker, tagOptions } from "../groups/bits";

function OwnersField({ id, value, onChange }: { id?: string; value?: number[]; onChange?: (ids: number[]) => void }) {
  const { t } = useTranslation("campaigns");
  return <StaffPicker id={id} multiple value={value ?? []} onChange={(ids) => onChange?.(ids)} placeholder={t("audience.anyOwner")} />;
}

export default function GroupAudienceFields() {
  const { t } = useTranslation("campaigns");
  const groupTags = useGroupTags();
  return (
    <>
      <Typography.Paragraph type="secondary">{t("audience.groupsHint")}</Typography.Paragraph>
      <Form.Item name={["audience", "owner_ids"]} label={t("audience.owners")}>
        <OwnersField />
      </Form.Item>
      <Form.Item name={["audience", "tag_ids"]} label={t("audience.groupTags")} extra={t("audience.groupTagsHint")}>
        <Select<number[]>
          mode="multiple"
          allowClear
          showSearch={{ optionFilterProp: "label" }}
          placeholder={t("audience.anyGroupTag")}
          loading={groupTags.isPending}
          options={tagOptions(groupTags.data)}
        />
      </Form.Item>
      <Form.Item name={["audience", "name"]} label={t("audience.groupName")}>
        <Input allowClear placeholder={t("audience.groupNamePlaceholder")} maxLength={100} style={{ maxWidth: 420 }} />
      </Form.Item>
    </>
  );
}
