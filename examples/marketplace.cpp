// The main kerec demo: a synthetic marketplace with hidden ground truth, and what it contains.
//
//   marketplace [--size tiny|small|medium|large] [--seed N] [--json]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include <kerec/core/progress.hpp>
#include <kerec/sim/world.hpp>

namespace {
struct Options {
    std::string size = "small";
    std::uint64_t seed = 42;
    bool json = false;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw kerec::InvalidArgument(fmt::format("{} needs a value", a));
            return argv[++i];
        };
        if (a == "--size") o.size = value();
        else if (a == "--seed") o.seed = std::stoull(value());
        else if (a == "--json") o.json = true;
        else if (a == "--help" || a == "-h") {
            std::puts("usage: marketplace [--size tiny|small|medium|large] [--seed N] [--json]");
            std::exit(0);
        } else {
            throw kerec::InvalidArgument(fmt::format("unknown option '{}' (try --help)", a));
        }
    }
    return o;
}
}  // namespace

int main(int argc, char** argv) try {
    const Options opt = parse(argc, argv);
    kerec::TerminalProgressBar bar;
    const auto t0 = std::chrono::steady_clock::now();
    const auto world = kerec::sim::World::generate(kerec::sim::Config::preset(opt.size, opt.seed), bar.callback());
    bar.close();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto s = world.summary();

    if (opt.json) {
        fmt::print("{{\"name\": \"sim.{}.events_per_s\", \"value\": {:.6g}, \"unit\": \"events/s\"}}\n", opt.size,
                   static_cast<double>(world.events().size()) / secs);
        return 0;
    }
    fmt::print("kerec synthetic marketplace '{}' (seed {}), generated in {:.2f} s\n\n", opt.size, opt.seed, secs);
    fmt::print("  {:<34} {:>12}\n", "entities (unified concepts)", s.entities);
    fmt::print("  {:<34} {:>12}\n", "  of which cold-start (new)", s.new_entities);
    fmt::print("  {:<34} {:>12}\n", "substitute groups", s.groups);
    fmt::print("  {:<34} {:>12}\n", "surface forms (in dictionary)", s.dictionary_forms);
    fmt::print("  {:<34} {:>12}\n", "surface forms held out", s.held_out_forms);
    fmt::print("  {:<34} {:>12}\n", "items", s.items);
    fmt::print("  {:<34} {:>12}\n", "  of which cold-start (new)", s.new_items);
    fmt::print("  {:<34} {:>12}\n", "  titles with a held-out form", s.held_out_titles);
    fmt::print("  {:<34} {:>12}\n", "users", s.users);
    fmt::print("  {:<34} {:>12}\n", "events", world.events().size());
    fmt::print("  {:<34} {:>12}\n", "  bills", s.bills);
    fmt::print("  {:<34} {:>12}\n", "  exposures", s.exposures);
    fmt::print("  {:<34} {:>12}\n", "  clicks", s.clicks);
    fmt::print("  {:<34} {:>11.1f}%\n", "cold-start share of events", 100.0 * s.cold_start_event_share);
    fmt::print("  {:<34} {:>11.1f}%\n", "bill share of top 1% entities", 100.0 * s.top1pct_entity_share);
    fmt::print("\nhidden complementary graph: {} directed edges\n", s.edges);
    fmt::print("  {:<12} {:>8} {:>8} {:>8} {:>8} {:>8}\n", "degree", "mean", "median", "p90", "p99", "max");
    for (auto [name, d] : {std::pair{"out", s.out_degree}, std::pair{"in", s.in_degree}})
        fmt::print("  {:<12} {:>8.2f} {:>8} {:>8} {:>8} {:>8}\n", name, d.mean, d.median, d.p90, d.p99, d.max);
    fmt::print("\nclick-through after a purchase: {:.2f}% on true complements, {:.2f}% on other items\n",
               100.0 * s.ctr_complement, 100.0 * s.ctr_other);

    fmt::print("\nsample titles (true entity in brackets):\n");
    for (std::size_t i = 0; i < 6 && i < world.items().size(); ++i) {
        const auto& it = world.items()[i * (world.items().size() / 6)];
        fmt::print("  {:<60} [{}]\n", it.title, world.entities().name(it.entity));
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "marketplace: %s\n", e.what());
    return 1;
}
