// kerec/llm/judgment.hpp — PairQuery and Judgment: what the LLM is asked and what it answered.
//
// The paper asks an LLM whether entity b complements entity a. The answer is a label with the
// confidence the model gave in that label, a short rationale, and the provenance (model, prompt
// version, time) the JudgmentStore keys its cache on. p_complementary() maps it to one number:
// yes -> confidence, no -> 1 - confidence, unknown -> 0.5. O(1).
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>

#include "kerec/core/id.hpp"
#include "kerec/pairs/entity_pair.hpp"

namespace kerec {

/// One question for the judge: is `name_b` (entity b) a complement of `name_a` (entity a)?
struct PairQuery {
    EntityId a;
    EntityId b;
    std::string name_a;
    std::string name_b;

    EntityPair pair() const noexcept { return {a, b}; }
};

enum class Label : std::uint8_t {
    no = 0,       ///< not complementary
    yes = 1,      ///< complementary
    unknown = 2,  ///< the answer could not be parsed (after the retry)
};

constexpr std::string_view to_string(Label l) noexcept {
    switch (l) {
        case Label::no: return "no";
        case Label::yes: return "yes";
        case Label::unknown: return "unknown";
    }
    return "unknown";
}

struct Judgment {
    EntityId a;
    EntityId b;
    Label label = Label::unknown;
    float confidence = 0.0f;     ///< the model's confidence in `label`, in [0, 1]
    std::string rationale;       ///< short free text from the model (data, never trusted)
    std::string model;           ///< e.g. "gpt-4o-mini", "sim-judge"
    std::string prompt_version;  ///< version tag of the prompt template
    std::int64_t time = 0;       ///< seconds since the Unix epoch when judged

    EntityPair pair() const noexcept { return {a, b}; }
    bool complementary() const noexcept { return label == Label::yes; }
    /// Probability that b complements a implied by this judgment.
    float p_complementary() const noexcept {
        switch (label) {
            case Label::yes: return confidence;
            case Label::no: return 1.0f - confidence;
            default: return 0.5f;
        }
    }
};

/// A judgment of `q` not answered yet: the pair, the provenance and the current time; label unknown.
inline Judgment unanswered_judgment(const PairQuery& q, std::string model, std::string prompt_version) {
    Judgment j;
    j.a = q.a;
    j.b = q.b;
    j.model = std::move(model);
    j.prompt_version = std::move(prompt_version);
    j.time = static_cast<std::int64_t>(std::time(nullptr));
    return j;
}

}  // namespace kerec
