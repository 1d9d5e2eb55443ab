// The one-way dependency rules of docs/ARCHITECTURE.md, as enforced at build time by
// cmake/CheckLayering.cmake: the real tree passes, and a tree with a forbidden include
// in each engine folder is rejected with a message naming the file and the include.
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

namespace {

struct CheckResult {
    int exitCode = -1;
    QString output;
};

CheckResult runCheck(const QString& sourceDir) {
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(CONSILIUM_CMAKE_COMMAND,
            {"-DSOURCE_DIR=" + sourceDir, "-P", CONSILIUM_SOURCE_DIR "/cmake/CheckLayering.cmake"});
    p.waitForFinished(60000);
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
            QString::fromUtf8(p.readAll())};
}

void writeFile(const QString& path, const QByteArray& text) {
    QDir().mkpath(QFileInfo(path).absolutePath());
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(text);
}

}  // namespace

class TestLayering : public QObject {
    Q_OBJECT
  private slots:
    void realTreePasses() {
        const CheckResult r = runCheck(CONSILIUM_SOURCE_DIR);
        QVERIFY2(r.exitCode == 0, qPrintable(r.output));
        QVERIFY(r.output.contains("Layering: ok"));
    }

    void forbiddenIncludeFails_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("include");
        QTest::newRow("Qt in inference") << "inference/graph.cpp"
                                         << "<QString>";
        QTest::newRow("Qt in kernels") << "kernels/cpu/gemv.cpp"
                                       << "<QtCore/QVector>";
        QTest::newRow("Qt in imaging") << "imaging/loader.cpp"
                                       << "<QImage>";
        QTest::newRow("Qt in audio") << "audio/capture.cpp"
                                     << "<QAudioSource>";
        QTest::newRow("CUDA in inference") << "inference/backend.cpp"
                                           << "<cuda_runtime.h>";
        QTest::newRow("CUDA in ui") << "ui/view.cpp"
                                    << "<cublas_v2.h>";
        QTest::newRow("DCMTK in ui") << "ui/view.cpp"
                                     << "<dcmtk/dcmdata/dctk.h>";
        QTest::newRow("engine in ui") << "ui/view.cpp"
                                      << "\"inference/device.h\"";
        QTest::newRow("imaging in ui") << "ui/view.cpp"
                                       << "\"imaging/volume.h\"";
        QTest::newRow("ui in app") << "app/service.cpp"
                                   << "\"ui/main_window.h\"";
        QTest::newRow("inference in kernels") << "kernels/cpu/x.cpp"
                                              << "\"inference/model_file.h\"";
        QTest::newRow("audio in imaging") << "imaging/x.cpp"
                                          << "\"audio/wav.h\"";
        QTest::newRow("DCMTK in imaging header") << "imaging/volume.h"
                                                 << "<dcmtk/dcmdata/dcfilefo.h>";
    }

    void forbiddenIncludeFails() {
        QFETCH(QString, file);
        QFETCH(QString, include);
        QTemporaryDir tree;
        QVERIFY(tree.isValid());
        writeFile(tree.filePath(file), "#include " + include.toUtf8() + "\nint x;\n");
        const CheckResult r = runCheck(tree.path());
        QVERIFY2(r.exitCode != 0, qPrintable("accepted: " + file + " " + include));
        QVERIFY2(r.output.contains(file), qPrintable(r.output));
    }

    void allowedIncludesPass() {
        QTemporaryDir tree;
        QVERIFY(tree.isValid());
        writeFile(tree.filePath("kernels/cuda/gemv.cu"), "#include <cuda_runtime.h>\n");
        writeFile(tree.filePath("inference/graph.cpp"),
                  "#include \"kernels/status.h\"\n#include <vector>\n");
        writeFile(tree.filePath("imaging/loader.cpp"), "#include <dcmtk/dcmdata/dctk.h>\n");
        writeFile(tree.filePath("ui/view.cpp"),
                  "#include <QWidget>\n#include \"app/system_report.h\"\n");
        writeFile(tree.filePath("app/main.cpp"), "#include \"ui/main_window.h\"\n");
        const CheckResult r = runCheck(tree.path());
        QVERIFY2(r.exitCode == 0, qPrintable(r.output));
    }
};

QTEST_GUILESS_MAIN(TestLayering)
#include "test_layering.moc"
