// UI translations (Qt Linguist .qm files shipped under <resources>/translations).
#pragma once

#include <QString>

class QCoreApplication;

namespace consilium::app {

// Installs the translation for `language` ("zh_CN", "en"; empty = the system locale) on
// `app`. Returns the language installed, or an empty string when English (the source
// language) is used. Safe to call once, on the GUI thread, before widgets are created.
QString installTranslations(QCoreApplication* app, const QString& language,
                            const QString& extraDir = QString());

}  // namespace consilium::app
