// Create or edit a channel code: its members (one, or several in turn), auto-tags, the welcome with a
// live preview of what the customer sees in WeChat, and (advanced) a schedule and a daily cap with
// backup members. Saving goes to WeCom first; whatever the API refuses is shown on its field.
import "./strings";

import { ArrowLeftOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Col, Collapse, Form, Input, InputNumber, Radio, Row, Space, Switch, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";

import { ErrorState, Loading } from "../../components/states";
import { TagPicker } from "../customers/controls";
import { type Channel, type ChannelInput, api, keys, useChannel, useTagGroups, useWelcomeDefault } from "./api";
import { touches } from "./errors";
import { DepartmentSelect, StaffSelect, useNameBook } from "./pickers";
import ScheduleEditor from "./ScheduleEditor";
import { useApiErrors } from "./useApiErrors";
import type { Rule } from "./schedule";
import WelcomeEditor from "./WelcomeEditor";
import WelcomePreview from "./WelcomePreview";
import { type WelcomeValue, welcomeForForm, welcomeForSubmit } from "./welcome";

interface Values {
  name: string;
  multi: boolean;
  skip_verify: boolean;
  user_ids: number[];
  department_ids: number[];
  tag_ids: number[];
  welcome: WelcomeValue;
  schedule: Rule[];
  daily_cap: number | null;
  backup_user_ids: number[];
}

/** The fields in the collapsed "advanced" panel: it opens when one of them has an error. */
const ADVANCED = ["schedule", "daily_cap", "backup_user_ids"];

function initialValues(channel: Channel | undefined): Values {
  return {
    name: channel?.name ?? "",
    multi: channel?.multi ?? true,
    skip_verify: channel?.skip_verify ?? true,
    user_ids: channel?.user_ids ?? [],
    department_ids: channel?.department_ids ?? [],
    tag_ids: channel?.tag_ids ?? [],
    welcome: welcomeForForm(channel?.welcome),
    schedule: (channel?.schedule ?? []).map((rule) => ({ ...rule })),
    daily_cap: channel?.daily_cap ?? null,
    backup_user_ids: channel?.backup_user_ids ?? [],
  };
}

function toInput(values: Values): ChannelInput {
  return {
    name: values.name,
    multi: values.multi,
    skip_verify: values.skip_verify,
    user_ids: values.user_ids ?? [],
    // A single-member code takes no department (the field is hidden then).
    department_ids: values.multi ? (values.department_ids ?? []) : [],
    tag_ids: values.tag_ids ?? [],
    welcome: welcomeForSubmit(values.welcome),
    schedule: values.schedule ?? [],
    daily_cap: values.daily_cap ?? null,
    backup_user_ids: values.backup_user_ids ?? [],
  };
}

function ChannelForm({ channel }: { channel?: Channel }) {
  const { t } = useTranslation("channels");
  const { message } = App.useApp();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<Values>();
  const [names, remember] = useNameBook(channel?.members ?? []);
  const errors = useApiErrors(form);
  const general = errors.general;
  const [advanced, setAdvanced] = useState<string[]>(channel && (channel.schedule.length || channel.daily_cap) ? ["advanced"] : []);
  const tagGroups = useTagGroups();
  const fallback = useWelcomeDefault();
  const multi: boolean = Form.useWatch("multi", form) ?? channel?.multi ?? true;
  const members: number[] = Form.useWatch("user_ids", form) ?? [];
  const welcome: WelcomeValue | undefined = Form.useWatch("welcome", { form, preserve: true });

  const save = useMutation({
    mutationFn: (body: ChannelInput) => (channel ? api.update(channel.id, body) : api.create(body)),
    onSuccess: async (saved) => {
      void message.success(channel ? t("form.saved", { name: saved.name }) : t("form.created", { name: saved.name }));
      await queryClient.invalidateQueries({ queryKey: keys.channels });
      navigate(`/channels/${saved.id}`);
    },
    onError: (error) => {
      const placed = errors.show(error);
      if (!placed?.fields.length) return;
      if (touches(placed, ADVANCED)) setAdvanced(["advanced"]);
      const first = placed.fields[0].name as Parameters<typeof form.scrollToField>[0];
      // After the advanced panel has opened.
      requestAnimationFrame(() => form.scrollToField(first, { block: "center", behavior: "smooth" }));
    },
  });

  const submit = () => {
    errors.reset();
    // All values, attachment types included (they have no field of their own).
    save.mutate(toInput(form.getFieldsValue(true) as Values));
  };

  const sampleNames = {
    customer_name: t("preview.customerSample"),
    staff_name: (members.length ? names.get(members[0]) : undefined) ?? t("preview.staffSample"),
  };

  return (
    <Form<Values>
      form={form}
      name="channel"
      layout="vertical"
      initialValues={initialValues(channel)}
      onFinish={submit}
      onValuesChange={errors.onValuesChange}
      onFinishFailed={({ errorFields }) => errorFields.length && form.scrollToField(errorFields[0].name, { block: "center" })}
      scrollToFirstError={false}
    >
      {general.length > 0 && (
        <Alert
          type="error"
          showIcon
          style={{ marginBottom: 16 }}
          title={t("form.refused")}
          description={general.length === 1 ? general[0] : <ul style={{ margin: 0, paddingLeft: 18 }}>{general.map((g) => <li key={g}>{g}</li>)}</ul>}
          data-testid="form-error"
        />
      )}
      <Row gutter={[24, 16]}>
        <Col xs={24} lg={14}>
          <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
            <Card title={t("form.basics")}>
              <Form.Item name="name" label={t("form.name")} rules={[{ required: true, whitespace: true, message: t("form.nameRequired") }]}>
                <Input maxLength={60} showCount placeholder={t("form.namePlaceholder")} />
              </Form.Item>
              <Form.Item name="multi" label={t("form.kind")} extra={channel ? t("form.kindFixed") : t("form.kindHint")}>
                <Radio.Group
                  disabled={!!channel}
                  options={[
                    { value: false, label: t("form.single") },
                    { value: true, label: t("form.multi") },
                  ]}
                />
              </Form.Item>
              <Form.Item
                name="user_ids"
                label={multi ? t("form.members") : t("form.member")}
                extra={multi ? t("form.membersHint") : undefined}
                dependencies={["department_ids", "multi"]}
                rules={[
                  {
                    validator: (_, value: number[] | undefined) => {
                      const count = value?.length ?? 0;
                      if (!multi && count !== 1) return Promise.reject(new Error(t("form.oneMember")));
                      const departments = (form.getFieldValue("department_ids") as number[] | undefined)?.length ?? 0;
                      if (multi && count + departments === 0) return Promise.reject(new Error(t("form.membersRequired")));
                      return Promise.resolve();
                    },
                  },
                ]}
              >
                <StaffSelect names={names} onNames={remember} single={!multi} placeholder={t("form.membersPlaceholder")} />
              </Form.Item>
              <Form.Item name="department_ids" label={t("form.departments")} extra={t("form.departmentsHint")} hidden={!multi}>
                <DepartmentSelect placeholder={t("form.departmentsPlaceholder")} />
              </Form.Item>
              <Form.Item name="skip_verify" label={t("form.skipVerify")} valuePropName="checked" extra={t("form.skipVerifyHint")}>
                <Switch />
              </Form.Item>
            </Card>

            <Card title={t("form.autoTags")}>
              <Form.Item name="tag_ids" label={t("form.tags")} extra={t("form.tagsHint")}>
                <TagPicker groups={tagGroups.data} loading={tagGroups.isPending} placeholder={t("form.tagsPlaceholder")} />
              </Form.Item>
            </Card>

            <Card title={t("form.welcome")} extra={<Link to="/channels/welcome">{t("form.editDefault")}</Link>}>
              <Typography.Paragraph type="secondary">{t("form.welcomeHint")}</Typography.Paragraph>
              <WelcomeEditor form={form} />
            </Card>

            <Collapse
              activeKey={advanced}
              onChange={(keys) => setAdvanced(keys as string[])}
              items={[
                {
                  key: "advanced",
                  label: t("form.advanced"),
                  // Rendered while closed too: its fields must exist to receive the API's errors.
                  forceRender: true,
                  children: (
                    <>
                      <Typography.Title level={5}>{t("schedule.title")}</Typography.Title>
                      <ScheduleEditor form={form} multi={multi} names={names} onNames={remember} />
                      <Typography.Title level={5} style={{ marginTop: 24 }}>
                        {t("cap.title")}
                      </Typography.Title>
                      <Row gutter={12}>
                        <Col xs={24} md={8}>
                          <Form.Item name="daily_cap" label={t("cap.cap")} extra={t("cap.capHint")}>
                            <InputNumber min={1} max={10000} precision={0} placeholder={t("cap.none")} style={{ width: "100%" }} />
                          </Form.Item>
                        </Col>
                        <Col xs={24} md={16}>
                          <Form.Item name="backup_user_ids" label={t("cap.backup")} extra={t("cap.backupHint")}>
                            <StaffSelect names={names} onNames={remember} single={!multi} placeholder={t("cap.backupPlaceholder")} />
                          </Form.Item>
                        </Col>
                      </Row>
                    </>
                  ),
                },
              ]}
            />

            <Space>
              <Button type="primary" htmlType="submit" loading={save.isPending}>
                {channel ? t("form.save") : t("form.create")}
              </Button>
              <Button onClick={() => navigate(channel ? `/channels/${channel.id}` : "/channels")}>{t("common:action.cancel")}</Button>
            </Space>
          </Space>
        </Col>
        <Col xs={24} lg={10}>
          <div style={{ position: "sticky", top: 24 }}>
            <Card title={t("preview.title")} size="small">
              <WelcomePreview welcome={welcome} names={sampleNames} usesDefault fallback={fallback.data?.welcome} />
            </Card>
          </div>
        </Col>
      </Row>
    </Form>
  );
}

export default function ChannelFormPage() {
  const { t } = useTranslation("channels");
  const params = useParams();
  const id = params.id === undefined ? null : Number(params.id);
  const channel = useChannel(id ?? 0, id !== null);
  const title = id === null ? t("form.newTitle") : t("form.editTitle", { name: channel.data?.name ?? "" });
  return (
    <div>
      <Space style={{ marginBottom: 8 }}>
        <Link to={id === null ? "/channels" : `/channels/${id}`}>
          <ArrowLeftOutlined /> {id === null ? t("list.title") : (channel.data?.name ?? t("detail.title"))}
        </Link>
      </Space>
      <Typography.Title level={3}>{title}</Typography.Title>
      {id === null ? (
        <ChannelForm />
      ) : channel.isPending ? (
        <Loading rows={10} />
      ) : channel.isError ? (
        <ErrorState error={channel.error} onRetry={() => void channel.refetch()} />
      ) : (
        // Keyed by the version: the form starts again from what was saved, not from a stale copy.
        <ChannelForm key={`${channel.data.id}-${channel.data.updated_at}`} channel={channel.data} />
      )}
    </div>
  );
}
