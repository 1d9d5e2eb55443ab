// End to end: consilium-cli make-test-model, generate and bench-llm on a small random
// llama file, run as a user would (QProcess), and their answers to bad input.
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

namespace {

struct Run {
    int code = -1;
    QByteArray out, err;
};

Run cli(const QStringList& args, int timeoutMs = 120000) {
    QProcess p;
    p.start(CONSILIUM_BIN_DIR "/consilium-cli", args);
    Run r;
    if (!p.waitForFinished(timeoutMs)) return r;
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

}  // namespace

class TestCliLlm : public QObject {
    Q_OBJECT
    QTemporaryDir m_dir;
    QString m_model;

  private slots:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        m_model = m_dir.path() + "/small.gguf";
        const Run r = cli({"make-test-model", "--arch", "llama", "--params", "3M", "--type", "q4_0",
                           "--out", m_model});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY(r.out.contains("Q4_0"));
        QVERIFY(QFileInfo(m_model).size() > 1000000);
    }

    void generateStreamsGreedyTokens() {
        const QStringList args = {"generate",    "--model",   m_model, "--prompt",
                                  "hello world", "-n",        "8",     "--temp",
                                  "0",           "--threads", "2"};
        const Run a = cli(args), b = cli(args);
        QVERIFY2(a.code == 0, a.err.constData());
        QVERIFY(!a.out.trimmed().isEmpty());
        QCOMPARE(a.out, b.out);  // greedy: deterministic
        QVERIFY(a.err.contains("generated: 8 tokens"));
        const Run s1 = cli({"generate", "--model", m_model, "--prompt", "x", "-n", "6", "--temp",
                            "1.0", "--seed", "5"});
        const Run s2 = cli({"generate", "--model", m_model, "--prompt", "x", "-n", "6", "--temp",
                            "1.0", "--seed", "5"});
        QCOMPARE(s1.code, 0);
        QCOMPARE(s1.out, s2.out);
    }

    void benchPrintsJson() {
        const Run r = cli({"bench-llm", "--model", m_model, "-p", "32", "-n", "8", "-t", "2", "-r",
                           "1", "--json"});
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QVERIFY(o["pp_tokens_per_s"].toDouble() > 0);
        QVERIFY(o["tg_tokens_per_s"].toDouble() > 0);
        QCOMPARE(o["n_prompt"].toInt(), 32);
        QCOMPARE(o["threads"].toInt(), 2);
        const Run t = cli({"bench-llm", "--model", m_model, "-p", "16", "-n", "4", "-r", "1"});
        QCOMPARE(t.code, 0);
        QVERIFY(t.out.contains("| pp16 |"));
        QVERIFY(t.out.contains("| tg4 |"));
    }

    void badInputExitsTwo() {
        Run r = cli({"generate", "--model", m_dir.path() + "/missing.gguf", "--prompt", "x"});
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("missing.gguf"));
        QFile junk(m_dir.path() + "/junk.gguf");
        QVERIFY(junk.open(QIODevice::WriteOnly));
        junk.write("GGUF\x03\x00\x00\x00garbage", 15);
        junk.close();
        r = cli({"bench-llm", "--model", junk.fileName()});
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("CorruptModel"));
        r = cli({"generate", "--model", m_model, "-n", "abc"});
        QCOMPARE(r.code, 2);
        r = cli({"make-test-model", "--arch", "mamba", "--out", m_dir.path() + "/x.gguf"});
        QCOMPARE(r.code, 2);
        QCOMPARE(r.err.count('\n'), 1);
    }
};

QTEST_GUILESS_MAIN(TestCliLlm)
#include "test_cli_llm.moc"
