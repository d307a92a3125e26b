#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include <kerec/llm/judgment_store.hpp>
#include <kerec/llm/openai_judge.hpp>

#include "../test_util.hpp"
#include "loopback_llm_server.hpp"

using namespace kerec;
using test::LoopbackLlmServer;

static_assert(Judge<OpenAICompatibleJudge>);
static_assert(StreamingJudge<OpenAICompatibleJudge>);

namespace {
std::vector<PairQuery> pairs(unsigned n, unsigned offset = 0) {
    std::vector<PairQuery> q;
    for (unsigned i = 0; i < n; ++i) {
        const unsigned a = offset + i, b = offset + (i * 7 + 3) % (n + 11) + n;
        q.push_back({EntityId{a}, EntityId{b}, "e" + std::to_string(a), "e" + std::to_string(b)});
    }
    return q;
}
OpenAIJudgeOptions fast_options(const std::string& url) {
    OpenAIJudgeOptions o;
    o.endpoint = url;
    o.model = "loopback-model";
    o.api_key_env = "KEREC_TEST_NO_SUCH_KEY_VARIABLE";
    o.concurrency = 8;
    o.timeout = std::chrono::milliseconds(300);
    o.backoff_initial = std::chrono::milliseconds(10);
    o.backoff_max = std::chrono::milliseconds(100);
    o.max_attempts = 5;
    return o;
}
}  // namespace

TEST_CASE("http judge: injected 429/500/slow/malformed faults lose and duplicate nothing") {
    LoopbackLlmServer server(std::chrono::milliseconds(900), {}, std::chrono::milliseconds(30));
    test::TempDir dir("http");
    JudgmentStore store(dir / "j.log");
    OpenAICompatibleJudge judge(fast_options(server.url()));
    const auto q = pairs(240);
    std::set<int> faults;
    std::size_t expect_prose_unknown = 0, expect_reask = 0, expect_429 = 0, expect_500 = 0, expect_slow = 0, expect_bad = 0;
    for (const auto& x : q) {
        const int f = LoopbackLlmServer::fault(x.a.value(), x.b.value());
        faults.insert(f);
        expect_prose_unknown += f == 5;
        expect_reask += f == 4 || f == 5;
        expect_429 += f == 0;
        expect_500 += f == 1;
        expect_slow += f == 2;
        expect_bad += f == 3;
    }
    REQUIRE(faults.size() == 10);  // every kind of fault is exercised
    JudgeRunOptions ro;
    ro.batch_size = 240;
    const auto rep = store.judge(judge, q, ro);
    const auto& st = judge.stats();
    MESSAGE("lost=" << rep.lost << " duplicated=" << rep.duplicate_answers << " 429=" << st.rate_limited
                    << " timeouts=" << st.timeouts << " malformed=" << st.malformed_replies << " retries=" << st.retries
                    << " http_errors=" << st.http_errors << " max_in_flight=" << server.max_in_flight.load()
                    << " seconds=" << st.seconds);
    CHECK(rep.lost == 0);
    CHECK(rep.duplicate_answers == 0);
    CHECK(rep.stored == q.size());
    CHECK(store.size() == q.size());
    CHECK(st.gave_up == 0);
    CHECK(st.rate_limited == expect_429);
    CHECK(st.timeouts >= expect_slow);  // a loaded machine may time out a normal reply too
    CHECK(st.malformed_replies == expect_bad);
    CHECK(st.http_errors == expect_429 + 2 * expect_500 + st.timeouts + expect_bad);
    CHECK(st.retries == expect_reask);
    CHECK(st.unknown == expect_prose_unknown);
    CHECK(rep.unknown == expect_prose_unknown);
    CHECK(st.prompt_tokens <= 50u * static_cast<std::uint64_t>(server.requests.load() - server.injected_429 - server.injected_500 -
                                                             server.injected_malformed - server.injected_slow));
    CHECK(server.max_in_flight.load() <= 8);
    CHECK(server.max_in_flight.load() >= 6);  // the configured concurrency is actually used
    for (const auto& x : q) {
        const Judgment* j = store.find(x.pair(), "loopback-model", judge.prompt_version());
        REQUIRE(j);
        if (LoopbackLlmServer::fault(x.a.value(), x.b.value()) == 5) {
            CHECK(j->label == Label::unknown);
        } else {
            CHECK(j->label == (LoopbackLlmServer::truth(x.a.value(), x.b.value()) ? Label::yes : Label::no));
        }
    }
    // A second run over the same store sends nothing.
    const long before = server.requests.load();
    OpenAICompatibleJudge again(fast_options(server.url()));
    const auto rep2 = store.judge(again, q);
    CHECK(rep2.asked == 0);
    CHECK(server.requests.load() == before);
}

TEST_CASE("http judge: requests/s limit, API key from the environment, fatal statuses, give-up") {
    {
        LoopbackLlmServer server;
        auto o = fast_options(server.url());
        o.requests_per_second = 100;
        o.concurrency = 4;
        OpenAICompatibleJudge judge(o);
        std::vector<PairQuery> q;
        for (unsigned i = 0; i < 200 && q.size() < 30; ++i)  // fault-free pairs only
            for (const auto& x : pairs(1, i))
                if (LoopbackLlmServer::fault(x.a.value(), x.b.value()) >= 6) q.push_back(x);
        const auto t0 = std::chrono::steady_clock::now();
        const auto out = judge.judge(q);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        CHECK(out.size() == q.size());
        CHECK(secs >= 0.9 * static_cast<double>(q.size() - 1) / 100.0);
        CHECK(server.requests.load() == static_cast<long>(q.size()));
    }
    {
        ::setenv("KEREC_TEST_LLM_KEY", "s3cret", 1);
        LoopbackLlmServer server(std::chrono::milliseconds(400), "s3cret");
        auto o = fast_options(server.url());
        o.api_key_env = "KEREC_TEST_LLM_KEY";
        OpenAICompatibleJudge good(o);
        auto q = pairs(5, 1000);
        CHECK(good.judge(q).size() == 5);
        CHECK(server.unauthorized.load() == 0);
        ::setenv("KEREC_TEST_LLM_KEY", "wrong", 1);
        OpenAICompatibleJudge bad(o);
        CHECK_THROWS_AS(bad.judge(q), HttpError);
        ::unsetenv("KEREC_TEST_LLM_KEY");
    }
    {
        LoopbackLlmServer server;
        auto o = fast_options(server.url() + "/no/such/path");
        OpenAICompatibleJudge judge(o);
        auto q = pairs(3);
        CHECK_THROWS_AS(judge.judge(q), HttpError);
    }
    {
        // Nothing listens on this port: every attempt fails, the pair is reported, never invented.
        auto o = fast_options("http://127.0.0.1:9/v1");
        o.max_attempts = 2;
        OpenAICompatibleJudge judge(o);
        auto q = pairs(2);
        const auto out = judge.judge(q);
        REQUIRE(out.size() == 2);
        CHECK(out[0].label == Label::unknown);
        CHECK(out[0].rationale.starts_with("transport failure"));
        CHECK(judge.stats().gave_up == 2);
        test::TempDir dir("giveup");
        JudgmentStore store(dir / "s.log");
        OpenAICompatibleJudge judge2(o);
        const auto rep = store.judge(judge2, q);
        CHECK(rep.lost == 2);
        CHECK(store.size() == 0);  // nothing cached: the next run asks again
    }
    CHECK_THROWS_AS(OpenAICompatibleJudge(fast_options("ftp://x")), InvalidArgument);
    auto o = fast_options("http://127.0.0.1:1/v1");
    o.concurrency = 0;
    CHECK_THROWS_AS(OpenAICompatibleJudge{o}, InvalidArgument);
}
