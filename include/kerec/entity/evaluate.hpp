// kerec/entity/evaluate.hpp — span precision / recall / F1 of an extractor against gold spans.
//
// A predicted mention is a true positive when its byte span equals a gold span exactly (entity
// ids are not compared: this scores span finding, linking is scored separately). Every other
// predicted mention is a false positive, every gold span not found a false negative.
// O(mentions · gold) per text (both are a handful per title).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "kerec/entity/mention.hpp"
#include "kerec/core/stats.hpp"

namespace kerec {

/// Score one text's predicted mentions against its gold spans (accumulates into `pr`).
inline void score_spans(std::span<const Mention> predicted, std::span<const std::pair<std::uint32_t, std::uint32_t>> gold,
                        PrecisionRecall& pr) {
    std::uint64_t tp = 0;
    for (const auto& g : gold)
        for (const auto& m : predicted)
            if (m.begin == g.first && m.end == g.second) {
                ++tp;
                break;
            }
    pr.tp += tp;
    pr.fp += predicted.size() - tp;
    pr.fn += gold.size() - tp;
}

/// Run `x` on `text` and score it against `gold`; `scratch` is reused.
template <Extractor X>
void score_extractor(X& x, std::string_view text, std::span<const std::pair<std::uint32_t, std::uint32_t>> gold,
                     PrecisionRecall& pr, std::vector<Mention>& scratch) {
    scratch.clear();
    x.extract(text, scratch);
    score_spans(scratch, gold, pr);
}

}  // namespace kerec
