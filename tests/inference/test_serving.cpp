// Serving the `consilium` model (issue 6): continuous batching gives each answer exactly what
// a solo run gives, cancelling one request leaves the others unchanged, an exhausted KV pool
// preempts and recomputes instead of dropping, and reused encodings (follow-up questions on
// an encoded study) give the cold answer. Runs the shipped demo model on generated inputs.
#include <QtTest>

#include <cmath>
#include <map>
#include <optional>
#include <thread>

#include "inference/consilium_scheduler.h"
#include "inference/consilium_session.h"
#include "inference/encoding_cache.h"
#include "inference/synthetic_inputs.h"

using namespace consilium;
using namespace consilium::inference;

namespace {

const std::string kModel = CONSILIUM_SOURCE_DIR "/resources/models/consilium-demo-q4_0.gguf";

const char* kRecords[] = {
    "Patient record. 67-year-old male, current smoker, 40 pack-years. Chronic cough for three "
    "months. No prior cancer. Father had lung cancer.",
    "患者资料：女性，58岁。既往吸烟，已戒烟8年，累计30包年。无肿瘤病史。主诉：胸闷两周。",
    "Referral note: 72 year old woman, former smoker who quit 20 years ago, 15 pack-years. "
    "History of hypertension and a prior breast cancer treated in 2010.",
};
const char* kQuestions[] = {
    "Is there a nodule?",           "How old is the patient?", "What is the Lung-RADS category?",
    "Where is the largest nodule?", "Does the patient smoke?", "What is the next step?",
    "How many nodules are there?",  "患者多大年龄？",          "Summarise the findings.",
};

struct Case {
    ConsiliumInputs in;
};

std::vector<ConsiliumInputs> makeInputs(const ConsiliumEngine& e, int n) {
    const ConsiliumConfig& c = e.model().config();
    std::vector<ConsiliumInputs> out;
    for (int i = 0; i < n; ++i) {
        ConsiliumInputs in;
        if (i % 5 != 4) {
            in.ctHu = syntheticChestGrid(c, i % 3);
            in.ctSpacingYxMm = syntheticGridSpacingYxMm(c);
        }
        if (i % 4 != 3) in.recordIds = e.tokenizer().encodeWithBos(kRecords[i % 3]);
        in.questionIds = e.tokenizer().encodeWithBos(kQuestions[i % 9]);
        out.push_back(std::move(in));
    }
    return out;
}

std::shared_ptr<ConsiliumEngine> openEngine() {
    auto e = ConsiliumEngine::open(kModel);
    if (!e) qFatal("%s", e.error().toString().c_str());
    return e.value();
}

ConsiliumAnswer solo(std::shared_ptr<ConsiliumEngine> e, const ConsiliumInputs& in) {
    ConsiliumSessionOptions so;
    so.cpu.threads = 2;
    so.reuseEncodings = false;
    auto s = ConsiliumSession::create(e, so);
    if (!s) qFatal("%s", s.error().toString().c_str());
    auto a = s.value()->ask(in);
    if (!a) qFatal("%s", a.error().toString().c_str());
    return a.value();
}

// Same tokens, experts and findings; float outputs within what differing matrix-product row
// counts (GEMV against GEMM blocking) can change.
void compareAnswers(const ConsiliumAnswer& got, const ConsiliumAnswer& want, const char* what) {
    QVERIFY2(got.ids == want.ids, qPrintable(QStringLiteral("%1: '%2' instead of '%3'")
                                                 .arg(what)
                                                 .arg(QString::fromStdString(got.text))
                                                 .arg(QString::fromStdString(want.text))));
    QCOMPARE(got.experts.size(), want.experts.size());
    for (size_t t = 0; t < got.experts.size(); ++t)
        for (size_t l = 0; l < got.experts[t].size(); ++l) {
            QCOMPARE(got.experts[t][l].experts, want.experts[t][l].experts);
            for (size_t j = 0; j < 2; ++j)
                QVERIFY(std::fabs(got.experts[t][l].weights[j] - want.experts[t][l].weights[j]) <
                        1e-3);
        }
    for (size_t m = 0; m < 4; ++m)
        QVERIFY(std::fabs(got.modalityWeights[m] - want.modalityWeights[m]) < 1e-5);
    QCOMPARE(got.findings.size(), want.findings.size());
    QCOMPARE(got.lungRads, want.lungRads);
    QCOMPARE(got.peakPatch, want.peakPatch);
    QCOMPARE(got.imageAttention.size(), want.imageAttention.size());
    for (size_t i = 0; i < got.imageAttention.size(); ++i)
        QVERIFY(std::fabs(got.imageAttention[i] - want.imageAttention[i]) < 1e-4);
    QCOMPARE(got.recordAttention.size(), want.recordAttention.size());
    for (size_t i = 0; i < got.recordAttention.size(); ++i)
        QVERIFY(std::fabs(got.recordAttention[i] - want.recordAttention[i]) < 1e-4);
}

}  // namespace

class TestServing : public QObject {
    Q_OBJECT
    std::shared_ptr<ConsiliumEngine> m_engine;
    std::vector<ConsiliumInputs> m_inputs;
    std::vector<ConsiliumAnswer> m_solo;

  private slots:
    void initTestCase() {
        m_engine = openEngine();
        m_inputs = makeInputs(*m_engine, 12);
        for (const auto& in : m_inputs)
            m_solo.push_back(solo(m_engine, in));
        int distinct = 0;
        for (size_t i = 0; i < m_solo.size(); ++i)
            qInfo("solo %zu: %s", i, m_solo[i].text.c_str());
        for (size_t i = 1; i < m_solo.size(); ++i)
            distinct += m_solo[i].ids != m_solo[0].ids;
        QVERIFY2(distinct > 0, "every input gave the same answer: the comparisons would be weak");
    }

    // 12 answers decoding together (with and without reused encodings) equal their solo runs.
    void batchedEqualsSolo_data() {
        QTest::addColumn<bool>("reuse");
        QTest::newRow("cold") << false;
        QTest::newRow("reused encodings") << true;
    }
    void batchedEqualsSolo() {
        QFETCH(bool, reuse);
        m_engine->cache().clear();
        ConsiliumBatcherOptions o;
        o.cpu.threads = 2;
        o.reuseEncodings = reuse;
        auto b = ConsiliumBatcher::create(m_engine, o);
        QVERIFY(b.ok());
        std::map<size_t, ConsiliumAnswer> got;
        std::map<size_t, std::vector<int32_t>> streamed;
        for (size_t i = 0; i < m_inputs.size(); ++i) {
            ConsiliumRequest r;
            r.inputs = m_inputs[i];
            r.onToken = [&, i](int32_t id, const std::string&) {
                streamed[i].push_back(id);
                return true;
            };
            r.onDone = [&, i](Result<ConsiliumAnswer> a) {
                QVERIFY(a.ok());
                got[i] = a.value();
            };
            b.value()->add(std::move(r));
        }
        b.value()->drain();
        QCOMPARE(got.size(), m_inputs.size());
        for (size_t i = 0; i < m_inputs.size(); ++i) {
            compareAnswers(got[i], m_solo[i], qPrintable(QStringLiteral("request %1").arg(i)));
            QCOMPARE(streamed[i], got[i].ids);
        }
        const auto st = b.value()->stats();
        QVERIFY2(st.maxRunning >= 6, qPrintable(QString::number(st.maxRunning)));
        QCOMPARE(st.kvBlocksUsed, int64_t(0));
        if (reuse) {
            // Three CT variants and three records among twelve requests.
            const auto cs = m_engine->cache().stats();
            QVERIFY2(cs.hits >= 10, qPrintable(QString::number(cs.hits)));
        }
    }

    // Cancel two requests mid-batch (one by its token callback, one by its flag): they end
    // Cancelled, every other answer is unchanged.
    void cancelMidBatch() {
        ConsiliumBatcherOptions o;
        o.cpu.threads = 2;
        auto b = ConsiliumBatcher::create(m_engine, o);
        QVERIFY(b.ok());
        auto flag = std::make_shared<std::atomic<bool>>(false);
        std::map<size_t, Result<ConsiliumAnswer>> got;
        // Pick victims whose solo answers run at least 2 tokens.
        std::vector<size_t> longOnes;
        for (size_t i = 0; i < m_solo.size(); ++i)
            if (m_solo[i].ids.size() >= 3) longOnes.push_back(i);
        QVERIFY(longOnes.size() >= 3);
        const size_t byCallback = longOnes[0], byFlag = longOnes[1], setter = longOnes[2];
        for (size_t i = 0; i < m_inputs.size(); ++i) {
            ConsiliumRequest r;
            r.inputs = m_inputs[i];
            r.onToken = [&, i](int32_t, const std::string&) {
                if (i == setter) flag->store(true);
                return i != byCallback;
            };
            if (i == byFlag) r.cancel = flag;
            r.onDone = [&, i](Result<ConsiliumAnswer> a) { got.emplace(i, std::move(a)); };
            b.value()->add(std::move(r));
        }
        b.value()->drain();
        QCOMPARE(got.size(), m_inputs.size());
        for (size_t i = 0; i < m_inputs.size(); ++i) {
            const auto& r = got.at(i);
            if (i == byCallback || i == byFlag) {
                QVERIFY(!r.ok());
                QCOMPARE(r.error().code, ErrorCode::Cancelled);
            } else {
                QVERIFY(r.ok());
                compareAnswers(r.value(), m_solo[i], "survivor");
            }
        }
    }

    // 64 requests into a pool that holds one longest answer, one position per block: answers
    // are preempted and recomputed, none is lost, all equal their solo runs.
    void poolExhaustion() {
        ConsiliumBatcherOptions o;
        o.cpu.threads = 2;
        o.blockTokens = 1;
        o.kvBlocks = 1;  // raised to one longest answer
        auto b = ConsiliumBatcher::create(m_engine, o);
        QVERIFY(b.ok());
        std::map<size_t, ConsiliumAnswer> got;
        for (size_t i = 0; i < 64; ++i) {
            ConsiliumRequest r;
            r.inputs = m_inputs[i % m_inputs.size()];
            r.onDone = [&, i](Result<ConsiliumAnswer> a) {
                QVERIFY2(a.ok(), a.ok() ? "" : a.error().message.c_str());
                got[i] = a.value();
            };
            b.value()->add(std::move(r));
        }
        b.value()->drain();
        QCOMPARE(got.size(), size_t(64));
        for (size_t i = 0; i < 64; ++i)
            compareAnswers(got[i], m_solo[i % m_solo.size()], "after preemption");
        const auto st = b.value()->stats();
        qInfo("pool of %lld blocks: peak %lld used, %lld preemptions, %lld steps",
              (long long)st.kvBlocks, (long long)st.kvBlocksPeak, (long long)st.preemptions,
              (long long)st.steps);
        QVERIFY(st.preemptions > 0);
        QVERIFY(st.kvBlocksPeak <= st.kvBlocks);
        QCOMPARE(st.kvBlocksUsed, int64_t(0));
    }

    // A long record is encoded a chunk per step while the answers already running keep
    // decoding: they finish before it, and its answer equals a solo whole-record run.
    void longRecordDoesNotStall() {
        ConsiliumBatcherOptions o;
        o.cpu.threads = 2;
        // A step encodes about max(textChunkTokens, image patches) = 512 record tokens, so a
        // ~20K-token record takes ~40 steps: more than an answer has ids.
        o.limits.textChunkTokens = 256;
        o.limits.maxRecordTokens = 32768;
        auto b = ConsiliumBatcher::create(m_engine, o);
        QVERIFY(b.ok());
        std::string text;
        for (int i = 0; i < 400; ++i)
            text += std::string(kRecords[i % 3]) + "\n";
        ConsiliumInputs longIn = m_inputs[0];
        longIn.recordIds = m_engine->tokenizer().encodeWithBos(text);
        QVERIFY2(longIn.recordIds.size() > 16000,
                 qPrintable(QString::number(longIn.recordIds.size())));
        std::vector<std::string> events;
        std::optional<ConsiliumAnswer> longAnswer, shortAnswer;
        auto add = [&](const ConsiliumInputs& in, const std::string& name) {
            ConsiliumRequest r;
            r.inputs = in;
            r.onToken = [&events, name](int32_t, const std::string&) {
                if (events.empty() || events.back() != name + " token")
                    events.push_back(name + " token");
                return true;
            };
            r.onDone = [&, name](Result<ConsiliumAnswer> a) {
                QVERIFY(a.ok());
                events.push_back(name + " done");
                (name == "long" ? longAnswer : shortAnswer) = a.value();
            };
            b.value()->add(std::move(r));
        };
        ConsiliumInputs shortIn = m_inputs[4];  // a record-less question
        shortIn.ctHu.clear();
        add(shortIn, "short");
        add(longIn, "long");
        b.value()->drain();
        QVERIFY(longAnswer.has_value());
        QVERIFY(shortAnswer.has_value());
        QVERIFY2(longAnswer->prefillSteps > int64_t(shortAnswer->ids.size()),
                 qPrintable(QString("%1 prefill steps, a short answer of %2 ids")
                                .arg(longAnswer->prefillSteps)
                                .arg(shortAnswer->ids.size())));
        const auto firstLong = std::find(events.begin(), events.end(), "long token");
        const auto shortDone = std::find(events.begin(), events.end(), "short done");
        QVERIFY(firstLong != events.end() && shortDone != events.end());
        QVERIFY2(shortDone < firstLong, "the short answer waited for the long record");
        ConsiliumSessionOptions so;
        so.cpu.threads = 2;
        so.reuseEncodings = false;
        so.limits.maxRecordTokens = 32768;
        so.limits.textChunkTokens = 32768;  // the whole record in one pass
        auto s = ConsiliumSession::create(m_engine, so);
        QVERIFY(s.ok());
        auto whole = s.value()->ask(longIn);
        QVERIFY(whole.ok());
        compareAnswers(*longAnswer, whole.value(), "long record in chunks");
    }

    // A follow-up question on an encoded study reuses the image and record encodings and
    // answers as a cold run does.
    void followUpReusesEncodings() {
        auto engine = openEngine();
        ConsiliumSessionOptions so;
        so.cpu.threads = 2;
        auto s = ConsiliumSession::create(engine, so);
        QVERIFY(s.ok());
        ConsiliumInputs first = m_inputs[0];
        auto a = s.value()->ask(first);
        QVERIFY(a.ok());
        QVERIFY(!a.value().reused[kModImage] && !a.value().reused[kModRecord]);
        ConsiliumInputs follow = first;
        follow.questionIds = engine->tokenizer().encodeWithBos("What is the Lung-RADS category?");
        auto b = s.value()->ask(follow);
        QVERIFY(b.ok());
        QVERIFY(b.value().reused[kModImage] && b.value().reused[kModRecord]);
        QVERIFY(!b.value().reused[kModQuestion]);
        compareAnswers(b.value(), solo(openEngine(), follow), "follow-up");
    }

    void encodingCacheEvictsLeastRecentlyUnused() {
        EncodingCache cache(3 * 400);  // three entries of 100 floats
        auto entry = [](int rows) {
            Encoding e;
            e.rows = rows;
            e.dim = 10;
            e.data.assign(size_t(rows * 10), float(rows));
            return e;
        };
        std::vector<EncodingKey> keys;
        for (int i = 0; i < 4; ++i) {
            const int32_t v = i;
            keys.push_back(encodingKey(kModRecord, &v, sizeof v));
        }
        QVERIFY(!(keys[0] == keys[1]));
        QVERIFY(!(keys[0] == encodingKey(kModQuestion, &keys, 0)));
        auto held = cache.insert(keys[0], entry(10));
        cache.insert(keys[1], entry(10));
        cache.insert(keys[2], entry(10));
        QVERIFY(cache.find(keys[1]));  // 1 is now the most recent; 0 is held
        cache.insert(keys[3], entry(10));
        QVERIFY(cache.find(keys[0]));   // held: not evicted
        QVERIFY(!cache.find(keys[2]));  // least recently used of the unheld
        QVERIFY(cache.find(keys[1]) && cache.find(keys[3]));
        auto st = cache.stats();
        QCOMPARE(st.entries, size_t(3));
        QCOMPARE(st.evictions, uint64_t(1));
        QVERIFY(st.bytes <= st.budget);
        // Larger than the whole budget: returned, not kept.
        auto big = cache.insert(keys[2], entry(100));
        QCOMPARE(big->rows, int64_t(100));
        QVERIFY(!cache.find(keys[2]));
    }

    // The threaded scheduler: submissions from two threads, cancel by handle, idle wait.
    void schedulerFromThreads() {
        ConsiliumBatcherOptions o;
        o.cpu.threads = 2;
        auto s = ConsiliumScheduler::create(m_engine, o);
        QVERIFY(s.ok());
        std::mutex mu;
        std::map<size_t, Result<ConsiliumAnswer>> got;
        auto submit = [&](size_t i, int priority) {
            ConsiliumRequest r;
            r.inputs = m_inputs[i];
            r.priority = priority;
            r.onDone = [&, i](Result<ConsiliumAnswer> a) {
                std::lock_guard<std::mutex> l(mu);
                got.emplace(i, std::move(a));
            };
            return s.value()->submit(std::move(r));
        };
        std::thread t1([&] {
            for (size_t i = 0; i < 6; ++i)
                submit(i, 1);
        });
        std::thread t2([&] {
            for (size_t i = 6; i < 12; ++i)
                submit(i, 0);
        });
        t1.join();
        t2.join();
        s.value()->waitIdle();
        QCOMPARE(got.size(), size_t(12));
        for (size_t i = 0; i < 12; ++i) {
            QVERIFY(got.at(i).ok());
            compareAnswers(got.at(i).value(), m_solo[i], "scheduled");
        }
        // Cancel by handle before it can finish: a long queue, cancel the last one.
        got.clear();
        uint64_t last = 0;
        for (size_t i = 0; i < 12; ++i)
            last = submit(i, 1);
        s.value()->cancel(last);
        s.value()->waitIdle();
        QCOMPARE(got.size(), size_t(12));
        QVERIFY(!got.at(11).ok());
        QCOMPARE(got.at(11).error().code, ErrorCode::Cancelled);
        QVERIFY(got.at(0).ok());
    }
};

QTEST_GUILESS_MAIN(TestServing)
#include "test_serving.moc"
