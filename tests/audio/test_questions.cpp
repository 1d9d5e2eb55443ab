// The question list: parsing, the JSGF grammar made from it, the dictionary covering every
// grammar word, intent matching and sampling.
#include <QtTest>

#include <random>
#include <sstream>

#include "audio/question_set.h"
#include "audio/transcriber.h"

using namespace consilium;
using namespace consilium::audio;

namespace {
const std::string kQuestions = CONSILIUM_SOURCE_DIR "/resources/questions/questions.json";
const std::string kExtraDict = CONSILIUM_SOURCE_DIR "/resources/audio/consilium-extra.dict";
const std::string kCmudict = std::string(kPocketsphinxModelRoot) + "/cmudict-en-us.dict";

std::string minimal(const std::string& intents, const std::string& slotJson = "{}") {
    return "{\"format\": \"consilium-questions\", \"version\": 1, \"slots\": " + slotJson +
           ", \"intents\": " + intents + "}";
}
}  // namespace

class TestQuestions : public QObject {
    Q_OBJECT

  private slots:
    void shippedListLoads() {
        auto set = QuestionSet::loadFile(kQuestions);
        QVERIFY2(set.ok(), set.ok() ? "" : set.error().toString().c_str());
        QVERIFY(set->intents().size() >= 15);
        // The kinds of question the issue names are all there.
        for (const char* id :
             {"nodule_presence", "nodule_count", "nodule_in_lobe", "nodule_location",
              "nodule_slice", "nodule_size", "nodule_type", "lung_rads", "patient_age",
              "patient_sex", "smoking_status", "pack_years", "years_since_quit", "prior_cancer",
              "screening_eligibility", "follow_up", "summary"}) {
            bool found = false;
            for (const auto& i : set->intents())
                found |= i.id == id;
            QVERIFY2(found, id);
        }
        for (const auto& i : set->intents())
            QVERIFY2(!i.zh.empty(), qPrintable(QString::fromStdString(i.id)));
        const Slot* lobe = set->slot("lobe");
        QVERIFY(lobe);
        QCOMPARE(lobe->values.front().id, std::string("RUL"));
        QCOMPARE(lobe->values.front().zh.front(), std::string("右上叶"));
        const Slot* slice = set->slot("slice");
        QVERIFY(slice);
        QCOMPARE(slice->values.size(), size_t(400));
        QCOMPARE(slice->values[41].en.front(), std::string("forty two"));
    }

    // Every word the grammar can produce has a pronunciation (cmudict or ours).
    void everyGrammarWordIsInTheDictionary() {
        auto set = QuestionSet::loadFile(kQuestions);
        QVERIFY(set.ok());
        if (!QFile::exists(QString::fromStdString(kCmudict)))
            QSKIP("pocketsphinx-en-us is not installed");
        const auto vocabulary = set->vocabulary();
        QVERIFY(vocabulary.count("effusion"));
        QVERIFY(vocabulary.count("rads"));
        auto missing = wordsMissingFromDictionaries(vocabulary, {kCmudict, kExtraDict});
        QVERIFY(missing.ok());
        std::string list;
        for (const auto& w : missing.value())
            list += w + " ";
        QVERIFY2(missing->empty(), ("missing pronunciations: " + list).c_str());
        // And the check does find a missing word: without our extra dictionary, cmudict
        // alone lacks "effusion".
        auto without = wordsMissingFromDictionaries(vocabulary, {kCmudict});
        QVERIFY(without.ok());
        QVERIFY(std::find(without->begin(), without->end(), "effusion") != without->end());
        QCOMPARE(wordsMissingFromDictionaries(vocabulary, {"/nonexistent.dict"}).error().code,
                 ErrorCode::NotFound);
    }

    void grammarIsJsgf() {
        auto set = QuestionSet::loadFile(kQuestions);
        QVERIFY(set.ok());
        const std::string g = set->jsgf();
        QVERIFY(g.rfind("#JSGF V1.0;", 0) == 0);
        QVERIFY(g.find("public <question> = <nodule_presence> | ") != std::string::npos);
        QVERIFY(g.find("<slot_lobe> = right upper lobe | right middle lobe") != std::string::npos);
        QVERIFY(g.find("<nodule_in_lobe> = ( is there a | are there any ) ( nodule | nodules ) in "
                       "the <slot_lobe>") != std::string::npos);
        QVERIFY(g.find("[ lung cancer ]") != std::string::npos);
        QVERIFY(g.find("/") == std::string::npos);  // no weights in the shipped list

        auto weighted = QuestionSet::loadJson(
            minimal("[{\"id\": \"a\", \"en\": [\"yes\"]}, {\"id\": \"b\", \"weight\": 0.25, "
                    "\"en\": [\"no\"]}]"),
            "weighted.json");
        QVERIFY(weighted.ok());
        QVERIFY2(
            weighted->jsgf().find("public <question> = <a> | /0.25/ <b>;") != std::string::npos,
            weighted->jsgf().c_str());
        auto badWeight = QuestionSet::loadJson(
            minimal("[{\"id\": \"a\", \"weight\": 0, \"en\": [\"yes\"]}]"), "w.json");
        QVERIFY(!badWeight.ok());
    }

    void matchesIntentsAndSlots() {
        auto set = QuestionSet::loadFile(kQuestions);
        QVERIFY(set.ok());
        auto m = set->matchEnglish("is there a nodule in the right upper lobe");
        QVERIFY(m);
        QCOMPARE(m->intent, std::string("nodule_in_lobe"));
        QCOMPARE(m->slotValues.at("lobe"), std::string("RUL"));
        m = set->matchEnglish("what is on slice one hundred twenty three");
        QVERIFY(m);
        QCOMPARE(m->intent, std::string("slice_content"));
        QCOMPARE(m->slotValues.at("slice"), std::string("123"));
        m = set->matchEnglish(normalizeEnglish("Is the patient eligible for screening?"));
        QVERIFY(m);
        QCOMPARE(m->intent, std::string("screening_eligibility"));
        m = set->matchEnglish("does the patient have a pleural effusion");
        QVERIFY(!m);  // "a" is not in that template
        m = set->matchEnglish("does the patient have pleural effusion");
        QVERIFY(m);
        QCOMPARE(m->slotValues.at("finding"), std::string("pleural_effusion"));
        QVERIFY(!set->matchEnglish("order a pizza"));
        QVERIFY(!set->matchEnglish(""));
        QVERIFY(!set->matchEnglish("is there a nodule in the"));  // prefix only
    }

    // Sentences sampled from each intent match that intent (or an earlier one that shares
    // the sentence) and stay within the vocabulary: the generator and the matcher agree.
    void samplesRoundTrip() {
        auto set = QuestionSet::loadFile(kQuestions);
        QVERIFY(set.ok());
        const auto vocabulary = set->vocabulary();
        std::mt19937 rng(11);
        for (const auto& intent : set->intents()) {
            for (int k = 0; k < 20; ++k) {
                const std::string s = set->sampleEnglish(intent, rng);
                auto m = set->matchEnglish(s);
                QVERIFY2(m, s.c_str());
                QVERIFY2(m->intent == intent.id,
                         (s + " -> " + m->intent + ", expected " + intent.id).c_str());
                std::istringstream words(s);
                for (std::string w; words >> w;)
                    QVERIFY2(vocabulary.count(w), w.c_str());
            }
        }
    }

    void numbersAndNormalisation() {
        QCOMPARE(numberToWords(0), std::string("zero"));
        QCOMPARE(numberToWords(7), std::string("seven"));
        QCOMPARE(numberToWords(40), std::string("forty"));
        QCOMPARE(numberToWords(115), std::string("one hundred fifteen"));
        QCOMPARE(numberToWords(300), std::string("three hundred"));
        QCOMPARE(numberToWords(2024), std::string("two thousand twenty four"));
        QCOMPARE(numberToWords(-1), std::string());
        QCOMPARE(normalizeEnglish("  What's the  Lung-RADS, please?! "),
                 std::string("what's the lung-rads please"));
    }

    void badListsAreRejected_data() {
        QTest::addColumn<QString>("json");
        QTest::addColumn<QString>("expect");
        QTest::newRow("not json") << "{nope"
                                  << "parse";
        QTest::newRow("format")
            << "{\"format\": \"x\", \"version\": 1, \"slots\": {}, \"intents\": []}"
            << "format";
        QTest::newRow("version") << "{\"format\": \"consilium-questions\", \"version\": 9, "
                                    "\"slots\": {}, \"intents\": []}"
                                 << "version";
        QTest::newRow("unknown slot")
            << QString::fromStdString(minimal("[{\"id\": \"a\", \"en\": [\"is it {colour}\"]}]"))
            << "unknown slot {colour}";
        QTest::newRow("bad word") << QString::fromStdString(
                                         minimal("[{\"id\": \"a\", \"en\": [\"Is It\"]}]"))
                                  << "bad word";
        QTest::newRow("unbalanced")
            << QString::fromStdString(minimal("[{\"id\": \"a\", \"en\": [\"(is it\"]}]"))
            << "missing ')'";
        QTest::newRow("duplicate")
            << QString::fromStdString(minimal(
                   "[{\"id\": \"a\", \"en\": [\"yes\"]}, {\"id\": \"a\", \"en\": [\"no\"]}]"))
            << "duplicate";
        QTest::newRow("bad id") << QString::fromStdString(
                                       minimal("[{\"id\": \"A-1\", \"en\": [\"yes\"]}]"))
                                << "ids";
        QTest::newRow("no english")
            << QString::fromStdString(minimal("[{\"id\": \"a\", \"zh\": [\"是\"]}]"))
            << "no English";
    }
    void badListsAreRejected() {
        QFETCH(QString, json);
        QFETCH(QString, expect);
        auto set = QuestionSet::loadJson(json.toStdString(), "test.json");
        QVERIFY(!set.ok());
        QCOMPARE(set.error().code, ErrorCode::CorruptFile);
        QVERIFY2(set.error().message.rfind("test.json: ", 0) == 0, set.error().message.c_str());
        QVERIFY2(set.error().message.find(expect.toStdString()) != std::string::npos,
                 set.error().message.c_str());
        QCOMPARE(QuestionSet::loadFile("/nonexistent/questions.json").error().code,
                 ErrorCode::NotFound);
    }
};

QTEST_GUILESS_MAIN(TestQuestions)
#include "test_questions.moc"
