// kerec/llm/queries.hpp — entity pairs -> PairQuery batches for a Judge.
//
// The bridge between the segmented pair generator (EntityPair ranges) and the LLM judge: each
// pair gets its two entity names from a Vocabulary. O(pairs); names are copied once per query.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "kerec/core/vocabulary.hpp"
#include "kerec/llm/judgment.hpp"
#include "kerec/pairs/entity_pair.hpp"

namespace kerec {

/// One PairQuery per pair, named from `names`. Ids outside the vocabulary are InvalidArgument.
template <class Pairs>
std::vector<PairQuery> make_queries(const Pairs& pairs, const Vocabulary<EntityId>& names) {
    std::vector<PairQuery> out;
    if constexpr (requires { pairs.size(); }) out.reserve(pairs.size());
    for (const EntityPair& p : pairs)
        out.push_back(PairQuery{p.a, p.b, std::string(names.name(p.a)), std::string(names.name(p.b))});
    return out;
}

}  // namespace kerec
