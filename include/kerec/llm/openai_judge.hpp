// kerec/llm/openai_judge.hpp — OpenAICompatibleJudge: the paper's LLM judge over HTTP.
//
// Speaks the chat-completions protocol (OpenAI, vLLM, llama.cpp server, Ollama, ...): one POST
// per pair with the PromptBuilder's system and user messages and, when the template has an
// answer schema, `response_format: {type: json_schema}` (structured output; a server that rejects
// it with 400/422 is asked without it from then on). The reply's content goes through
// parse_answer(reply, names); an unparseable one is re-asked once in the same conversation.
//
// Requests run on one thread with curl multi and a sliding window: `concurrency` requests stay in
// flight, a new one starts the moment one finishes, and every answer goes to the sink as it
// arrives, so throughput is in-flight / mean reply latency (Little's law), not bounded by the
// slowest reply of a batch. Failures are retried after
//   delay(k) = min(backoff_max, backoff_initial * 2^(k-1)) * U[0.5, 1.5)   (>= Retry-After)
// for as long as `retry_for` after a request's first failure. A request is charged an attempt
// (at most `max_attempts`) only for its own failures while the server answers: 5xx, timeouts,
// malformed bodies. Connection failures (refused, reset, no reply) and 429 cost no attempt.
// Circuit breaker: `breaker_threshold` consecutive signs of a server down (connection failures,
// timeouts, 502/503/504) pause every request; one probe goes after a cooldown that doubles up to
// backoff_max, and the first answer resumes the window. Retry-After pauses every start until then.
// Other 4xx answers (bad key, unknown model) throw. Tokens are counted from the replies' "usage".
// Needs libcurl: build with KEREC_WITH_HTTP (CMake target kerec::http). O(pairs) requests; memory
// O(concurrency + batch).
#pragma once

#ifndef KEREC_WITH_HTTP
#error "kerec/llm/openai_judge.hpp needs libcurl: configure with -DKEREC_WITH_HTTP=ON and link kerec::http"
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <memory>
#include <queue>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <curl/curl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kerec/core/error.hpp"
#include "kerec/core/random.hpp"
#include "kerec/llm/judge.hpp"
#include "kerec/llm/judgment.hpp"
#include "kerec/llm/prompt.hpp"
#include "kerec/llm/response_parser.hpp"

namespace kerec {

struct OpenAIJudgeOptions {
    /// Chat-completions URL; a URL ending in "/v1" gets "/chat/completions" appended.
    std::string endpoint = "http://127.0.0.1:8000/v1/chat/completions";
    std::string model = "gpt-4o-mini";
    /// Environment variable holding the API key (sent as "Authorization: Bearer ..."); unset or
    /// empty = no Authorization header (local servers).
    std::string api_key_env = "OPENAI_API_KEY";
    PromptTemplate prompt = PromptTemplate::default_template();
    /// Requests kept in flight (a new one starts as soon as one finishes).
    std::size_t concurrency = 8;
    double requests_per_second = 0.0;          ///< 0 = no limit
    std::chrono::milliseconds timeout{30000};  ///< per request
    /// Per request: failures of that request while the server answers (5xx, timeouts, malformed
    /// bodies). Connection failures, 429 and failures while the circuit is open cost nothing.
    int max_attempts = 6;
    /// How long a failing request keeps being retried after its first failure; also the longest
    /// outage waited out.
    std::chrono::milliseconds retry_for{std::chrono::minutes(10)};
    std::chrono::milliseconds backoff_initial{250};
    std::chrono::milliseconds backoff_max{20000};
    /// Consecutive signs of a server down (connection failures, timeouts, 502/503/504) that pause
    /// every request until a probe gets an answer.
    int breaker_threshold = 5;
    /// Ask for the template's answer_schema as structured output (dropped after a 400/422).
    bool structured_output = true;
    double temperature = 0.0;
    int max_tokens = 120;
    std::uint64_t seed = 42;  ///< jitter
    /// Environment overrides: KEREC_LLM_URL, KEREC_LLM_MODEL, KEREC_LLM_KEY_ENV, KEREC_LLM_CONCURRENCY,
    /// KEREC_LLM_RPS, KEREC_LLM_RETRY_FOR (seconds), KEREC_LLM_STRUCTURED (0 = off); unset variables
    /// keep the defaults above.
    static OpenAIJudgeOptions from_env() {
        OpenAIJudgeOptions o;
        if (const char* v = std::getenv("KEREC_LLM_URL"); v && *v) o.endpoint = v;
        if (const char* v = std::getenv("KEREC_LLM_MODEL"); v && *v) o.model = v;
        if (const char* v = std::getenv("KEREC_LLM_KEY_ENV"); v && *v) o.api_key_env = v;
        if (const char* v = std::getenv("KEREC_LLM_CONCURRENCY"); v && *v) o.concurrency = std::strtoull(v, nullptr, 10);
        if (const char* v = std::getenv("KEREC_LLM_RPS"); v && *v) o.requests_per_second = std::strtod(v, nullptr);
        if (const char* v = std::getenv("KEREC_LLM_RETRY_FOR"); v && *v)
            o.retry_for = std::chrono::milliseconds(static_cast<std::int64_t>(std::strtod(v, nullptr) * 1000.0));
        if (const char* v = std::getenv("KEREC_LLM_STRUCTURED"); v && *v) o.structured_output = std::string_view(v) != "0";
        return o;
    }
};

/// An HTTP answer the judge cannot recover from (401, 404, ...).
class HttpError : public Error {
public:
    HttpError(const std::string& url, long status, const std::string& body)
        : Error(fmt::format("{}: HTTP {} (expected 200): {}", url, status, body.substr(0, 300))), status_(status) {}
    long status() const noexcept { return status_; }

private:
    long status_;
};

namespace detail {
struct CurlGlobal {
    CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
    ~CurlGlobal() { curl_global_cleanup(); }
    static void ensure() { static CurlGlobal g; }
};
}  // namespace detail

class OpenAICompatibleJudge {
public:
    explicit OpenAICompatibleJudge(OpenAIJudgeOptions options = OpenAIJudgeOptions::from_env())
        : opt_(std::move(options)), prompts_(opt_.prompt), rng_(opt_.seed) {
        if (opt_.endpoint.ends_with("/v1")) opt_.endpoint += "/chat/completions";
        if (opt_.endpoint.ends_with("/v1/")) opt_.endpoint += "chat/completions";
        if (!(opt_.endpoint.starts_with("http://") || opt_.endpoint.starts_with("https://")))
            throw InvalidArgument(fmt::format("OpenAICompatibleJudge: endpoint '{}' (expected an http(s) URL)", opt_.endpoint));
        if (opt_.model.empty()) throw InvalidArgument("OpenAICompatibleJudge: empty model name");
        if (opt_.concurrency == 0 || opt_.concurrency > 1024)
            throw InvalidArgument(fmt::format("OpenAICompatibleJudge: concurrency {} (expected 1..1024)", opt_.concurrency));
        if (opt_.max_attempts < 1) throw InvalidArgument("OpenAICompatibleJudge: max_attempts must be >= 1");
        if (opt_.breaker_threshold < 1) throw InvalidArgument("OpenAICompatibleJudge: breaker_threshold must be >= 1");
        if (!(opt_.requests_per_second >= 0.0))
            throw InvalidArgument(fmt::format("OpenAICompatibleJudge: requests_per_second {} (expected >= 0)",
                                              opt_.requests_per_second));
        if (opt_.timeout.count() <= 0) throw InvalidArgument("OpenAICompatibleJudge: timeout must be > 0");
        if (opt_.retry_for.count() <= 0) throw InvalidArgument("OpenAICompatibleJudge: retry_for must be > 0");
        if (opt_.backoff_initial.count() <= 0 || opt_.backoff_max < opt_.backoff_initial)
            throw InvalidArgument("OpenAICompatibleJudge: expected 0 < backoff_initial <= backoff_max");
        if (!opt_.prompt.answer_schema.empty()) {
            schema_ = nlohmann::json::parse(opt_.prompt.answer_schema, nullptr, false);
            if (!schema_.is_object())
                throw InvalidArgument("OpenAICompatibleJudge: PromptTemplate::answer_schema is not a JSON object");
        }
        structured_ = opt_.structured_output && schema_.is_object();
        parse_.max_name_bytes = opt_.prompt.max_name_bytes;
        if (!opt_.api_key_env.empty())
            if (const char* k = std::getenv(opt_.api_key_env.c_str()); k && *k) api_key_ = k;
        detail::CurlGlobal::ensure();
        multi_.reset(curl_multi_init());
        if (!multi_) throw IoError(opt_.endpoint, "curl_multi_init failed");
    }

    std::string model() const { return opt_.model; }
    std::string prompt_version() const { return prompts_.version(); }
    const JudgeStats& stats() const noexcept { return stats_; }
    const OpenAIJudgeOptions& options() const noexcept { return opt_; }
    /// Whether requests still carry response_format (false after the server rejected it).
    bool structured_output() const noexcept { return structured_; }

    /// One judgment per query, in order. A query whose retries ran out is returned as unknown with
    /// a rationale starting "transport failure".
    std::vector<Judgment> judge(std::span<const PairQuery> queries) {
        std::vector<Judgment> out(queries.size());
        std::vector<char> got(queries.size(), 0);
        run_(queries, [&](std::size_t i, Judgment&& j) { out[i] = std::move(j), got[i] = 1; });
        for (std::size_t i = 0; i < queries.size(); ++i)
            if (!got[i]) out[i] = judgment_(queries[i], Label::unknown, 0.0f, "transport failure: " + failure_[i]);
        return out;
    }

    /// Streaming form: sink(index, judgment) as each answer arrives. Queries whose retries ran out
    /// are not answered (a store then asks them again on its next run).
    void judge(std::span<const PairQuery> queries, const JudgmentSink& sink) { run_(queries, sink); }

private:
    using clock = std::chrono::steady_clock;

    struct Task {
        std::size_t index = 0;
        int attempts = 0;      // failures charged to this request
        int failures = 0;      // every failure (the backoff exponent)
        bool reasked = false;  // the parse retry was used
        bool failed = false;
        std::string first_reply;
        clock::time_point ready{};
        clock::time_point first_failure{};
    };
    struct Transfer {
        CURLM* multi = nullptr;
        CURL* easy = nullptr;
        curl_slist* headers = nullptr;
        std::string body, response;
        Task task;
        bool structured = false;
        bool probe = false;    // the one request of a half-open circuit
        bool charged = false;  // started while the circuit was closed: its own failures cost attempts
        ~Transfer() {
            if (easy) {
                if (multi) curl_multi_remove_handle(multi, easy);
                curl_easy_cleanup(easy);
            }
            if (headers) curl_slist_free_all(headers);
        }
    };
    struct MultiDeleter {
        void operator()(CURLM* m) const noexcept { curl_multi_cleanup(m); }
    };
    // The circuit breaker (see the header comment).
    struct Breaker {
        enum class State : std::uint8_t { closed, open, half_open } state = State::closed;
        int consecutive = 0;   // signs of a server down since the last answer
        int cooldowns = 0;     // probes failed in this outage (the cooldown exponent)
        clock::time_point probe_at{};
        clock::time_point down_since{};
    };
    enum class Next { done, retry, reask, resend };
    struct Outcome {
        Next next = Next::done;
        long retry_after = 0;  // seconds
        std::string why;
        bool charged = false;      // costs the request an attempt (if started with the circuit closed)
        bool server_down = false;  // a sign the server is down
    };
    static Outcome outcome_(Next next, long retry_after = 0, std::string why = {}, bool charged = false, bool down = false) {
        Outcome o;
        o.next = next;
        o.retry_after = retry_after;
        o.why = std::move(why);
        o.charged = charged;
        o.server_down = down;
        return o;
    }

    static std::size_t write_cb_(char* data, std::size_t size, std::size_t n, void* user) {
        auto* s = static_cast<std::string*>(user);
        if (s->size() > (8u << 20)) return 0;  // refuse absurd bodies
        s->append(data, size * n);
        return size * n;
    }

    Judgment judgment_(const PairQuery& q, Label label, float confidence, std::string rationale) const {
        return Judgment{.a = q.a,
                        .b = q.b,
                        .label = label,
                        .confidence = confidence,
                        .rationale = std::move(rationale),
                        .model = opt_.model,
                        .prompt_version = prompts_.version(),
                        .time = static_cast<std::int64_t>(std::time(nullptr))};
    }

    std::string request_body_(const PairQuery& q, const Task& t, bool structured) const {
        const Prompt p = prompts_.build(q);
        nlohmann::json msgs = nlohmann::json::array();
        msgs.push_back({{"role", "system"}, {"content", p.system}});
        msgs.push_back({{"role", "user"}, {"content", p.user}});
        if (t.reasked) {
            msgs.push_back({{"role", "assistant"}, {"content", t.first_reply}});
            msgs.push_back({{"role", "user"}, {"content", prompts_.retry_instruction()}});
        }
        nlohmann::json body = {{"model", opt_.model},
                               {"messages", msgs},
                               {"temperature", opt_.temperature},
                               {"max_tokens", opt_.max_tokens}};
        if (structured)
            body["response_format"] = {{"type", "json_schema"},
                                       {"json_schema", {{"name", "pair_judgment"}, {"strict", true}, {"schema", schema_}}}};
        // Names were sanitized to valid UTF-8, so dump() cannot throw on them.
        return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }

    std::chrono::milliseconds backoff_(int k, long retry_after_s) {
        double ms = static_cast<double>(opt_.backoff_initial.count());
        for (int i = 1; i < k && ms < static_cast<double>(opt_.backoff_max.count()); ++i) ms *= 2.0;
        ms = std::min(ms, static_cast<double>(opt_.backoff_max.count())) * (0.5 + rng_.uniform());
        ms = std::max(ms, static_cast<double>(retry_after_s) * 1000.0);
        return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
    }

    std::unique_ptr<Transfer> start_(std::span<const PairQuery> queries, Task task, bool probe) {
        auto t = std::make_unique<Transfer>();
        t->task = std::move(task);
        t->structured = structured_;
        t->probe = probe;
        t->charged = breaker_.state == Breaker::State::closed;
        t->body = request_body_(queries[t->task.index], t->task, t->structured);
        t->easy = curl_easy_init();
        if (!t->easy) throw IoError(opt_.endpoint, "curl_easy_init failed");
        t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
        t->headers = curl_slist_append(t->headers, "Expect:");  // no 100-continue round trip for >1 KiB bodies
        if (!api_key_.empty()) t->headers = curl_slist_append(t->headers, ("Authorization: Bearer " + api_key_).c_str());
        curl_easy_setopt(t->easy, CURLOPT_URL, opt_.endpoint.c_str());
        curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body.c_str());
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(t->body.size()));
        curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, &write_cb_);
        curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, &t->response);
        curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, static_cast<long>(opt_.timeout.count()));
        curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<std::int64_t>(opt_.timeout.count(), 10000)));
        curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t.get());
        if (curl_multi_add_handle(multi_.get(), t->easy) != CURLM_OK) throw IoError(opt_.endpoint, "curl_multi_add_handle failed");
        t->multi = multi_.get();
        ++stats_.calls;
        return t;
    }

    // A sign the server is down (or not): drives the circuit breaker.
    void server_down_(const Transfer& tr, clock::time_point now) {
        Breaker& b = breaker_;
        if (b.consecutive++ == 0) b.down_since = now;
        auto cooldown = [&] {
            b.probe_at = now + backoff_(++b.cooldowns, 0);
        };
        if (b.state == Breaker::State::half_open && tr.probe) {
            b.state = Breaker::State::open;
            cooldown();
        } else if (b.state == Breaker::State::closed && b.consecutive >= opt_.breaker_threshold) {
            b.state = Breaker::State::open;
            b.cooldowns = 0;
            cooldown();
            ++stats_.circuit_opens;
        }
    }
    void server_up_() {
        breaker_.state = Breaker::State::closed;
        breaker_.consecutive = 0;
        breaker_.cooldowns = 0;
    }

    void run_(std::span<const PairQuery> queries, const JudgmentSink& sink) {
        const auto t0 = clock::now();
        failure_.assign(queries.size(), std::string());
        if (breaker_.state != Breaker::State::closed) {  // down at the end of the last call: probe at once
            breaker_.state = Breaker::State::open;
            breaker_.probe_at = t0;
            breaker_.down_since = t0;
        }
        std::deque<Task> ready;
        for (std::size_t i = 0; i < queries.size(); ++i) {
            Task t;
            t.index = i;
            ready.push_back(std::move(t));
        }
        auto later = [](const Task& a, const Task& b) { return a.ready > b.ready; };
        std::priority_queue<Task, std::vector<Task>, decltype(later)> waiting(later);
        std::vector<std::unique_ptr<Transfer>> active;  // destroyed (removed from the multi) on any exit
        const auto spacing = opt_.requests_per_second > 0
                                 ? std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(1.0 / opt_.requests_per_second))
                                 : clock::duration::zero();
        auto next_start = t0;

        auto retry = [&](Task t, const Transfer& tr, const Outcome& o) {
            const auto now = clock::now();
            failure_[t.index] = o.why;
            if (!t.failed) t.failed = true, t.first_failure = now;
            ++t.failures;
            if (o.charged && tr.charged) ++t.attempts;
            if (t.attempts >= opt_.max_attempts || now - t.first_failure >= opt_.retry_for) {
                ++stats_.gave_up;
                return;
            }
            ++stats_.http_errors;
            // While the circuit is open the breaker paces the retries; otherwise each backs off.
            t.ready = breaker_.state == Breaker::State::closed ? now + backoff_(t.failures, o.retry_after) : now;
            waiting.push(std::move(t));
        };

        while (!ready.empty() || !waiting.empty() || !active.empty()) {
            auto now = clock::now();
            while (!waiting.empty() && waiting.top().ready <= now) {
                ready.push_back(waiting.top());
                waiting.pop();
            }
            // An outage longer than retry_for: give up what has not started.
            if (breaker_.state != Breaker::State::closed && now - breaker_.down_since >= opt_.retry_for) {
                auto drop = [&](const Task& t) {
                    if (failure_[t.index].empty()) failure_[t.index] = "server unreachable";
                    ++stats_.gave_up;
                };
                for (const Task& t : ready) drop(t);
                ready.clear();
                for (; !waiting.empty(); waiting.pop()) drop(waiting.top());
            }
            // Start requests: keep the window full while the circuit is closed; one probe when open.
            for (;;) {
                if (ready.empty() || now < next_start || now < resume_at_ || active.size() >= opt_.concurrency) break;
                bool probe = false;
                if (breaker_.state == Breaker::State::half_open) break;
                if (breaker_.state == Breaker::State::open) {
                    if (now < breaker_.probe_at) break;
                    breaker_.state = Breaker::State::half_open;
                    probe = true;
                }
                Task t = std::move(ready.front());
                ready.pop_front();
                active.push_back(start_(queries, std::move(t), probe));
                stats_.max_in_flight = std::max<std::uint64_t>(stats_.max_in_flight, active.size());
                next_start = now + spacing;  // at most one start per spacing
                now = clock::now();
            }
            int running = 0;
            curl_multi_perform(multi_.get(), &running);
            int left = 0;
            while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
                if (msg->msg != CURLMSG_DONE) continue;
                Transfer* raw = nullptr;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &raw);
                const CURLcode code = msg->data.result;
                auto it = std::find_if(active.begin(), active.end(), [&](const auto& p) { return p.get() == raw; });
                std::unique_ptr<Transfer> tr = std::move(*it);
                active.erase(it);
                const Outcome o = finish_(*tr, code, queries, sink);
                const auto done = clock::now();
                if (o.server_down) server_down_(*tr, done);
                else server_up_();
                if (o.retry_after > 0) resume_at_ = std::max(resume_at_, done + std::chrono::seconds(o.retry_after));
                if (o.next == Next::reask || o.next == Next::resend) ready.push_front(std::move(tr->task));
                else if (o.next == Next::retry) retry(std::move(tr->task), *tr, o);
            }
            // Sleep until a transfer progresses, a backoff ends, a pause ends or a start is allowed.
            now = clock::now();
            auto wake = now + std::chrono::milliseconds(100);
            if (!waiting.empty()) wake = std::min(wake, waiting.top().ready);
            if (!ready.empty() && active.size() < opt_.concurrency && breaker_.state != Breaker::State::half_open) {
                auto gate = std::max(next_start, resume_at_);
                if (breaker_.state == Breaker::State::open) gate = std::max(gate, breaker_.probe_at);
                wake = std::min(wake, std::max(gate, now));
            }
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count();
            if (!active.empty())
                curl_multi_poll(multi_.get(), nullptr, 0, static_cast<int>(std::clamp<std::int64_t>(ms, 0, 100)), nullptr);
            else if (ms > 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        }
        stats_.seconds += std::chrono::duration<double>(clock::now() - t0).count();
    }

    Outcome finish_(Transfer& tr, CURLcode code, std::span<const PairQuery> queries, const JudgmentSink& sink) {
        Task& t = tr.task;
        switch (code) {
            case CURLE_OK: break;
            case CURLE_OPERATION_TIMEDOUT:
                ++stats_.timeouts;
                return outcome_(Next::retry, 0, "timeout", true, true);
            case CURLE_COULDNT_CONNECT:
            case CURLE_COULDNT_RESOLVE_HOST:
            case CURLE_COULDNT_RESOLVE_PROXY:
            case CURLE_GOT_NOTHING:
            case CURLE_SEND_ERROR:
            case CURLE_RECV_ERROR:
            case CURLE_PARTIAL_FILE:
            case CURLE_SSL_CONNECT_ERROR:
                ++stats_.connection_failures;
                return outcome_(Next::retry, 0, curl_easy_strerror(code), false, true);
            default: return outcome_(Next::retry, 0, curl_easy_strerror(code), true, false);
        }
        long status = 0;
        curl_easy_getinfo(tr.easy, CURLINFO_RESPONSE_CODE, &status);
        curl_off_t retry_after = 0;
        curl_easy_getinfo(tr.easy, CURLINFO_RETRY_AFTER, &retry_after);
        const long ra = static_cast<long>(std::clamp<curl_off_t>(retry_after, 0, 3600));
        if (status == 429) {
            ++stats_.rate_limited;
            return outcome_(Next::retry, ra, "HTTP 429", false, false);
        }
        if (status == 502 || status == 503 || status == 504)
            return outcome_(Next::retry, ra, fmt::format("HTTP {}", status), true, true);
        if (status >= 500 || status == 408) return outcome_(Next::retry, ra, fmt::format("HTTP {}", status), true, false);
        if ((status == 400 || status == 422) && tr.structured) {
            // The server does not take response_format: ask without it from now on.
            structured_ = false;
            ++stats_.structured_rejected;
            return outcome_(Next::resend);
        }
        if (status != 200) throw HttpError(opt_.endpoint, status, tr.response);
        // The body must be a chat completion with a string message content (or a refusal).
        std::string content;
        std::string refusal;
        try {
            const auto j = nlohmann::json::parse(tr.response);
            const auto& msg = j.at("choices").at(0).at("message");
            if (msg.contains("refusal") && msg["refusal"].is_string() && !(msg.contains("content") && msg["content"].is_string()))
                refusal = msg["refusal"].get<std::string>();
            else
                content = msg.at("content").get<std::string>();
            if (j.contains("usage") && j["usage"].is_object()) {
                const auto& u = j["usage"];
                if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_unsigned())
                    stats_.prompt_tokens += u["prompt_tokens"].get<std::uint64_t>();
                if (u.contains("completion_tokens") && u["completion_tokens"].is_number_unsigned())
                    stats_.completion_tokens += u["completion_tokens"].get<std::uint64_t>();
            }
        } catch (const nlohmann::json::exception& e) {
            ++stats_.malformed_replies;
            return outcome_(Next::retry, 0, fmt::format("malformed reply body: {}", e.what()), true, false);
        }
        const PairQuery& q = queries[t.index];
        ParsedAnswer a;
        if (refusal.empty()) a = parse_answer(content, q.name_a, q.name_b, parse_);
        else a.error = "the model refused: " + sanitize_name(refusal, 200);
        if (!a.ok) {
            ++stats_.parse_failures;
            if (!t.reasked) {  // re-ask once, in the same conversation, with a fresh transport budget
                ++stats_.retries;
                t.reasked = true;
                t.first_reply = sanitize_name(refusal.empty() ? content : refusal, 2000);
                t.attempts = 0;
                t.failed = false;
                return outcome_(Next::reask);
            }
            ++stats_.unknown;
            ++stats_.queries;
            sink(t.index, judgment_(q, Label::unknown, 0.0f, fmt::format("unparseable answer: {}", a.error)));
            return {};
        }
        ++stats_.queries;
        sink(t.index, judgment_(q, a.label, a.confidence, std::move(a.rationale)));
        return {};
    }

    OpenAIJudgeOptions opt_;
    PromptBuilder prompts_;
    ParseOptions parse_;
    Rng rng_;
    std::string api_key_;
    nlohmann::json schema_;
    bool structured_ = false;
    JudgeStats stats_;
    Breaker breaker_;
    clock::time_point resume_at_{};  // Retry-After: no request starts before this
    std::vector<std::string> failure_;
    std::unique_ptr<CURLM, MultiDeleter> multi_;
};

}  // namespace kerec
