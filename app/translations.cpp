#include "app/translations.h"

#include <QCoreApplication>
#include <QDir>
#include <QLibraryInfo>
#include <QLocale>
#include <QTranslator>

#include "app/resource_paths.h"

namespace consilium::app {

QString installTranslations(QCoreApplication* app, const QString& language,
                            const QString& extraDir) {
    const QString lang = language.isEmpty() ? QLocale::system().name() : language;
    if (lang.startsWith("en")) return {};
    QStringList dirs;
    if (!extraDir.isEmpty()) dirs << extraDir;
    for (const auto& root : resourceRoots())
        dirs << QString::fromStdString(root) + "/translations";
    auto* ours = new QTranslator(app);
    bool loaded = false;
    for (const QString& dir : dirs) {
        if (ours->load("consilium_" + lang, dir)) {
            loaded = true;
            break;
        }
    }
    if (!loaded) {
        delete ours;
        return {};
    }
    app->installTranslator(ours);
    // Qt's own strings (standard buttons, About Qt), when Debian's translations are installed.
    auto* qt = new QTranslator(app);
    if (qt->load("qtbase_" + lang, QLibraryInfo::path(QLibraryInfo::TranslationsPath))) {
        app->installTranslator(qt);
    } else {
        delete qt;
    }
    return lang;
}

}  // namespace consilium::app
