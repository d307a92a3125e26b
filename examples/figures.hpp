// Figures as JSON lines, one object per figure, shared by the example programs and the
// benchmarks: {"name": ..., "value": ..., "unit": ..., ["peer": ..., "ratio": ...]}.
// ratio = kerec / peer, oriented so that > 1 is better for kerec (say which way in `unit`).
// Non-finite values print as null; strings are JSON-escaped.
#pragma once

#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace kerec::examples {

inline std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
                else out += c;
        }
    }
    return out + "\"";
}

inline std::string json_number(double v, int digits = 6) {
    return std::isfinite(v) ? fmt::format("{:.{}g}", v, digits) : std::string("null");
}

/// Print one figure as a JSON line on stdout.
inline void emit(std::string_view name, double value, std::string_view unit) {
    std::printf("{\"name\": %s, \"value\": %s, \"unit\": %s}\n", json_string(name).c_str(), json_number(value).c_str(),
                json_string(unit).c_str());
    std::fflush(stdout);
}

/// Print a side-by-side figure against `peer`.
inline void emit(std::string_view name, double value, std::string_view unit, std::string_view peer, double ratio) {
    std::printf("{\"name\": %s, \"value\": %s, \"unit\": %s, \"peer\": %s, \"ratio\": %s}\n", json_string(name).c_str(),
                json_number(value).c_str(), json_string(unit).c_str(), json_string(peer).c_str(),
                json_number(ratio, 4).c_str());
    std::fflush(stdout);
}

}  // namespace kerec::examples
