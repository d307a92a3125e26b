// kerec/llm/simulated_judge.hpp — SimulatedJudge: an imperfect LLM over a hidden ground truth.
//
// Stands in for the paper's LLM when the truth is known (the simulator's hidden complementary
// graph): for pair (a, b) with hidden strength s(a, b) > 0 it says yes with probability `recall`,
// otherwise with probability `false_positive_rate` (with_precision() derives it from a target
// precision and the share of true pairs). The draw is a hash of (seed, a, b), so the
// same question always gets the same answer, whatever the batch. Answers are written as real
// models write them (JSON, fenced JSON, plain yes/no with a confidence, Chinese 是/否, or, with
// probability `malformed_rate`, unusable prose) and go through parse_answer(reply, names) with one retry, so
// the whole parsing path is exercised. Optional latency per call. O(1) per query plus latency.
#pragma once

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/random.hpp"
#include "kerec/llm/judge.hpp"
#include "kerec/llm/judgment.hpp"
#include "kerec/llm/prompt.hpp"
#include "kerec/llm/response_parser.hpp"

namespace kerec {

struct SimulatedJudgeOptions {
    double recall = 0.85;               ///< P(yes | complementary)
    double false_positive_rate = 0.01;  ///< P(yes | not complementary)
    double malformed_rate = 0.0;        ///< P(a reply is unparseable prose), per attempt
    std::chrono::microseconds latency{0};  ///< sleep per model call
    bool symmetric = false;             ///< truth = max(s(a, b), s(b, a))
    std::uint64_t seed = 42;
    std::string model = "sim-judge";
    PromptTemplate prompt = PromptTemplate::default_template();

    /// Options whose expected precision and recall are the given ones when a share
    /// `positive_share` of the asked pairs is truly complementary:
    /// false_positive_rate = recall * s * (1 - precision) / (precision * (1 - s)).
    static SimulatedJudgeOptions with_precision(double precision, double recall, double positive_share) {
        if (!(precision > 0.0 && precision <= 1.0) || !(recall >= 0.0 && recall <= 1.0) ||
            !(positive_share > 0.0 && positive_share < 1.0))
            throw InvalidArgument(fmt::format("SimulatedJudgeOptions::with_precision({}, {}, {}): expected precision in "
                                              "(0, 1], recall in [0, 1], positive share in (0, 1)",
                                              precision, recall, positive_share));
        SimulatedJudgeOptions o;
        o.recall = recall;
        o.false_positive_rate = recall * positive_share * (1.0 - precision) / (precision * (1.0 - positive_share));
        if (o.false_positive_rate > 1.0)
            throw InvalidArgument(fmt::format("SimulatedJudgeOptions::with_precision: precision {} is unreachable at "
                                              "recall {} with {} positives", precision, recall, positive_share));
        return o;
    }
};

class SimulatedJudge {
public:
    /// `strength(a, b)` > 0 when b is a hidden complement of a.
    using Truth = std::function<float(EntityId, EntityId)>;

    SimulatedJudge(Truth strength, SimulatedJudgeOptions options = {})
        : truth_(std::move(strength)), opt_(std::move(options)), prompts_(opt_.prompt) {
        if (!truth_) throw InvalidArgument("SimulatedJudge: empty truth function");
        for (double p : {opt_.recall, opt_.false_positive_rate, opt_.malformed_rate})
            if (!(p >= 0.0 && p <= 1.0))
                throw InvalidArgument(fmt::format("SimulatedJudge: probability {} (expected in [0, 1])", p));
        if (opt_.model.empty()) throw InvalidArgument("SimulatedJudge: empty model name");
    }

    /// Over anything with `float strength(EntityId, EntityId) const` (e.g. kerec::sim::World).
    template <class World>
    static SimulatedJudge from_world(const World& world, SimulatedJudgeOptions options = {}) {
        return SimulatedJudge([&world](EntityId a, EntityId b) { return world.strength(a, b); }, std::move(options));
    }

    std::string model() const { return opt_.model; }
    std::string prompt_version() const { return prompts_.version(); }
    const JudgeStats& stats() const noexcept { return stats_; }

    std::vector<Judgment> judge(std::span<const PairQuery> queries) {
        std::vector<Judgment> out(queries.size());
        judge(queries, [&](std::size_t i, Judgment&& j) { out[i] = std::move(j); });
        return out;
    }

    void judge(std::span<const PairQuery> queries, const JudgmentSink& sink) {
        const auto start = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < queries.size(); ++i) sink(i, judge_one_(queries[i]));
        stats_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }

    /// The raw reply of the simulated model to `q` on attempt 0 or 1 (deterministic).
    std::string reply(const PairQuery& q, int attempt) const {
        Rng rng(derive_seed(derive_seed(opt_.seed, (std::uint64_t{q.a.value()} << 32) | q.b.value()),
                            static_cast<std::uint64_t>(attempt)));
        Rng decision(derive_seed(opt_.seed ^ 0xA5A5A5A5ULL, (std::uint64_t{q.a.value()} << 32) | q.b.value()));
        float s = truth_(q.a, q.b);
        if (opt_.symmetric) s = std::max(s, truth_(q.b, q.a));
        const bool truly = s > 0.0f;
        const bool yes = decision.bernoulli(truly ? opt_.recall : opt_.false_positive_rate);
        const bool correct = yes == truly;
        const double conf = correct ? 0.7 + 0.3 * decision.uniform() : 0.5 + 0.3 * decision.uniform();
        if (rng.bernoulli(opt_.malformed_rate))
            return "It depends on how the shopper uses them; I cannot say without more context.";
        const int pct = static_cast<int>(conf * 100.0 + 0.5);
        switch (rng.uniform_int(std::uint64_t{4})) {
            case 0:
                return fmt::format("{{\"complementary\": {}, \"confidence\": {:.2f}, \"reason\": \"{}\"}}",
                                   yes ? "true" : "false", conf, yes ? "often bought together" : "no usage link");
            case 1:
                return fmt::format("```json\n{{\"complementary\": {}, \"confidence\": {:.2f}}}\n```", yes ? "true" : "false",
                                   conf);
            case 2: return fmt::format("{}, confidence {}%.", yes ? "Yes" : "No", pct);
            default: return fmt::format("{}（置信度 {:.2f}）", yes ? "是" : "否", conf);
        }
    }

private:
    Judgment judge_one_(const PairQuery& q) {
        const Prompt p = prompts_.build(q);
        Judgment j = unanswered_judgment(q, opt_.model, prompts_.version());
        ++stats_.queries;
        for (int attempt = 0; attempt < 2; ++attempt) {
            if (opt_.latency.count() > 0) std::this_thread::sleep_for(opt_.latency);
            const std::string text = reply(q, attempt);
            ++stats_.calls;
            stats_.prompt_tokens += (p.system.size() + p.user.size()) / 4 + 1;
            stats_.completion_tokens += text.size() / 4 + 1;
            ParseOptions po;
            po.max_name_bytes = opt_.prompt.max_name_bytes;
            const ParsedAnswer a = parse_answer(text, q.name_a, q.name_b, po);
            if (a.ok) {
                j.label = a.label;
                j.confidence = a.confidence;
                j.rationale = a.rationale;
                return j;
            }
            ++stats_.parse_failures;
            if (attempt == 0) ++stats_.retries;
            j.rationale = fmt::format("unparseable answer: {}", a.error);
        }
        ++stats_.unknown;
        j.label = Label::unknown;
        j.confidence = 0.0f;
        return j;
    }

    Truth truth_;
    SimulatedJudgeOptions opt_;
    PromptBuilder prompts_;
    JudgeStats stats_;
};

}  // namespace kerec
