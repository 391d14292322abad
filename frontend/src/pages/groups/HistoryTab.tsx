// A group's joins and leaves, newest first, as a timeline (paginated): who, how they came (scene,
// inviter, group code) or how they went. Its own chunk: the members tab is the group's first screen.
import "./strings";

import { Space, Tag, Timeline, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { Pager } from "../../components/Pager";
import { EmptyState, QueryState } from "../../components/states";
import { dateTime } from "../../lib/format";
import { type GroupDetail, useHistory } from "./api";
import { MemberName, useGroupLabels } from "./bits";

export default function HistoryTab({ group, onOpen }: { group: GroupDetail; onOpen: (contact: number) => void }) {
  const { t } = useTranslation("groups");
  const labels = useGroupLabels();
  const [page, setPage] = useState(1);
  const history = useHistory(group.id, page);
  return (
    <QueryState query={history} isEmpty={(d) => d.results.length === 0 && page === 1} empty={<EmptyState description={t("history.empty")} />}>
      {(data) => (
        <>
          <Timeline
            items={data.results.map((entry) => {
              const m = entry.member;
              const joined = entry.kind === "joined";
              const detail = joined
                ? [
                    labels.joinScene(m.join_scene),
                    m.inviter ? t("history.invitedBy", { name: m.inviter.name || m.inviter.userid }) : "",
                    m.join_way ? t("history.viaCode", { name: m.join_way.name }) : "",
                  ]
                : [labels.quitScene(m.quit_scene)];
              return {
                key: `${entry.kind}-${m.id}`,
                color: joined ? "green" : "red",
                content: (
                  <div data-testid="history-entry">
                    <Space size={6} wrap>
                      <Typography.Text type="secondary" style={{ fontVariantNumeric: "tabular-nums" }}>
                        {dateTime(entry.at)}
                      </Typography.Text>
                      <MemberName member={m} onOpen={onOpen} />
                      <Typography.Text strong>{joined ? t("history.joined") : t("history.left")}</Typography.Text>
                      <Tag>{labels.memberType(m.type)}</Tag>
                      <Typography.Text type="secondary">{detail.filter(Boolean).join(" · ")}</Typography.Text>
                    </Space>
                  </div>
                ),
              };
            })}
          />
          {(page > 1 || data.next) && <Pager page={page} hasNext={!!data.next} onPage={setPage} loading={history.isFetching} />}
        </>
      )}
    </QueryState>
  );
}

