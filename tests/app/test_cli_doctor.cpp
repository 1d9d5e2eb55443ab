// End-to-end: consilium-cli --version and doctor, run as a user would run them.
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

namespace {

struct Run {
    int exitCode = -1;
    QByteArray out, err;
};

Run runCli(const QStringList& args) {
    QProcess p;
    p.start(CONSILIUM_BIN_DIR "/consilium-cli", args);
    if (!p.waitForFinished(60000)) p.kill();
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

QJsonObject doctorJson(const QStringList& extra = {}) {
    const Run r = runCli(QStringList{"doctor", "--json"} + extra);
    if (r.exitCode != 0) qWarning() << "doctor failed:" << r.exitCode << r.err;
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson(r.out, &error);
    if (error.error != QJsonParseError::NoError)
        qWarning() << "bad JSON:" << error.errorString() << r.out;
    return doc.object();
}

bool hasGpuDriver() {
    return QFile::exists("/dev/nvidiactl") || QFile::exists("/proc/driver/nvidia/version");
}

}  // namespace

class TestCliDoctor : public QObject {
    Q_OBJECT
  private slots:
    void version() {
        const Run r = runCli({"--version"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.startsWith("consilium-cli " CONSILIUM_TEST_VERSION), r.out.constData());
    }

    void unknownCommandIsBadInput() {
        const Run r = runCli({"frobnicate"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY(r.err.contains("unknown command 'frobnicate'"));
    }

    void doctorJsonDescribesThisMachine() {
        const QJsonObject o = doctorJson();
        QVERIFY(!o.isEmpty());
        QCOMPARE(o["consilium_version"].toString(), QString(CONSILIUM_TEST_VERSION));

        const QJsonObject cpu = o["cpu"].toObject();
        QVERIFY(cpu["logical_cores"].toInt() >= 1);
        QVERIFY(QStringList({"avx512", "avx2", "sse4.2", "scalar"})
                    .contains(cpu["simd_level"].toString()));
        // Every feature reported usable is also advertised; usable implies the OS enabled it.
        for (const auto& v : cpu["features"].toArray()) {
            const QJsonObject f = v.toObject();
            if (f["usable"].toBool())
                QVERIFY2(f["advertised"].toBool(), qPrintable(f["name"].toString()));
        }

        const QJsonObject libs = o["libraries"].toObject();
        QCOMPARE(libs["Qt"].toString(), QString(qVersion()));
        QVERIFY(libs["DCMTK"].toString().startsWith("3."));
        QVERIFY(libs["OpenCV"].toString().startsWith("4."));
        QVERIFY(libs["PortAudio"].toString().contains("PortAudio"));

        const QJsonObject cuda = o["cuda"].toObject();
#ifdef CONSILIUM_HAVE_CUDA_PLUGIN
        QVERIFY(cuda["plugin_built"].toBool());
        QVERIFY2(cuda["plugin_loaded"].toBool(), qPrintable(cuda["plugin_error"].toString()));
        QVERIFY(cuda["build_info"].toString().startsWith("CUDA "));
#else
        QVERIFY(!cuda["plugin_built"].toBool());
#endif
        if (!hasGpuDriver()) {
            // No GPU here: none reported, the CPU is chosen and the notice says why.
            QCOMPARE(o["gpus"].toArray().size(), 0);
            QVERIFY(o["device"].toString().startsWith("CPU"));
            QVERIFY(o["device_notice"].toString().startsWith("No usable GPU"));
        }
        QVERIFY(o["audio"].toObject().contains("inputs"));
        QVERIFY(o["model"].toObject().contains("searched"));
    }

    void missingPluginFallsBackToCpu() {
        const QJsonObject o =
            doctorJson({"--cuda-plugin", "/nonexistent/libconsilium_cuda.so", "--no-audio"});
        const QJsonObject cuda = o["cuda"].toObject();
        QVERIFY(!cuda["plugin_loaded"].toBool());
        QVERIFY(cuda["plugin_error"].toString().contains("/nonexistent/libconsilium_cuda.so"));
        QVERIFY(o["device"].toString().startsWith("CPU"));
        QVERIFY(o["device_notice"].toString().contains("CPU"));
    }

    void unloadablePluginSaysWhy() {
        // A file that exists but is not a loadable library: dlopen's reason is reported.
        QTemporaryDir dir;
        QFile fake(dir.filePath("libconsilium_cuda.so"));
        QVERIFY(fake.open(QIODevice::WriteOnly));
        fake.write("not an ELF file");
        fake.close();
        const QJsonObject o = doctorJson({"--cuda-plugin", fake.fileName(), "--no-audio"});
        const QJsonObject cuda = o["cuda"].toObject();
        QVERIFY(!cuda["plugin_loaded"].toBool());
        QVERIFY2(cuda["plugin_error"].toString().contains("libconsilium_cuda.so"),
                 qPrintable(cuda["plugin_error"].toString()));
        QVERIFY(o["device"].toString().startsWith("CPU"));
    }

    void badModelFileIsRefused() {
        QTemporaryDir dir;
        QFile bad(dir.filePath("bad.gguf"));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write("GGML this is not a model file at all");
        bad.close();
        const Run r = runCli({"doctor", "--json", "--no-audio", "--model", bad.fileName()});
        QCOMPARE(r.exitCode, 1);
        const QJsonObject model = QJsonDocument::fromJson(r.out).object()["model"].toObject();
        QVERIFY(model["found"].toBool());
        QVERIFY(!model["valid"].toBool());
        QVERIFY2(model["summary"].toString().startsWith("CorruptModel"),
                 qPrintable(model["summary"].toString()));
    }

    void programsDoNotLinkCuda() {
        // The programs must start where no CUDA library exists: only the plugin links CUDA.
        for (const QString exe : {"consilium-cli", "consilium"}) {
            QProcess p;
            p.start("readelf", {"-d", QString(CONSILIUM_BIN_DIR "/") + exe});
            QVERIFY(p.waitForFinished(30000));
            const QByteArray dyn = p.readAllStandardOutput();
            QVERIFY2(dyn.contains("NEEDED"), dyn.constData());
            for (const char* lib : {"libcuda", "libcudart", "libcublas", "libnvidia"}) {
                QVERIFY2(!dyn.contains(lib), qPrintable(exe + " links " + lib));
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestCliDoctor)
#include "test_cli_doctor.moc"
