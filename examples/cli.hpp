// Command-line flags for the kerec example programs: `--flag value` pairs, `--help` prints the
// usage and exits, an unknown flag or a missing value is a kerec::InvalidArgument.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include <kerec/core/error.hpp>

namespace kerec::examples {

class Args {
public:
    Args(int argc, char** argv, std::string usage) : argc_(argc), argv_(argv), usage_(std::move(usage)) {}

    /// The next flag, or false at the end. `--help`/`-h` print the usage and exit.
    bool next(std::string& flag) {
        if (++i_ >= argc_) return false;
        flag = flag_ = argv_[i_];
        if (flag == "--help" || flag == "-h") {
            std::puts(usage_.c_str());
            std::exit(0);
        }
        return true;
    }
    /// The value that follows the current flag.
    std::string value() {
        if (i_ + 1 >= argc_) throw InvalidArgument(fmt::format("{} needs a value", flag_));
        return argv_[++i_];
    }
    std::uint64_t number() {
        const std::string v = value();
        try {
            std::size_t used = 0;
            const auto n = std::stoull(v, &used);
            if (used == v.size()) return n;
        } catch (const std::exception&) {
        }
        throw InvalidArgument(fmt::format("{} {}: expected a non-negative integer", flag_, v));
    }
    double real() {
        const std::string v = value();
        try {
            std::size_t used = 0;
            const double d = std::stod(v, &used);
            if (used == v.size()) return d;
        } catch (const std::exception&) {
        }
        throw InvalidArgument(fmt::format("{} {}: expected a number", flag_, v));
    }
    [[noreturn]] void unknown() const {
        throw InvalidArgument(fmt::format("unknown option '{}' (try --help)", flag_));
    }

private:
    int argc_;
    char** argv_;
    std::string usage_;
    int i_ = 0;
    std::string flag_;
};

}  // namespace kerec::examples
