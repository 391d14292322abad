// The signed-in user's invitations: tenant admins invite an account, and only its owner can say
// yes (or no) here. A user without any tenant lands on this page.
import { CheckOutlined, CloseOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Space, Table, Tag, Typography } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router";

import { client, data, type Schemas } from "../../api/client";
import { ME_KEY, useSession } from "../../auth";
import { EmptyState, QueryState, errorMessage } from "../../components/states";
import { dateTime } from "../../lib/format";

type MyInvitation = Schemas["MyInvitation"];

export const MY_INVITATIONS_KEY = ["auth", "invitations"] as const;

export default function InvitationsPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { me } = useSession();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const invitations = useQuery({
    queryKey: MY_INVITATIONS_KEY,
    queryFn: () => data(client.GET("/api/v1/auth/invitations/")),
  });

  // A first tenant opens once the session shows it: navigating before the layout has the new session
  // would send the user straight back here (a user without a tenant is shown this page).
  const [openFirstTenant, setOpenFirstTenant] = useState(false);
  useEffect(() => {
    if (openFirstTenant && me?.active_tenant) void navigate("/");
  }, [openFirstTenant, me, navigate]);

  const answer = useMutation({
    // hadTenant is read when the user answers: by onSuccess the session may already have been
    // refetched with the new tenant, and a first tenant would then not be opened.
    mutationFn: ({ invitation, accept }: { invitation: MyInvitation; accept: boolean; hadTenant: boolean }) =>
      data(
        client.POST(accept ? "/api/v1/auth/invitations/{id}/accept/" : "/api/v1/auth/invitations/{id}/decline/", {
          params: { path: { id: invitation.id } },
        }),
      ),
    onSuccess: async (_, { invitation, accept, hadTenant }) => {
      const name = invitation.tenant.name;
      void message.success(accept ? t("invitations.accepted", { name }) : t("invitations.declined", { name }));
      if (accept) {
        // A new membership: the session (tenant switcher, role) follows; a first tenant opens at once.
        if (!hadTenant) setOpenFirstTenant(true);
        await queryClient.invalidateQueries({ queryKey: ME_KEY });
      }
    },
    onError: (error) => void message.error(errorMessage(error)),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: MY_INVITATIONS_KEY }),
  });

  const columns = [
    {
      title: t("invitations.tenant"),
      key: "tenant",
      render: (_: unknown, i: MyInvitation) => <Typography.Text strong>{i.tenant.name}</Typography.Text>,
    },
    { title: t("invitations.role"), key: "role", render: (_: unknown, i: MyInvitation) => <Tag>{t(`shell.role.${i.role}`)}</Tag> },
    { title: t("invitations.sent"), key: "sent", render: (_: unknown, i: MyInvitation) => dateTime(i.created_at) },
    {
      title: "",
      key: "actions",
      render: (_: unknown, i: MyInvitation) => (
        <Space>
          <Button
            type="primary"
            size="small"
            icon={<CheckOutlined />}
            loading={answer.isPending && answer.variables?.invitation.id === i.id && answer.variables.accept}
            aria-label={t("invitations.acceptLabel", { name: i.tenant.name })}
            onClick={() => answer.mutate({ invitation: i, accept: true, hadTenant: Boolean(me?.active_tenant) })}
          >
            {t("invitations.accept")}
          </Button>
          <Button
            size="small"
            icon={<CloseOutlined />}
            aria-label={t("invitations.declineLabel", { name: i.tenant.name })}
            onClick={() => answer.mutate({ invitation: i, accept: false, hadTenant: Boolean(me?.active_tenant) })}
          >
            {t("invitations.decline")}
          </Button>
        </Space>
      ),
    },
  ];

  return (
    <div>
      <Typography.Title level={3}>{t("invitations.title")}</Typography.Title>
      {!me?.active_tenant && <Alert type="info" showIcon title={t("invitations.noTenant")} style={{ marginBottom: 16 }} />}
      <Typography.Paragraph type="secondary">{t("invitations.intro")}</Typography.Paragraph>
      <QueryState query={invitations}>
        {(rows) => (
          <Table<MyInvitation>
            rowKey="id"
            aria-label={t("invitations.title")}
            columns={columns}
            dataSource={rows}
            pagination={false}
            locale={{ emptyText: <EmptyState description={t("invitations.empty")} /> }}
          />
        )}
      </QueryState>
    </div>
  );
}
