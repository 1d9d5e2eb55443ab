// End-to-end: consilium-cli batch on the demo study with the golden random-weight model:
// one output line per job as it finishes, error lines for bad jobs, and resume after a kill
// (a torn last line is cut, answered ids are skipped).
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMap>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

namespace {

const QString kStudy = QStringLiteral(CONSILIUM_BINARY_DIR "/resources/demo-study/case_000");
const QString kModel =
    QStringLiteral(CONSILIUM_SOURCE_DIR "/tests/data/consilium_golden/consilium-golden-q4_0.gguf");

int batch(const QString& jobs, const QString& out, QByteArray* err) {
    QProcess p;
    p.start(CONSILIUM_BIN_DIR "/consilium-cli",
            {"batch", "--jobs", jobs, "--out", out, "--model", kModel, "--threads", "1"});
    if (!p.waitForFinished(120000)) p.kill();
    *err = p.readAllStandardError();
    return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
}

QList<QJsonObject> lines(const QString& path) {
    QFile f(path);
    QList<QJsonObject> out;
    if (!f.open(QIODevice::ReadOnly)) return out;
    for (const QByteArray& l : f.readAll().split('\n'))
        if (!l.isEmpty()) out << QJsonDocument::fromJson(l).object();
    return out;
}

}  // namespace

class TestCliBatch : public QObject {
    Q_OBJECT

  private slots:
    void answersErrorsAndResume() {
        QTemporaryDir tmp;
        const QString jobs = tmp.filePath("jobs.jsonl"), out = tmp.filePath("out.jsonl");
        QFile jf(jobs);
        QVERIFY(jf.open(QIODevice::WriteOnly));
        auto job = [](const QString& id, const QString& study, const QString& question) {
            QJsonObject o{{"id", id}, {"study", study}, {"question", question}};
            return QJsonDocument(o).toJson(QJsonDocument::Compact) + '\n';
        };
        jf.write(job("first", kStudy + "/dicom", "How many nodules are there?"));
        jf.write("{not json\n");
        jf.write(job("missing", tmp.filePath("no-such-study"), "Any nodules?"));
        jf.write(job("second", kStudy + "/dicom", "Where is the largest nodule?"));
        jf.close();

        QByteArray err;
        QCOMPARE(batch(jobs, out, &err), 1);  // two jobs failed
        QList<QJsonObject> got = lines(out);
        QCOMPARE(got.size(), 4);
        // Lines come in the order jobs finish: bad lines at once, answers as they end.
        QMap<QString, QJsonObject> byId;
        for (const auto& o : got)
            byId[o["id"].toString()] = o;
        QCOMPARE(byId.size(), 4);
        QVERIFY(byId["first"].contains("answer") && byId["first"].contains("modality_weights"));
        QVERIFY(byId["line:2"]["error"].toString().contains("not a JSON object"));
        QVERIFY(byId["missing"]["error"].toString().contains("no-such-study"));
        QCOMPARE(byId["second"]["question"].toString(), QString("Where is the largest nodule?"));
        // The study is loaded once and its image encoded once for both questions.
        const QJsonArray reused = byId["second"]["reused"].toArray();
        QVERIFY2(reused.contains("study") && reused.contains("image"),
                 QJsonDocument(reused).toJson().constData());
        QVERIFY(!byId["first"]["reused"].toArray().contains("image"));
        QVERIFY2(err.contains("answers decoded together"), err.constData());

        // A kill during the last job: its line torn, the others kept. Resume answers it once.
        const QString lastId = got[3]["id"].toString();
        QFile of(out);
        QVERIFY(of.open(QIODevice::ReadWrite));
        const QByteArray all = of.readAll();
        const qint64 cut = all.lastIndexOf('\n', all.size() - 2) + 1;
        QVERIFY(of.resize(cut + 40));
        of.close();
        QCOMPARE(batch(jobs, out, &err), lastId == "first" || lastId == "second" ? 0 : 1);
        QVERIFY2(err.contains(lastId == "first" || lastId == "second"
                                  ? "1 answered, 0 failed, 3 already"
                                  : "0 answered, 1 failed, 3 already"),
                 err.constData());
        got = lines(out);
        QCOMPARE(got.size(), 4);
        QCOMPARE(got[3]["id"].toString(), lastId);

        // Nothing left: a third run answers nothing.
        QCOMPARE(batch(jobs, out, &err), 0);
        QVERIFY(err.contains("0 answered, 0 failed, 4 already"));
        QCOMPARE(lines(out).size(), 4);
    }

    void badArguments() {
        QByteArray err;
        QProcess p;
        p.start(CONSILIUM_BIN_DIR "/consilium-cli",
                {"batch", "--jobs", "/nonexistent.jsonl", "--out", "/tmp/x.jsonl"});
        QVERIFY(p.waitForFinished(30000));
        QCOMPARE(p.exitCode(), 2);
        QVERIFY(p.readAllStandardError().contains("/nonexistent.jsonl"));
        QProcess q;
        q.start(CONSILIUM_BIN_DIR "/consilium-cli", {"batch", "--jobs", "/nonexistent.jsonl",
                                                     "--out", "/tmp/x.jsonl", "--max-batch", "0"});
        QVERIFY(q.waitForFinished(30000));
        QCOMPARE(q.exitCode(), 2);
        QVERIFY(q.readAllStandardError().contains("--max-batch must be a number in 1..256"));
    }
};

QTEST_GUILESS_MAIN(TestCliBatch)
#include "test_cli_batch.moc"
