// The WeCom connection: corp id, secret and agent id; the callback URL with its token and
// EncodingAESKey (generated here, shown until saved; saving new ones asks first, since WeCom's callbacks
// stop verifying until it has them too); and the connection test, permission by permission.
import "./strings";

import { ApiOutlined, CheckCircleFilled, CloseCircleFilled, KeyOutlined, SaveOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Col, Collapse, Form, Input, List, Row, Space, Tag, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { client, data } from "../../api/client";
import { QueryState, errorMessage } from "../../components/states";
import { type ConnectionTest, type TenantSettings, applyFieldErrors, keys } from "./api";
import CopyButton from "./CopyButton";
import { generateCallbackToken, generateEncodingAesKey, isCallbackToken, isEncodingAesKey } from "./secrets";

interface Values {
  name: string;
  corp_id: string;
  corp_secret: string;
  agent_id: string;
  api_base: string;
  callback_token: string;
  encoding_aes_key: string;
}

const FIELDS = ["name", "corp_id", "corp_secret", "agent_id", "api_base", "callback_token", "encoding_aes_key"] as const;
const SECRETS = ["corp_secret", "callback_token", "encoding_aes_key"] as const;

function initialValues(tenant: TenantSettings): Values {
  return {
    name: tenant.name,
    corp_id: tenant.corp_id ?? "",
    corp_secret: "",
    agent_id: tenant.agent_id ?? "",
    api_base: tenant.api_base ?? "",
    callback_token: "",
    encoding_aes_key: "",
  };
}

function SetState({ set }: { set: boolean }) {
  const { t } = useTranslation("settings");
  return <Tag color={set ? "green" : "default"}>{set ? t("wecom.set") : t("wecom.notSet")}</Tag>;
}

function TestResult({ result }: { result: ConnectionTest }) {
  const { t } = useTranslation("settings");
  return (
    <Space orientation="vertical" style={{ width: "100%" }} data-testid="connection-result">
      <Alert
        type={result.ok ? "success" : "error"}
        showIcon
        role={result.ok ? "status" : "alert"}
        title={result.ok ? t("wecom.test.allOk") : t("wecom.test.someFail")}
      />
      <List
        size="small"
        bordered
        dataSource={result.checks}
        renderItem={(check) => (
          <List.Item data-testid={`check-${check.check}`}>
            <Space orientation="vertical" size={2} style={{ width: "100%" }}>
              <Space>
                {check.ok ? (
                  <CheckCircleFilled style={{ color: "#52c41a" }} aria-hidden />
                ) : (
                  <CloseCircleFilled style={{ color: "#ff4d4f" }} aria-hidden />
                )}
                <Typography.Text strong>{t(`wecom.check.${check.check}`, { defaultValue: check.label })}</Typography.Text>
                <Tag color={check.ok ? "success" : "error"}>{check.ok ? t("wecom.test.ok") : t("wecom.test.failed")}</Tag>
              </Space>
              {check.error && (
                <Typography.Text type="danger">
                  {check.error.errcode != null && (
                    <Typography.Text code>{t("errcode", { code: check.error.errcode })}</Typography.Text>
                  )}{" "}
                  {check.error.errmsg}
                  {check.error.hint && (
                    <>
                      {" — "}
                      {check.error.hint}
                    </>
                  )}
                </Typography.Text>
              )}
            </Space>
          </List.Item>
        )}
      />
    </Space>
  );
}

function SecretField({
  name,
  label,
  isSet,
  generate,
  validate,
  invalid,
  onGenerated,
}: {
  name: "callback_token" | "encoding_aes_key";
  label: string;
  isSet: boolean;
  generate: () => string;
  validate: (value: string) => boolean;
  invalid: string;
  onGenerated: () => void;
}) {
  const { t } = useTranslation("settings");
  const form = Form.useFormInstance<Values>();
  const value = (Form.useWatch(name, form) as string | undefined) ?? "";
  return (
    <Form.Item
      label={
        <Space>
          {label}
          <SetState set={isSet} />
        </Space>
      }
      required={false}
      extra={isSet ? t("wecom.secretKeep") : undefined}
    >
      <Space.Compact style={{ width: "100%" }}>
        <Form.Item
          name={name}
          noStyle
          rules={[{ validator: async (_, v: string) => (!v || validate(v) ? undefined : Promise.reject(new Error(invalid))) }]}
        >
          <Input aria-label={label} autoComplete="off" spellCheck={false} style={{ fontFamily: "monospace" }} />
        </Form.Item>
        <Button
          icon={<KeyOutlined />}
          onClick={() => {
            form.setFieldValue(name, generate());
            void form.validateFields([name]);
            onGenerated();
          }}
        >
          {t("wecom.generate")}
        </Button>
        <CopyButton value={value} label={t("wecom.copyLabel", { what: label })} />
      </Space.Compact>
    </Form.Item>
  );
}

function ConnectionForm({ tenant }: { tenant: TenantSettings }) {
  const { t } = useTranslation("settings");
  const { message, modal } = App.useApp();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<Values>();
  const [dirty, setDirty] = useState(false);
  const [generated, setGenerated] = useState(false);

  const test = useMutation({
    mutationFn: () => data(client.POST("/api/v1/wecom/test-connection/")),
    onError: (error) => void message.error(errorMessage(error)),
  });

  const save = useMutation({
    mutationFn: (values: Values) => {
      const body: Partial<Values> = { ...values };
      for (const secret of SECRETS) if (!body[secret]) delete body[secret]; // empty keeps the stored one
      return data(client.PATCH("/api/v1/tenant/", { body }));
    },
    // The variables hold the secrets: dropped once settled (reset) and from the mutation cache (gcTime 0).
    gcTime: 0,
    onSuccess: (saved) => {
      queryClient.setQueryData(keys.tenant, saved);
      form.setFieldsValue(initialValues(saved));
      setDirty(false);
      setGenerated(false);
      test.reset(); // a result about the previous settings
      void message.success(t("wecom.saved"));
    },
    onError: (error) => {
      if (!applyFieldErrors(form, error, FIELDS)) void message.error(errorMessage(error));
    },
    onSettled: () => {
      save.reset();
    },
  });

  const submit = (values: Values) => {
    if (!values.callback_token && !values.encoding_aes_key) {
      save.mutate(values);
      return;
    }
    // New callback secrets: WeCom keeps signing with the old ones until the admin pastes these there.
    modal.confirm({
      title: t("wecom.confirmSecrets.title"),
      content: t("wecom.confirmSecrets.content"),
      okText: t("wecom.confirmSecrets.ok"),
      cancelText: t("common:action.cancel"),
      onOk: () => save.mutate(values),
    });
  };
  // Generate sets the field from code (no onValuesChange): it counts as an unsaved change too.
  const generatedSecret = () => {
    setGenerated(true);
    setDirty(true);
  };

  const formPart = (
    <Form<Values>
      form={form}
      layout="vertical"
      initialValues={initialValues(tenant)}
      onValuesChange={() => setDirty(true)}
      onFinish={submit}
    >
      <Card title={t("wecom.connection")} style={{ marginBottom: 16 }}>
        <Form.Item name="name" label={t("wecom.name")} rules={[{ required: true, message: t("required") }]}>
          <Input />
        </Form.Item>
        <Form.Item name="corp_id" label={t("wecom.corpId")} extra={t("wecom.corpIdHelp")}>
          <Input autoComplete="off" spellCheck={false} />
        </Form.Item>
        <Form.Item
          name="corp_secret"
          label={
            <Space>
              {t("wecom.corpSecret")}
              <SetState set={tenant.corp_secret_set} />
            </Space>
          }
          extra={tenant.corp_secret_set ? t("wecom.secretKeep") : t("wecom.corpSecretHelp")}
        >
          <Input.Password
            aria-label={t("wecom.corpSecret")}
            autoComplete="new-password"
            placeholder={tenant.corp_secret_set ? t("wecom.secretPlaceholder") : undefined}
          />
        </Form.Item>
        <Form.Item name="agent_id" label={t("wecom.agentId")} extra={t("wecom.agentIdHelp")}>
          <Input autoComplete="off" />
        </Form.Item>
        <Collapse
          ghost
          items={[
            {
              key: "advanced",
              label: t("wecom.advanced"),
              forceRender: true,
              children: (
                <Form.Item name="api_base" label={t("wecom.apiBase")} extra={t("wecom.apiBaseHelp")}>
                  <Input autoComplete="off" spellCheck={false} />
                </Form.Item>
              ),
            },
          ]}
        />
      </Card>

      <Card title={t("wecom.callback")} style={{ marginBottom: 16 }}>
        <Typography.Paragraph type="secondary">{t("wecom.callbackHelp")}</Typography.Paragraph>
        <Form.Item label={t("wecom.callbackUrl")}>
          <Space.Compact style={{ width: "100%" }}>
            <Input aria-label={t("wecom.callbackUrl")} value={tenant.callback_url} readOnly style={{ fontFamily: "monospace" }} />
            <CopyButton value={tenant.callback_url} label={t("wecom.copyLabel", { what: t("wecom.callbackUrl") })} />
          </Space.Compact>
        </Form.Item>
        <SecretField
          name="callback_token"
          label={t("wecom.token")}
          isSet={tenant.callback_token_set}
          generate={() => generateCallbackToken()}
          validate={isCallbackToken}
          invalid={t("wecom.tokenInvalid")}
          onGenerated={generatedSecret}
        />
        <SecretField
          name="encoding_aes_key"
          label={t("wecom.aesKey")}
          isSet={tenant.encoding_aes_key_set}
          generate={() => generateEncodingAesKey()}
          validate={isEncodingAesKey}
          invalid={t("wecom.aesKeyInvalid")}
          onGenerated={generatedSecret}
        />
        {generated && <Alert type="warning" showIcon title={t("wecom.generatedWarning")} />}
      </Card>

      <Space wrap>
        <Button type="primary" htmlType="submit" icon={<SaveOutlined />} loading={save.isPending}>
          {t("common:action.save")}
        </Button>
      </Space>
    </Form>
  );

  return (
    <Row gutter={[16, 16]}>
      <Col xs={24} xl={14}>
        {formPart}
      </Col>
      <Col xs={24} xl={10}>
        <Card title={t("wecom.test.title")}>
          <Space orientation="vertical" style={{ width: "100%" }}>
            <Typography.Text type="secondary">{t("wecom.test.help")}</Typography.Text>
            <Space wrap>
              <Button icon={<ApiOutlined />} loading={test.isPending} onClick={() => test.mutate()}>
                {t("wecom.test.button")}
              </Button>
              {dirty && <Typography.Text type="warning">{t("wecom.test.unsaved")}</Typography.Text>}
            </Space>
            <div aria-live="polite">{test.data && <TestResult result={test.data} />}</div>
          </Space>
        </Card>
      </Col>
    </Row>
  );
}

export default function WecomTab() {
  const tenant = useQuery({
    queryKey: keys.tenant,
    queryFn: () => data(client.GET("/api/v1/tenant/")),
  });
  return <QueryState query={tenant}>{(value) => <ConnectionForm tenant={value} />}</QueryState>;
}
