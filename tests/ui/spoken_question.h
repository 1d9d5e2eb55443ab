// Shared by the GUI tests: a spoken question made with espeak-ng (en-us, 150 wpm).
#pragma once

#include <QProcess>
#include <QStandardPaths>
#include <QString>

// Writes "how old is the patient" to `wav`. False when espeak-ng is not installed or failed;
// `why` then says which.
inline bool speakQuestion(const QString& wav, QString* why) {
    const QString espeak = QStandardPaths::findExecutable("espeak-ng");
    if (espeak.isEmpty()) {
        *why = QStringLiteral("espeak-ng is not installed");
        return false;
    }
    if (QProcess::execute(espeak,
                          {"-v", "en-us", "-s", "150", "-w", wav, "how old is the patient"}) != 0) {
        *why = QStringLiteral("espeak-ng failed");
        return false;
    }
    return true;
}
