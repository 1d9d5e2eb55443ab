#include "app/report_export.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QPainter>
#include <QPdfWriter>
#include <QRandomGenerator>
#include <QSaveFile>

#include <map>

#include "app/answer_check.h"
#include "imaging/deidentify.h"

namespace consilium::app {
namespace {

QString redact(const QString& text, const std::vector<std::string>& ids) {
    return QString::fromStdString(imaging::redactIdentifiers(text.toStdString(), ids));
}

QString randomSecret() {
    QString s;
    for (int i = 0; i < 4; ++i)
        s += QString::number(QRandomGenerator::system()->generate64(), 16);
    return s;
}

QString fmt(double v, int decimals) {
    return QString::number(v, 'f', decimals);
}

}  // namespace

QJsonObject findingReportJson(const FindingReport& r, const QString& pngName) {
    std::vector<std::string> ids;
    for (const QString& s : r.identifiers)
        if (!s.trimmed().isEmpty()) ids.push_back(s.trimmed().toStdString());
    imaging::UidRemapper uids(randomSecret().toStdString());
    auto uid = [&](const QJsonValue& v) {
        const QString s = v.toString();
        return s.isEmpty() ? QString() : QString::fromStdString(uids.map(s.toStdString()));
    };
    const QJsonObject& a = r.answer;
    QJsonObject out;
    out["report"] = QStringLiteral("Consilium finding report");
    out["not_for_clinical_use"] = true;
    out["created_utc"] = QDateTime::currentDateTimeUtc().toString(Qt::ISODate);
    out["deidentification"] = QStringLiteral(
        "DICOM PS3.15 Basic Application Level Confidentiality Profile: no patient "
        "identifiers; SOP Instance UIDs replaced");
    out["question"] = redact(a["question"].toString(), ids);
    if (a.contains("transcript")) out["transcript"] = redact(a["transcript"].toString(), ids);
    out["answer"] = redact(a["answer"].toString(), ids);
    QJsonArray findings;
    for (const QJsonValue& v : a["findings"].toArray()) {
        const QJsonObject f = v.toObject();
        QJsonObject g;
        for (const char* k : {"center_mm", "diameter_mm", "solid_diameter_mm", "type", "lobe",
                              "score", "row", "col"})
            if (f.contains(k)) g[k] = f[k];
        g["sop_instance_uid"] = uid(f["sop_instance_uid"]);
        findings.append(g);
    }
    out["findings"] = findings;
    out["lung_rads"] = a["lung_rads"];
    if (a.contains("answer_checks")) out["answer_checks"] = a["answer_checks"];
    out["modality_weights"] = a["modality_weights"];
    if (a["attention"].isObject()) {
        const QJsonObject at = a["attention"].toObject();
        QJsonObject o;
        for (const char* k : {"peak_mm", "patch", "weight", "row", "col"})
            if (at.contains(k)) o[k] = at[k];
        o["sop_instance_uid"] = uid(at["sop_instance_uid"]);
        out["attention"] = o;
    }
    QJsonArray evidence;
    for (const QJsonValue& v : a["record_evidence"].toArray()) {
        const QJsonObject e = v.toObject();
        evidence.append(QJsonObject{{"token", e["token"]},
                                    {"weight", e["weight"]},
                                    {"text", redact(e["text"].toString(), ids)}});
    }
    out["record_evidence"] = evidence;
    // Experts: how often each expert was chosen, per decoder layer, over the answer.
    std::map<int, std::map<int, int>> counts;
    for (const QJsonValue& t : a["experts"].toArray()) {
        const QJsonArray layers = t.toObject()["layers"].toArray();
        for (int l = 0; l < layers.size(); ++l)
            for (const QJsonValue& e : layers[l].toObject()["experts"].toArray())
                ++counts[l][e.toInt()];
    }
    QJsonArray experts;
    for (const auto& [layer, byExpert] : counts) {
        QJsonObject o;
        for (const auto& [e, n] : byExpert)
            o[QString::number(e)] = n;
        experts.append(QJsonObject{{"layer", layer}, {"chosen", o}});
    }
    out["experts"] = experts;
    const QJsonObject m = a["model"].toObject();
    out["model"] = QJsonObject{{"file", QFileInfo(m["file"].toString()).fileName()},
                               {"sha256", m["sha256"]},
                               {"precision", a["precision"]},
                               {"device", a["device"]}};
    out["view"] = QJsonObject{{"image", pngName}, {"caption", r.viewCaption}};
    return out;
}

Result<QStringList> exportFindingReport(const FindingReport& r, const QString& pdfPath) {
    const QFileInfo fi(pdfPath);
    const QString base = fi.absolutePath() + "/" + fi.completeBaseName();
    const QString jsonPath = base + ".json", pngPath = base + ".png";
    if (!QDir().mkpath(fi.absolutePath()))
        return makeError(ErrorCode::IoError,
                         fi.absolutePath().toStdString() + ": cannot create the folder");
    const QJsonObject j = findingReportJson(r, QFileInfo(pngPath).fileName());
    auto ioError = [](const QString& path, const QString& why) {
        return makeError(ErrorCode::IoError,
                         path.toStdString() + ": cannot be written (" + why.toStdString() + ")");
    };

    if (!r.view.isNull()) {
        QSaveFile png(pngPath);
        if (!png.open(QIODevice::WriteOnly) || !r.view.save(&png, "PNG") || !png.commit())
            return ioError(pngPath, png.errorString());
    }
    {
        QSaveFile jf(jsonPath);
        if (!jf.open(QIODevice::WriteOnly) ||
            jf.write(QJsonDocument(j).toJson(QJsonDocument::Indented)) < 0 || !jf.commit())
            return ioError(jsonPath, jf.errorString());
    }

    // The PDF: A4 portrait, 300 dpi, one page (the view scaled to fit what is left).
    QPdfWriter pdf(pdfPath);
    pdf.setPageSize(QPageSize(QPageSize::A4));
    pdf.setResolution(300);
    pdf.setTitle(QStringLiteral("Consilium finding report"));
    pdf.setCreator(QStringLiteral("Consilium"));
    QPainter p;
    if (!p.begin(&pdf)) return ioError(pdfPath, QStringLiteral("cannot start a PDF"));
    const int W = pdf.width();
    int y = 0;
    auto block = [&](const QString& text, int pointSize, bool bold = false) {
        QFont f = p.font();
        f.setPointSize(pointSize);
        f.setBold(bold);
        p.setFont(f);
        const QRect box(0, y, W, 100000);
        const QRect used = p.boundingRect(box, Qt::TextWordWrap, text);
        p.drawText(box, Qt::TextWordWrap, text);
        y += used.height() + 30;
    };
    block(QStringLiteral("Consilium finding report"), 16, true);
    block(QStringLiteral("Not for clinical use: the model is trained on synthetic data only. "
                         "De-identified: ") +
              j["deidentification"].toString() + ". Created " + j["created_utc"].toString() +
              " (UTC).",
          8);
    block(QStringLiteral("Question: ") + j["question"].toString(), 11, true);
    block(QStringLiteral("Answer: ") + j["answer"].toString(), 11);
    for (const QJsonValue& v : j["answer_checks"].toArray()) {
        const QJsonObject o = v.toObject();
        const QString note = disagreementNote({o["field"].toString(), o["answer"].toString(),
                                               o["structured"].toString(), o["agree"].toBool()});
        if (!note.isEmpty()) block(QStringLiteral("Note: ") + note + '.', 9);
    }
    QStringList lines;
    const QJsonArray findings = j["findings"].toArray();
    for (int i = 0; i < findings.size(); ++i) {
        const QJsonObject f = findings[i].toObject();
        const QJsonArray c = f["center_mm"].toArray();
        const QString size =
            fmt(f["diameter_mm"].toDouble(), 1) + QStringLiteral(" mm") +
            (f.contains("solid_diameter_mm") ? QStringLiteral(" (solid part %1 mm)")
                                                   .arg(fmt(f["solid_diameter_mm"].toDouble(), 1))
                                             : QString());
        lines << QStringLiteral("%1. %2 nodule, %3, %4, at (%5, %6, %7) mm LPS, score %8")
                     .arg(i + 1)
                     .arg(f["type"].toString())
                     .arg(size)
                     .arg(f["lobe"].toString())
                     .arg(fmt(c[0].toDouble(), 1))
                     .arg(fmt(c[1].toDouble(), 1))
                     .arg(fmt(c[2].toDouble(), 1))
                     .arg(fmt(f["score"].toDouble(), 2));
    }
    block(QStringLiteral("Findings: ") +
              (lines.isEmpty() ? QStringLiteral("none above the threshold") : QString()) + "\n" +
              lines.join('\n'),
          10);
    block(QStringLiteral("Lung-RADS: ") +
              (j["lung_rads"].isString() ? j["lung_rads"].toString() : QStringLiteral("n/a")),
          10);
    const QJsonObject w = j["modality_weights"].toObject();
    block(QStringLiteral("Modality weights: image %1, record %2, voice %3, question %4")
              .arg(fmt(w["image"].toDouble(), 2), fmt(w["record"].toDouble(), 2),
                   fmt(w["voice"].toDouble(), 2), fmt(w["question"].toDouble(), 2)),
          10);
    QStringList ex;
    for (const QJsonValue& v : j["experts"].toArray()) {
        const QJsonObject o = v.toObject();
        QStringList parts;
        const QJsonObject chosen = o["chosen"].toObject();
        for (auto it = chosen.begin(); it != chosen.end(); ++it)
            parts << QStringLiteral("%1×%2").arg(it.key()).arg(it.value().toInt());
        ex << QStringLiteral("layer %1: %2").arg(o["layer"].toInt()).arg(parts.join(", "));
    }
    block(QStringLiteral("Experts chosen over the answer (expert × times):\n") + ex.join('\n'), 9);
    const QJsonObject model = j["model"].toObject();
    block(QStringLiteral("Model %1 (%2, sha256 %3…), %4")
              .arg(model["file"].toString(), model["precision"].toString(),
                   model["sha256"].toString().left(16), model["device"].toString()),
          8);
    if (!r.view.isNull()) {
        block(r.viewCaption + QStringLiteral(", heatmap of the answer's attention"), 9);
        const int room = pdf.height() - y;
        const QSize fit = r.view.size().scaled(W, std::max(100, room), Qt::KeepAspectRatio);
        p.drawImage(QRect(QPoint((W - fit.width()) / 2, y), fit), r.view);
    }
    if (!p.end()) return ioError(pdfPath, QStringLiteral("cannot finish the PDF"));
    if (QFileInfo(pdfPath).size() == 0) return ioError(pdfPath, QStringLiteral("empty file"));
    return QStringList{pdfPath, jsonPath, pngPath};
}

}  // namespace consilium::app
