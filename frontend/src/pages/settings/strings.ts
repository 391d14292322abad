// The settings tabs' strings join i18next when the settings page loads, not with the shell: the
// shell's bundle is part of every first screen.
import i18n from "../../i18n";
import strings from "./i18n";

for (const lang of ["zh", "en"] as const) {
  if (!i18n.hasResourceBundle(lang, "settings")) i18n.addResourceBundle(lang, "settings", strings[lang]);
}
