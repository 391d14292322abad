import "./i18n";

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { App as AntApp, ConfigProvider } from "antd";
import enUS from "antd/locale/en_US";
import zhCN from "antd/locale/zh_CN";
import dayjs from "dayjs";
import "dayjs/locale/zh-cn";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { I18nextProvider, useTranslation } from "react-i18next";
import { RouterProvider } from "react-router";

import { ApiError, setUnauthorizedHandler } from "./api/client";
import { ME_KEY, SessionProvider } from "./auth";
import i18n from "./i18n";
import { loginPath } from "./lib/paths";
import { router } from "./router";

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A 4xx will not get better by asking again; network blips and 5xx get two more tries.
      retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
      refetchOnWindowFocus: false,
    },
  },
});

// The session ended (expired, logged out elsewhere): back to login, then back here.
setUnauthorizedHandler(() => {
  queryClient.setQueryData(ME_KEY, null);
  if (router.state.location.pathname !== "/login") void router.navigate(loginPath(router.state.location));
});

function Root() {
  const { i18n: current } = useTranslation();
  const zh = current.language !== "en";
  dayjs.locale(zh ? "zh-cn" : "en");
  return (
    <ConfigProvider locale={zh ? zhCN : enUS}>
      <AntApp>
        <SessionProvider>
          <RouterProvider router={router} />
        </SessionProvider>
      </AntApp>
    </ConfigProvider>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <I18nextProvider i18n={i18n}>
      <QueryClientProvider client={queryClient}>
        <Root />
      </QueryClientProvider>
    </I18nextProvider>
  </StrictMode>,
);
