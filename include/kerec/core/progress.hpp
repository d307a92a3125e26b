// kerec/core/progress.hpp — progress reporting for long jobs.
//
// Library code never prints: long operations take a ProgressCallback and report
// Progress{stage, done, total, rate}. ProgressThrottle limits how often the callback fires
// (every `min_interval`, plus start and end). TerminalProgressBar is an opt-in callback for
// programs: it redraws one line on stderr (or the FILE* it is given) and stays quiet when that is
// not a terminal. O(1) per report.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

#include <unistd.h>

#include <fmt/format.h>

namespace kerec {

struct Progress {
    std::string_view stage;   ///< what is running, e.g. "judging pairs"
    std::uint64_t done = 0;   ///< units finished
    std::uint64_t total = 0;  ///< units expected; 0 when unknown
    double rate = 0.0;        ///< units per second since the stage started
};

using ProgressCallback = std::function<void(const Progress&)>;

/// Calls a ProgressCallback at most every `min_interval`, and always for done == total.
class ProgressThrottle {
public:
    using clock = std::chrono::steady_clock;

    ProgressThrottle(ProgressCallback cb, std::string_view stage, std::uint64_t total,
                     std::chrono::milliseconds min_interval = std::chrono::milliseconds(100))
        : cb_(std::move(cb)), stage_(stage), total_(total), interval_(min_interval),
          start_(clock::now()), last_(start_) {
        if (cb_) cb_(Progress{stage_, 0, total_, 0.0});
    }

    /// Report `done` units; cheap when the callback is empty or the interval has not passed.
    void update(std::uint64_t done) {
        if (!cb_) return;
        if ((++calls_ & 63) != 0 && done != total_) return;  // look at the clock every 64 calls
        const auto now = clock::now();
        if (done != total_ && now - last_ < interval_) return;
        last_ = now;
        emit(done, now);
    }

    /// Final report (done == total when total is known).
    void finish(std::uint64_t done) {
        if (cb_) emit(done, clock::now());
    }

private:
    void emit(std::uint64_t done, clock::time_point now) {
        const double secs = std::chrono::duration<double>(now - start_).count();
        cb_(Progress{stage_, done, total_, secs > 0 ? static_cast<double>(done) / secs : 0.0});
    }
    ProgressCallback cb_;
    std::string stage_;
    std::uint64_t total_;
    std::chrono::milliseconds interval_;
    clock::time_point start_, last_;
    std::uint64_t calls_ = 0;
};

/// A one-line progress bar for command-line programs, on `out` (stderr by default). Quiet unless
/// `out` is a TTY (or `force` is set). Use as a ProgressCallback: `lib_call(..., bar.callback())`.
class TerminalProgressBar {
public:
    explicit TerminalProgressBar(bool force = false, std::FILE* out = stderr)
        : out_(out), enabled_(out != nullptr && (force || ::isatty(::fileno(out)) == 1)) {}
    ~TerminalProgressBar() { close(); }
    TerminalProgressBar(const TerminalProgressBar&) = delete;
    TerminalProgressBar& operator=(const TerminalProgressBar&) = delete;

    bool enabled() const noexcept { return enabled_; }

    void operator()(const Progress& p) {
        if (!enabled_) return;
        if (p.stage != stage_) {
            close();
            stage_ = std::string(p.stage);
        }
        std::string line;
        if (p.total > 0) {
            const double f = std::min(1.0, static_cast<double>(p.done) / static_cast<double>(p.total));
            constexpr int width = 30;
            const int filled = static_cast<int>(f * width);
            line = fmt::format("\r{:<24.24} [{}{}] {:5.1f}% {}/{} {:.0f}/s", stage_, std::string(filled, '#'),
                               std::string(width - filled, '.'), 100.0 * f, p.done, p.total, p.rate);
        } else {
            line = fmt::format("\r{:<24.24} {} {:.0f}/s", stage_, p.done, p.rate);
        }
        std::fputs(line.c_str(), out_);
        std::fputs("\x1b[K", out_);  // clear to end of line
        std::fflush(out_);
        open_ = true;
    }

    /// A callback that forwards to this bar (the bar must outlive it).
    ProgressCallback callback() {
        return [this](const Progress& p) { (*this)(p); };
    }

    /// End the current line.
    void close() {
        if (open_) {
            std::fputs("\n", out_);
            std::fflush(out_);
            open_ = false;
        }
    }

private:
    std::FILE* out_;
    bool enabled_;
    bool open_ = false;
    std::string stage_;
};

}  // namespace kerec
