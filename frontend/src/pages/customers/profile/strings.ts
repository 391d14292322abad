// The customer page's strings join i18next when the first module that shows them loads (each such
// module imports this), not with the shell: the shell's bundle is part of every first screen.
import i18n from "../../../i18n";
import strings from "./i18n";

export const NS = "customerProfile";

for (const lang of ["zh", "en"] as const) {
  if (!i18n.hasResourceBundle(lang, NS)) i18n.addResourceBundle(lang, NS, strings[lang]);
}
