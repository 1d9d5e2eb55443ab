#include "app/resource_paths.h"

#include <filesystem>

namespace consilium::app {
namespace fs = std::filesystem;

namespace {
fs::path executableDir() {
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path() : exe.parent_path();
}
}  // namespace

std::vector<std::string> resourceRoots() {
    std::vector<std::string> roots;
    const fs::path dir = executableDir();
    if (!dir.empty()) {
        roots.push_back(
            (dir / "../share/consilium").lexically_normal().string());        // installed / bundle
        roots.push_back((dir / "../resources").lexically_normal().string());  // build tree
    }
    roots.push_back(CONSILIUM_SOURCE_DIR "/resources");
    roots.push_back(CONSILIUM_INSTALL_PREFIX "/share/consilium");
    return roots;
}

std::string locateModel(const std::string& explicitPath, std::vector<std::string>* searched) {
    if (!explicitPath.empty()) {
        if (searched) searched->push_back(explicitPath);
        return fs::exists(explicitPath) ? explicitPath : std::string();
    }
    for (const auto& root : resourceRoots()) {
        const std::string candidate = (fs::path(root) / "models" / kDemoModelFile).string();
        if (searched) searched->push_back(candidate);
        std::error_code ec;
        if (fs::is_regular_file(candidate, ec)) return candidate;
    }
    return {};
}

std::string locateResource(const std::string& relative) {
    for (const auto& root : resourceRoots()) {
        const fs::path candidate = fs::path(root) / relative;
        std::error_code ec;
        if (fs::is_regular_file(candidate, ec)) return candidate.string();
    }
    return {};
}

std::string locateDemoStudy() {
    for (const auto& root : resourceRoots()) {
        const fs::path candidate = fs::path(root) / "demo-study";
        std::error_code ec;
        if (fs::is_directory(candidate, ec)) return candidate.string();
    }
    return {};
}

}  // namespace consilium::app
