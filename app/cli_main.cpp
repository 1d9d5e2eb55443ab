// consilium-cli: the command-line face of the engine (doctor, and the sub-commands the
// imaging, audio, engine and serving work add).
#include <QCoreApplication>
#include <QStringList>

#include <cstdio>
#include <cstring>

#include "app/cli_commands.h"

namespace consilium::app {

const CliCommand* cliCommands(int* count) {
    static const CliCommand kCommands[] = {
        {"doctor", "report CPU features, CUDA plugin and GPUs, audio inputs, model file, versions",
         runDoctor},
        {"synth", "write synthetic chest CT cases (DICOM + truth.json) with known nodules",
         runSynth},
        {"inspect",
         "list the series of a DICOM study: geometry, values, transfer syntaxes, skipped files",
         runInspect},
        {"transcribe", "transcribe a spoken question (--audio FILE or --record SECONDS)",
         runTranscribe},
        {"generate", "generate text with a llama GGUF model, streaming tokens", runGenerate},
        {"bench-llm", "prompt-processing and generation tokens/s of a GGUF model (as llama-bench)",
         runBenchLlm},
        {"make-test-model", "write a random-weight llama GGUF model for tests and benchmarks",
         runMakeTestModel},
        {"ask", "ask the consilium model about a CT study (record, audio, question); JSON answer",
         runAsk},
        {"batch", "answer a queue of questions from a JSON-lines file, resumably", runBatch},
    };
    *count = int(sizeof kCommands / sizeof kCommands[0]);
    return kCommands;
}

int parseCliArgs(QCommandLineParser& parser, const QStringList& args) {
    if (!parser.parse(args)) {
        std::fprintf(stderr, "%s: %s\n", qPrintable(args.value(0)), qPrintable(parser.errorText()));
        return 2;
    }
    if (parser.isSet("help")) {
        std::printf("%s", qPrintable(parser.helpText()));
        return 0;
    }
    return -1;
}

}  // namespace consilium::app

namespace {

void printUsage(FILE* out) {
    std::fprintf(
        out,
        "Usage: consilium-cli <command> [options]\n       consilium-cli --version\n\nCommands:\n");
    int n = 0;
    const auto* commands = consilium::app::cliCommands(&n);
    for (int i = 0; i < n; ++i)
        std::fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    std::fprintf(out, "\nRun 'consilium-cli <command> --help' for a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName("consilium-cli");
    QCoreApplication::setOrganizationName("Consilium");
    QCoreApplication::setApplicationVersion(CONSILIUM_VERSION);

    const QStringList args = QCoreApplication::arguments();
    if (args.size() < 2 || args[1] == "--help" || args[1] == "-h") {
        printUsage(args.size() < 2 ? stderr : stdout);
        return args.size() < 2 ? 2 : 0;
    }
    if (args[1] == "--version" || args[1] == "-v") {
        std::printf("consilium-cli %s\n", CONSILIUM_VERSION);
        return 0;
    }
    int n = 0;
    const auto* commands = consilium::app::cliCommands(&n);
    for (int i = 0; i < n; ++i) {
        if (args[1] == QLatin1String(commands[i].name)) {
            QStringList rest = args.mid(2);
            rest.prepend(QStringLiteral("consilium-cli %1").arg(args[1]));
            return commands[i].run(rest);
        }
    }
    std::fprintf(stderr, "consilium-cli: unknown command '%s' (try --help)\n", qPrintable(args[1]));
    return 2;
}
