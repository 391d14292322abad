// The SOP pages' strings join i18next when the first module that shows them loads (each such module
// imports this), not with the shell: the shell's bundle is part of every first screen.
import i18n from "../../i18n";
import strings from "./i18n";

for (const lang of ["zh", "en"] as const) {
  if (!i18n.hasResourceBundle(lang, "sop")) i18n.addResourceBundle(lang, "sop", strings[lang]);
}
