import { DownloadOutlined } from "@ant-design/icons";
import { Button, Card, Typography } from "antd";
import { useState } from "react";

import { EmptyState } from "./states";

/** A code's QR image with its download button (channel codes and group codes); texts come translated. */
export function QrCard(props: {
  src: string;
  downloadHref: string;
  title: string;
  alt: string;
  failed: string;
  download: string;
  hint: string;
}) {
  const [failed, setFailed] = useState(false);
  return (
    <Card title={props.title} data-testid="qr-card">
      <div style={{ textAlign: "center" }}>
        {failed ? (
          <EmptyState description={props.failed} />
        ) : (
          <img
            src={props.src}
            alt={props.alt}
            width={240}
            height={240}
            style={{ maxWidth: "100%", height: "auto", border: "1px solid #f0f0f0", borderRadius: 8 }}
            onError={() => setFailed(true)}
            data-testid="qr-image"
          />
        )}
        <div style={{ marginTop: 12 }}>
          <Button type="primary" icon={<DownloadOutlined />} href={props.downloadHref}>
            {props.download}
          </Button>
        </div>
        <Typography.Paragraph type="secondary" style={{ marginTop: 12, fontSize: 12 }}>
          {props.hint}
        </Typography.Paragraph>
      </div>
    </Card>
  );
}
