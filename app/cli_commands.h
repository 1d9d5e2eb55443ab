// Sub-commands of consilium-cli. Each takes the arguments after its name and returns the
// process exit code: 0 success, 1 the operation failed, 2 bad input (one clear line on
// stderr naming the file and the problem).
#pragma once

#include <QCommandLineParser>
#include <QStringList>

namespace consilium::app {

struct CliCommand {
    const char* name;
    const char* summary;
    int (*run)(const QStringList& args);  // args[0] is "consilium-cli <name>"
};

int runDoctor(const QStringList& args);
int runSynth(const QStringList& args);
int runInspect(const QStringList& args);
int runTranscribe(const QStringList& args);
int runGenerate(const QStringList& args);
int runBenchLlm(const QStringList& args);
int runMakeTestModel(const QStringList& args);
int runAsk(const QStringList& args);
int runBatch(const QStringList& args);

// Parses a sub-command's arguments (args[0] is "consilium-cli <name>"). Returns 0 after
// printing --help, 2 after printing the parse error as one line on stderr, and -1 when the
// command should go on.
int parseCliArgs(QCommandLineParser& parser, const QStringList& args);

// Every command, in the order `consilium-cli --help` lists them.
const CliCommand* cliCommands(int* count);

}  // namespace consilium::app
