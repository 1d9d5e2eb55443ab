// The answer text against the structured answer. The decoder writes the text on its own
// (docs/MODEL.md 9), while `findings` and, in files with Lung-RADS from findings, `lung_rads`
// come from the detection heads (section 10): the two can disagree, and a reader who sees
// "Lung-RADS 4A" above a findings list that gives 4B must be told. answerClaims() reads the
// claims the text makes that the structured answer also makes, and says whether they agree.
//
// The text forms read are the model's answer forms for these questions, in English and in
// Chinese: "Lung-RADS 4A." / "Lung-RADS 4A类。" (alone, or ending a summary), "3 nodules." /
// "3个结节。", "Yes, 2 nodules." / "有，共2个结节。", "No nodules." / "没有结节。". Other texts
// make no claim here.
#pragma once

#include <QJsonArray>
#include <QString>

#include <vector>

namespace consilium::app {

struct AnswerClaim {
    QString field;       // "lung_rads" | "nodule_count"
    QString answer;      // what the text says ("4A", "3")
    QString structured;  // what the structured answer says ("4B", "2")
    bool agree = false;
};

// The claims of `answer` against `lungRads` (empty: the answer has none, so no Lung-RADS
// claim is checked) and the number of findings.
std::vector<AnswerClaim> answerClaims(const QString& answer, const QString& lungRads,
                                      int findingCount);

// One line for the user about a claim that disagrees (empty when it agrees).
QString disagreementNote(const AnswerClaim& claim);

// The JSON of the `ask` contract's `answer_checks`: [{field, answer, structured, agree}].
QJsonArray answerChecksJson(const std::vector<AnswerClaim>& claims);

}  // namespace consilium::app
