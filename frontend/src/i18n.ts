// zh-CN and en, switchable; the default follows the browser and the choice is remembered.
import i18n from "i18next";
import { initReactI18next } from "react-i18next";

import { setApiLanguage } from "./api/client";

import common from "./locales/common";
import churn from "./pages/churn/i18n";
import customers from "./pages/customers/i18n";
import overview from "./pages/overview/i18n";
import staff from "./pages/staff/i18n";
import tags from "./pages/tags/i18n";

export type Lang = "zh" | "en";
const STORAGE_KEY = "siyu.lang";

// Each feature keeps its own strings (one namespace per page folder) so pages stay self-contained.
// The channel, group and settings pages register theirs when they load (their strings.ts), to keep
// the shell (part of every first screen) small.
const bundles = { common, churn, customers, overview, staff, tags };

export function initialLang(): Lang {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved === "zh" || saved === "en") return saved;
  return navigator.language.toLowerCase().startsWith("zh") ? "zh" : "en";
}

function applyLang(lang: Lang): void {
  const tag = lang === "zh" ? "zh-CN" : "en";
  document.documentElement.lang = tag;
  setApiLanguage(tag);
}

export function setLang(lang: Lang): void {
  localStorage.setItem(STORAGE_KEY, lang);
  void i18n.changeLanguage(lang);
  applyLang(lang);
}

const resources: Record<Lang, Record<string, object>> = { zh: {}, en: {} };
for (const [ns, bundle] of Object.entries(bundles)) {
  resources.zh[ns] = bundle.zh;
  resources.en[ns] = bundle.en;
}

const lang = initialLang();
applyLang(lang);
void i18n.use(initReactI18next).init({
  resources,
  lng: lang,
  fallbackLng: "en",
  defaultNS: "common",
  interpolation: { escapeValue: false },
});

export default i18n;
