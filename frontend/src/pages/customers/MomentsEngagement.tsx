// A customer's Moments engagement (朋友圈互动), on their page: likes and comments on the members'
// posts, the last one, how many posts they could see, and the latest interactions. Loaded with the
// drawer's content after its first screen (import it with React.lazy), with the Moments strings.
import "../moments/strings";

import { HeartOutlined, MessageOutlined } from "@ant-design/icons";
import { Card, Col, List, Row, Space, Statistic, Tag, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { ErrorState, Loading } from "../../components/states";
import { formatCount } from "../../lib/campaigns";
import { dateTime } from "../../lib/format";
import { useEngagement } from "../moments/api";
import { snippet } from "../moments/bits";

export default function MomentsEngagement({ contactId }: { contactId: number }) {
  const { t, i18n } = useTranslation("moments");
  const engagement = useEngagement(contactId);
  const n = (v: number) => formatCount(v, i18n.language);
  return (
    <Card size="small" title={t("engagement.title")} data-testid="moments-engagement">
      {engagement.isPending ? (
        <Loading rows={2} />
      ) : engagement.isError ? (
        <ErrorState error={engagement.error} onRetry={() => void engagement.refetch()} />
      ) : (
        <Space orientation="vertical" style={{ width: "100%" }}>
          <Row gutter={16}>
            <Col span={6}>
              <Statistic title={t("totals.likes")} value={n(engagement.data.likes)} data-testid="engagement-likes" />
            </Col>
            <Col span={6}>
              <Statistic title={t("totals.comments")} value={n(engagement.data.comments)} data-testid="engagement-comments" />
            </Col>
            <Col span={6}>
              <Statistic title={t("engagement.postsSeen")} value={n(engagement.data.posts_seen)} />
            </Col>
            <Col span={6}>
              <Statistic title={t("engagement.last")} value={dateTime(engagement.data.last_interaction_at)} styles={{ content: { fontSize: 14 } }} />
            </Col>
          </Row>
          {engagement.data.recent.length ? (
            <List
              size="small"
              dataSource={engagement.data.recent}
              renderItem={(item) => (
                <List.Item>
                  <Space wrap>
                    <Tag icon={item.kind === "like" ? <HeartOutlined /> : <MessageOutlined />} color={item.kind === "like" ? "red" : "blue"}>
                      {t(`interactions.${item.kind}`)}
                    </Tag>
                    <Link to={`/moments/${item.moment.id}`}>{snippet(item.moment.text, 30) || t("list.noText")}</Link>
                    <Typography.Text type="secondary">
                      {t("engagement.onCopyOf", { name: item.member.name || item.member.userid })} · {dateTime(item.occurred_at)}
                    </Typography.Text>
                  </Space>
                </List.Item>
              )}
            />
          ) : (
            <Typography.Text type="secondary">{t("engagement.none")}</Typography.Text>
          )}
        </Space>
      )}
    </Card>
  );
}
