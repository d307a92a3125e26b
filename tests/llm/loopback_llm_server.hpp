// A loopback chat-completions server that emulates an OpenAI-compatible endpoint with injected
// faults, for the HTTP judge's tests and benchmark. Plain POSIX sockets and one thread per
// connection, all compiled with the test, so ThreadSanitizer sees every access (an
// uninstrumented HTTP library would hide its synchronisation and report false races).
//
// Pairs are named "e<id>"; the truth is (a + b) % 5 == 0. With `faults`, the fault of pair (a, b)
// is fixed by (a * 31 + b) % 10:
//   0: first attempt 429 (Retry-After: 0)      1: first two attempts 500
//   2: first attempt never answered (held until the client gives up on it)
//   3: first attempt 200 with a malformed body 4: first reply unparseable prose, then a real answer
//   5: every reply unparseable prose           6..9: no fault
// Other knobs: a delay for every reply, slow replies for a share of pairs, a required API key,
// 400 for requests with response_format, 503 + Retry-After on first attempts, and an outage: the
// server goes down (listener and every connection closed) while handling the N-th request and
// comes back on the same port after a while. Replies echo the pair's names, so the parser's
// name masking is on the path. Everything counted is what was sent or received, never a clock.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace kerec::test {

struct LoopbackOptions {
    bool faults = true;                          ///< the fault table of the header comment
    std::chrono::milliseconds delay{0};          ///< before every reply
    unsigned slow_every = 0;                     ///< 1 pair in slow_every (by a hash; 0 = none) ...
    std::chrono::milliseconds slow_delay{3000};  ///< ... waits this long instead of `delay`
    std::string api_key;                         ///< required Bearer key (empty = none)
    bool reject_structured = false;              ///< 400 for a request carrying response_format
    bool honour_structured = true;               ///< answer such a request with the bare JSON object
    int retry_after_s = 0;                       ///< > 0: pairs of fault 6 get 503 + Retry-After first
    long outage_at_request = 0;                  ///< go down while handling this request (1-based); 0 = never
    std::chrono::milliseconds outage_for{0};     ///< how long the outage lasts
};

class LoopbackLlmServer {
public:
    using clock = std::chrono::steady_clock;

    explicit LoopbackLlmServer(LoopbackOptions o = {}) : opt_(std::move(o)) { up_(); }
    ~LoopbackLlmServer() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            stopping_ = true;
        }
        cv_.notify_all();
        if (outage_thread_.joinable()) outage_thread_.join();
        down_();
    }
    LoopbackLlmServer(const LoopbackLlmServer&) = delete;
    LoopbackLlmServer& operator=(const LoopbackLlmServer&) = delete;

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
    static int fault(unsigned a, unsigned b) { return static_cast<int>((a * 31 + b) % 10); }
    static bool truth(unsigned a, unsigned b) { return (a + b) % 5 == 0; }
    /// Whether pair (a, b) is one of the slow ones (1 in slow_every, by a hash of the pair).
    bool slow(unsigned a, unsigned b) const {
        std::uint64_t h = ((std::uint64_t{a} << 32) | b) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
        return opt_.slow_every > 0 && h % opt_.slow_every == 0;
    }

    /// Mean time from a request read to its reply written, over the answered requests (seconds).
    double mean_reply_seconds() const {
        std::lock_guard<std::mutex> lock(mu_);
        return replies_timed_ ? reply_seconds_ / static_cast<double>(replies_timed_) : 0.0;
    }
    /// The times every attempt of pair (a, b) arrived.
    std::vector<clock::time_point> attempt_times(unsigned a, unsigned b) const {
        std::lock_guard<std::mutex> lock(mu_);
        const auto it = attempt_times_.find({a, b});
        return it == attempt_times_.end() ? std::vector<clock::time_point>{} : it->second;
    }
    /// Blocks until an outage that has begun is over (the server listens again).
    void wait_outage_over() {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || (outage_started_ && outages == 1 && listening_); });
    }

    std::atomic<int> max_in_flight{0};
    std::atomic<long> requests{0}, answered{0}, injected_429{0}, injected_500{0}, injected_slow{0}, injected_malformed{0},
        injected_prose{0}, injected_503{0}, unauthorized{0}, structured_requests{0}, structured_rejected{0},
        dropped_by_outage{0}, outages{0};

private:
    struct Request {
        std::string method, path, body, authorization;
        bool close = false;
    };
    struct Reply {
        int status = 200;
        std::string body;
        std::string extra_headers;
        bool drop = false;  // close without answering
    };

    // --- listening ------------------------------------------------------------------------
    void up_() {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) throw std::runtime_error("loopback server: socket() failed");
        const int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<std::uint16_t>(port_));
        int rc = -1;
        for (int k = 0; k < 200 && rc != 0; ++k) {  // the same port again after an outage
            rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
            if (rc != 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        if (rc != 0 || ::listen(fd, 128) != 0) {
            ::close(fd);
            throw std::runtime_error("loopback server: bind/listen failed: " + std::string(std::strerror(errno)));
        }
        if (port_ == 0) {  // the first time, before any other thread runs; later outages reuse it
            socklen_t len = sizeof addr;
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
            port_ = ntohs(addr.sin_port);
        }
        {
            std::lock_guard<std::mutex> lock(mu_);
            listen_fd_ = fd;
            listening_ = true;
        }
        accept_thread_ = std::thread([this, fd] { accept_loop_(fd); });
        cv_.notify_all();
    }

    // Close the listener and every connection; join their threads.
    void down_() {
        int fd = -1;
        {
            std::lock_guard<std::mutex> lock(mu_);
            fd = listen_fd_;
            listen_fd_ = -1;
            listening_ = false;
            ++generation_;
            for (int c : conn_fds_) ::shutdown(c, SHUT_RDWR);
        }
        cv_.notify_all();
        if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
        if (accept_thread_.joinable()) accept_thread_.join();
        if (fd >= 0) ::close(fd);
        std::vector<std::thread> threads;
        {
            std::lock_guard<std::mutex> lock(mu_);
            threads.swap(conn_threads_);
        }
        for (auto& t : threads) t.join();
    }

    void accept_loop_(int lfd) {
        for (;;) {
            const int c = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                return;  // shut down
            }
            const int one = 1;
            ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            std::lock_guard<std::mutex> lock(mu_);
            if (!listening_) {
                ::close(c);
                return;
            }
            conn_fds_.insert(c);
            conn_threads_.emplace_back([this, c] { serve_(c); });
        }
    }

    // --- one connection (keep-alive) ---------------------------------------------------------
    static bool send_all_(int fd, const std::string& s) {
        for (std::size_t off = 0; off < s.size();) {
            const auto n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
            if (n <= 0) return false;
            off += static_cast<std::size_t>(n);
        }
        return true;
    }
    static bool read_request_(int fd, std::string& buf, Request& r) {
        char tmp[16384];
        std::size_t head;
        while ((head = buf.find("\r\n\r\n")) == std::string::npos) {
            const auto n = ::recv(fd, tmp, sizeof tmp, 0);
            if (n <= 0 || buf.size() > (1u << 20)) return false;
            buf.append(tmp, static_cast<std::size_t>(n));
        }
        const std::string h = buf.substr(0, head);
        std::size_t length = 0;
        std::size_t line_end = h.find("\r\n");
        const std::string first = h.substr(0, line_end);
        const auto sp1 = first.find(' '), sp2 = first.find(' ', sp1 + 1);
        if (sp1 == std::string::npos || sp2 == std::string::npos) return false;
        r.method = first.substr(0, sp1);
        r.path = first.substr(sp1 + 1, sp2 - sp1 - 1);
        while (line_end != std::string::npos && line_end < h.size()) {
            const std::size_t b = line_end + 2;
            line_end = h.find("\r\n", b);
            const std::string line = h.substr(b, line_end == std::string::npos ? std::string::npos : line_end - b);
            const auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            std::string name = line.substr(0, colon);
            for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            std::string value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            if (name == "content-length") {
                char* end = nullptr;
                length = std::strtoul(value.c_str(), &end, 10);
                if (end == value.c_str()) return false;
            }
            else if (name == "authorization") r.authorization = value;
            else if (name == "connection") r.close = value == "close";
        }
        if (length > (8u << 20)) return false;
        while (buf.size() < head + 4 + length) {
            const auto n = ::recv(fd, tmp, sizeof tmp, 0);
            if (n <= 0) return false;
            buf.append(tmp, static_cast<std::size_t>(n));
        }
        r.body = buf.substr(head + 4, length);
        buf.erase(0, head + 4 + length);
        return true;
    }

    void serve_(int fd) {
        std::string buf;
        for (;;) {
            Request req;
            if (!read_request_(fd, buf, req)) break;
            const auto start = clock::now();
            const Reply rep = handle_(req, fd);
            if (rep.drop) break;
            const char* reason = rep.status == 200 ? "OK" : rep.status == 429 ? "Too Many Requests" : "Error";
            std::string out = "HTTP/1.1 " + std::to_string(rep.status) + " " + reason +
                              "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(rep.body.size()) +
                              "\r\n" + rep.extra_headers + "\r\n" + rep.body;
            if (!send_all_(fd, out)) break;
            if (rep.status == 200) {
                std::lock_guard<std::mutex> lock(mu_);
                reply_seconds_ += std::chrono::duration<double>(clock::now() - start).count();
                ++replies_timed_;
            }
            if (req.close) break;
        }
        {
            std::lock_guard<std::mutex> lock(mu_);
            conn_fds_.erase(fd);
        }
        ::close(fd);
    }

    // Sleep `d`, or less when the server goes down or stops. False when it went down.
    bool wait_(std::chrono::milliseconds d) {
        std::unique_lock<std::mutex> lock(mu_);
        const auto gen = generation_;
        return !cv_.wait_for(lock, d, [&] { return stopping_ || generation_ != gen; });
    }
    // Hold a request without answering until the client closes its connection (or an outage).
    void hold_until_abandoned_(int fd) {
        for (;;) {
            pollfd p{fd, POLLIN | POLLRDHUP, 0};
            const int rc = ::poll(&p, 1, 20);
            if (rc < 0 && errno != EINTR) return;
            if (rc > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) return;
            std::lock_guard<std::mutex> lock(mu_);
            if (stopping_ || !listening_) return;
        }
    }

    void begin_outage_() {
        std::lock_guard<std::mutex> lock(mu_);
        if (outage_started_ || stopping_) return;
        outage_started_ = true;
        outage_thread_ = std::thread([this] {
            down_();
            {
                std::unique_lock<std::mutex> lock(mu_);
                cv_.wait_for(lock, opt_.outage_for, [&] { return stopping_; });
                if (stopping_) return;
            }
            ++outages;
            up_();
        });
    }

    Reply handle_(const Request& req, int fd) {
        Reply res;
        const long nth = ++requests;
        if (opt_.outage_at_request > 0 && nth == opt_.outage_at_request) {
            ++dropped_by_outage;
            begin_outage_();
            res.drop = true;
            return res;
        }
        // Requests the client still waits for.
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
        if (req.method != "POST" || req.path != "/v1/chat/completions") {
            res.status = 404;
            res.body = R"({"error": "no such path"})";
            return res;
        }
        if (!opt_.api_key.empty() && req.authorization != "Bearer " + opt_.api_key) {
            ++unauthorized;
            res.status = 401;
            res.body = R"({"error": {"message": "invalid api key"}})";
            return res;
        }
        unsigned a = 0, b = 0;
        bool reask = false, structured = false;
        try {
            const auto body = nlohmann::json::parse(req.body);
            const std::string user = body.at("messages").at(1).at("content").get<std::string>();
            reask = body.at("messages").size() > 2;
            structured = body.contains("response_format");
            const auto pa = user.find("\"e"), pb = user.find("\"e", pa + 2);
            a = static_cast<unsigned>(std::stoul(user.substr(pa + 2)));
            b = static_cast<unsigned>(std::stoul(user.substr(pb + 2)));
        } catch (...) {
            res.status = 400;
            res.body = R"({"error": "bad request"})";
            return res;
        }
        if (structured) ++structured_requests;
        if (structured && opt_.reject_structured) {
            ++structured_rejected;
            res.status = 400;
            res.body = R"({"error": {"message": "response_format is not supported"}})";
            return res;
        }
        int attempt;
        {
            std::lock_guard<std::mutex> lock(mu_);
            attempt = ++attempts_[{a, b}];
            attempt_times_[{a, b}].push_back(clock::now());
        }
        const int f = opt_.faults ? fault(a, b) : -1;
        if (opt_.retry_after_s > 0 && fault(a, b) == 6 && attempt == 1) {
            ++injected_503;
            res.status = 503;
            res.extra_headers = "Retry-After: " + std::to_string(opt_.retry_after_s) + "\r\n";
            res.body = R"({"error": "overloaded"})";
            return res;
        }
        if (f == 0 && attempt == 1) {
            ++injected_429;
            res.status = 429;
            res.extra_headers = "Retry-After: 0\r\n";
            res.body = R"({"error": "rate limited"})";
            return res;
        }
        if (f == 1 && attempt <= 2) {
            ++injected_500;
            res.status = 500;
            res.body = "internal error";
            return res;
        }
        if (f == 2 && attempt == 1) {
            ++injected_slow;
            leave.leave();  // the client gives up on it at its timeout
            hold_until_abandoned_(fd);
            res.drop = true;
            return res;
        }
        const auto wait = slow(a, b) ? opt_.slow_delay : opt_.delay;
        if (wait.count() > 0 && !wait_(wait)) {
            res.drop = true;
            return res;
        }
        if (f == 3 && attempt == 1) {
            ++injected_malformed;
            res.body = "<html>upstream proxy error</html>";
            return res;
        }
        const std::string na = "e" + std::to_string(a), nb = "e" + std::to_string(b);
        std::string content;
        if (f == 5 || (f == 4 && !reask)) {
            ++injected_prose;
            content = "Hmm, " + nb + " with " + na + " is hard to say without more context.";
        } else {
            const bool yes = truth(a, b);
            if (structured && opt_.honour_structured) {
                content = nlohmann::json{{"complementary", yes}, {"confidence", 0.9}, {"reason", nb + " and " + na}}.dump();
            } else {
                switch ((a + b) % 3) {
                    case 0:
                        content = std::string("{\"complementary\": ") + (yes ? "true" : "false") +
                                  ", \"confidence\": 0.9, \"reason\": \"" + nb + " with " + na + "\"}";
                        break;
                    case 1: content = std::string("```json\n{\"label\": \"") + (yes ? "yes" : "no") + "\"}\n```"; break;
                    default: content = yes ? "Yes, " + nb + " goes with " + na + ", 85%" : "否，" + nb + "和" + na + "不是互补品"; break;
                }
            }
            ++answered;
        }
        const nlohmann::json reply = {
            {"id", "chatcmpl-1"},
            {"object", "chat.completion"},
            {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", content}}}, {"finish_reason", "stop"}}}},
            {"usage", {{"prompt_tokens", 50}, {"completion_tokens", 10}, {"total_tokens", 60}}}};
        res.body = reply.dump();
        return res;
    }

    LoopbackOptions opt_;
    int port_ = 0;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false, listening_ = false, outage_started_ = false;
    std::uint64_t generation_ = 0;
    int listen_fd_ = -1;
    std::thread accept_thread_, outage_thread_;
    std::set<int> conn_fds_;
    std::vector<std::thread> conn_threads_;
    std::atomic<int> in_flight_{0};
    std::map<std::pair<unsigned, unsigned>, int> attempts_;
    std::map<std::pair<unsigned, unsigned>, std::vector<clock::time_point>> attempt_times_;
    double reply_seconds_ = 0.0;
    std::uint64_t replies_timed_ = 0;
};

}  // namespace kerec::test
