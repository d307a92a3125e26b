// Catch2 v2 benchmark runner for kerec: human-readable Catch2 output goes to stderr, figures
// (JSON lines) to stdout. A listener records the median of every BENCHMARK by name.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <vector>

#include <sys/resource.h>

#include "figures.hpp"

namespace {
std::map<std::string, double>& medians() {
    static std::map<std::string, double> m;
    return m;
}

struct MedianListener : Catch::TestEventListenerBase {
    using TestEventListenerBase::TestEventListenerBase;
    void benchmarkEnded(Catch::BenchmarkStats<> const& stats) override {
        std::vector<double> s;
        s.reserve(stats.samples.size());
        for (const auto& d : stats.samples) s.push_back(d.count() * 1e-9);  // samples are in ns
        if (s.empty()) return;
        std::sort(s.begin(), s.end());
        const std::size_t n = s.size();
        medians()[stats.info.name] = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }
};
}  // namespace

CATCH_REGISTER_LISTENER(MedianListener)

double kerec::bench::median_seconds(const std::string& name) {
    auto it = medians().find(name);
    if (it == medians().end()) throw std::runtime_error("no benchmark named '" + name + "' has run");
    return it->second;
}

double kerec::bench::peak_rss_mb() {
    struct rusage ru {};
    ::getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

int main(int argc, char* argv[]) {
    Catch::Session session;
    auto& cfg = session.configData();
    cfg.outputFilename = "/dev/stderr";
    cfg.benchmarkSamples = 10;
    cfg.benchmarkNoAnalysis = true;
    if (const int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
    return session.run();
}
