// kerec/llm/judge.hpp — the Judge concept: anything that answers batches of PairQuery.
//
// The paper's "LLM inference" step. A Judge has a model name and a prompt version (the cache key
// of JudgmentStore) and answers a batch: judge(queries) returns one Judgment per query, in query
// order. A StreamingJudge also offers judge(queries, sink), calling sink(index, judgment) as each
// answer arrives (possibly out of order), so a store can persist it at once. JudgeStats is the
// accounting every judge keeps (pairs answered, model calls, retries, parse failures, tokens, HTTP
// faults, outages). O(1) here.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "kerec/llm/judgment.hpp"

namespace kerec {

/// Receives one finished judgment: `index` is its position in the query batch.
using JudgmentSink = std::function<void(std::size_t index, Judgment&& judgment)>;

template <class J>
concept Judge = requires(J& judge, std::span<const PairQuery> queries) {
    { judge.judge(queries) } -> std::convertible_to<std::vector<Judgment>>;
    { judge.model() } -> std::convertible_to<std::string>;
    { judge.prompt_version() } -> std::convertible_to<std::string>;
};

template <class J>
concept StreamingJudge = Judge<J> && requires(J& judge, std::span<const PairQuery> queries, const JudgmentSink& sink) {
    judge.judge(queries, sink);
};

/// Counters a judge accumulates over its lifetime.
struct JudgeStats {
    std::uint64_t queries = 0;            ///< pairs answered (one Judgment each)
    std::uint64_t calls = 0;              ///< model calls made: HTTP requests sent, retries and re-asks included
    std::uint64_t retries = 0;            ///< re-asks after an unparseable answer
    std::uint64_t parse_failures = 0;     ///< answers that could not be parsed (before retry)
    std::uint64_t unknown = 0;            ///< judgments left unknown after the retry
    std::uint64_t prompt_tokens = 0;
    std::uint64_t completion_tokens = 0;
    std::uint64_t http_errors = 0;        ///< 429/5xx/transport failures that were retried
    std::uint64_t rate_limited = 0;       ///< of which 429
    std::uint64_t timeouts = 0;           ///< of which timeouts
    std::uint64_t malformed_replies = 0;  ///< of which unreadable response bodies
    std::uint64_t gave_up = 0;            ///< queries whose transport retries were exhausted
    std::uint64_t connection_failures = 0;  ///< transport failures with the server unreachable (refused, reset, no reply)
    std::uint64_t circuit_opens = 0;      ///< times every request was paused because the server seemed down
    std::uint64_t structured_rejected = 0;  ///< requests refused for their response_format (sent again without)
    std::uint64_t max_in_flight = 0;      ///< most requests in flight at once
    double seconds = 0.0;                 ///< wall time spent inside judge()
};

}  // namespace kerec
