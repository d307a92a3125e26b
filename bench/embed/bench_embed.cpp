// Entity representation benchmarks: quality of h1/h2/final against the simulator's hidden
// substitute groups and complementary edges (medium world), the end-to-end fit time, and speed side
// by side with the peers in one run: the fused InfoNCE step against PyTorch (dense Adam and
// SparseAdam, bench/peers/infonce_torch.py) and SGNS against gensim Word2Vec(sg=1)
// (bench/peers/sgns_gensim.py) and `fasttext skipgram -maxn 0`, one thread each.
//   KEREC_BENCH_EMBED_WORLD (default medium), KEREC_BENCH_EMBED_TOKENS (default 1e7),
//   KEREC_BENCH_EMBED_REPEATS (default 3): runs of each SGNS timing (median).
//   KEREC_BENCH_EMBED_LAMBDA, _TAU, _PASSES, _ADAM_LR: the contrastive knobs of the quality case
//   (default: EmbedOptions{}); the hidden case "[sweep]" runs a grid of them.
//   KEREC_PYTHON (default /usr/bin/python3), KEREC_BLAS_DIR (default Debian's openblas-openmp).
// Built with EIGEN_USE_BLAS (preset bench-blas), kerec's products go through the same OpenBLAS as
// the peer's; both sides print the OpenBLAS kernel set they run (OPENBLAS_CORETYPE overrides it).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <span>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <kerec/core/npy.hpp>
#include <kerec/core/random.hpp>
#include <kerec/embed/contrastive.hpp>
#include <kerec/embed/evaluate.hpp>
#include <kerec/embed/sgns.hpp>
#include <kerec/embed/trainer.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/sim/score.hpp>
#include <kerec/sim/world.hpp>

#include "figures.hpp"

using namespace kerec;

#ifdef EIGEN_USE_BLAS
extern "C" char* openblas_get_corename(void);
#endif

namespace {

/// What runs kerec's matrix products: Eigen's own kernels, or OpenBLAS and its kernel set.
std::string kerec_products() {
#ifdef EIGEN_USE_BLAS
    return std::string("OpenBLAS (") + openblas_get_corename() + " kernels)";
#else
    return "Eigen";
#endif
}

double env_number(const char* name, double fallback) {
    if (const char* v = std::getenv(name)) return std::atof(v);
    return fallback;
}
std::string env_string(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v ? v : fallback;
}
const std::filesystem::path kPeers = KEREC_BENCH_PEERS_DIR;

/// Runs a shell command, returns its stdout.
std::string run(const std::string& cmd) {
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
        char buf[4096];
        while (std::fgets(buf, sizeof buf, p)) out += buf;
        ::pclose(p);
    }
    return out;
}
/// The number after "key": in a JSON line (the peers print flat objects).
double json_number(const std::string& s, const std::string& key, std::size_t from = 0) {
    const auto k = s.find("\"" + key + "\":", from);
    return k == std::string::npos ? std::nan("") : std::atof(s.c_str() + k + key.size() + 3);
}
/// CPU seconds of this process so far (the machine is shared: rates are per CPU-second, so that
/// the other workers' load does not enter the comparison; every side is single-threaded).
double cpu_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
void save_vector(const std::filesystem::path& p, const std::vector<double>& v) {
    RowMatrix<double> m(1, static_cast<Eigen::Index>(v.size()));
    for (std::size_t i = 0; i < v.size(); ++i) m(0, static_cast<Eigen::Index>(i)) = v[i];
    save_npy(p, m);
}

}  // namespace

namespace {

/// The medium world, its browsing sessions and the learned graph: shared by the quality case and
/// the sweep (built once per process).
struct QualitySetup {
    std::string size;
    sim::World world;
    std::size_t n = 0;
    EntitySequences seqs;
    ComplementNeighbours nb;
    std::vector<EntityId> all, sparse;
    std::vector<std::pair<EntityId, EntityId>> truth;

    static const QualitySetup& get() {
        static const QualitySetup s = make();
        return s;
    }

    double subst_p(const EntityEmbeddings<float>& h, std::span<const EntityId> q) const {
        return substitute_precision_at_k(
            NearestIndex<float>(h), q, 10, [&](EntityId a, EntityId b) { return world.substitutes(a, b); },
            [&](EntityId a) { return world.group_members(world.group_of(a)).size() - 1; });
    }
    MissedRecall missed_recall(const EntityEmbeddings<float>& h) const { return missed_complement_recall_at_k(NearestIndex<float>(h), nb, truth, 10); }

private:
    static QualitySetup make() {
        const auto t0 = std::chrono::steady_clock::now();
        const std::string size = env_string("KEREC_BENCH_EMBED_WORLD", "medium");
        auto world = sim::World::generate(sim::Config::preset(size, 42));
        const std::size_t n = world.entity_info().size();
        const ItemEntityMap items = world.item_entity_map();
        SequenceStats st;
        auto seqs = build_sequences(world.events(), items, {}, &st);  // browsing sessions, split after each bill
        // The graph: a simulated LLM that misses 30% of the hidden complements (and says yes to some
        // non-complements), weights learned from the log's exposure/click feedback.
        const auto judgments = sim::noisy_judgments(world, 3, {.miss_share = 0.3, .false_positive_share = 0.2, .model = "simulated"});
        const FeedbackGraph g0 = build_graph<EdgeFeedback>(judgments);
        const auto graph = FeedbackLearner().learn(g0, world.events(), items).graph;
        ComplementNeighbours nb(graph, n);
        std::fprintf(stderr, "embed bench: %s world, %zu entities, %zu sequences, %llu tokens (%llu sessions, %llu short), %llu graph edges, setup %.1f s, %u hardware threads\n",
                     size.c_str(), n, seqs.size(), static_cast<unsigned long long>(seqs.token_count()),
                     static_cast<unsigned long long>(st.sessions), static_cast<unsigned long long>(st.short_sessions),
                     static_cast<unsigned long long>(nb.edge_count()), seconds_since(t0), std::thread::hardware_concurrency());
        std::vector<EntityId> all(n);
        for (std::uint32_t e = 0; e < n; ++e) all[e] = EntityId(e);
        // Sparse: the bottom quartile of sequence occurrences (new entities included).
        const auto counts = seqs.counts();
        std::vector<EntityId> by_count = all;
        std::stable_sort(by_count.begin(), by_count.end(), [&](EntityId a, EntityId b) { return counts[a.index()] < counts[b.index()]; });
        std::vector<EntityId> sparse(by_count.begin(), by_count.begin() + static_cast<std::ptrdiff_t>(n / 4));
        std::vector<std::pair<EntityId, EntityId>> truth;
        for (const auto& e : world.complement_edges()) truth.emplace_back(e.from, e.to);
        return QualitySetup{size, std::move(world), n, std::move(seqs), std::move(nb), std::move(all), std::move(sparse), std::move(truth)};
    }
};

/// EmbedOptions of the bench: the library's defaults, 2 SGNS threads, and the contrastive knobs
/// from KEREC_BENCH_EMBED_LAMBDA / _TAU / _PASSES / _ADAM_LR when set.
EmbedOptions bench_options() {
    EmbedOptions o;
    o.sgns.threads = 2;
    o.lambda = env_number("KEREC_BENCH_EMBED_LAMBDA", o.lambda);
    o.infonce.temperature = env_number("KEREC_BENCH_EMBED_TAU", o.infonce.temperature);
    o.contrastive_passes = env_number("KEREC_BENCH_EMBED_PASSES", o.contrastive_passes);
    o.adam.learning_rate = env_number("KEREC_BENCH_EMBED_ADAM_LR", o.adam.learning_rate);
    return o;
}

/// A comma-separated list of numbers from the environment (the sweep's grid).
std::vector<double> env_list(const char* name, std::vector<double> fallback) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    std::vector<double> out;
    for (const char* p = v; *p;) {
        char* end = nullptr;
        out.push_back(std::strtod(p, &end));
        if (end == p) break;
        p = *end == ',' ? end + 1 : end;
    }
    return out;
}

}  // namespace

TEST_CASE("embed: quality against the hidden truth and fit time (sim world)") {
    const auto& q = QualitySetup::get();
    const std::string& size = q.size;
    const EmbedOptions o = bench_options();
    const auto t_fit = std::chrono::steady_clock::now();
    const double c_fit = cpu_seconds();
    const auto model = fit<float>(q.seqs, q.nb, o);
    const double fit_s = seconds_since(t_fit), fit_cpu = cpu_seconds() - c_fit;
    std::fprintf(stderr, "  fit: %.1f s wall, %.1f CPU-seconds (2 threads); lambda %g, tau %g, %g contrastive passes, Adam lr %g\n", fit_s,
                 fit_cpu, o.lambda, o.infonce.temperature, o.contrastive_passes, o.adam.learning_rate);
    auto o0 = o;
    o0.lambda = 0;
    const auto plain = fit<float>(q.seqs, q.nb, o0);
    for (const auto& l : model.log)
        std::fprintf(stderr, "  epoch %d: sgns %.4f infonce %.4f validation %.4f (%.1f s)%s\n", l.epoch, l.sgns_loss, l.infonce_loss,
                     l.validation_loss, l.seconds, l.improved ? " *" : "");

    bench::emit("embed.h1.subst_p_at_10", q.subst_p(model.h1, q.all),
                fmt::format("precision@10 of h1 neighbours vs hidden substitute groups ({} world, lambda {})", size, o.lambda));
    bench::emit("embed.h1_no_contrastive.subst_p_at_10", q.subst_p(plain.h1, q.all), "precision@10, h1 trained with lambda = 0");
    bench::emit("embed.h.subst_p_at_10_sparse", q.subst_p(model.final, q.sparse),
                fmt::format("precision@10 of the final representation ({}), bottom-quartile entities", to_string(model.final_view)));
    bench::emit("embed.h1_no_contrastive.subst_p_at_10_sparse", q.subst_p(plain.h1, q.sparse),
                "precision@10, h1 with lambda = 0, bottom-quartile entities");
    const auto rc = q.missed_recall(model.final);
    const auto r0 = q.missed_recall(plain.h1);
    const auto rr = random_missed_complement_recall_at_k(q.nb, q.truth, 10, 1);
    const auto r2 = q.missed_recall(model.h2);
    const auto r1 = q.missed_recall(model.h1);
    std::fprintf(stderr, "  missed edges %llu from %llu sources; recall@10 by h1 %.4f, h2 %.4f\n",
                 static_cast<unsigned long long>(rc.missed_edges), static_cast<unsigned long long>(rc.sources), r1.recall, r2.recall);
    bench::emit("embed.compl.missed_recall_at_10", rc.recall,
                fmt::format("recall@10 of hidden complements missing from the graph, h = final ({})", to_string(model.final_view)));
    bench::emit("embed.compl_no_contrastive.missed_recall_at_10", r0.recall, "the same, h = h1 trained with lambda = 0");
    bench::emit("embed.compl_random.missed_recall_at_10", rr.recall, "the same, random ranking");
    bench::emit(fmt::format("embed.fit_{}_s", size), fit_s,
                fmt::format("s, fit() h1 + h2 + contrastive, {} epochs, 2 threads", model.log.size()));
}

// The contrastive knobs against the bench's quality measurements: hidden (run it with
// `kerec_bench_embed "[sweep]"`), a table on stderr. Grid from KEREC_BENCH_EMBED_SWEEP_LAMBDAS,
// _TAUS, _PASSES (comma lists; λ = 0 runs once per seed) and _SEEDS (SGNS seeds, averaged).
TEST_CASE("embed: sweep of lambda, temperature and contrastive passes (sim world)", "[.][sweep]") {
    const auto& q = QualitySetup::get();
    const auto lambdas = env_list("KEREC_BENCH_EMBED_SWEEP_LAMBDAS", {0, 0.01, 0.03, 0.1, 0.3, 1});
    const auto taus = env_list("KEREC_BENCH_EMBED_SWEEP_TAUS", {0.1});
    const auto passes = env_list("KEREC_BENCH_EMBED_SWEEP_PASSES", {4});
    const auto seeds = env_list("KEREC_BENCH_EMBED_SWEEP_SEEDS", {1, 2});
    std::fprintf(stderr, "| lambda | tau | passes | P@10 h1 | P@10 h1 sparse (sd) | missed R@10 h1 (sd) | P@10 concat sparse | missed R@10 concat | missed R@10 h2 | epochs | fit CPU-s |\n");
    std::fprintf(stderr, "|---|---|---|---|---|---|---|---|---|---|---|\n");
    auto mean_sd = [](const std::vector<double>& x) {
        double m = 0, v = 0;
        for (double a : x) m += a;
        m /= static_cast<double>(x.size());
        for (double a : x) v += (a - m) * (a - m);
        return std::pair{m, x.size() > 1 ? std::sqrt(v / static_cast<double>(x.size() - 1)) : 0.0};
    };
    for (double lambda : lambdas)
        for (double tau : lambda > 0 ? taus : std::vector<double>{taus.front()})
            for (double pass : lambda > 0 ? passes : std::vector<double>{passes.front()}) {
                double p = 0, pcs = 0, rcc = 0, r2 = 0, ep = 0, cpu = 0;
                std::vector<double> ps, r;
                for (double seed : seeds) {
                    EmbedOptions o = bench_options();
                    o.lambda = lambda, o.infonce.temperature = tau, o.contrastive_passes = pass;
                    o.sgns.seed = static_cast<std::uint64_t>(seed);
                    const double c0 = cpu_seconds();
                    const auto m = fit<float>(q.seqs, q.nb, o);
                    cpu += cpu_seconds() - c0;
                    const auto concat = final_representation(m.h1, m.h2, FinalView::concat);
                    p += q.subst_p(m.h1, q.all), ps.push_back(q.subst_p(m.h1, q.sparse)), r.push_back(q.missed_recall(m.h1).recall);
                    pcs += q.subst_p(concat, q.sparse), rcc += q.missed_recall(concat).recall, r2 += q.missed_recall(m.h2).recall;
                    ep += m.best_epoch;
                }
                const auto k = static_cast<double>(seeds.size());
                const auto [psm, pss] = mean_sd(ps);
                const auto [rm, rsd] = mean_sd(r);
                std::fprintf(stderr, "| %g | %g | %g | %.3f | %.3f (%.3f) | %.4f (%.4f) | %.3f | %.4f | %.4f | %.1f | %.1f |\n", lambda, tau, pass, p / k,
                             psm, pss, rm, rsd, pcs / k, rcc / k, r2 / k, ep / k, cpu / k);
            }
}

TEST_CASE("embed: fused InfoNCE step vs PyTorch (dense Adam, SparseAdam), one thread") {
    const std::size_t n = 100000, d = 64, B = 1024, steps = 50;
    const double tau = 0.1;
    // A complementary graph over the table: 8 neighbours per entity, uniform weights.
    Rng rng(5);
    std::vector<std::vector<std::pair<EntityId, float>>> rows(n);
    for (auto& r : rows)
        for (int k = 0; k < 8; ++k) r.emplace_back(EntityId(static_cast<std::uint32_t>(rng.uniform_int(n))), static_cast<float>(rng.uniform(0.1, 1.0)));
    const auto nb = ComplementNeighbours::from_lists(rows, n);
    std::vector<std::uint32_t> perm(n);
    for (std::uint32_t i = 0; i < n; ++i) perm[i] = i;
    RowMatrix<double> batches(static_cast<Eigen::Index>(steps + 1), static_cast<Eigen::Index>(B));
    for (std::size_t s = 0; s <= steps; ++s) {
        rng.shuffle(perm);
        for (std::size_t j = 0; j < B; ++j) batches(static_cast<Eigen::Index>(s), static_cast<Eigen::Index>(j)) = perm[j];
    }
    // kerec.
    RowMatrix<float> h1(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
    for (Eigen::Index i = 0; i < h1.size(); ++i) h1.data()[i] = static_cast<float>(rng.normal());
    RowMatrix<float> W = RowMatrix<float>::Identity(static_cast<Eigen::Index>(d), static_cast<Eigen::Index>(d));
    InfoNce<float> nce({.temperature = tau});
    LazyAdam<float> ah(n, d, {}), aw(d, d, {});
    std::vector<std::vector<EntityId>> bs(steps + 1);
    for (std::size_t s = 0; s <= steps; ++s)
        for (std::size_t j = 0; j < B; ++j) bs[s].push_back(EntityId(static_cast<std::uint32_t>(batches(static_cast<Eigen::Index>(s), static_cast<Eigen::Index>(j)))));
    nce.step(h1, W, bs[steps], nb, ah, aw);  // warm-up: the workspace grows once
    std::size_t k = 0;
    BENCHMARK("kerec infonce step (100k x 64, B 1024)") { return nce.step(h1, W, bs[k++ % steps], nb, ah, aw); };
    std::vector<double> kr;
    for (int r = 0; r < 3; ++r) {
        const double c0 = cpu_seconds();
        for (std::size_t s = 0; s < steps; ++s) nce.step(h1, W, bs[s], nb, ah, aw);
        kr.push_back(static_cast<double>(steps) / (cpu_seconds() - c0));
    }
    std::sort(kr.begin(), kr.end());
    const double kerec_rate = kr[1];
    std::fprintf(stderr, "kerec infonce: %.2f steps per CPU-second (wall-clock median %.2f steps/s), products by %s\n", kerec_rate,
                 1.0 / bench::median_seconds("kerec infonce step (100k x 64, B 1024)"), kerec_products().c_str());

    // PyTorch, same batches, same graph, in the same run.
    const auto dir = std::filesystem::temp_directory_path() / fmt::format("kerec_bench_infonce_{}", ::getpid());
    std::filesystem::create_directories(dir);
    std::vector<double> off{0}, tgt, wts;
    for (std::uint32_t e = 0; e < n; ++e) {
        for (std::size_t j = 0; j < nb.degree(EntityId(e)); ++j) tgt.push_back(nb.targets(EntityId(e))[j].value()), wts.push_back(nb.weights(EntityId(e))[j]);
        off.push_back(static_cast<double>(tgt.size()));
    }
    save_vector(dir / "nb_off.npy", off);
    save_vector(dir / "nb_tgt.npy", tgt);
    save_vector(dir / "nb_w.npy", wts);
    save_vector(dir / "shape.npy", {static_cast<double>(n), static_cast<double>(d)});
    save_vector(dir / "tau.npy", {tau});
    save_npy(dir / "batches.npy", batches);
    const std::string blas = env_string("KEREC_BLAS_DIR", "/usr/lib/x86_64-linux-gnu/openblas-openmp");
    const std::string py = env_string("KEREC_PYTHON", "/usr/bin/python3");
    const std::string out = run(fmt::format("LD_LIBRARY_PATH={} OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 {} {} {} {} 3", blas, py,
                                            (kPeers / "infonce_torch.py").string(), dir.string(), steps));
    std::filesystem::remove_all(dir);
    std::fprintf(stderr, "pytorch peer: %s", out.c_str());
    const auto sparse_at = out.find("\"sparse\"");
    const double dense_rate = json_number(out, "steps_per_s"), sparse_rate = sparse_at == std::string::npos ? std::nan("") : json_number(out, "steps_per_s", sparse_at);
    const std::string products = "kerec's products by " + kerec_products();
    bench::emit("embed.infonce.steps_per_s", kerec_rate,
                "steps/s, 100k x 64, batch 1024, tau 0.1, Adam, 1 thread, " + products + " (ratio > 1: kerec faster)", "pytorch",
                kerec_rate / dense_rate);
    bench::emit("embed.infonce_sparse.steps_per_s", kerec_rate,
                "steps/s, lazy Adam vs SparseAdam, 1 thread, " + products + " (ratio > 1: kerec faster)", "pytorch-sparseadam",
                kerec_rate / sparse_rate);
}

TEST_CASE("embed: SGNS words/s vs gensim Word2Vec(sg=1) and fastText skipgram, one thread") {
    const auto tokens_wanted = static_cast<std::size_t>(env_number("KEREC_BENCH_EMBED_TOKENS", 1e7));
    const int repeats = std::max(1, static_cast<int>(env_number("KEREC_BENCH_EMBED_REPEATS", 3)));
    // Entity sessions: 20k entities in groups of 10, groups by Zipf(1), sessions of 10 tokens.
    const std::size_t n = 20000, per = 10, len = 10;
    Rng rng(9);
    AliasSampler groups(zipf_weights(n / per, 1.0)), within(zipf_weights(per, 1.0));
    std::vector<std::uint64_t> off{0};
    std::vector<EntityId> tok;
    tok.reserve(tokens_wanted);
    while (tok.size() < tokens_wanted) {
        const auto g = groups(rng);
        for (std::size_t k = 0; k < len; ++k) tok.push_back(EntityId(static_cast<std::uint32_t>(g * per + within(rng))));
        off.push_back(tok.size());
    }
    const EntitySequences seqs(std::move(off), std::move(tok), n);
    const auto corpus = std::filesystem::temp_directory_path() / fmt::format("kerec_bench_sgns_{}.txt", ::getpid());
    {
        std::ofstream f(corpus);
        for (std::size_t s = 0; s < seqs.size(); ++s) {
            std::string line;
            for (auto e : seqs[s]) line += fmt::format("e{} ", e.value());
            line.back() = '\n';
            f << line;
        }
    }
    SgnsOptions o;
    o.dim = 64, o.window = 5, o.negatives = 5, o.subsample = 1e-3, o.epochs = 1, o.threads = 1;
    std::vector<double> rates;
    for (int r = 0; r < repeats; ++r) {
        Sgns<float> m(seqs.counts(), o);
        const double c0 = cpu_seconds();
        m.train_epoch(seqs);
        rates.push_back(static_cast<double>(seqs.token_count()) / (cpu_seconds() - c0));
    }
    std::sort(rates.begin(), rates.end());
    const double kerec_rate = rates[rates.size() / 2];

    const std::string py = env_string("KEREC_PYTHON", "/usr/bin/python3");
    const std::string g = run(fmt::format("{} {} {} 64 5 5 1e-3 {}", py, (kPeers / "sgns_gensim.py").string(), corpus.string(), repeats));
    std::fprintf(stderr, "gensim peer: %s", g.c_str());
    const double gensim_rate = json_number(g, "words_per_s");
    // fastText: tokens per CPU-second of the whole process (its vocabulary pass included, which
    // favours kerec slightly; fastText's own words/sec/thread is wall-clock, so load would enter it).
    std::vector<double> ft;
    const auto ft_out = std::filesystem::temp_directory_path() / fmt::format("kerec_bench_ft_{}", ::getpid());
    for (int r = 0; r < repeats; ++r) {
        const std::string s = run(fmt::format("bash -c 'TIMEFORMAT=\"cpu %U %S\"; time fasttext skipgram -input {} -output {} -dim 64 -ws 5 "
                                              "-neg 5 -epoch 1 -thread 1 -minCount 1 -minn 0 -maxn 0 -t 1e-3 -verbose 0' 2>&1 | grep '^cpu'",
                                              corpus.string(), ft_out.string()));
        double u = 0, sy = 0;
        if (std::sscanf(s.c_str(), "cpu %lf %lf", &u, &sy) == 2 && u + sy > 0) ft.push_back(static_cast<double>(seqs.token_count()) / (u + sy));
    }
    std::filesystem::remove(ft_out.string() + ".bin");
    std::filesystem::remove(ft_out.string() + ".vec");
    std::filesystem::remove(corpus);
    std::sort(ft.begin(), ft.end());
    const double ft_rate = ft.empty() ? std::nan("") : ft[ft.size() / 2];
    std::fprintf(stderr, "sgns: %llu tokens; kerec %.0f, gensim %.0f, fasttext %.0f words/s\n",
                 static_cast<unsigned long long>(seqs.token_count()), kerec_rate, gensim_rate, ft_rate);
    bench::emit("embed.sgns.words_per_s", kerec_rate, "tokens/s, dim 64, window 5, 5 negatives, 1 thread (ratio > 1: kerec faster)", "gensim",
                kerec_rate / gensim_rate);
    bench::emit("embed.sgns_fasttext.words_per_s", kerec_rate, "tokens/s, same settings (ratio > 1: kerec faster)", "fasttext", kerec_rate / ft_rate);
}
