// Packages end to end: build the .deb files and the .tar.gz with CPack, check their
// metadata, file lists and lintian verdict, install the .deb into a fresh root with
// `dpkg --root` and unpack the bundle, then run the installed programs from those trees
// only — with the network cut off (`unshare -n`) to show they need none.
#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

namespace {

struct Run {
    int exitCode = -1;
    QByteArray out, err;
};

Run run(const QString& program, const QStringList& args, const QString& workDir = {},
        int timeoutMs = 300000) {
    QProcess p;
    if (!workDir.isEmpty()) p.setWorkingDirectory(workDir);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("QT_QPA_PLATFORM", "offscreen");
    p.setProcessEnvironment(env);
    p.start(program, args);
    if (!p.waitForFinished(timeoutMs)) p.kill();
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

const QString kPackages = CONSILIUM_BINARY_DIR "/packages";
const QString kVersion = CONSILIUM_TEST_VERSION;

QString debPath(const QString& name) {
    return kPackages + "/" + name + "_" + kVersion + "_amd64.deb";
}

// Runs `consilium-cli doctor --json` from an installed tree, offline when unshare works.
QJsonObject installedDoctor(const QString& cli) {
    Run r = run("unshare", {"-n", cli, "doctor", "--json", "--no-audio"});
    if (r.exitCode != 0 && r.err.contains("unshare")) {
        qWarning("unshare -n is not permitted here; running without network isolation");
        r = run(cli, {"doctor", "--json", "--no-audio"});
    }
    if (r.exitCode != 0) qWarning() << r.exitCode << r.err;
    return QJsonDocument::fromJson(r.out).object();
}

}  // namespace

class TestPackages : public QObject {
    Q_OBJECT
  private slots:
    void initTestCase() {
        QDir(kPackages).removeRecursively();
        const Run r =
            run(CONSILIUM_CPACK_COMMAND, {"--config", "CPackConfig.cmake"}, CONSILIUM_BINARY_DIR);
        QVERIFY2(r.exitCode == 0, r.out.right(2000).constData());
        QVERIFY(QFileInfo::exists(debPath("consilium")));
        QVERIFY(QFileInfo::exists(kPackages + "/consilium-" + kVersion + "-linux-x86_64.tar.gz"));
#ifdef CONSILIUM_HAVE_CUDA_PLUGIN
        QVERIFY(QFileInfo::exists(debPath("consilium-cuda")));
#endif
    }

    void debMetadata() {
        const Run info =
            run("dpkg-deb", {"-f", debPath("consilium"), "Package", "Version", "Depends"});
        QCOMPARE(info.exitCode, 0);
        QVERIFY(info.out.contains("Package: consilium\n"));
        QVERIFY(info.out.contains("Version: " + kVersion.toUtf8()));
        for (const char* dep :
             {"libqt6core6", "libqt6widgets6", "libportaudio2", "qt6-qpa-plugins"}) {
            QVERIFY2(info.out.contains(dep), dep);
        }
        QVERIFY2(!info.out.contains("cuda") && !info.out.contains("cublas"), info.out.constData());
#ifdef CONSILIUM_HAVE_CUDA_PLUGIN
        const Run cuda = run("dpkg-deb", {"-f", debPath("consilium-cuda"), "Depends"});
        QVERIFY(cuda.out.contains("consilium (= " + kVersion.toUtf8() + ")"));
#endif
    }

    void debFileList() {
        const Run list = run("dpkg-deb", {"-c", debPath("consilium")});
        QCOMPARE(list.exitCode, 0);
        for (const char* path :
             {"./usr/bin/consilium\n", "./usr/bin/consilium-cli\n",
              "./usr/share/applications/consilium.desktop\n",
              "./usr/share/icons/hicolor/scalable/apps/consilium.svg\n",
              "./usr/share/metainfo/org.consilium.Consilium.metainfo.xml\n",
              "./usr/share/doc/consilium/copyright\n", "./usr/share/man/man1/consilium.1.gz\n",
              "./usr/share/man/man1/consilium-cli.1.gz\n"}) {
            QVERIFY2(list.out.contains(path), path);
        }
        QVERIFY2(!list.out.contains("libconsilium_cuda"),
                 "the CUDA plugin belongs to consilium-cuda");
#ifdef CONSILIUM_HAVE_CUDA_PLUGIN
        const Run cuda = run("dpkg-deb", {"-c", debPath("consilium-cuda")});
        QVERIFY(cuda.out.contains("./usr/lib/consilium/libconsilium_cuda.so\n"));
#endif
    }

    // The manual pages render without a single groff warning and name every CLI command.
    void manPagesRender() {
        if (QStandardPaths::findExecutable("groff").isEmpty())
            QSKIP("groff is not installed (groff-base, pulled in by lintian's man-db)");
        for (const char* page : {"consilium", "consilium-cli"}) {
            const QString file =
                QStringLiteral(CONSILIUM_BINARY_DIR "/installer/man/%1.1").arg(page);
            const Run r = run("groff", {"-man", "-Tutf8", "-ww", "-P", "-cbou", file});
            QVERIFY2(r.exitCode == 0 && r.err.isEmpty(), r.err.constData());
            QVERIFY(r.out.contains("SYNOPSIS"));
            QVERIFY(!r.out.contains("@PROJECT_VERSION@"));
        }
        const Run cli = run("groff", {"-man", "-Tascii", "-ww", "-P", "-cbou",
                                      CONSILIUM_BINARY_DIR "/installer/man/consilium-cli.1"});
        const Run help = run(CONSILIUM_BIN_DIR "/consilium-cli", {"--help"});
        for (const QByteArray& line : help.out.split('\n')) {
            const QByteArray command = line.trimmed().split(' ').first();
            if (!line.startsWith("  ") || command.isEmpty()) continue;
            QVERIFY2(cli.out.contains(command), command.constData());
        }
    }

    void lintianFindsNoErrors() {
        const QString lintian = QStandardPaths::findExecutable("lintian");
        if (lintian.isEmpty()) QSKIP("lintian is not installed (apt install lintian)");
        QStringList debs{debPath("consilium")};
#ifdef CONSILIUM_HAVE_CUDA_PLUGIN
        debs << debPath("consilium-cuda");
#endif
        const Run r = run(lintian, debs);
        const QString report = QString::fromUtf8(r.out + r.err);
        for (const QString& line : report.split('\n'))
            QVERIFY2(!line.startsWith("E:"), qPrintable(report));
    }

    void desktopAndMetainfoValidate() {
        const QString validate = QStandardPaths::findExecutable("desktop-file-validate");
        if (validate.isEmpty())
            QSKIP("desktop-file-validate is not installed (desktop-file-utils)");
        const Run r = run(validate, {CONSILIUM_SOURCE_DIR "/installer/consilium.desktop"});
        QVERIFY2(r.exitCode == 0, (r.out + r.err).constData());
        const QString appstream = QStandardPaths::findExecutable("appstreamcli");
        if (appstream.isEmpty()) QSKIP("appstreamcli is not installed (appstream)");
        const Run meta = run(
            appstream, {"validate", "--no-net",
                        CONSILIUM_BINARY_DIR "/installer/org.consilium.Consilium.metainfo.xml"});
        QVERIFY2(meta.exitCode == 0, (meta.out + meta.err).constData());
    }

    void installIntoFreshRootAndRunOffline() {
        QTemporaryDir root;
        QVERIFY(root.isValid());
        for (const char* dir :
             {"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"}) {
            QVERIFY(QDir(root.path()).mkpath(dir));
        }
        QFile status(root.filePath("var/lib/dpkg/status"));
        QVERIFY(status.open(QIODevice::WriteOnly));
        status.close();
        QStringList args{"--root=" + root.path(),     "--force-depends", "--force-not-root",
                         "--force-script-chrootless", "--log=/dev/null", "-i",
                         debPath("consilium")};
#ifdef CONSILIUM_HAVE_CUDA_PLUGIN
        args << debPath("consilium-cuda");
#endif
        const Run install = run("dpkg", args);
        QVERIFY2(install.exitCode == 0, (install.out + install.err).constData());

        const QString cli = root.filePath("usr/bin/consilium-cli");
        QVERIFY(QFileInfo(cli).isExecutable());
        const QJsonObject doctor = installedDoctor(cli);
        QVERIFY(!doctor.isEmpty());
        QCOMPARE(doctor["consilium_version"].toString(), kVersion);
        const QJsonObject cuda = doctor["cuda"].toObject();
#ifdef CONSILIUM_HAVE_CUDA_PLUGIN
        // The installed plugin, not the build tree's, is the one found.
        QCOMPARE(cuda["plugin_path"].toString(),
                 root.filePath("usr/lib/consilium/libconsilium_cuda.so"));
        QVERIFY2(cuda["plugin_loaded"].toBool(), qPrintable(cuda["plugin_error"].toString()));
#endif
        const QJsonObject model = doctor["model"].toObject();
        QVERIFY(model["searched"].toArray().first().toString().startsWith(
            root.filePath("usr/share/consilium")));

        // One question on the installed demo study with the installed model, offline.
        const QString demo = root.filePath("usr/share/consilium/demo-study");
        QVERIFY(QFileInfo(demo).isDir());
        const QStringList askArgs{cli,          "ask",
                                  "--study",    demo,
                                  "--question", "How old is the patient?",
                                  "--record",   demo + "/case_000/patient_record.txt",
                                  "--json"};
        Run ask = run("unshare", QStringList{"-n"} + askArgs);
        if (ask.exitCode != 0 && ask.err.contains("unshare")) ask = run(cli, askArgs.mid(1));
        QVERIFY2(ask.exitCode == 0, ask.err.constData());
        const QJsonObject answer = QJsonDocument::fromJson(ask.out).object();
        QCOMPARE(answer["model"].toObject()["file"].toString(),
                 root.filePath("usr/share/consilium/models/consilium-demo-q4_0.gguf"));
        QVERIFY(!answer["answer"].toString().isEmpty());
        QVERIFY(answer["modality_weights"].toObject()["record"].toDouble() > 0);

        // The GUI starts from the installed files, offline, and draws its window.
        const QString shot = root.filePath("shot.png");
        Run app = run("unshare", {"-n", root.filePath("usr/bin/consilium"), "--screenshot", shot});
        if (app.exitCode != 0 && app.err.contains("unshare")) {
            app = run(root.filePath("usr/bin/consilium"), {"--screenshot", shot});
        }
        QVERIFY2(app.exitCode == 0, app.err.constData());
        QVERIFY(QFileInfo(shot).size() > 10000);
    }

    void bundleRunsFromItsOwnFolder() {
        QTemporaryDir dir;
        const Run untar =
            run("tar", {"-xzf", kPackages + "/consilium-" + kVersion + "-linux-x86_64.tar.gz", "-C",
                        dir.path()});
        QCOMPARE(untar.exitCode, 0);
        const QString top = dir.filePath("consilium-" + kVersion + "-linux-x86_64");
        const QJsonObject doctor = installedDoctor(top + "/bin/consilium-cli");
        QVERIFY(!doctor.isEmpty());
        QVERIFY(doctor["model"].toObject()["searched"].toArray().first().toString().startsWith(
            top + "/share/consilium"));
#ifdef CONSILIUM_HAVE_CUDA_PLUGIN
        QCOMPARE(doctor["cuda"].toObject()["plugin_path"].toString(),
                 top + "/lib/consilium/libconsilium_cuda.so");
#endif
    }
};

QTEST_GUILESS_MAIN(TestPackages)
#include "test_packages.moc"
