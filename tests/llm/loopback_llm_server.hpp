// A loopback chat-completions server (cpp-httplib) that emulates an OpenAI-compatible endpoint
// with injected faults, for the HTTP judge's tests and benchmark. Pairs are named "e<id>"; the
// truth is (a + b) % 5 == 0. The fault of pair (a, b) is fixed by (a * 31 + b) % 10:
//   0: first attempt 429 (Retry-After: 0)      1: first two attempts 500
//   2: first attempt slower than the client timeout (then 200)
//   3: first attempt 200 with a malformed body 4: first reply unparseable prose, then a real answer
//   5: every reply unparseable prose           6..9: no fault
// Every other reply takes `delay`, so concurrent requests overlap visibly.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace kerec::test {

class LoopbackLlmServer {
public:
    explicit LoopbackLlmServer(std::chrono::milliseconds slow = std::chrono::milliseconds(400), std::string api_key = {},
                               std::chrono::milliseconds delay = std::chrono::milliseconds(0))
        : slow_(slow), delay_(delay), key_(std::move(api_key)) {
        // Idle keep-alive connections hold a worker each: a large pool and a short idle timeout.
        svr_.new_task_queue = [] { return new httplib::ThreadPool(128); };
        svr_.set_keep_alive_timeout(1);
        svr_.set_tcp_nodelay(true);  // headers and body are separate writes: no Nagle/delayed-ACK stall
        svr_.set_keep_alive_max_count(1000);
        svr_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) { handle_(req, res); });
        port_ = svr_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { svr_.listen_after_bind(); });
        while (!svr_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ~LoopbackLlmServer() {
        svr_.stop();
        thread_.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
    static int fault(unsigned a, unsigned b) { return static_cast<int>((a * 31 + b) % 10); }
    static bool truth(unsigned a, unsigned b) { return (a + b) % 5 == 0; }

    std::atomic<int> max_in_flight{0};
    std::atomic<long> requests{0}, answered{0}, injected_429{0}, injected_500{0}, injected_slow{0},
        injected_malformed{0}, injected_prose{0}, unauthorized{0};

private:
    void handle_(const httplib::Request& req, httplib::Response& res) {
        // In-flight count of requests the client still waits for (a slow reply leaves the count
        // before sleeping: the client gives up on it at its timeout).
        const int now = ++in_flight_;
        int prev = max_in_flight.load();
        while (now > prev && !max_in_flight.compare_exchange_weak(prev, now)) {}
        struct Leave {
            std::atomic<int>& n;
            bool left = false;
            void leave() {
                if (!left) --n, left = true;
            }
            ~Leave() { leave(); }
        } leave{in_flight_};
        ++requests;
        if (!key_.empty() && req.get_header_value("Authorization") != "Bearer " + key_) {
            ++unauthorized;
            res.status = 401;
            res.set_content(R"({"error": {"message": "invalid api key"}})", "application/json");
            return;
        }
        unsigned a = 0, b = 0;
        bool reask = false;
        try {
            const auto body = nlohmann::json::parse(req.body);
            const std::string user = body.at("messages").at(1).at("content").get<std::string>();
            reask = body.at("messages").size() > 2;
            const auto pa = user.find("\"e"), pb = user.find("\"e", pa + 2);
            a = static_cast<unsigned>(std::stoul(user.substr(pa + 2)));
            b = static_cast<unsigned>(std::stoul(user.substr(pb + 2)));
        } catch (...) {
            res.status = 400;
            res.set_content(R"({"error": "bad request"})", "application/json");
            return;
        }
        int attempt;
        {
            std::lock_guard<std::mutex> lock(mu_);
            attempt = ++attempts_[{a, b}];
        }
        const int f = fault(a, b);
        if (f == 0 && attempt == 1) {
            ++injected_429;
            res.status = 429;
            res.set_header("Retry-After", "0");
            res.set_content(R"({"error": "rate limited"})", "application/json");
            return;
        }
        if (f == 1 && attempt <= 2) {
            ++injected_500;
            res.status = 500;
            res.set_content("internal error", "text/plain");
            return;
        }
        if (f == 2 && attempt == 1) {
            ++injected_slow;
            leave.leave();
            std::this_thread::sleep_for(slow_);
        } else if (delay_.count() > 0) {
            std::this_thread::sleep_for(delay_);
        }
        if (f == 3 && attempt == 1) {
            ++injected_malformed;
            res.set_content("<html>upstream proxy error</html>", "application/json");
            return;
        }
        std::string content;
        if (f == 5 || (f == 4 && !reask)) {
            ++injected_prose;
            content = "Hmm, that is hard to say without more context.";
        } else {
            const bool yes = truth(a, b);
            switch ((a + b) % 3) {
                case 0: content = std::string("{\"complementary\": ") + (yes ? "true" : "false") + ", \"confidence\": 0.9}"; break;
                case 1: content = std::string("```json\n{\"label\": \"") + (yes ? "yes" : "no") + "\"}\n```"; break;
                default: content = yes ? "Yes, 85%" : "否"; break;
            }
            ++answered;
        }
        nlohmann::json reply = {{"id", "chatcmpl-1"},
                                {"object", "chat.completion"},
                                {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", content}}}, {"finish_reason", "stop"}}}},
                                {"usage", {{"prompt_tokens", 50}, {"completion_tokens", 10}, {"total_tokens", 60}}}};
        res.set_content(reply.dump(), "application/json");
    }

    httplib::Server svr_;
    std::thread thread_;
    int port_ = 0;
    std::chrono::milliseconds slow_;
    std::chrono::milliseconds delay_;
    std::string key_;
    std::atomic<int> in_flight_{0};
    std::mutex mu_;
    std::map<std::pair<unsigned, unsigned>, int> attempts_;
};

}  // namespace kerec::test
