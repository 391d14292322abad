// Create or edit a group code: its name, one to five groups (scans fill them in this order), and
// whether WeCom opens a new group when they are all full (its base name and starting number). Saving
// goes to WeCom first; whatever the API refuses is shown on its field.
import "./strings";

import { ArrowLeftOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Col, Form, Input, InputNumber, Row, Select, Space, Switch, Typography } from "antd";
import { useDeferredValue, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";

import { ErrorState, Loading } from "../../components/states";
import { useApiErrors } from "../channels/useApiErrors";
import { type GroupCode, api, keys, useGroupCode, useGroupOptions } from "./api";
import { useGroupLabels } from "./bits";
import {
  CODE_NAME_MAX,
  type CodeGroupRef,
  type CodeValues,
  MAX_CODE_GROUPS,
  ROOM_BASE_NAME_MAX,
  codeForForm,
  codeForSubmit,
  nextRoomName,
  unsyncedGroups,
  withFormPaths,
} from "./codes";

/** Groups searched by name on the server, at most five, in the order picked. */
function GroupPicker({ id, value, onChange, initial }: { id?: string; value?: number[]; onChange?: (ids: number[]) => void; initial: CodeGroupRef[] }) {
  const { t } = useTranslation("groups");
  const labels = useGroupLabels();
  const [search, setSearch] = useState("");
  const deferred = useDeferredValue(search.trim());
  const groups = useGroupOptions(deferred);
  const [known, setKnown] = useState<Map<number, CodeGroupRef>>(() => new Map(initial.flatMap((g) => (g.id === null ? [] : [[g.id, g] as const]))));
  const results = groups.data?.results;
  useEffect(() => {
    if (!results?.length) return;
    setKnown((current) => {
      const next = new Map(current);
      for (const g of results) next.set(g.id, { id: g.id, name: g.name ?? "", member_count: g.member_count, status: g.status });
      return next;
    });
  }, [results]);
  const chosen = value ?? [];
  const full = chosen.length >= MAX_CODE_GROUPS;
  const label = (g: CodeGroupRef) => {
    const parts = [t("codes.memberCount", { count: g.member_count ?? 0 })];
    if (g.status && g.status !== "normal") parts.push(labels.status(g.status));
    return `${g.name || t("list.unnamed")} (${parts.join(", ")})`;
  };
  const options = (results ?? []).map((g) => ({
    value: g.id,
    label: label({ id: g.id, name: g.name ?? "", member_count: g.member_count, status: g.status }),
    // Dismissed groups take nobody; a sixth group is one too many.
    disabled: g.status === "dismissed" || (full && !chosen.includes(g.id)),
  }));
  for (const picked of chosen) {
    if (!options.some((o) => o.value === picked)) {
      const g = known.get(picked);
      options.push({ value: picked, label: g ? label(g) : `#${picked}`, disabled: false });
    }
  }
  return (
    <Select<number[]>
      id={id}
      mode="multiple"
      allowClear
      showSearch={{ filterOption: false, onSearch: setSearch, searchValue: search }}
      placeholder={t("codeForm.groupsPlaceholder")}
      loading={groups.isFetching}
      options={options}
      value={chosen}
      onChange={(ids) => {
        setSearch("");
        onChange?.((ids ?? []).slice(0, MAX_CODE_GROUPS));
      }}
      notFoundContent={groups.isFetching ? t("common:state.loading") : t("codeForm.noGroups")}
      style={{ width: "100%" }}
    />
  );
}

function CodeForm({ code }: { code?: GroupCode }) {
  const { t } = useTranslation("groups");
  const { message } = App.useApp();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<CodeValues>();
  const errors = useApiErrors(form);
  const auto: boolean = Form.useWatch("auto_create_room", form) ?? code?.auto_create_room ?? true;
  const baseName: string = Form.useWatch("room_base_name", form) ?? "";
  const baseId: number | null = Form.useWatch("room_base_id", form) ?? 1;
  const groupIds: number[] = Form.useWatch("group_ids", form) ?? [];
  const unsynced = unsyncedGroups(code?.groups ?? []);

  const save = useMutation({
    mutationFn: (values: CodeValues) => {
      const body = codeForSubmit(values);
      return code ? api.updateCode(code.id, body) : api.createCode(body);
    },
    onSuccess: async (saved) => {
      void message.success(code ? t("codeForm.saved", { name: saved.name }) : t("codeForm.created", { name: saved.name }));
      await queryClient.invalidateQueries({ queryKey: keys.codes });
      navigate(`/groups/codes/${saved.id}`);
    },
    onError: (error) => {
      const placed = errors.show(withFormPaths(error));
      if (placed?.fields.length) form.scrollToField(placed.fields[0].name as Parameters<typeof form.scrollToField>[0], { block: "center" });
    },
  });

  return (
    <Form<CodeValues>
      form={form}
      name="group-code"
      layout="vertical"
      initialValues={codeForForm(code)}
      onFinish={(values) => {
        errors.reset();
        save.mutate({ ...form.getFieldsValue(true), ...values } as CodeValues);
      }}
      onValuesChange={errors.onValuesChange}
    >
      {errors.general.length > 0 && (
        <Alert
          type="error"
          showIcon
          style={{ marginBottom: 16 }}
          title={t("codeForm.refused")}
          description={errors.general.length === 1 ? errors.general[0] : <ul style={{ margin: 0, paddingLeft: 18 }}>{errors.general.map((g) => <li key={g}>{g}</li>)}</ul>}
          data-testid="form-error"
        />
      )}
      {unsynced > 0 && <Alert type="warning" showIcon style={{ marginBottom: 16 }} title={t("codeForm.unsynced", { count: unsynced })} />}
      <Row gutter={[24, 16]}>
        <Col xs={24} lg={14}>
          <Card>
            <Form.Item
              name="name"
              label={t("codeForm.name")}
              extra={t("codeForm.nameHint")}
              rules={[{ required: true, whitespace: true, message: t("codeForm.nameRequired") }]}
            >
              <Input maxLength={CODE_NAME_MAX} showCount placeholder={t("codeForm.namePlaceholder")} />
            </Form.Item>
            <Form.Item
              name="group_ids"
              label={t("codeForm.groups")}
              extra={t("codeForm.groupsHint", { max: MAX_CODE_GROUPS, count: groupIds.length })}
              rules={[
                {
                  validator: (_, value: number[] | undefined) =>
                    (value?.length ?? 0) >= 1 ? Promise.resolve() : Promise.reject(new Error(t("codeForm.groupsRequired"))),
                },
              ]}
            >
              <GroupPicker initial={code?.groups ?? []} />
            </Form.Item>
            <Form.Item name="auto_create_room" label={t("codeForm.auto")} valuePropName="checked" extra={t("codeForm.autoHint")}>
              <Switch />
            </Form.Item>
            <Row gutter={12} style={{ display: auto ? undefined : "none" }}>
              <Col xs={24} md={16}>
                <Form.Item
                  name="room_base_name"
                  label={t("codeForm.baseName")}
                  extra={baseName.trim() ? t("codeForm.nextName", { name: nextRoomName(baseName, baseId) }) : t("codeForm.baseNameHint")}
                  rules={auto ? [{ required: true, whitespace: true, message: t("codeForm.baseNameRequired") }] : []}
                >
                  <Input maxLength={ROOM_BASE_NAME_MAX} showCount placeholder={t("codeForm.baseNamePlaceholder")} />
                </Form.Item>
              </Col>
              <Col xs={24} md={8}>
                <Form.Item name="room_base_id" label={t("codeForm.baseId")} extra={t("codeForm.baseIdHint")}>
                  <InputNumber min={1} precision={0} style={{ width: "100%" }} />
                </Form.Item>
              </Col>
            </Row>
            <Space>
              <Button type="primary" htmlType="submit" loading={save.isPending}>
                {code ? t("codeForm.save") : t("codeForm.create")}
              </Button>
              <Button onClick={() => navigate(code ? `/groups/codes/${code.id}` : "/groups/codes")}>{t("common:action.cancel")}</Button>
            </Space>
          </Card>
        </Col>
        <Col xs={24} lg={10}>
          <Card size="small" title={t("codeForm.howTitle")}>
            <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
              {t("codeForm.how")}
            </Typography.Paragraph>
          </Card>
        </Col>
      </Row>
    </Form>
  );
}

export default function CodeFormPage() {
  const { t } = useTranslation("groups");
  const params = useParams();
  const id = params.id === undefined ? null : Number(params.id);
  const code = useGroupCode(id ?? 0, id !== null);
  return (
    <div>
      <Link to={id === null ? "/groups/codes" : `/groups/codes/${id}`}>
        <ArrowLeftOutlined /> {id === null ? t("codes.title") : (code.data?.name ?? t("codes.title"))}
      </Link>
      <Typography.Title level={3} style={{ marginTop: 8 }}>
        {id === null ? t("codeForm.newTitle") : t("codeForm.editTitle", { name: code.data?.name ?? "" })}
      </Typography.Title>
      {id === null ? (
        <CodeForm />
      ) : code.isPending ? (
        <Loading rows={8} />
      ) : code.isError ? (
        <ErrorState error={code.error} onRetry={() => void code.refetch()} />
      ) : (
        <CodeForm key={`${code.data.id}-${code.data.updated_at}`} code={code.data} />
      )}
    </div>
  );
}
