// consilium-cli doctor [--json] [--model FILE] [--cuda-plugin FILE] [--no-audio]
#include <QCommandLineParser>

#include <cstdio>

#include "app/cli_commands.h"
#include "app/system_report.h"

namespace consilium::app {

int runDoctor(const QStringList& args) {
    QCommandLineParser parser;
    parser.setApplicationDescription("Report what this machine offers Consilium.");
    parser.addHelpOption();
    QCommandLineOption json("json", "Print one JSON object instead of text.");
    QCommandLineOption model("model", "Validate this model file instead of the demo model.",
                             "FILE");
    QCommandLineOption plugin("cuda-plugin", "Load only this CUDA plugin file.", "FILE");
    QCommandLineOption noAudio("no-audio", "Do not open PortAudio.");
    parser.addOptions({json, model, plugin, noAudio});
    if (const int rc = parseCliArgs(parser, args); rc >= 0) return rc;
    if (!parser.positionalArguments().isEmpty()) {
        std::fprintf(stderr, "consilium-cli doctor: unexpected argument '%s'\n",
                     qPrintable(parser.positionalArguments().first()));
        return 2;
    }
    ReportOptions options;
    options.cudaPluginOverride = parser.value(plugin).toStdString();
    options.modelOverride = parser.value(model).toStdString();
    options.probeAudio = !parser.isSet(noAudio);
    const SystemReport report = collectSystemReport(options);
    const std::string text =
        parser.isSet(json) ? formatReportJson(report) : formatReportText(report);
    std::fwrite(text.data(), 1, text.size(), stdout);
    // doctor reports; a missing GPU or model is a finding, not a failure. An explicitly
    // named model that does not validate is a failure.
    return !options.modelOverride.empty() && !report.modelValid ? 1 : 0;
}

}  // namespace consilium::app
