// The default welcome: what a new customer receives when they come through no channel code, or
// through one without its own welcome. The same editor and preview as a code's welcome.
import "./strings";

import { ArrowLeftOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Col, Form, Row, Space, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { QueryState } from "../../components/states";
import { api, keys, useWelcomeDefault } from "./api";
import { useApiErrors } from "./useApiErrors";
import WelcomeEditor from "./WelcomeEditor";
import WelcomePreview from "./WelcomePreview";
import { type WelcomeValue, welcomeForForm, welcomeForSubmit } from "./welcome";

function DefaultForm({ initial }: { initial: WelcomeValue }) {
  const { t } = useTranslation("channels");
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<{ welcome: WelcomeValue }>();
  const errors = useApiErrors(form);
  const general = errors.general;
  const welcome: WelcomeValue | undefined = Form.useWatch("welcome", { form, preserve: true });
  const save = useMutation({
    mutationFn: (value: WelcomeValue | undefined) => api.saveDefault(welcomeForSubmit(value)),
    onSuccess: async () => {
      void message.success(t("default.saved"));
      await queryClient.invalidateQueries({ queryKey: keys.welcomeDefault });
    },
    onError: (error) => void errors.show(error),
  });
  return (
    <Form
      form={form}
      name="welcome-default"
      layout="vertical"
      initialValues={{ welcome: initial }}
      onValuesChange={errors.onValuesChange}
      onFinish={() => {
        errors.reset();
        save.mutate((form.getFieldsValue(true) as { welcome?: WelcomeValue }).welcome);
      }}
    >
      {general.length > 0 && <Alert type="error" showIcon style={{ marginBottom: 16 }} title={t("form.refused")} description={general.join(" ")} />}
      <Row gutter={[24, 16]}>
        <Col xs={24} lg={14}>
          <Card>
            <WelcomeEditor form={form} />
            <Space style={{ marginTop: 24 }}>
              <Button type="primary" htmlType="submit" loading={save.isPending}>
                {t("common:action.save")}
              </Button>
            </Space>
          </Card>
        </Col>
        <Col xs={24} lg={10}>
          <div style={{ position: "sticky", top: 24 }}>
            <Card title={t("preview.title")} size="small">
              <WelcomePreview welcome={welcome} names={{ customer_name: t("preview.customerSample"), staff_name: t("preview.staffSample") }} />
            </Card>
          </div>
        </Col>
      </Row>
    </Form>
  );
}

export default function WelcomeDefaultPage() {
  const { t } = useTranslation("channels");
  const current = useWelcomeDefault();
  return (
    <div>
      <Link to="/channels">
        <ArrowLeftOutlined /> {t("list.title")}
      </Link>
      <Typography.Title level={3} style={{ marginTop: 8 }}>
        {t("default.title")}
      </Typography.Title>
      <Typography.Paragraph type="secondary">{t("default.intro")}</Typography.Paragraph>
      <QueryState query={current}>{(data) => <DefaultForm initial={welcomeForForm(data.welcome)} />}</QueryState>
    </div>
  );
}
