#include "app/record_file.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QStringDecoder>

namespace consilium::app {

RecordRead readRecordFile(const QString& path, qint64 maxBytes) {
    RecordRead r;
    QFile f(path);
    if (!f.exists()) {
        r.error = QObject::tr("%1: no such file").arg(path);
        return r;
    }
    if (f.size() > maxBytes) {
        r.error = QObject::tr("%1: %2 MB is larger than the %3 MB a record may have")
                      .arg(path)
                      .arg(f.size() / 1e6, 0, 'f', 1)
                      .arg(maxBytes / 1e6, 0, 'f', 0);
        return r;
    }
    if (!f.open(QIODevice::ReadOnly)) {
        r.error = QObject::tr("%1: cannot read (%2)").arg(path, f.errorString());
        return r;
    }
    const QByteArray bytes = f.readAll();
    if (bytes.contains('\0')) {
        r.error = QObject::tr("%1: binary file, not a text record").arg(path);
        return r;
    }
    QStringDecoder utf8(QStringDecoder::Utf8);
    QString text = utf8.decode(bytes);
    if (!utf8.hasError()) {
        r.ok = true;
        r.record = {text, "UTF-8"};
        return r;
    }
    QStringDecoder gb("GB18030");
    if (gb.isValid()) {
        text = gb.decode(bytes);
        if (!gb.hasError()) {
            r.ok = true;
            r.record = {text, "GB18030"};
            return r;
        }
    }
    r.error = QObject::tr("%1: not UTF-8 or GB18030 text").arg(path);
    return r;
}

QString findStudyRecord(const QString& studyPath) {
    const QFileInfo info(studyPath);
    if (!info.isDir()) return {};
    QStringList found;
    const QDir root(studyPath);
    QStringList dirs{root.absolutePath()};
    for (const QString& sub : root.entryList(QDir::Dirs | QDir::NoDotAndDotDot))
        dirs << root.absoluteFilePath(sub);
    for (const QString& dir : dirs) {
        for (const QFileInfo& f : QDir(dir).entryInfoList(
                 {"patient_record.txt", "patient_record.md", "record.txt", "record.md"},
                 QDir::Files)) {
            found << f.absoluteFilePath();
        }
    }
    return found.size() == 1 ? found.first() : QString();
}

}  // namespace consilium::app
