// Demo tenants: "a customer scans this code". The sandbox acts the customer out and calls back like
// WeCom; this card then watches the code's greetings and the customer (every second, for up to 25 s)
// and shows the arrival step by step — added to a member, greeted, tagged — and what they received.
import "./strings";

import { CheckCircleFilled, CloseCircleFilled, LoadingOutlined, MinusCircleFilled, ScanOutlined, UserOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Card, Col, Row, Space, Steps, Tag, Typography } from "antd";
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import type { Schemas } from "../../api/client";
import { errorMessage } from "../../components/states";
import { type Channel, api, keys, useGreetings, useWelcomeDefault } from "./api";
import { GreetingStatus } from "./bits";
import { latency } from "./params";
import { GIVE_UP_MS, POLL_MS, type StepState, findGreeting, followTags, progress } from "./simulate";
import WelcomePreview from "./WelcomePreview";
import { isEmptyWelcome } from "./welcome";

interface Scan {
  answer: Schemas["SimulateScan"];
  startedAt: number;
}

const ICON: Record<StepState, React.ReactNode> = {
  waiting: <LoadingOutlined />,
  done: <CheckCircleFilled style={{ color: "#52c41a" }} />,
  failed: <CloseCircleFilled style={{ color: "#ff4d4f" }} />,
  skipped: <MinusCircleFilled style={{ color: "#bfbfbf" }} />,
};
const STATUS = { waiting: "process", done: "finish", failed: "error", skipped: "wait" } as const;

function useElapsed(scan: Scan | null, running: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!scan || !running) return;
    const timer = window.setInterval(() => setNow(Date.now()), 100);
    return () => window.clearInterval(timer);
  }, [scan, running]);
  return scan ? Math.max(0, now - scan.startedAt) : 0;
}

function Arrival({ channel, scan, busy, onAgain }: { channel: Channel; scan: Scan; busy: boolean; onAgain: () => void }) {
  const { t } = useTranslation("channels");
  const queryClient = useQueryClient();
  const fallback = useWelcomeDefault();
  const [running, setRunning] = useState(true);
  const elapsed = useElapsed(scan, running);
  const greetings = useGreetings(channel.id, "", 1, running ? POLL_MS : false);
  const greeting = findGreeting(greetings.data?.results ?? [], scan.answer.external_userid);
  const contact = useQuery({
    queryKey: keys.contact(greeting?.contact ?? 0),
    queryFn: () => api.contact(greeting?.contact ?? 0),
    enabled: !!greeting && channel.tags.length > 0,
    refetchInterval: running ? POLL_MS : false,
  });
  const tags = followTags(contact.data, scan.answer.userid);
  const state = progress({ greeting, tags, wanted: channel.tags.map((t) => t.id), elapsedMs: elapsed });
  const stopped = useRef(false);
  useEffect(() => {
    if ((state.finished || state.timedOut) && !stopped.current) {
      stopped.current = true;
      setRunning(false);
      // The new customer counts in the stats and the customer lists now.
      void queryClient.invalidateQueries({ queryKey: keys.channels });
      void queryClient.invalidateQueries({ queryKey: keys.contacts });
    }
  }, [state.finished, state.timedOut, queryClient]);

  const customer = greeting?.contact_name || t("simulate.theCustomer");
  const staff = greeting?.staff_name || scan.answer.userid;
  const message = isEmptyWelcome(channel.welcome) ? fallback.data?.welcome : channel.welcome;
  const greetedText = {
    waiting: t("simulate.greeting"),
    done: t("simulate.greeted", { latency: latency(greeting?.latency_ms) }),
    failed: t("simulate.notGreeted", { errcode: greeting?.errcode ?? "—", error: greeting?.error || t(`status.hint.${greeting?.status ?? "failed"}`) }),
    skipped: greeting?.error || t("simulate.noWelcome"),
  }[state.greeted];

  const items = [
    {
      key: "scanned",
      title: t("simulate.scanned"),
      icon: ICON.done,
      status: "finish" as const,
      content: <Typography.Text type="secondary">{t("simulate.scannedHint", { id: scan.answer.external_userid })}</Typography.Text>,
    },
    {
      key: "added",
      title: state.added === "done" ? t("simulate.added", { customer, staff }) : t("simulate.adding"),
      icon: ICON[state.added],
      status: STATUS[state.added],
      content: <span data-testid="simulate-added">{state.added === "done" ? t("simulate.addedHint", { staff }) : t("simulate.addingHint")}</span>,
    },
    {
      key: "greeted",
      title: t("simulate.greetedTitle"),
      icon: state.added === "done" ? ICON[state.greeted] : ICON.waiting,
      status: STATUS[state.greeted],
      content: (
        <Space data-testid="simulate-greeted" wrap>
          {greeting && greeting.status !== "pending" && <GreetingStatus greeting={greeting} />}
          <span>{greetedText}</span>
        </Space>
      ),
    },
    {
      key: "tagged",
      title: t("simulate.taggedTitle"),
      icon: ICON[state.tagged],
      status: STATUS[state.tagged],
      content: (
        <Space data-testid="simulate-tagged" wrap size={4}>
          {state.tagged === "skipped" ? (
            <span>{t("simulate.noTags")}</span>
          ) : state.tagged === "done" ? (
            <>
              <span>{t("simulate.tagged")}</span>
              {channel.tags.map((tag) => (
                <Tag key={tag.id} color="blue">
                  {tag.name}
                </Tag>
              ))}
            </>
          ) : (
            <span>{t("simulate.tagging", { tags: channel.tags.map((tag) => tag.name).join(", ") })}</span>
          )}
        </Space>
      ),
    },
  ];

  return (
    <div data-testid="simulation">
      {!scan.answer.delivered && <Alert type="warning" showIcon style={{ marginBottom: 12 }} title={t("simulate.notDelivered")} />}
      <Row gutter={[24, 16]}>
        <Col xs={24} md={13}>
          <Steps orientation="vertical" size="small" items={items} />
          <Space wrap style={{ marginTop: 8 }}>
            <Typography.Text type={state.timedOut ? "warning" : "secondary"} data-testid="simulate-summary">
              {state.finished
                ? t("simulate.done", { seconds: (elapsed / 1000).toFixed(1) })
                : state.timedOut
                  ? t("simulate.timedOut")
                  : t("simulate.watching", { seconds: (elapsed / 1000).toFixed(1) })}
            </Typography.Text>
          </Space>
          <Space wrap style={{ marginTop: 12, display: "flex" }}>
            {greeting && (
              <Link to={`/customers?contact=${greeting.contact}`}>
                <Button icon={<UserOutlined />}>{t("simulate.openCustomer", { customer })}</Button>
              </Link>
            )}
            <Button onClick={onAgain} disabled={running} loading={busy}>
              {t("simulate.again")}
            </Button>
          </Space>
        </Col>
        <Col xs={24} md={11}>
          {state.greeted === "done" ? (
            <>
              <Typography.Text strong>{t("simulate.received", { customer })}</Typography.Text>
              <div style={{ marginTop: 8 }}>
                <WelcomePreview welcome={message} names={{ customer_name: customer, staff_name: staff }} />
              </div>
            </>
          ) : null}
        </Col>
      </Row>
    </div>
  );
}

export default function SimulateCard({ channel }: { channel: Channel }) {
  const { t } = useTranslation("channels");
  const [scan, setScan] = useState<Scan | null>(null);
  const [round, setRound] = useState(0);
  const simulate = useMutation({
    mutationFn: () => {
      const startedAt = Date.now();
      return api.simulate(channel.id).then((answer) => ({ answer, startedAt }));
    },
    onSuccess: (next) => {
      setRound((n) => n + 1);
      setScan(next);
    },
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
      {scan ? (
        <Arrival key={round} channel={channel} scan={scan} busy={simulate.isPending} onAgain={() => simulate.mutate()} />
      ) : (
        <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
          <Typography.Paragraph style={{ margin: 0 }}>{t("simulate.intro", { seconds: GIVE_UP_MS / 1000 })}</Typography.Paragraph>
          <Button type="primary" size="large" icon={<ScanOutlined />} loading={simulate.isPending} onClick={() => simulate.mutate()}>
            {t("simulate.button")}
          </Button>
        </Space>
      )}
      {simulate.isError && <Alert type="error" showIcon style={{ marginTop: 12 }} title={errorMessage(simulate.error)} />}
    </Card>
  );
}
