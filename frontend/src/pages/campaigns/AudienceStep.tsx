// Step 1: who gets it. Customers: a saved segment, or filters built here with the customers list's
// own filter bar (the same filter language); groups: owners, group tags, a name. Beside it, the live
// count: the plan for this audience, asked again (debounced) as the audience changes.
import "./strings";

import { Alert, Card, Form, Radio, Select, Space, Spin, Statistic, Typography } from "antd";
import { type ComponentProps, Suspense, lazy } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { errorMessage } from "../../components/states";
import { formatCount, previewSentence } from "../../lib/campaigns";
import { useSegments } from "../customers/api";
import { toFigures } from "./preview";
import type { Plan } from "./types";

// Loaded after the first screen: the filter bar's pickers and the group pages' are large.
const FiltersField = lazy(() => import("./FiltersField"));
const GroupAudienceFields = lazy(() => import("./GroupAudienceFields"));

/** The Form.Item's control: it passes value and onChange on to the filter bar once loaded. */
function LazyFilters(props: ComponentProps<typeof FiltersField>) {
  return (
    <Suspense fallback={<Spin />}>
      <FiltersField {...props} />
    </Suspense>
  );
}

export interface PreviewState {
  data: Plan | undefined;
  isPending: boolean;
  isFetching: boolean;
  isError: boolean;
  error: unknown;
  /** Nothing to ask yet (no segment picked). */
  idle: boolean;
}

/** The live count: how many the audience matches and how many will receive it. */
export function LiveCount({ preview }: { preview: PreviewState }) {
  const { t, i18n } = useTranslation("campaigns");
  if (preview.idle) return <Typography.Text type="secondary">{t("audience.pickSegment")}</Typography.Text>;
  if (preview.isError && !preview.data) return <Alert type="error" showIcon title={t("audience.countFailed")} description={errorMessage(preview.error)} />;
  if (!preview.data) return <Spin aria-label={t("audience.counting")} />;
  const figures = toFigures(preview.data);
  const unit = figures.chatType === "group" ? "group" : "customer";
  return (
    <Spin spinning={preview.isFetching} aria-label={t("audience.counting")}>
      <Space orientation="vertical" size="small" style={{ width: "100%" }} data-testid="live-count">
        <Space size="large" wrap>
          <Statistic title={t(`audience.matches.${unit}`)} value={formatCount(figures.audience, i18n.language)} />
          <Statistic title={t("audience.willReceive")} value={formatCount(figures.recipients, i18n.language)} />
          <Statistic title={t(`audience.senders.${unit}`)} value={formatCount(figures.members, i18n.language)} />
        </Space>
        <Typography.Text type="secondary" data-testid="live-sentence">
          {previewSentence(figures, t, i18n.language)}
        </Typography.Text>
      </Space>
    </Spin>
  );
}

export default function AudienceStep({ locked, preview }: { locked: boolean; preview: PreviewState }) {
  const { t } = useTranslation("campaigns");
  const form = Form.useFormInstance();
  const chatType = Form.useWatch("chat_type", form) ?? "single";
  const mode = Form.useWatch("mode", form) ?? "filters";
  const segments = useSegments();

  return (
    <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
      <Card title={t("audience.title")}>
        <Form.Item name="chat_type" label={t("audience.chatType")} extra={locked ? t("audience.chatTypeFixed") : undefined}>
          <Radio.Group
            disabled={locked}
            options={[
              { value: "single", label: t("chatType.single") },
              { value: "group", label: t("chatType.group") },
            ]}
          />
        </Form.Item>
        {/* Both kinds' fields stay mounted (hidden), so an API error on either finds its field. */}
        <div hidden={chatType !== "single"}>
          <Form.Item name="mode" label={t("audience.mode")}>
            <Radio.Group
              options={[
                { value: "segment", label: t("audience.segment") },
                { value: "filters", label: t("audience.filters") },
              ]}
            />
          </Form.Item>
          <div hidden={mode !== "segment"}>
            <Form.Item
              name={["audience", "segment_id"]}
              label={t("audience.segmentLabel")}
              extra={
                <span>
                  {t("audience.segmentHint")} <Link to="/customers">{t("audience.segmentLink")}</Link>
                </span>
              }
            >
              <Select
                allowClear
                showSearch={{ optionFilterProp: "label" }}
                placeholder={t("audience.segmentPlaceholder")}
                loading={segments.isPending}
                options={(segments.data?.results ?? []).map((segment) => ({ value: segment.id, label: segment.name }))}
                notFoundContent={t("audience.noSegments")}
                style={{ maxWidth: 420 }}
              />
            </Form.Item>
          </div>
          <div hidden={mode !== "filters"}>
            <Form.Item name={["audience", "filters"]} label={t("audience.filtersLabel")} extra={t("audience.filtersHint")}>
              <LazyFilters />
            </Form.Item>
          </div>
        </div>
        <div hidden={chatType !== "group"}>
          <Suspense fallback={<Spin />}>
            <GroupAudienceFields />
          </Suspense>
        </div>
        <Typography.Paragraph type="secondary" style={{ marginBottom: 0 }}>
          {t("audience.excluded")}
        </Typography.Paragraph>
      </Card>
      <Card title={t("audience.countTitle")} size="small">
        <LiveCount preview={preview} />
      </Card>
    </Space>
  );
}
