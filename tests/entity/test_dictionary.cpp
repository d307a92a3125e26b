#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <kerec/core/checksum.hpp>
#include <kerec/core/io.hpp>
#include <kerec/core/random.hpp>
#include <kerec/entity/dictionary.hpp>
#include <kerec/entity/normalizer.hpp>

#include "../test_util.hpp"

using namespace kerec;

namespace {
std::vector<std::string> token_texts(const NormalizedText& t) {
    std::vector<std::string> v;
    for (std::size_t i = 0; i < t.tokens().size(); ++i) v.emplace_back(t.token_text(i));
    return v;
}
using Forms = std::vector<std::pair<std::string, EntityId>>;
}  // namespace

TEST_CASE("normalizer: case folding, punctuation, whitespace, offsets back to the source") {
    Normalizer nz;
    NormalizedText t;
    const std::string src = "  Organic  WOMEN'S--Greek Yogurt, 32 Oz!! ";
    nz.normalize(src, t);
    CHECK(t.text() == "organic womens greek yogurt 32 oz");
    CHECK(token_texts(t) == std::vector<std::string>{"organic", "womens", "greek", "yogurt", "32", "oz"});
    CHECK(t.invalid_bytes() == 0);
    // every token maps back to the original bytes
    const auto& tk = t.tokens();
    CHECK(src.substr(tk[1].src_begin, tk[1].src_end - tk[1].src_begin) == "WOMEN'S");
    CHECK(src.substr(tk[3].src_begin, tk[3].src_end - tk[3].src_begin) == "Yogurt");
    // a normalised span maps to an original span
    const auto pos = t.text().find("greek yogurt");
    const auto [b, e] = t.source_span(pos, pos + 12);
    CHECK(src.substr(b, e - b) == "Greek Yogurt");

    // Latin-1 and fullwidth folding, typographic apostrophe removed, symbols separate
    nz.normalize("CRÈME Brûlée ＡＢＣ１ Ben\xE2\x80\x99s\xE2\x84\xA2 Caf\xC3\x89", t);
    CHECK(t.text() == "crème brûlée abc1 bens café");
    CHECK(nz.normalize("ÀÉÎÕÜ ß ×÷") == "àéîõü ß");
    CHECK(nz.normalize("ПРИВЕТ Ωmega") == "привет ωmega");

    nz.normalize("", t);
    CHECK(t.empty());
    CHECK(t.tokens().empty());
    nz.normalize(" ,;-- \t\n", t);
    CHECK(t.empty());
}

TEST_CASE("normalizer: invalid UTF-8 is replaced and counted, never read past the end") {
    Normalizer nz;
    NormalizedText t;
    // lone continuation, overlong, surrogate, truncated 3-byte sequence at the end, > U+10FFFF
    const std::string bad = std::string("ab\x80" "cd ") + "\xC0\xAF " + "\xED\xA0\x80 " + "\xF5\x80\x80\x80 " + "x\xE2\x82";
    nz.normalize(bad, t);
    CHECK(t.invalid_bytes() == 1 + 2 + 3 + 4 + 2);
    const std::string rep = "\xEF\xBF\xBD";
    CHECK(t.text().substr(0, 2 + 1 + 3 + 1 + 2) == "ab " + rep + " cd");
    // every replacement is its own token and maps to exactly one source byte
    for (std::size_t i = 0; i < t.tokens().size(); ++i) {
        if (t.token_text(i) == rep) CHECK(t.tokens()[i].src_end - t.tokens()[i].src_begin == 1);
    }
    // valid 4-byte characters survive
    CHECK(nz.normalize("\xF0\x9F\x8D\x8E apple") == "apple");  // emoji is a symbol: separator
}

TEST_CASE("normalizer: buffers grow with the output, not with a worst-case bound") {
    Normalizer nz;
    NormalizedText t;
    const std::string ascii(10'000'000, 'a');
    nz.normalize(ascii, t);
    CHECK(t.size() == ascii.size());
    CHECK(t.capacity() < ascii.size() + 1024);
    // expanding inputs: invalid bytes (1 -> 4 bytes) and CJK after CJK (3 -> 4 bytes)
    std::string bad(300'000, '\xFF');
    nz.normalize(bad, t);
    CHECK(t.invalid_bytes() == bad.size());
    CHECK(t.size() == 4 * bad.size() - 1);
    CHECK(t.tokens().size() == bad.size());
    std::string cjk;
    for (int i = 0; i < 100'000; ++i) cjk += "牛";
    nz.normalize(cjk, t);
    CHECK(t.tokens().size() == 100'000);
    CHECK(t.size() == 4 * 100'000 - 1);
    CHECK(t.source_end(t.size() - 1) == cjk.size());
}

TEST_CASE("normalizer: CJK text is tokenised character-wise") {
    Normalizer nz;
    NormalizedText t;
    const std::string src = "有机牛奶1L装";  // 有 机 牛 奶 are Han; 1l and 装
    nz.normalize(src, t);
    CHECK(token_texts(t) == std::vector<std::string>{"有", "机", "牛", "奶", "1l", "装"});
    CHECK(src.substr(t.tokens()[2].src_begin, t.tokens()[2].src_end - t.tokens()[2].src_begin) == "牛");
    CHECK(nz.normalize("ミルク、チョコ") == "ミ ル ク チ ョ コ");
}

TEST_CASE("plural folding reaches one stem for singular and plural") {
    CHECK(fold_plural("berries") == fold_plural("berry"));
    CHECK(fold_plural("cookies") == fold_plural("cookie"));
    CHECK(fold_plural("tomatoes") == fold_plural("tomato"));
    CHECK(fold_plural("boxes") == "box");
    CHECK(fold_plural("peaches") == "peach");
    CHECK(fold_plural("eggs") == "egg");
    CHECK(fold_plural("glass") == "glass");
    CHECK(fold_plural("hummus") == "hummus");
    CHECK(fold_plural("chips") == "chip");
    CHECK(fold_plural("Chips") == "Chips");  // not lower-case ASCII: unchanged
    for (std::string w : {"berries", "cookies", "tomatoes", "boxes", "eggs", "sauces", "dairy"})
        CHECK(fold_plural(fold_plural(w)) == fold_plural(w));  // idempotent
    Normalizer nz(NormalizerOptions{true});
    NormalizedText t;
    const std::string src = "Fresh Berries, Cookies!";
    nz.normalize(src, t);
    CHECK(t.text() == fold_plural("fresh") + " berri cooki");
    const auto [b, e] = t.source_span(t.tokens()[1].norm_begin, t.tokens()[1].norm_end);
    CHECK(src.substr(b, e - b) == "Berries");
}

TEST_CASE("dictionary: leftmost-longest, non-overlapping, word boundaries, original offsets") {
    const EntityId milk(0), choc(1), milk_choc(2), dark(3), cream(4), ice_cream(5);
    Forms forms{{"milk", milk}, {"chocolate", choc}, {"Milk Chocolate", milk_choc}, {"dark chocolate", dark},
                {"cream", cream}, {"ice cream", ice_cream}, {"ice-cream", ice_cream}};
    auto d = DictionaryExtractor::build(forms);
    CHECK(d.size() == 6);  // "ice cream" and "ice-cream" normalise to one form
    CHECK(d.stats().duplicates == 1);
    std::vector<Mention> out;
    const std::string text = "Swiss MILK-chocolate & ICE Cream; creamy milkshake, dark chocolate";
    d.extract(text, out);
    REQUIRE(out.size() == 3);
    CHECK(out[0].entity == milk_choc);
    CHECK(out[0].text(text) == "MILK-chocolate");
    CHECK(out[1].entity == ice_cream);
    CHECK(out[1].text(text) == "ICE Cream");
    CHECK(out[2].entity == dark);
    CHECK(out[2].text(text) == "dark chocolate");
    for (const auto& m : out) CHECK(m.source == MentionSource::dictionary);

    // without word boundaries, "cream" in "creamy" and "milk" in "milkshake" match
    DictionaryOptions o;
    o.word_boundary = false;
    auto d2 = DictionaryExtractor::build(forms, o);
    out.clear();
    d2.extract(text, out);
    std::vector<std::string> got;
    for (const auto& m : out) got.emplace_back(m.text(text));
    CHECK(got == std::vector<std::string>{"MILK-chocolate", "ICE Cream", "cream", "milk", "dark chocolate"});

    // extract appends
    d.extract("milk", out);
    CHECK(out.back().entity == milk);
}

TEST_CASE("dictionary: leftmost beats a later longer match; candidates survive a pending match") {
    // "ab" pending, later "cd" must still be found after "ab" commits (b c d x)
    Forms forms{{"a b", EntityId(1)}, {"c d", EntityId(2)}, {"a b c d e", EntityId(3)}, {"b c d e f g", EntityId(4)}};
    auto d = DictionaryExtractor::build(forms);
    std::vector<Mention> out;
    d.extract("a b c d x", out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].entity == EntityId(1));
    CHECK(out[1].entity == EntityId(2));
    out.clear();
    d.extract("a b c d e f g", out);  // leftmost wins (starts at 'a'), then nothing left
    REQUIRE(out.size() == 1);
    CHECK(out[0].entity == EntityId(3));
    out.clear();
    d.extract("z b c d e f g", out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].entity == EntityId(4));
}

TEST_CASE("dictionary: matches equal a brute-force leftmost-longest reference on random text") {
    Rng rng(7);
    const char* words[] = {"a", "b", "ab", "ba", "c", "abc"};
    Forms forms;
    for (int i = 0; i < 60; ++i) {
        std::string f;
        const int len = 1 + static_cast<int>(rng.uniform_int(4));
        for (int k = 0; k < len; ++k) f += std::string(k ? " " : "") + words[rng.uniform_int(6)];
        forms.emplace_back(f, EntityId(static_cast<std::uint32_t>(i)));
    }
    for (bool wb : {true, false}) {
        DictionaryOptions o;
        o.word_boundary = wb;
        o.on_conflict = ConflictPolicy::first_wins;
        auto d = DictionaryExtractor::build(forms, o);
        // reference: set of normalised forms -> entity (first wins)
        std::vector<std::pair<std::string, EntityId>> ref;
        for (auto& [f, e] : forms) {
            bool seen = false;
            for (auto& r : ref) seen |= r.first == f;
            if (!seen) ref.emplace_back(f, e);
        }
        for (int trial = 0; trial < 300; ++trial) {
            std::string text;
            const int len = 1 + static_cast<int>(rng.uniform_int(12));
            for (int k = 0; k < len; ++k) text += std::string(k ? " " : "") + words[rng.uniform_int(6)];
            std::vector<DictMatch> expect;
            std::size_t pos = 0;
            while (pos < text.size()) {
                std::size_t best_len = 0;
                EntityId best;
                for (auto& [f, e] : ref) {
                    if (text.compare(pos, f.size(), f) != 0) continue;
                    if (wb && ((pos > 0 && text[pos - 1] != ' ') ||
                               (pos + f.size() < text.size() && text[pos + f.size()] != ' ')))
                        continue;
                    if (f.size() > best_len) best_len = f.size(), best = e;
                }
                if (best_len) {
                    expect.push_back(DictMatch{best, static_cast<std::uint32_t>(pos), static_cast<std::uint32_t>(pos + best_len)});
                    pos += best_len;
                } else {
                    ++pos;
                }
            }
            std::vector<Mention> out;
            d.extract(text, out);
            REQUIRE(out.size() == expect.size());
            for (std::size_t k = 0; k < out.size(); ++k) {
                CHECK(out[k].entity == expect[k].entity);
                CHECK(out[k].begin == expect[k].begin);
                CHECK(out[k].end == expect[k].end);
            }
        }
    }
}

TEST_CASE("dictionary: conflicting claims follow the explicit policy, never silently") {
    Forms forms{{"Chips", EntityId(1)}, {"chips", EntityId(2)}, {"salsa", EntityId(3)}, {"SALSA", EntityId(3)}};
    CHECK_THROWS_AS(DictionaryExtractor::build(forms), InvalidArgument);
    try {
        DictionaryExtractor::build(forms);
    } catch (const InvalidArgument& e) {
        CHECK(std::string(e.what()).find("'chips'") != std::string::npos);
    }
    DictionaryOptions o;
    o.on_conflict = ConflictPolicy::first_wins;
    auto d = DictionaryExtractor::build(forms, o);
    REQUIRE(d.stats().conflicts.size() == 1);
    CHECK(d.stats().conflicts[0].kept == EntityId(1));
    CHECK(d.stats().conflicts[0].other == EntityId(2));
    CHECK(d.lookup("CHIPS") == EntityId(1));
    CHECK(d.stats().duplicates == 1);
    o.on_conflict = ConflictPolicy::drop;
    auto d2 = DictionaryExtractor::build(forms, o);
    CHECK(!d2.lookup("chips").has_value());
    CHECK(d2.lookup("Salsa") == EntityId(3));
    CHECK(d2.size() == 1);
    // invalid ids and empty forms
    Forms bad{{"x", EntityId{}}};
    CHECK_THROWS_AS(DictionaryExtractor::build(bad), InvalidArgument);
    Forms empty{{"  ,, ", EntityId(1)}, {"", EntityId(2)}};
    auto d3 = DictionaryExtractor::build(empty);
    CHECK(d3.empty());
    CHECK(d3.stats().empty_forms == 2);
    std::vector<Mention> out;
    d3.extract("anything", out);
    CHECK(out.empty());
}

TEST_CASE("dictionary: empty, 10 MB and invalid UTF-8 inputs") {
    Forms forms{{"olive oil", EntityId(0)}, {"oil", EntityId(1)}, {"牛奶", EntityId(2)}};
    auto d = DictionaryExtractor::build(forms);
    std::vector<Mention> out;
    d.extract("", out);
    CHECK(out.empty());
    d.extract("\xFF\xFE olive\x80oil \xC3 olive oil \xE2\x82", out);
    REQUIRE(out.size() == 2);  // "olive", U+FFFD, "oil" -> only "oil"; then "olive oil"
    CHECK(out[0].entity == EntityId(1));
    CHECK(out[1].entity == EntityId(0));
    out.clear();
    d.extract("有机牛奶", out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].begin == 6);
    CHECK(out[0].end == 12);

    std::string big;
    const std::string unit = "Extra Virgin Olive Oil 500ml, ";
    while (big.size() < 10'000'000) big += unit;
    out.clear();
    d.extract(big, out);
    CHECK(out.size() == big.size() / unit.size());
    CHECK(out.back().text(big) == "Olive Oil");
    // steady state: a second call does not need more capacity
    const auto cap = out.capacity();
    out.clear();
    d.extract(big, out);
    CHECK(out.capacity() == cap);
}

TEST_CASE("dictionary: save/load round trip, corrupted and truncated files are rejected") {
    test::TempDir dir("dict");
    Forms forms;
    Rng rng(3);
    for (std::uint32_t i = 0; i < 2000; ++i) {
        std::string f = "w" + std::to_string(rng.uniform_int(500)) + " x" + std::to_string(i % 37);
        if (i % 5 == 0) f = "p" + std::to_string(i);
        forms.emplace_back(f, EntityId(i));
    }
    DictionaryOptions o;
    o.on_conflict = ConflictPolicy::first_wins;
    auto d = DictionaryExtractor::build(forms, o);
    d.save(dir / "d.bin");
    auto l = DictionaryExtractor::load(dir / "d.bin");
    CHECK(l.size() == d.size());
    CHECK(l.stats().states == d.stats().states);
    std::string text;
    for (int i = 0; i < 300; ++i) text += forms[rng.uniform_int(forms.size())].first + " , ";
    std::vector<Mention> a, b;
    d.extract(text, a);
    l.extract(text, b);
    CHECK(a.size() > 100);
    CHECK(a == b);

    // the Aho-Corasick mode (no word boundaries) round-trips too
    DictionaryOptions ac = o;
    ac.word_boundary = false;
    auto dac = DictionaryExtractor::build(forms, ac);
    dac.save(dir / "ac.bin");
    auto lac = DictionaryExtractor::load(dir / "ac.bin");
    CHECK(!lac.options().word_boundary);
    a.clear();
    b.clear();
    dac.extract(text, a);
    lac.extract(text, b);
    CHECK(a.size() > 100);
    CHECK(a == b);

    const std::string bytes = read_file(dir / "d.bin");
    // flip one byte anywhere: checksum or validation must reject it
    for (std::size_t pos : {std::size_t{3}, std::size_t{9}, bytes.size() / 2, bytes.size() - 2}) {
        std::string c = bytes;
        c[pos] ^= 0x40;
        write_file_atomic(dir / "c.bin", c);
        CHECK_THROWS_AS(DictionaryExtractor::load(dir / "c.bin"), ParseError);
    }
    write_file_atomic(dir / "t.bin", bytes.substr(0, bytes.size() / 3));
    CHECK_THROWS_AS(DictionaryExtractor::load(dir / "t.bin"), ParseError);
    write_file_atomic(dir / "e.bin", "");
    CHECK_THROWS_AS(DictionaryExtractor::load(dir / "e.bin"), ParseError);
    CHECK_THROWS_AS(DictionaryExtractor::load(dir / "missing.bin"), IoError);
}

TEST_CASE("normalizer and dictionary: invariants on random bytes (fuzz-style)") {
    Rng rng(99);
    Forms forms{{"ab", EntityId(0)}, {"ab cd", EntityId(1)}, {"é", EntityId(2)}, {"牛", EntityId(3)}, {"x y z", EntityId(4)}};
    auto wb = DictionaryExtractor::build(forms);
    DictionaryOptions o;
    o.word_boundary = false;
    auto ac = DictionaryExtractor::build(forms, o);
    Normalizer nz(NormalizerOptions{true});
    NormalizedText t;
    const std::string alphabet[] = {"a", "b", "c", "d", " ", "-", "'", "\xC3\xA9", "\xC3\x89", "\xE7\x89\x9B", "\xFF",
                                    "\x80", "\xE2\x82", "s", "ies", "X", "y", "z", "\xF0\x9F\x8D\x8E", "\xEF\xBC\xA1"};
    std::vector<Mention> out;
    for (int trial = 0; trial < 3000; ++trial) {
        std::string s;
        const auto len = rng.uniform_int(24);
        for (std::uint64_t k = 0; k < len; ++k) s += alphabet[rng.uniform_int(20)];
        if (!s.empty() && rng.bernoulli(0.2)) s[rng.uniform_int(s.size())] = static_cast<char>(rng.uniform_int(256));
        nz.normalize(s, t);
        const std::string_view n = t.text();
        CHECK(n.find("  ") == std::string_view::npos);
        if (!n.empty()) CHECK((n.front() != ' ' && n.back() != ' '));
        std::uint32_t prev_end = 0;
        for (const Token& tk : t.tokens()) {
            CHECK(tk.src_begin < tk.src_end);
            CHECK(tk.src_end <= s.size());
            CHECK(tk.src_begin >= prev_end);
            CHECK(tk.norm_begin < tk.norm_end);
            prev_end = tk.src_end;
        }
        for (std::size_t i = 0; i < t.size(); ++i) CHECK(t.source_end(i) <= s.size());
        for (auto* d : {&wb, &ac}) {
            out.clear();
            d->extract(s, out);
            std::uint32_t last = 0;
            for (const Mention& m : out) {
                CHECK(m.begin < m.end);
                CHECK(m.end <= s.size());
                CHECK(m.begin >= last);  // sorted, non-overlapping
                last = m.end;
            }
        }
    }
}

TEST_CASE("dictionary: form ranges are a named concept") {
    static_assert(SurfaceFormRange<Forms>);
    static_assert(SurfaceFormRange<std::vector<std::pair<std::string_view, EntityId>>>);
    static_assert(SurfaceFormRange<std::vector<std::pair<const char*, EntityId>>>);
    static_assert(!SurfaceFormRange<std::vector<std::string>>);
    static_assert(!SurfaceFormRange<std::vector<std::pair<std::string, std::string>>>);
    static_assert(!SurfaceFormRange<int>);
    const std::vector<std::pair<std::string_view, EntityId>> views{{"Salsa", EntityId(1)}};
    CHECK(DictionaryExtractor::build(views).lookup("salsa") == EntityId(1));
}

TEST_CASE("dictionary: without word boundaries the scan is linear in the text, not in text × longest form") {
    // 'a' x 10^6 with the forms "a" and 'a' x 1000 + "b": every position keeps the long form
    // pending for 1000 bytes; each 'a' is still its own match.
    const Forms forms{{"a", EntityId(1)}, {std::string(1000, 'a') + "b", EntityId(2)}};
    DictionaryOptions o;
    o.word_boundary = false;
    const auto d = DictionaryExtractor::build(forms, o);
    const std::string text(1'000'000, 'a');
    std::vector<Mention> out;
    DictionaryExtractor::Workspace ws;
    d.extract(text, out, ws);
    REQUIRE(out.size() == text.size());
    bool all_a = true;
    for (std::size_t i = 0; i < out.size(); ++i)
        all_a &= out[i].entity == EntityId(1) && out[i].begin == i && out[i].end == i + 1;
    CHECK(all_a);
    // the long form wins where it occurs, and the 'a's before it are matched one by one
    const std::string t2 = std::string(1500, 'a') + "b";
    out.clear();
    d.extract(t2, out, ws);
    REQUIRE(out.size() == 501);
    CHECK(out[499].end == 500);
    CHECK(out[500].entity == EntityId(2));
    CHECK(out[500].begin == 500);
    CHECK(out[500].end == 1501);
}

TEST_CASE("dictionary: lookup and prefix queries equal a brute-force scan of the forms, in both modes") {
    Rng rng(11);
    Forms forms;
    const char* words[] = {"ab", "a", "abc", "b", "bc", "c"};
    for (std::uint32_t i = 0; i < 80; ++i) {
        std::string f;
        const auto len = 1 + rng.uniform_int(3);
        for (std::uint64_t k = 0; k < len; ++k) f += std::string(k ? " " : "") + words[rng.uniform_int(6)];
        forms.emplace_back(f, EntityId(i));
    }
    for (bool wb : {true, false}) {
        DictionaryOptions o;
        o.word_boundary = wb;
        o.on_conflict = ConflictPolicy::first_wins;
        const auto d = DictionaryExtractor::build(forms, o);
        for (std::size_t i = 1; i < d.size(); ++i) CHECK(d.form(i - 1) < d.form(i));
        for (int trial = 0; trial < 400; ++trial) {
            std::string q;
            const auto len = rng.uniform_int(4);
            for (std::uint64_t k = 0; k < len; ++k) q += std::string(k ? " " : "") + words[rng.uniform_int(6)];
            if (rng.bernoulli(0.3)) q += ' ';
            std::optional<EntityId> exact;
            bool prefix = false;
            for (const auto& [f, e] : forms) {  // first listed claim wins
                if (f == q && !exact) exact = e;
                prefix |= std::string_view(f).starts_with(q);
            }
            CHECK(d.lookup_normalized(q) == exact);
            CHECK(d.has_prefix_normalized(q) == prefix);
        }
    }
}

TEST_CASE("dictionary: a file with a valid checksum but hostile content is rejected, never trusted") {
    const Forms forms{{"olive oil", EntityId(0)}, {"oil", EntityId(1)}, {"salsa verde", EntityId(2)}};
    const auto d = DictionaryExtractor::build(forms);
    const std::string good = d.to_bytes();
    const auto again = DictionaryExtractor::from_bytes(good, "good.bin");
    CHECK(again.size() == 3);
    CHECK(again.lookup("Salsa Verde") == EntityId(2));
    // Layout: magic(8) version(4) flags(3) u64 n + bytes, u64 n + offsets, u64 n + entities, crc.
    const std::size_t bytes_at = 8 + 4 + 3 + 8;
    auto resign = [](std::string s) {
        const std::uint32_t c = crc32c(s.data(), s.size() - 4);
        std::memcpy(s.data() + s.size() - 4, &c, 4);
        return s;
    };
    auto rejects = [&](std::string s, std::string_view needle) {
        try {
            (void)DictionaryExtractor::from_bytes(resign(std::move(s)), "hostile.bin");
            FAIL("accepted a hostile file");
        } catch (const ParseError& e) {
            CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
            CHECK(std::string(e.what()).find("hostile.bin") != std::string::npos);
        }
    };
    std::string s = good;
    s[12] = 7;  // word_boundary flag
    rejects(s, "option flags");
    s = good;
    s[bytes_at] = '\t';  // a byte the normaliser never emits
    rejects(s, "byte 0x09");
    s = good;
    s[bytes_at] = ' ';  // a leading space: an empty word
    rejects(s, "empty word");
    s = good;
    std::swap(s[bytes_at], s[bytes_at + 12]);  // "oil" <-> "salsa verde": order broken
    rejects(s, "not strictly sorted");
    s = good;
    const std::size_t off_at = bytes_at + 3 + 9 + 11 + 8;  // the forms' bytes, then the offsets' count
    const std::uint32_t big = 1000;
    std::memcpy(s.data() + off_at + 4, &big, 4);  // off[1] past the bytes
    rejects(s, "offset decreases");
    s = good;
    const std::uint32_t invalid = 0xFFFFFFFFu;
    std::memcpy(s.data() + s.size() - 4 - 4, &invalid, 4);  // the last entity
    rejects(s, "invalid entity");
    rejects(good.substr(0, good.size() - 9), "does not fit");
}
