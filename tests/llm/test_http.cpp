// The HTTP judge against the loopback server. Every assert counts what was sent and received, so
// it holds under any slowdown (ThreadSanitizer, a loaded machine): no timing asserts besides lower
// bounds the judge must wait, and timeouts generous next to the replies they guard.
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
using test::LoopbackOptions;

static_assert(Judge<OpenAICompatibleJudge>);
static_assert(StreamingJudge<OpenAICompatibleJudge>);

namespace {
PairQuery query(unsigned a, unsigned b) { return {EntityId{a}, EntityId{b}, "e" + std::to_string(a), "e" + std::to_string(b)}; }

std::vector<PairQuery> pairs(unsigned n, unsigned offset = 0) {
    std::vector<PairQuery> q;
    for (unsigned i = 0; i < n; ++i) q.push_back(query(offset + i, offset + (i * 7 + 3) % (n + 11) + n));
    return q;
}

OpenAIJudgeOptions test_options(const std::string& url) {
    OpenAIJudgeOptions o;
    o.endpoint = url;
    o.model = "loopback-model";
    o.api_key_env = "KEREC_TEST_NO_SUCH_KEY_VARIABLE";
    o.concurrency = 8;
    o.timeout = std::chrono::seconds(5);  // replies take milliseconds: only a held request times out
    o.backoff_initial = std::chrono::milliseconds(10);
    o.backoff_max = std::chrono::milliseconds(100);
    o.max_attempts = 5;
    return o;
}

void check_answers(const JudgmentStore& store, const std::vector<PairQuery>& q, const std::string& prompt, bool faults) {
    for (const auto& x : q) {
        const Judgment* j = store.find(x.pair(), "loopback-model", prompt);
        REQUIRE(j);
        if (faults && LoopbackLlmServer::fault(x.a.value(), x.b.value()) == 5) CHECK(j->label == Label::unknown);
        else CHECK(j->label == (LoopbackLlmServer::truth(x.a.value(), x.b.value()) ? Label::yes : Label::no));
    }
}
}  // namespace

TEST_CASE("http judge: injected 429/500/held/malformed/prose faults lose and duplicate nothing") {
    LoopbackOptions so;
    so.delay = std::chrono::milliseconds(20);
    so.honour_structured = false;  // a server that accepts response_format and answers in text anyway
    LoopbackLlmServer server(so);
    test::TempDir dir("http");
    JudgmentStore store(dir / "j.log");
    OpenAICompatibleJudge judge(test_options(server.url()));
    // Two held requests first (each waits for the client's timeout), then pairs of every other fault.
    std::vector<PairQuery> held, q;
    for (const auto& x : pairs(400))
        if (LoopbackLlmServer::fault(x.a.value(), x.b.value()) == 2) {
            if (held.size() < 2) held.push_back(x);
        } else if (q.size() < 238) {
            q.push_back(x);
        }
    q.insert(q.begin(), held.begin(), held.end());
    std::set<int> faults;
    std::size_t expect_prose_unknown = 0, expect_reask = 0, expect_429 = 0, expect_500 = 0, expect_held = 0, expect_bad = 0;
    for (const auto& x : q) {
        const int f = LoopbackLlmServer::fault(x.a.value(), x.b.value());
        faults.insert(f);
        expect_prose_unknown += f == 5;
        expect_reask += f == 4 || f == 5;
        expect_429 += f == 0;
        expect_500 += f == 1;
        expect_held += f == 2;
        expect_bad += f == 3;
    }
    REQUIRE(faults.size() == 10);  // every kind of fault is exercised
    REQUIRE(expect_held == 2);
    JudgeRunOptions ro;
    ro.batch_size = 16;  // syncs every 16 answers; the streaming judge still gets all 240 in one call
    const auto rep = store.judge(judge, q, ro);
    const auto& st = judge.stats();
    MESSAGE("lost=" << rep.lost << " duplicated=" << rep.duplicate_answers << " 429=" << st.rate_limited
                    << " timeouts=" << st.timeouts << " malformed=" << st.malformed_replies << " retries=" << st.retries
                    << " http_errors=" << st.http_errors << " calls=" << st.calls << " max_in_flight=" << st.max_in_flight
                    << " server max_in_flight=" << server.max_in_flight.load() << " seconds=" << st.seconds);
    CHECK(rep.lost == 0);
    CHECK(rep.duplicate_answers == 0);
    CHECK(rep.stored == q.size());
    CHECK(store.size() == q.size());
    CHECK(st.gave_up == 0);
    CHECK(st.queries == q.size());
    CHECK(st.rate_limited == expect_429);
    CHECK(st.timeouts >= expect_held);  // a normal reply may time out too on a stalled machine
    CHECK(st.malformed_replies == expect_bad);
    CHECK(st.connection_failures == 0);
    CHECK(st.http_errors == expect_429 + 2 * expect_500 + st.timeouts + expect_bad);
    CHECK(st.retries == expect_reask);
    CHECK(st.unknown == expect_prose_unknown);
    CHECK(rep.unknown == expect_prose_unknown);
    // Pairs asked vs HTTP calls: every call is a first attempt, a transport retry or a re-ask, and
    // the server received exactly the calls the judge made.
    CHECK(st.calls == q.size() + st.http_errors + st.retries);
    CHECK(server.requests.load() == static_cast<long>(st.calls));
    CHECK(rep.asked == q.size());
    CHECK(rep.calls == st.calls);  // the report's calls are HTTP requests, not pairs
    CHECK(rep.calls > rep.asked);
    CHECK(rep.invocations == 1);
    CHECK(server.structured_requests.load() == server.requests.load());  // every request asked for the schema
    CHECK(judge.structured_output());
    CHECK(st.prompt_tokens == 50u * static_cast<std::uint64_t>(server.answered.load() + server.injected_prose.load()));
    // The window: full at the start, never above the configured 8 (the server can only see fewer).
    CHECK(st.max_in_flight == 8);
    CHECK(server.max_in_flight.load() <= 8);
    check_answers(store, q, judge.prompt_version(), true);
    // A second run over the same store sends nothing.
    const long before = server.requests.load();
    OpenAICompatibleJudge again(test_options(server.url()));
    const auto rep2 = store.judge(again, q);
    CHECK(rep2.asked == 0);
    CHECK(server.requests.load() == before);
}

TEST_CASE("http judge: a server outage longer than any retry budget loses nothing") {
    // The server goes down while handling its 100th request (that request is never answered) and
    // comes back on the same port 1.5 s later. max_attempts = 1: before the circuit breaker, the
    // first connection failure of a pair gave it up; now outages cost no attempt.
    LoopbackOptions so;
    so.faults = false;
    so.delay = std::chrono::milliseconds(5);
    so.outage_at_request = 100;
    so.outage_for = std::chrono::milliseconds(1500);
    LoopbackLlmServer server(so);
    test::TempDir dir("outage");
    auto o = test_options(server.url());
    o.max_attempts = 1;
    o.breaker_threshold = 1;
    o.backoff_max = std::chrono::milliseconds(200);
    o.retry_for = std::chrono::minutes(5);
    OpenAICompatibleJudge judge(o);
    const auto q = pairs(300);
    JudgeRunReport rep;
    {
        JudgmentStore store(dir / "j.log");
        JudgeRunOptions ro;
        ro.batch_size = q.size();
        rep = store.judge(judge, q, ro);
    }
    const auto& st = judge.stats();
    MESSAGE("calls=" << st.calls << " connection_failures=" << st.connection_failures << " circuit_opens=" << st.circuit_opens
                     << " http_errors=" << st.http_errors << " server requests=" << server.requests.load());
    CHECK(server.outages.load() == 1);
    CHECK(server.dropped_by_outage.load() == 1);
    CHECK(rep.lost == 0);
    CHECK(rep.duplicate_answers == 0);
    CHECK(rep.stored == q.size());
    CHECK(st.gave_up == 0);
    CHECK(st.queries == q.size());
    CHECK(st.connection_failures >= 1);  // at least the request the server dropped
    CHECK(st.circuit_opens >= 1);
    CHECK(st.calls == q.size() + st.http_errors);
    CHECK(server.requests.load() <= static_cast<long>(st.calls));  // refused connections never arrive
    JudgmentStore reopened(dir / "j.log");
    CHECK(reopened.size() == q.size());
    CHECK(reopened.superseded() == 0);
    check_answers(reopened, q, judge.prompt_version(), false);
}

TEST_CASE("http judge: structured output, its fallback, Retry-After") {
    SUBCASE("a server that rejects response_format: one fallback, every pair answered") {
        LoopbackOptions so;
        so.faults = false;
        so.reject_structured = true;
        LoopbackLlmServer server(so);
        auto o = test_options(server.url());
        o.concurrency = 4;
        OpenAICompatibleJudge judge(o);
        const auto q = pairs(40);
        const auto out = judge.judge(q);
        REQUIRE(out.size() == q.size());
        for (std::size_t i = 0; i < q.size(); ++i)
            CHECK(out[i].label == (LoopbackLlmServer::truth(q[i].a.value(), q[i].b.value()) ? Label::yes : Label::no));
        CHECK_FALSE(judge.structured_output());
        const long rejected = server.structured_rejected.load();
        CHECK(rejected >= 1);
        CHECK(rejected <= 4);  // only the requests already in flight when the first 400 came back
        CHECK(server.structured_requests.load() == rejected);
        CHECK(judge.stats().structured_rejected == static_cast<std::uint64_t>(rejected));
        CHECK(judge.stats().calls == q.size() + static_cast<std::uint64_t>(rejected));
    }
    SUBCASE("a server that honours it: bare JSON, names echoed in the reason") {
        LoopbackOptions so;
        so.faults = false;
        LoopbackLlmServer server(so);
        OpenAICompatibleJudge judge(test_options(server.url()));
        const auto q = pairs(20);
        const auto out = judge.judge(q);
        for (std::size_t i = 0; i < q.size(); ++i) {
            CHECK(out[i].label == (LoopbackLlmServer::truth(q[i].a.value(), q[i].b.value()) ? Label::yes : Label::no));
            CHECK(out[i].confidence == doctest::Approx(0.9));
            CHECK(out[i].rationale == q[i].name_b + " and " + q[i].name_a);
        }
        CHECK(server.structured_requests.load() == static_cast<long>(q.size()));
    }
    SUBCASE("503 with Retry-After: the pair is asked again no sooner") {
        LoopbackOptions so;
        so.faults = false;
        so.retry_after_s = 1;
        LoopbackLlmServer server(so);
        OpenAICompatibleJudge judge(test_options(server.url()));
        std::vector<PairQuery> q;
        std::size_t sixes = 0;
        for (const auto& x : pairs(60)) {
            const bool six = LoopbackLlmServer::fault(x.a.value(), x.b.value()) == 6;
            if (six && sixes < 3) q.push_back(x), ++sixes;
            else if (!six && q.size() < 12) q.push_back(x);
        }
        const auto out = judge.judge(q);
        std::size_t told = 0;
        for (std::size_t i = 0; i < q.size(); ++i) {
            CHECK(out[i].label == (LoopbackLlmServer::truth(q[i].a.value(), q[i].b.value()) ? Label::yes : Label::no));
            if (LoopbackLlmServer::fault(q[i].a.value(), q[i].b.value()) != 6) continue;
            ++told;
            const auto times = server.attempt_times(q[i].a.value(), q[i].b.value());
            REQUIRE(times.size() == 2);
            CHECK(times[1] - times[0] >= std::chrono::milliseconds(1000));  // a lower bound: slowness only adds
        }
        CHECK(told == 3);
        CHECK(server.injected_503.load() == 3);
        CHECK(judge.stats().http_errors == 3);
    }
}

TEST_CASE("http judge: requests/s limit, API key from the environment, fatal statuses, give-up") {
    {
        LoopbackOptions so;
        so.faults = false;
        LoopbackLlmServer server(so);
        auto o = test_options(server.url());
        o.requests_per_second = 100;
        o.concurrency = 4;
        OpenAICompatibleJudge judge(o);
        const auto q = pairs(30);
        const auto t0 = std::chrono::steady_clock::now();
        const auto out = judge.judge(q);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        CHECK(out.size() == q.size());
        CHECK(secs >= 0.99 * static_cast<double>(q.size() - 1) / 100.0);  // a lower bound: slowness only adds
        CHECK(server.requests.load() == static_cast<long>(judge.stats().calls));
        CHECK(judge.stats().calls == q.size() + judge.stats().http_errors);
    }
    {
        ::setenv("KEREC_TEST_LLM_KEY", "s3cret", 1);
        LoopbackOptions so;
        so.api_key = "s3cret";
        LoopbackLlmServer server(so);
        auto o = test_options(server.url());
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
        auto o = test_options(server.url() + "/no/such/path");
        OpenAICompatibleJudge judge(o);
        auto q = pairs(3);
        CHECK_THROWS_AS(judge.judge(q), HttpError);
    }
    {
        // Nothing listens on this port: every attempt is refused (no attempt is charged), the
        // circuit opens, and after retry_for the pairs are reported, never invented.
        auto o = test_options("http://127.0.0.1:9/v1");
        o.retry_for = std::chrono::milliseconds(300);
        OpenAICompatibleJudge judge(o);
        auto q = pairs(2);
        const auto out = judge.judge(q);
        REQUIRE(out.size() == 2);
        CHECK(out[0].label == Label::unknown);
        CHECK(out[0].rationale.starts_with("transport failure"));
        CHECK(judge.stats().gave_up == 2);
        CHECK(judge.stats().queries == 0);
        CHECK(judge.stats().connection_failures >= 2);
        test::TempDir dir("giveup");
        JudgmentStore store(dir / "s.log");
        OpenAICompatibleJudge judge2(o);
        const auto rep = store.judge(judge2, q);
        CHECK(rep.lost == 2);
        CHECK(store.size() == 0);  // nothing cached: the next run asks again
    }
    CHECK_THROWS_AS(OpenAICompatibleJudge(test_options("ftp://x")), InvalidArgument);
    auto o = test_options("http://127.0.0.1:1/v1");
    o.concurrency = 0;
    CHECK_THROWS_AS(OpenAICompatibleJudge{o}, InvalidArgument);
    o = test_options("http://127.0.0.1:1/v1");
    o.breaker_threshold = 0;
    CHECK_THROWS_AS(OpenAICompatibleJudge{o}, InvalidArgument);
    o = test_options("http://127.0.0.1:1/v1");
    o.prompt.answer_schema = "[1, 2]";
    CHECK_THROWS_AS(OpenAICompatibleJudge{o}, InvalidArgument);
}
