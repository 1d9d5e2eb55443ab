#include "app/answer_check.h"

#include <QJsonObject>
#include <QRegularExpression>

namespace consilium::app {

namespace {

// The number of nodules the text states, or -1 when it states none. Anchored at the start: a
// summary's "largest nodule 12 mm" is not a count.
int countClaim(const QString& answer) {
    static const QRegularExpression number(
        QStringLiteral("^\\s*(?:(?:Yes,\\s*)?(\\d+)\\s+nodules?\\.|(?:有，共)?(\\d+)个结节。)"));
    static const QRegularExpression none(QStringLiteral("^\\s*(?:No nodules\\.|没有结节。)"));
    const QRegularExpressionMatch m = number.match(answer);
    if (m.hasMatch()) {
        const QString digits = m.captured(1).isEmpty() ? m.captured(2) : m.captured(1);
        bool ok = false;
        const int n = digits.toInt(&ok);
        return ok ? n : -1;
    }
    return none.match(answer).hasMatch() ? 0 : -1;
}

}  // namespace

std::vector<AnswerClaim> answerClaims(const QString& answer, const QString& lungRads,
                                      int findingCount) {
    std::vector<AnswerClaim> out;
    static const QRegularExpression category(QStringLiteral("Lung-RADS\\s*([0-4][ABSX]?)"));
    const QRegularExpressionMatch m = category.match(answer);
    if (m.hasMatch() && !lungRads.isEmpty())
        out.push_back(
            {QStringLiteral("lung_rads"), m.captured(1), lungRads, m.captured(1) == lungRads});
    const int n = countClaim(answer);
    if (n >= 0)
        out.push_back({QStringLiteral("nodule_count"), QString::number(n),
                       QString::number(findingCount), n == findingCount});
    return out;
}

QString disagreementNote(const AnswerClaim& claim) {
    if (claim.agree) return {};
    if (claim.field == QLatin1String("lung_rads"))
        return QStringLiteral(
                   "The answer text says Lung-RADS %1, the findings give %2: the decoder writes "
                   "the text, the detection heads the findings and their category; check the "
                   "findings")
            .arg(claim.answer, claim.structured);
    return QStringLiteral(
               "The answer text counts %1 nodule(s) but the findings list %2: the detector "
               "lists only nodules it scores above its threshold; check the scan")
        .arg(claim.answer, claim.structured);  // nodule_count, the only other field
}

QJsonArray answerChecksJson(const std::vector<AnswerClaim>& claims) {
    QJsonArray out;
    for (const AnswerClaim& c : claims) {
        QJsonObject o;
        o["field"] = c.field;
        o["answer"] = c.answer;
        o["structured"] = c.structured;
        o["agree"] = c.agree;
        out.append(o);
    }
    return out;
}

}  // namespace consilium::app
