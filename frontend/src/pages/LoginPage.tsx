import { LockOutlined, UserOutlined } from "@ant-design/icons";
import { Alert, Button, Card, Form, Input, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Navigate, useNavigate, useSearchParams } from "react-router";

import { useLogin, useSession } from "../auth";
import { errorMessage } from "../components/states";
import LanguageSwitch from "../layout/LanguageSwitch";
import { safeNext } from "../lib/paths";

export default function LoginPage() {
  const { t } = useTranslation();
  const { me } = useSession();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const login = useLogin();
  const next = safeNext(params.get("next"));

  if (me) return <Navigate to={next} replace />;

  return (
    <div style={{ minHeight: "100vh", display: "grid", placeItems: "center", background: "#f5f5f5" }}>
      <Card style={{ width: 380 }}>
        <div style={{ display: "flex", justifyContent: "space-between", alignItems: "center" }}>
          <Typography.Title level={3} style={{ margin: 0 }}>
            {t("login.title")}
          </Typography.Title>
          <LanguageSwitch />
        </div>
        <Form
          layout="vertical"
          style={{ marginTop: 24 }}
          onFinish={(values: { username: string; password: string }) =>
            login.mutate(values, { onSuccess: () => navigate(next, { replace: true }) })
          }
        >
          {login.isError && (
            <Alert type="error" showIcon title={t("login.failed")} description={errorMessage(login.error)} style={{ marginBottom: 16 }} role="alert" />
          )}
          <Form.Item name="username" label={t("login.username")} rules={[{ required: true, message: t("login.required") }]}>
            <Input prefix={<UserOutlined />} autoComplete="username" autoFocus />
          </Form.Item>
          <Form.Item name="password" label={t("login.password")} rules={[{ required: true, message: t("login.required") }]}>
            <Input.Password prefix={<LockOutlined />} autoComplete="current-password" />
          </Form.Item>
          <Button type="primary" htmlType="submit" block loading={login.isPending}>
            {t("login.submit")}
          </Button>
        </Form>
      </Card>
    </div>
  );
}
