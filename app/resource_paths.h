// Where the shipped resources live: the demo model, the demo study, translations.
// Installed layout: <prefix>/share/consilium/...; in a build tree: the source tree's
// resources/ and the build tree's generated demo study.
#pragma once

#include <string>
#include <vector>

namespace consilium::app {

constexpr const char* kDemoModelFile = "consilium-demo-q4_0.gguf";

// Folders searched for shipped data, most specific first.
std::vector<std::string> resourceRoots();

// The model file to use: `explicitPath` when given, else the first demo model found.
// `searched` receives every path tried. Returns "" when none exists.
std::string locateModel(const std::string& explicitPath, std::vector<std::string>* searched);

// The first existing file `relative` (e.g. "questions/questions.json") under the resource
// roots, or "".
std::string locateResource(const std::string& relative);

// The demo study folder (made by `consilium-cli synth` at build time), or "".
std::string locateDemoStudy();

}  // namespace consilium::app
