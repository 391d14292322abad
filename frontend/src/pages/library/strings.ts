// The library's strings join i18next when the first module that shows them loads (each such module
// imports this: the library page, the picker), not with the shell.
import i18n from "../../i18n";
import strings from "./i18n";

for (const lang of ["zh", "en"] as const) {
  if (!i18n.hasResourceBundle(lang, "library")) i18n.addResourceBundle(lang, "library", strings[lang]);
}
