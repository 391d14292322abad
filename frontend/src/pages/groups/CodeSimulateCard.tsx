// Demo tenants: "a customer scans this group code". The sandbox acts the customer out (joins the
// first group with room, or a group WeCom opens when all are full) and calls back like WeCom; this
// card says where they landed and watches the code's join count until the join is recorded here.
import "./strings";

import { CheckCircleFilled, LoadingOutlined, ScanOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Card, Space, Tag, Typography } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import type { Schemas } from "../../api/client";
import { errorMessage } from "../../components/states";
import { type GroupCode, api, keys, useGroupCode } from "./api";

type Answer = Schemas["JoinWaySimulate"];

/** How long the card waits for the callback to be processed before saying so. */
const GIVE_UP_MS = 20_000;

function Landing({ code, answer, joinsBefore }: { code: GroupCode; answer: Answer; joinsBefore: number }) {
  const { t } = useTranslation("groups");
  const queryClient = useQueryClient();
  const [waiting, setWaiting] = useState(true);
  const live = useGroupCode(code.id);
  const recorded = (live.data?.joins ?? 0) > joinsBefore;
  useEffect(() => {
    if (recorded || !waiting) return;
    const poll = window.setInterval(() => void queryClient.invalidateQueries({ queryKey: keys.code(code.id) }), 1000);
    const stop = window.setTimeout(() => setWaiting(false), GIVE_UP_MS);
    return () => {
      window.clearInterval(poll);
      window.clearTimeout(stop);
    };
  }, [recorded, waiting, code.id, queryClient]);
  useEffect(() => {
    if (recorded) {
      // The stats, the groups' member counts and the group lists changed.
      void queryClient.invalidateQueries({ queryKey: keys.codes });
      void queryClient.invalidateQueries({ queryKey: keys.groups });
    }
  }, [recorded, queryClient]);

  const groupName = answer.group?.name || answer.chat_id;
  return (
    <Space orientation="vertical" style={{ width: "100%" }} data-testid="code-simulation">
      {!answer.delivered && <Alert type="warning" showIcon title={t("simulate.notDelivered")} />}
      <Typography.Text data-testid="simulate-landed">
        {t("simulate.landed", { customer: answer.external_userid })}{" "}
        {answer.group ? <Link to={`/groups/${answer.group.id}`}>{groupName}</Link> : <Typography.Text code>{groupName}</Typography.Text>}
      </Typography.Text>
      {answer.created && (
        <Tag color="gold" data-testid="simulate-created">
          {t("simulate.created")}
        </Tag>
      )}
      <Typography.Text type={recorded ? "success" : waiting ? "secondary" : "warning"} data-testid="simulate-recorded">
        {recorded ? <CheckCircleFilled /> : waiting ? <LoadingOutlined /> : null} {recorded ? t("simulate.recorded") : waiting ? t("simulate.recording") : t("simulate.notRecorded")}
      </Typography.Text>
    </Space>
  );
}

export default function CodeSimulateCard({ code }: { code: GroupCode }) {
  const { t } = useTranslation("groups");
  const [scan, setScan] = useState<{ answer: Answer; joinsBefore: number; round: number } | null>(null);
  const simulate = useMutation({
    mutationFn: async () => {
      const joinsBefore = code.joins;
      const answer = await api.simulateCode(code.id);
      return { answer, joinsBefore };
    },
    onSuccess: (next) => setScan((current) => ({ ...next, round: (current?.round ?? 0) + 1 })),
  });
  return (
    <Card
      title={
        <Space>
          <ScanOutlined />
          {t("simulate.title")}
        </Space>
      }
      extra={<Tag color="gold">{t("simulate.demo")}</Tag>}
      data-testid="simulate-card"
    >
      <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
        {scan ? (
          <Landing key={scan.round} code={code} answer={scan.answer} joinsBefore={scan.joinsBefore} />
        ) : (
          <Typography.Paragraph style={{ margin: 0 }}>{t("simulate.intro")}</Typography.Paragraph>
        )}
        <Button type={scan ? "default" : "primary"} icon={<ScanOutlined />} loading={simulate.isPending} onClick={() => simulate.mutate()}>
          {scan ? t("simulate.again") : t("simulate.button")}
        </Button>
        {simulate.isError && <Alert type="error" showIcon title={errorMessage(simulate.error)} />}
      </Space>
    </Card>
  );
}
