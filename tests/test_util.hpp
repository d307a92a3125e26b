// Helpers shared by the kerec test suites.
#pragma once

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

namespace kerec::test {

/// A fresh, empty directory under the build tree, removed at scope exit.
class TempDir {
public:
    explicit TempDir(const std::string& tag = "t") {
        static std::atomic<int> counter{0};
        path_ = std::filesystem::path(KEREC_TEST_TMP_DIR) /
                (tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

/// The shared data folder (groceries/, instacart/), or empty when it is not there.
inline std::filesystem::path data_dir(const std::string& sub) {
    std::filesystem::path p = std::filesystem::path(KEREC_TEST_DATA_DIR) / sub;
    if (const char* env = std::getenv("KEREC_DATA_DIR")) p = std::filesystem::path(env) / sub;
    return std::filesystem::exists(p) ? p : std::filesystem::path{};
}

}  // namespace kerec::test
