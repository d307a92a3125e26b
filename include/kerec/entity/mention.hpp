// kerec/entity/mention.hpp — Mention and the Extractor concept: the seam between the entity
// extractor (the paper's "entity extractor", BERT-CRF in LLM-KERec) and the rest of the library.
//
// An extractor turns an item title or a bill line into mentions: (entity, byte span [begin, end)
// in the ORIGINAL text, score in [0, 1], source). A mention whose entity is invalid is a span the
// extractor believes is an entity but could not link (a cold-start candidate). Any type with
// `x.extract(std::string_view, std::vector<Mention>&)` plugs in; extract appends, never clears,
// and appends its mentions sorted by begin (what every consumer's linear merge relies on).
// Mention::text is O(1) and safe on any offsets (clamped to the text).
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "kerec/core/id.hpp"

namespace kerec {

/// Which component produced a mention.
enum class MentionSource : std::uint8_t {
    dictionary = 0,  ///< exact (normalised) surface-form match
    crf = 1,         ///< sequence tagger span, linked to an entity when possible
    external = 2,    ///< caller-defined extractor
};

/// One extracted entity mention. `begin`/`end` are byte offsets into the original text.
struct Mention {
    EntityId entity;                 ///< invalid() when the span is not linked to a known entity
    std::uint32_t begin = 0;         ///< first byte of the span in the original text
    std::uint32_t end = 0;           ///< one past the last byte
    float score = 1.0f;              ///< confidence in [0, 1]
    MentionSource source = MentionSource::dictionary;

    /// Length of the span in bytes (0 for an inverted span).
    std::uint32_t size() const noexcept { return end > begin ? end - begin : 0; }
    /// The mention's bytes of `original`, clamped to it: a span past the end or inverted (a
    /// hostile extractor, a mention applied to the wrong text) gives the part inside, or "".
    std::string_view text(std::string_view original) const noexcept {
        if (begin >= original.size() || end <= begin) return {};
        return original.substr(begin, std::min<std::size_t>(end, original.size()) - begin);
    }
    friend bool operator==(const Mention&, const Mention&) = default;
};

/// An entity extractor: appends the mentions found in `text` to `out` (does not clear it),
/// sorted by begin (ties in any order); offsets are bytes of `text`. Every kerec extractor
/// (DictionaryExtractor, CrfTagger, EntityPipeline) honours this; a caller's extractor must too
/// (EntityPipeline and the item-entity builder merge in one pass and rely on it).
template <class X>
concept Extractor = requires(X& x, std::string_view text, std::vector<Mention>& out) {
    x.extract(text, out);
};

}  // namespace kerec
