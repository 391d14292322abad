// The customer page (客户画像, /customers/:id): who they are (header, profile fields), what they are
// worth (value, score with the reason for their tier, tier history), their points and orders, and
// their timeline. Opened from the customer drawer ("Open profile") or a link.
import "./profile/strings";

import { ArrowLeftOutlined } from "@ant-design/icons";
import { useQuery } from "@tanstack/react-query";
import { Avatar, Button, Card, Col, Result, Row, Space, Tag, Tooltip, Typography } from "antd";
import { type ReactNode, Suspense, lazy } from "react";
import { useTranslation } from "react-i18next";
import { Link, useLocation, useParams } from "react-router";

import { client, data } from "../../api/client";
import { ErrorState, Loading } from "../../components/states";
import { date, dateTime } from "../../lib/format";
import { type ContactDetail, type ContactValue, keys, useContactValue } from "./api";
import { initial, useLabels } from "./controls";
import { parseId } from "./filters";
import { NS } from "./profile/strings";
import { ScoreCard, TierHistory, TierTag, ValueCard } from "./profile/ValueCards";

// The first screen is the header, the score and the value; the form, the tables and the timeline
// load right after (a shared link stays within the first screen's 500 KB budget).
const ContactTimeline = lazy(() => import("./ContactTimeline"));
const OrdersCard = lazy(() => import("./profile/OrdersCard"));
const PointsCard = lazy(() => import("./profile/PointsCard"));
const ProfileForm = lazy(() => import("./profile/ProfileForm"));

function Later({ children, rows = 3 }: { children: ReactNode; rows?: number }) {
  return (
    <Suspense
      fallback={
        <Card size="small">
          <Loading rows={rows} />
        </Card>
      }
    >
      {children}
    </Suspense>
  );
}

/** Where "back" goes: the list the drawer was opened from (with its filters), else the list. */
function useBackLink(): string {
  const location = useLocation();
  const back = (location.state as { back?: unknown } | null)?.back;
  return typeof back === "string" && back.startsWith("/customers") ? back : "/customers";
}

function Header({ contact, value }: { contact: ContactDetail; value: ContactValue | undefined }) {
  const { t } = useTranslation(NS);
  const labels = useLabels();
  const staff = contact.follows
    .filter((follow) => follow.status === "active")
    .map((follow) => follow.staff.name || follow.staff.userid);
  const computed = !!value && value.computed_at !== null && value.tier !== null;
  return (
    <Card size="small">
      <div style={{ display: "flex", flexWrap: "wrap", gap: 16, alignItems: "center", justifyContent: "space-between" }}>
        <Space size="middle" align="center">
          <Avatar size={56} src={contact.avatar || undefined} alt="">
            {initial(contact.name)}
          </Avatar>
          <Space orientation="vertical" size={2}>
            <Space wrap>
              <Typography.Title level={3} style={{ margin: 0 }} data-testid="customer-name">
                {contact.name || contact.external_userid}
              </Typography.Title>
              <Tag color={contact.status === "active" ? "green" : "default"}>{labels.status(contact.status)}</Tag>
              {value?.tier && (
                <Tooltip title={value.tier_since ? t("header.tierSince", { date: date(value.tier_since) }) : undefined}>
                  <span>
                    <TierTag tier={value.tier} testId="header-tier" />
                  </span>
                </Tooltip>
              )}
            </Space>
            <Typography.Text type="secondary">
              {[
                contact.corp_full_name || contact.corp_name,
                `${t("header.added")} ${dateTime(contact.first_added_at)}`,
                staff.length ? `${t("header.staff")} ${staff.join(", ")}` : "",
              ]
                .filter(Boolean)
                .join(" · ")}
            </Typography.Text>
          </Space>
        </Space>
        <div style={{ textAlign: "right" }}>
          <Typography.Text type="secondary">{t("header.score")}</Typography.Text>
          {computed ? (
            <div style={{ fontSize: 32, fontWeight: 600, lineHeight: 1.2 }} data-testid="header-score">
              {value.score}
            </div>
          ) : (
            <Tooltip title={t("header.notComputedHint")}>
              <div style={{ fontSize: 16 }} data-testid="header-score">
                {t("header.notComputed")}
              </div>
            </Tooltip>
          )}
        </div>
      </div>
    </Card>
  );
}

function Profile({ id }: { id: number }) {
  const { t } = useTranslation(NS);
  const detail = useQuery({
    queryKey: keys.detail(id),
    queryFn: () => data(client.GET("/api/v1/contacts/{id}/", { params: { path: { id: String(id) } } })) as Promise<ContactDetail>,
  });
  const value = useContactValue(id);
  if (detail.isPending) return <Loading rows={10} />;
  if (detail.isError) return <ErrorState error={detail.error} onRetry={() => void detail.refetch()} />;
  const contact = detail.data;
  const valueBody = (render: (v: ContactValue) => ReactNode, rows = 3) =>
    value.isPending ? (
      <Card size="small">
        <Loading rows={rows} />
      </Card>
    ) : value.isError ? (
      <Card size="small">
        <ErrorState error={value.error} onRetry={() => void value.refetch()} />
      </Card>
    ) : (
      render(value.data)
    );
  return (
    // Keyed by the customer: another one starts on page 1 of each list, with a fresh form.
    <Space key={contact.id} orientation="vertical" size="middle" style={{ width: "100%" }}>
      <Header contact={contact} value={value.data} />
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={14}>
          <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
            {valueBody((v) => (
              <ScoreCard value={v} />
            ))}
            {valueBody((v) => (
              <ValueCard value={v} />
            ))}
            <Later>
              <OrdersCard contactId={contact.id} />
            </Later>
            <Card size="small" title={t("timeline.title")} data-testid="profile-timeline">
              <Suspense fallback={<Loading rows={4} />}>
                <ContactTimeline contactId={contact.id} />
              </Suspense>
            </Card>
          </Space>
        </Col>
        <Col xs={24} xl={10}>
          <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
            <Later>
              <ProfileForm contact={contact} />
            </Later>
            {valueBody((v) => (
              <Later>
                <PointsCard contactId={contact.id} value={v} />
              </Later>
            ))}
            {valueBody((v) => (
              <TierHistory value={v} />
            ))}
          </Space>
        </Col>
      </Row>
    </Space>
  );
}

export default function CustomerProfilePage() {
  const { t } = useTranslation(NS);
  const params = useParams();
  const back = useBackLink();
  const id = parseId(params.id);
  return (
    <div>
      <Space style={{ marginBottom: 8 }}>
        <Link to={back}>
          <ArrowLeftOutlined /> {t("page.back")}
        </Link>
      </Space>
      {id === null ? (
        <Result
          status="404"
          title="404"
          subTitle={t("page.badId")}
          extra={
            <Link to="/customers">
              <Button>{t("page.openList")}</Button>
            </Link>
          }
        />
      ) : (
        <Profile id={id} />
      )}
    </div>
  );
}
