// kerec/llm/openai_judge.hpp — OpenAICompatibleJudge: the paper's LLM judge over HTTP.
//
// Speaks the chat-completions protocol (OpenAI, vLLM, llama.cpp server, Ollama, ...): one POST
// per pair with the PromptBuilder's system and user messages; the reply's message content goes
// through parse_answer(), and an unparseable one is re-asked once in the same conversation.
// Requests run concurrently on one thread with curl multi (at most `concurrency` in flight, at
// most `requests_per_second` started per second). 429, 5xx, timeouts, transport errors and
// malformed bodies are retried with exponential backoff and jitter:
//   delay(k) = min(backoff_max, backoff_initial * 2^(k-1)) * U[0.5, 1.5)   (>= Retry-After),
// up to `max_attempts` per request. Other 4xx answers (bad key, unknown model) throw. Tokens are
// counted from the replies' "usage". Needs libcurl + nlohmann-json: build with KEREC_WITH_HTTP
// (CMake target kerec::http). O(pairs) requests; memory O(concurrency + batch).
#pragma once

#ifndef KEREC_WITH_HTTP
#error "kerec/llm/openai_judge.hpp needs libcurl and nlohmann-json: configure with -DKEREC_WITH_HTTP=ON and link kerec::http"
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
#include <thread>
#include <string>
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
    std::size_t concurrency = 8;
    double requests_per_second = 0.0;  ///< 0 = no limit
    std::chrono::milliseconds timeout{30000};  ///< per request
    int max_attempts = 6;                      ///< per request, for 429/5xx/timeouts/transport errors
    std::chrono::milliseconds backoff_initial{250};
    std::chrono::milliseconds backoff_max{20000};
    double temperature = 0.0;
    int max_tokens = 120;
    std::uint64_t seed = 42;  ///< jitter
    /// Environment overrides: KEREC_LLM_URL, KEREC_LLM_MODEL, KEREC_LLM_KEY_ENV, KEREC_LLM_CONCURRENCY,
    /// KEREC_LLM_RPS (unset variables keep the defaults above).
    static OpenAIJudgeOptions from_env() {
        OpenAIJudgeOptions o;
        if (const char* v = std::getenv("KEREC_LLM_URL"); v && *v) o.endpoint = v;
        if (const char* v = std::getenv("KEREC_LLM_MODEL"); v && *v) o.model = v;
        if (const char* v = std::getenv("KEREC_LLM_KEY_ENV"); v && *v) o.api_key_env = v;
        if (const char* v = std::getenv("KEREC_LLM_CONCURRENCY"); v && *v) o.concurrency = std::strtoull(v, nullptr, 10);
        if (const char* v = std::getenv("KEREC_LLM_RPS"); v && *v) o.requests_per_second = std::strtod(v, nullptr);
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
        if (!(opt_.requests_per_second >= 0.0))
            throw InvalidArgument(fmt::format("OpenAICompatibleJudge: requests_per_second {} (expected >= 0)",
                                              opt_.requests_per_second));
        if (opt_.timeout.count() <= 0) throw InvalidArgument("OpenAICompatibleJudge: timeout must be > 0");
        if (!opt_.api_key_env.empty())
            if (const char* k = std::getenv(opt_.api_key_env.c_str()); k && *k) api_key_ = k;
        detail::CurlGlobal::ensure();
    }

    std::string model() const { return opt_.model; }
    std::string prompt_version() const { return prompts_.version(); }
    const JudgeStats& stats() const noexcept { return stats_; }
    const OpenAIJudgeOptions& options() const noexcept { return opt_; }

    /// One judgment per query, in order. A query whose transport retries ran out is returned as
    /// unknown with a rationale starting "transport failure".
    std::vector<Judgment> judge(std::span<const PairQuery> queries) {
        std::vector<Judgment> out(queries.size());
        std::vector<char> got(queries.size(), 0);
        run_(queries, [&](std::size_t i, Judgment&& j) { out[i] = std::move(j), got[i] = 1; });
        for (std::size_t i = 0; i < queries.size(); ++i)
            if (!got[i]) {
                out[i] = base_(queries[i]);
                out[i].rationale = "transport failure: " + failure_[i];
            }
        return out;
    }

    /// Streaming form: sink(index, judgment) as each answer arrives. Queries whose transport
    /// retries ran out are not answered (a store then asks them again on its next run).
    void judge(std::span<const PairQuery> queries, const JudgmentSink& sink) { run_(queries, sink); }

private:
    struct Task {
        std::size_t index = 0;
        int attempt = 0;      // transport attempts made
        bool reasked = false; // the parse retry was used
        std::string first_reply;
        std::chrono::steady_clock::time_point ready;
    };
    struct Transfer {
        CURL* easy = nullptr;
        curl_slist* headers = nullptr;
        std::string body, response;
        Task task;
        ~Transfer() {
            if (headers) curl_slist_free_all(headers);
            if (easy) curl_easy_cleanup(easy);
        }
    };
    struct MultiGuard {
        CURLM* m = curl_multi_init();
        ~MultiGuard() {
            if (m) curl_multi_cleanup(m);
        }
    };

    static std::size_t write_cb_(char* data, std::size_t size, std::size_t n, void* user) {
        auto* s = static_cast<std::string*>(user);
        if (s->size() > (8u << 20)) return 0;  // refuse absurd bodies
        s->append(data, size * n);
        return size * n;
    }

    Judgment base_(const PairQuery& q) const {
        return unanswered_judgment(q, opt_.model, prompts_.version());
    }

    std::string request_body_(const PairQuery& q, const Task& t) const {
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
        // Names were sanitized to valid UTF-8, so dump() cannot throw on them.
        return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }

    std::chrono::milliseconds backoff_(int attempt, long retry_after_s) {
        double ms = static_cast<double>(opt_.backoff_initial.count());
        for (int k = 1; k < attempt && ms < static_cast<double>(opt_.backoff_max.count()); ++k) ms *= 2.0;
        ms = std::min(ms, static_cast<double>(opt_.backoff_max.count())) * (0.5 + rng_.uniform());
        ms = std::max(ms, static_cast<double>(retry_after_s) * 1000.0);
        return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
    }

    std::unique_ptr<Transfer> start_(CURLM* multi, std::span<const PairQuery> queries, Task task) {
        auto t = std::make_unique<Transfer>();
        t->task = std::move(task);
        t->body = request_body_(queries[t->task.index], t->task);
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
        if (curl_multi_add_handle(multi, t->easy) != CURLM_OK) throw IoError(opt_.endpoint, "curl_multi_add_handle failed");
        ++stats_.calls;
        return t;
    }

    void run_(std::span<const PairQuery> queries, const JudgmentSink& sink) {
        using clock = std::chrono::steady_clock;
        const auto t0 = clock::now();
        failure_.assign(queries.size(), std::string());
        MultiGuard multi;
        if (!multi.m) throw IoError(opt_.endpoint, "curl_multi_init failed");
        std::deque<Task> ready;
        for (std::size_t i = 0; i < queries.size(); ++i) ready.push_back(Task{i, 0, false, {}, t0});
        auto later = [](const Task& a, const Task& b) { return a.ready > b.ready; };
        std::priority_queue<Task, std::vector<Task>, decltype(later)> waiting(later);
        std::vector<std::unique_ptr<Transfer>> active;
        const auto spacing = opt_.requests_per_second > 0
                                 ? std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(1.0 / opt_.requests_per_second))
                                 : clock::duration::zero();
        auto next_start = t0;

        auto retry = [&](Task t, long retry_after, const std::string& why) {
            failure_[t.index] = why;
            if (t.attempt >= opt_.max_attempts) {
                ++stats_.gave_up;
                return;
            }
            ++stats_.http_errors;
            t.ready = clock::now() + backoff_(t.attempt, retry_after);
            waiting.push(std::move(t));
        };

        while (!ready.empty() || !waiting.empty() || !active.empty()) {
            auto now = clock::now();
            while (!waiting.empty() && waiting.top().ready <= now) {
                ready.push_back(waiting.top());
                waiting.pop();
            }
            while (!ready.empty() && active.size() < opt_.concurrency && now >= next_start) {
                Task t = std::move(ready.front());
                ready.pop_front();
                ++t.attempt;
                active.push_back(start_(multi.m, queries, std::move(t)));
                next_start = now + spacing;  // at most one start per spacing
                now = clock::now();
            }
            int running = 0;
            curl_multi_perform(multi.m, &running);
            int left = 0;
            while (CURLMsg* msg = curl_multi_info_read(multi.m, &left)) {
                if (msg->msg != CURLMSG_DONE) continue;
                Transfer* raw = nullptr;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &raw);
                const CURLcode code = msg->data.result;
                curl_multi_remove_handle(multi.m, msg->easy_handle);
                auto it = std::find_if(active.begin(), active.end(), [&](const auto& p) { return p.get() == raw; });
                std::unique_ptr<Transfer> tr = std::move(*it);
                active.erase(it);
                Outcome o = finish_(*tr, code, queries, sink);
                if (o.next == Next::reask) ready.push_front(std::move(tr->task));
                else if (o.next == Next::retry) retry(std::move(tr->task), o.retry_after, o.why);
            }
            // Sleep until a transfer progresses, a backoff ends or the rate limit allows a start.
            auto wake = clock::now() + std::chrono::milliseconds(100);
            if (!waiting.empty()) wake = std::min(wake, waiting.top().ready);
            if (!ready.empty() && active.size() < opt_.concurrency) wake = std::min(wake, std::max(next_start, clock::now()));
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wake - clock::now()).count();
            if (active.empty()) {
                if (ms > 0 && (ready.empty() || active.size() >= opt_.concurrency || clock::now() < next_start))
                    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
            } else {
                curl_multi_poll(multi.m, nullptr, 0, static_cast<int>(std::clamp<std::int64_t>(ms, 0, 100)), nullptr);
            }
        }
        stats_.seconds += std::chrono::duration<double>(clock::now() - t0).count();
    }

    enum class Next { done, retry, reask };
    struct Outcome {
        Next next = Next::done;
        long retry_after = 0;
        std::string why;
    };

    Outcome finish_(Transfer& tr, CURLcode code, std::span<const PairQuery> queries, const JudgmentSink& sink) {
        Task& t = tr.task;
        if (code == CURLE_OPERATION_TIMEDOUT) {
            ++stats_.timeouts;
            return {Next::retry, 0, "timeout"};
        }
        if (code != CURLE_OK) return {Next::retry, 0, curl_easy_strerror(code)};
        long status = 0;
        curl_easy_getinfo(tr.easy, CURLINFO_RESPONSE_CODE, &status);
        if (status == 429 || status >= 500 || status == 408) {
            if (status == 429) ++stats_.rate_limited;
            curl_off_t retry_after = 0;
            curl_easy_getinfo(tr.easy, CURLINFO_RETRY_AFTER, &retry_after);
            return {Next::retry, static_cast<long>(std::clamp<curl_off_t>(retry_after, 0, 600)), fmt::format("HTTP {}", status)};
        }
        if (status != 200) throw HttpError(opt_.endpoint, status, tr.response);
        // The body must be a chat completion with a string message content.
        std::string content;
        try {
            const auto j = nlohmann::json::parse(tr.response);
            content = j.at("choices").at(0).at("message").at("content").get<std::string>();
            if (j.contains("usage") && j["usage"].is_object()) {
                const auto& u = j["usage"];
                if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_unsigned())
                    stats_.prompt_tokens += u["prompt_tokens"].get<std::uint64_t>();
                if (u.contains("completion_tokens") && u["completion_tokens"].is_number_unsigned())
                    stats_.completion_tokens += u["completion_tokens"].get<std::uint64_t>();
            }
        } catch (const nlohmann::json::exception& e) {
            ++stats_.malformed_replies;
            return {Next::retry, 0, fmt::format("malformed reply body: {}", e.what())};
        }
        const ParsedAnswer a = parse_answer(content);
        if (!a.ok) {
            ++stats_.parse_failures;
            if (!t.reasked) {  // re-ask once, in the same conversation, with a fresh transport budget
                ++stats_.retries;
                t.reasked = true;
                t.first_reply = sanitize_name(content, 2000);
                t.attempt = 0;
                return {Next::reask, 0, {}};
            }
            Judgment j = base_(queries[t.index]);
            j.label = Label::unknown;
            j.rationale = fmt::format("unparseable answer: {}", a.error);
            ++stats_.unknown;
            ++stats_.queries;
            sink(t.index, std::move(j));
            return {};
        }
        Judgment j = base_(queries[t.index]);
        j.label = a.label;
        j.confidence = a.confidence;
        j.rationale = a.rationale;
        ++stats_.queries;
        sink(t.index, std::move(j));
        return {};
    }

    OpenAIJudgeOptions opt_;
    PromptBuilder prompts_;
    Rng rng_;
    std::string api_key_;
    JudgeStats stats_;
    std::vector<std::string> failure_;
};

}  // namespace kerec
