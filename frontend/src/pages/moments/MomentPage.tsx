// A Moment that Siyu did not compose (a corp post made in WeCom's admin console, or a member's own
// post): who posted it and when, its text, and what became of it — the same figures, members and
// interactions as a task's page, without the compose actions. One of ours opens its task's page.
import "./strings";

import { ArrowLeftOutlined } from "@ant-design/icons";
import { Card, Descriptions, Space, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Link, Navigate, useParams } from "react-router";

import { ErrorState, Loading } from "../../components/states";
import { dateTime } from "../../lib/format";
import { KindTag, Member } from "./bits";
import MomentDetail from "./MomentDetail";
import { useMoment } from "./api";

export default function MomentPage() {
  const { t } = useTranslation("moments");
  const params = useParams();
  const moment = useMoment(Number(params.id));
  let body;
  if (moment.isPending) body = <Loading rows={10} />;
  else if (moment.isError) body = <ErrorState error={moment.error} onRetry={() => void moment.refetch()} />;
  else if (moment.data.task !== null) return <Navigate to={`/moments/tasks/${moment.data.task}`} replace />;
  else {
    const m = moment.data;
    body = (
      <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
        <Space align="center" wrap>
          <Typography.Title level={3} style={{ margin: 0 }}>
            {t("detail.momentTitle")}
          </Typography.Title>
          <KindTag createType={m.create_type} />
        </Space>
        <Card size="small">
          <Descriptions
            size="small"
            column={{ xs: 1, md: 2 }}
            items={[
              { key: "creator", label: t("list.creator"), children: <Member staff={m.creator ?? (m.creator_userid ? { name: "", userid: m.creator_userid } : null)} /> },
              { key: "posted", label: t("list.postedAt"), children: dateTime(m.created_at_wecom) },
              { key: "polled", label: t("detail.polled"), children: dateTime(m.last_polled_at) },
            ]}
          />
          <Typography.Paragraph style={{ whiteSpace: "pre-wrap", marginTop: 12, marginBottom: 0 }} data-testid="moment-text">
            {m.text || t("list.noText")}
          </Typography.Paragraph>
        </Card>
        <MomentDetail momentId={m.id} />
      </Space>
    );
  }
  return (
    <div>
      <Space style={{ marginBottom: 8 }}>
        <Link to="/moments?view=moments">
          <ArrowLeftOutlined /> {t("list.title")}
        </Link>
      </Space>
      {body}
    </div>
  );
}
