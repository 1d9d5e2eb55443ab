// Asking in the main window, offscreen, end to end through the inference worker thread and
// the real consilium engine (the golden random-weight model: answers are meaningless, the
// evidence invariants are not): streamed answer, history, modality weights summing to 1,
// the expert table, the attention overlay on the viewer; and a missing model's message.
#include <QBarSet>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QProcess>
#include <QPushButton>
#include <QSet>
#include <QSlider>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTextBrowser>
#include <QToolButton>
#include <QtTest>

#include "app/inference_worker.h"
#include "imaging/study_loader.h"
#include "inference/consilium_engine.h"

#include "tests/ui/spoken_question.h"
#include "ui/ct_viewer.h"
#include "ui/main_window.h"

namespace {
const QString kDemo = CONSILIUM_BINARY_DIR "/resources/demo-study";
const QString kModel =
    CONSILIUM_SOURCE_DIR "/tests/data/consilium_golden/consilium-golden-q4_0.gguf";
}  // namespace

class TestAskFlow : public QObject {
    Q_OBJECT

    // Shows the demo study and sets the golden model; false when the study does not show.
    static bool showDemo(consilium::ui::MainWindow& w) {
        w.show();
        QSignalSpy shown(&w, &consilium::ui::MainWindow::studyShown);
        w.openStudy(kDemo);
        if (!shown.wait(60000)) return false;
        w.setModelFile(kModel);
        return true;
    }

  private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        if (!QFileInfo(kDemo).isDir()) QSKIP("the demo study was not built");
    }

    void askShowsAnswerAndEvidence() {
        consilium::ui::MainWindow w;
        QVERIFY(showDemo(w));
        w.setQuestion("What is the Lung-RADS category of this scan?");
        QSignalSpy answered(&w, &consilium::ui::MainWindow::answerShown);
        QSignalSpy failed(&w, &consilium::ui::MainWindow::questionFailed);
        w.askQuestion();
        QVERIFY(!w.findChild<QPushButton*>("AskButton")->isEnabled());  // one question at a time
        QVERIFY(answered.wait(120000) || !failed.isEmpty());
        QVERIFY2(failed.isEmpty(),
                 failed.isEmpty() ? "" : qPrintable(failed.first().first().toString()));

        const QJsonObject answer = answered.first().first().toJsonObject();
        // The status bar: the model's precision once it answered, and the process's memory.
        QCOMPARE(w.findChild<QLabel*>("PrecisionLabel")->text(),
                 "Precision: " + answer["precision"].toString());
        QVERIFY(w.findChild<QLabel*>("MemoryLabel")
                    ->text()
                    .contains(QRegularExpression("^Memory: [1-9][0-9]* MiB$")));
        QCOMPARE(w.findChild<QTextBrowser*>("AnswerView")->toPlainText().left(20),
                 answer["answer"].toString().left(20));
        QCOMPARE(w.findChild<QListWidget*>("HistoryList")->count(), 1);
        QVERIFY(w.findChild<QPushButton*>("AskButton")->isEnabled());

        const QJsonObject weights = answer["modality_weights"].toObject();
        const double sum = weights["image"].toDouble() + weights["record"].toDouble() +
                           weights["voice"].toDouble() + weights["question"].toDouble();
        QVERIFY(std::abs(sum - 1.0) < 1e-3);
        QCOMPARE(w.findChild<QTableWidget*>("ExpertTable")->rowCount(),
                 answer["experts"].toArray().size());
        QCOMPARE(w.findChild<QListWidget*>("FindingsList")->count(),
                 answer["findings"].toArray().size());
        // The record tokens the answer attended to most are highlighted in the Record dock.
        auto* record = w.findChild<QPlainTextEdit*>("RecordEdit");
        const QJsonArray evidence = answer["record_evidence"].toArray();
        QVERIFY(!record->toPlainText().isEmpty());  // the demo study's own record
        QVERIFY(!evidence.isEmpty());
        const auto highlights = record->extraSelections();
        QCOMPARE(highlights.size(), evidence.size());
        for (int i = 0; i < evidence.size(); ++i) {
            const QJsonObject e = evidence[i].toObject();
            QCOMPARE(highlights[i].cursor.selectionStart(), e["begin"].toInt());
            QCOMPARE(highlights[i].cursor.selectedText(), e["text"].toString());
        }
        record->appendPlainText("edited");
        QVERIFY(record->extraSelections().isEmpty());
        if (answer["attention"].isObject()) {
            auto* viewer = w.viewer();
            QVERIFY(viewer->hasOverlayOn(viewer->slice()));  // the viewer jumped to the peak
            // The heatmap follows the viewer to other slices, and takes the dock's colours
            // and threshold.
            auto visible = [&] {
                int n = 0;
                const QImage& img = viewer->overlayImage();
                for (int y = 0; y < img.height(); ++y)
                    for (int x = 0; x < img.width(); ++x)
                        n += qAlpha(img.pixel(x, y)) > 0;
                return n;
            };
            const int peakSlice = viewer->slice();
            const QImage jet = viewer->overlayImage();
            auto* colours = w.findChild<QComboBox*>("HeatmapColormap");
            auto* threshold = w.findChild<QSlider*>("HeatmapThreshold");
            QVERIFY(colours && threshold);
            colours->setCurrentIndex(1);  // Hot
            QVERIFY(viewer->hasOverlayOn(peakSlice));
            QVERIFY(viewer->overlayImage() != jet);
            const int shown = visible();
            threshold->setValue(90);
            QVERIFY2(visible() < shown, qPrintable(QString("%1 vs %2").arg(visible()).arg(shown)));
            threshold->setValue(20);
            // Per layer and per head: one choice for each map of the answer, each drawn
            // differently, each explained.
            const QJsonObject map = answer["attention"].toObject()["map"].toObject();
            const int layers = int(map["by_layer"].toArray().size());
            const int heads = int(map["by_head"].toArray().size());
            QVERIFY(layers >= 1 && heads >= 1);
            auto* source = w.findChild<QComboBox*>("HeatmapSource");
            auto* note = w.findChild<QLabel*>("HeatmapNote");
            QVERIFY(source && note && source->isEnabled());
            QCOMPARE(source->count(), 1 + layers + heads);
            const QImage averaged = viewer->overlayImage();
            const QString averagedNote = note->text();
            QSet<QString> notes{averagedNote};
            int differing = 0;
            for (int i = 1; i < source->count(); ++i) {
                source->setCurrentIndex(i);
                QVERIFY(viewer->hasOverlayOn(peakSlice));
                differing += viewer->overlayImage() != averaged;
                notes.insert(note->text());
            }
            QVERIFY2(differing >= 1, "every per-layer and per-head map looks like the average");
            QCOMPARE(notes.size(), source->count());
            source->setCurrentIndex(0);
            QCOMPARE(viewer->overlayImage(), averaged);
            QCOMPARE(note->text(), averagedNote);
            const int other = peakSlice > 2 ? peakSlice - 2 : peakSlice + 2;
            viewer->setSlice(other);
            QVERIFY(viewer->hasOverlayOn(other));
            colours->setCurrentIndex(0);
        }
    }

    // A follow-up question on the open study reuses the loaded study and its image and record
    // encodings (the worker keeps an AskContext), and lands in the history.
    void followUpReusesTheStudy() {
        consilium::ui::MainWindow w;
        QVERIFY(showDemo(w));
        QSignalSpy answered(&w, &consilium::ui::MainWindow::answerShown);
        for (const char* q : {"How many nodules are there?", "What is the next step?"}) {
            w.setQuestion(q);
            w.askQuestion();
            QVERIFY(answered.wait(120000));
        }
        QCOMPARE(answered.size(), 2);
        const QJsonArray first = answered[0].first().toJsonObject()["reused"].toArray();
        const QJsonArray second = answered[1].first().toJsonObject()["reused"].toArray();
        QVERIFY2(!first.contains("image"), QJsonDocument(first).toJson().constData());
        for (const char* what : {"study", "image", "record"})
            QVERIFY2(second.contains(what), QJsonDocument(second).toJson().constData());
        QCOMPARE(w.findChild<QListWidget*>("HistoryList")->count(), 2);

        // The finding report of the last answer: PDF, JSON and PNG, de-identified.
        auto summary =
            consilium::imaging::readFileSummary((kDemo + "/case_000/dicom/IM00001").toStdString());
        QVERIFY(summary.ok());
        const QString name = QString::fromStdString(summary.value().patientName);
        const QString id = QString::fromStdString(summary.value().patientId);
        const QString uid = QString::fromStdString(summary.value().sopInstanceUid);
        QVERIFY(!name.isEmpty() && !id.isEmpty());
        QTemporaryDir tmp;
        const QString pdf = tmp.filePath("report.pdf");
        QCOMPARE(w.exportReport(pdf), QString());
        QFile pf(pdf), jf(tmp.filePath("report.json"));
        QVERIFY(pf.open(QIODevice::ReadOnly) && jf.open(QIODevice::ReadOnly));
        const QByteArray pdfBytes = pf.readAll(), jsonBytes = jf.readAll();
        QVERIFY(pdfBytes.startsWith("%PDF-"));
        QVERIFY2(pdfBytes.size() > 10 * 1024, qPrintable(QString::number(pdfBytes.size())));
        const QJsonObject last = answered[1].first().toJsonObject();
        const QJsonObject report = QJsonDocument::fromJson(jsonBytes).object();
        QCOMPARE(report["answer"].toString(), last["answer"].toString());
        QCOMPARE(report["question"].toString(), last["question"].toString());
        QCOMPARE(report["findings"].toArray().size(), last["findings"].toArray().size());
        QCOMPARE(report["modality_weights"].toObject(), last["modality_weights"].toObject());
        QCOMPARE(report["answer_checks"].toArray(), last["answer_checks"].toArray());
        // Above the findings list: their number and category, and any claim of the answer
        // text that differs.
        const QString findingsLine = w.findChild<QLabel*>("FindingsSummary")->text();
        QVERIFY2(findingsLine.contains("Lung-RADS " + last["lung_rads"].toString()),
                 qPrintable(findingsLine));
        for (const auto& cv : last["answer_checks"].toArray())
            QCOMPARE(findingsLine.contains("the answer text"), !cv.toObject()["agree"].toBool());
        QVERIFY(QImage(tmp.filePath("report.png")).width() > 100);
        for (const QString& secret : {name, QString(name).replace('^', ' '), id, uid})
            QVERIFY2(!jsonBytes.contains(secret.toUtf8()), qPrintable(secret));
        // The PDF's text, where poppler's pdftotext is installed: the answer, no identifiers.
        QProcess text;
        text.start("pdftotext", {pdf, "-"});
        if (text.waitForStarted() && text.waitForFinished(30000)) {
            // Typographic ligatures (ﬁ, ﬂ) come back as single characters.
            const QString t = QString::fromUtf8(text.readAllStandardOutput())
                                  .replace(QChar(0xFB01), "fi")
                                  .replace(QChar(0xFB02), "fl");
            QVERIFY2(t.contains("Consilium finding report"), qPrintable(t));
            QVERIFY(t.contains(last["answer"].toString().left(12)));
            for (const QString& secret : {QString(name).replace('^', ' '), id})
                QVERIFY2(!t.contains(secret), qPrintable(secret));
        }
    }

    void spokenQuestionReachesTheModelAsVoice() {
        QTemporaryDir dir;
        const QString wav = dir.filePath("question.wav");
        QString why;
        if (!speakQuestion(wav, &why)) {
            if (why.contains("not installed")) QSKIP(qPrintable(why));
            QFAIL(qPrintable(why));
        }
        consilium::ui::MainWindow w;
        QVERIFY(showDemo(w));
        QSignalSpy ready(&w, &consilium::ui::MainWindow::transcriptReady);
        w.transcribeAudioFile(wav);
        QVERIFY(ready.wait(90000));
        // Enter in the transcript asks, and the audio goes along as the voice modality.
        QSignalSpy answered(&w, &consilium::ui::MainWindow::answerShown);
        QTest::keyClick(w.findChild<QLineEdit*>("TranscriptEdit"), Qt::Key_Return);
        QVERIFY(answered.wait(120000));
        QJsonObject a = answered.first().first().toJsonObject();
        QCOMPARE(a["transcript"].toString(), QString("how old is the patient"));
        QVERIFY(a["modality_weights"].toObject()["voice"].toDouble() > 0);
        // Edited, the question is no longer what was said: typed only.
        w.setQuestion("How old is the patient now?");
        answered.clear();
        w.askQuestion();
        QVERIFY(answered.wait(120000));
        a = answered.first().first().toJsonObject();
        QVERIFY(!a.contains("transcript"));
        QCOMPARE(a["modality_weights"].toObject()["voice"].toDouble(), 0.0);
    }

    void recordShowsItsTokenCount() {
        consilium::ui::MainWindow w;
        QVERIFY(showDemo(w));  // the demo study's own record is in the dock
        auto* label = w.findChild<QLabel*>("RecordTokenLabel");
        auto* edit = w.findChild<QPlainTextEdit*>("RecordEdit");
        auto engine = consilium::inference::ConsiliumEngine::open(kModel.toStdString());
        QVERIFY(engine.ok());
        auto expected = [&] {
            const auto n =
                engine.value()->tokenizer().encodeWithBos(edit->toPlainText().toStdString());
            return QStringLiteral("%1 tokens").arg(n.size());
        };
        QTRY_COMPARE_WITH_TIMEOUT(label->text(), expected(), 10000);
        // The count opened the model where the questions will find it.
        auto* inference = w.findChild<consilium::app::InferenceThread*>();
        QVERIFY(inference);
        QCOMPARE(inference->context()->openEngines(), size_t(1));
        edit->setPlainText("Patient is a 58-year-old male. Current smoker, 30 pack-years.");
        QTRY_COMPARE_WITH_TIMEOUT(label->text(), expected(), 10000);
        // Longer than the model reads: says so.
        const int limit = int(engine.value()->model().config().textMaxTokens);
        QString longText;
        while (int(engine.value()->tokenizer().encodeWithBos(longText.toStdString()).size()) <=
               limit)
            longText +=
                QStringLiteral("Routine follow-up visit; vital signs within normal limits. ")
                    .repeated(200);
        edit->setPlainText(longText);
        QTRY_VERIFY_WITH_TIMEOUT(label->text().contains("the rest is cut"), 20000);
        edit->clear();
        QTRY_VERIFY_WITH_TIMEOUT(label->text().isEmpty(), 10000);

        // The count and the questions share one opened model.
        w.setQuestion("How old is the patient?");
        QSignalSpy answered(&w, &consilium::ui::MainWindow::answerShown);
        w.askQuestion();
        QVERIFY(answered.wait(120000));
        QCOMPARE(inference->context()->openEngines(), size_t(1));
    }

    void openingAnotherStudyStopsTheQuestion() {
        // A long record keeps the question busy for a while; pydicom's CT_small loads at once.
        const QString other = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm";
        if (!QFileInfo::exists(other)) QSKIP("python3-pydicom's test files are not installed");
        consilium::ui::MainWindow w;
        QVERIFY(showDemo(w));
        QString record;
        for (int i = 0; i < 1500; ++i)
            record += "Routine follow-up visit; vital signs within normal limits. ";
        w.findChild<QPlainTextEdit*>("RecordEdit")->setPlainText(record);
        w.setQuestion("How old is the patient?");
        QSignalSpy answered(&w, &consilium::ui::MainWindow::answerShown);
        QSignalSpy failed(&w, &consilium::ui::MainWindow::questionFailed);
        QSignalSpy shown(&w, &consilium::ui::MainWindow::studyShown);
        w.askQuestion();
        w.openStudy(other);
        QVERIFY(shown.wait(60000));
        QVERIFY(failed.wait(60000) || !failed.isEmpty());
        QTest::qWait(200);
        QVERIFY2(answered.isEmpty(), "an answer about the demo study appeared over CT_small");
        QCOMPARE(w.findChild<QTextBrowser*>("AnswerView")->toPlainText(), QString("Stopped."));
        QVERIFY(w.findChild<QPushButton*>("AskButton")->isEnabled());
    }

    void questionJobShowsItsStagesAndCancels() {
        consilium::ui::MainWindow w;
        QVERIFY(showDemo(w));
        auto* inference = w.findChild<consilium::app::InferenceThread*>();
        QVERIFY(inference);
        auto* job = w.findChild<QWidget*>("QuestionJobWidget");
        auto* label = w.findChild<QLabel*>("QuestionJobLabel");
        QVERIFY(job && label && job->isHidden());

        // A whole question: every stage in order, then the tokens, then the job goes away.
        QSignalSpy stages(inference->worker(), &consilium::app::InferenceWorker::stageChanged);
        QSignalSpy answered(&w, &consilium::ui::MainWindow::answerShown);
        w.setQuestion("How old is the patient?");
        w.askQuestion();
        QVERIFY(!job->isHidden());
        QVERIFY(answered.wait(120000));
        QList<int> seen;
        for (const auto& args : stages)
            seen << args.at(1).toInt();
        using consilium::app::AskStage;
        QCOMPARE(seen, (QList<int>{int(AskStage::OpeningModel), int(AskStage::LoadingStudy),
                                   int(AskStage::ReadingInputs), int(AskStage::RunningModel)}));
        QVERIFY2(label->text().startsWith("Question: answering, "), qPrintable(label->text()));
        QVERIFY(job->isHidden());

        // The job's Cancel stops a long question like the Stop button.
        QString record;
        for (int i = 0; i < 1500; ++i)
            record += "Routine follow-up visit; vital signs within normal limits. ";
        w.findChild<QPlainTextEdit*>("RecordEdit")->setPlainText(record);
        QSignalSpy failed(&w, &consilium::ui::MainWindow::questionFailed);
        answered.clear();
        w.askQuestion();
        QTRY_VERIFY_WITH_TIMEOUT(label->text().contains("encoding"), 60000);
        w.findChild<QToolButton*>("QuestionJobCancelButton")->click();
        QVERIFY(failed.wait(60000) || !failed.isEmpty());
        QVERIFY(answered.isEmpty());
        QCOMPARE(w.findChild<QTextBrowser*>("AnswerView")->toPlainText(), QString("Stopped."));
        QVERIFY(job->isHidden());
    }

    void missingModelIsReported() {
        consilium::ui::MainWindow w;
        QSignalSpy shown(&w, &consilium::ui::MainWindow::studyShown);
        w.openStudy(kDemo);
        QVERIFY(shown.wait(60000));
        // The status bar follows the model chosen: not found, then the demo model again.
        consilium::app::SystemReport report;
        report.device = "CPU";
        w.applySystemReport(report);
        auto* label = w.findChild<QLabel*>("ModelLabel");
        QSignalSpy checked(&w, &consilium::ui::MainWindow::modelChecked);
        w.setModelFile("/nonexistent/model.gguf");
        QVERIFY(checked.wait(30000));
        QCOMPARE(label->text(), QString("Model: model.gguf (not found)"));
        QVERIFY(label->toolTip().contains("no such file: /nonexistent/model.gguf"));
        w.setModelFile(QString());
        QVERIFY(checked.wait(30000));
        QCOMPARE(label->text(), QString("Model: consilium-demo-q4_0.gguf (valid)"));
        w.setModelFile("/nonexistent/model.gguf");
        QVERIFY(checked.wait(30000));
        w.setQuestion("How old is the patient?");
        QSignalSpy failed(&w, &consilium::ui::MainWindow::questionFailed);
        w.askQuestion();
        QVERIFY(failed.wait(60000));
        QVERIFY(failed.first().first().toString().contains("/nonexistent/model.gguf"));
        QVERIFY(
            w.findChild<QTextBrowser*>("AnswerView")->toPlainText().startsWith("Could not answer"));
        // The record's token count names the missing file too.
        QTRY_COMPARE_WITH_TIMEOUT(
            w.findChild<QLabel*>("RecordTokenLabel")->text(),
            QString("Tokens: unknown (/nonexistent/model.gguf: no such model file)"), 10000);
        // The model given for the session is not saved with the settings (opening a study
        // saves them): the next launch uses the user's model again.
        QSignalSpy again(&w, &consilium::ui::MainWindow::studyShown);
        w.openStudy(kDemo);
        QVERIFY(again.wait(60000));
        QCOMPARE(w.modelFile(), QString("/nonexistent/model.gguf"));
        QVERIFY(consilium::app::AppSettings::load().modelPath != "/nonexistent/model.gguf");
    }
};

QTEST_MAIN(TestAskFlow)
#include "test_ask_flow.moc"
