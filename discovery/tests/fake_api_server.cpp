#include "fake_api_server.hpp"

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <set>
#include <sstream>

namespace akt::discovery::testing {

using json = nlohmann::json;
using asio::ip::tcp;

namespace {

std::string url_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i] == '+' ? ' ' : s[i]);
    }
  }
  return out;
}

std::map<std::string, std::string> query_of(const std::string& target) {
  std::map<std::string, std::string> q;
  auto qm = target.find('?');
  if (qm == std::string::npos) return q;
  std::istringstream in(target.substr(qm + 1));
  for (std::string kv; std::getline(in, kv, '&');) {
    auto eq = kv.find('=');
    q[url_decode(kv.substr(0, eq))] = eq == std::string::npos ? "" : url_decode(kv.substr(eq + 1));
  }
  return q;
}

// Equality-based selectors only ("k=v,k=v"), as the provider sends.
bool selects(const std::string& selector, const json& pod) {
  const json& labels = pod["metadata"]["labels"];
  std::istringstream in(selector);
  for (std::string term; std::getline(in, term, ',');) {
    auto eq = term.find('=');
    if (eq == std::string::npos) return false;
    auto it = labels.find(term.substr(0, eq));
    if (it == labels.end() || *it != term.substr(eq + 1)) return false;
  }
  return true;
}

json status_object(int code, const std::string& reason, const std::string& message) {
  return {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
          {"status", "Failure"}, {"message", message}, {"reason", reason},
          {"code", code}};
}

const char* reason_phrase(int code) {
  switch (code) {
    case 200:
      return "OK";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 410:
      return "Gone";
    default:
      return "Error";
  }
}

}  // namespace

struct fake_api_server::impl {
  asio::io_context io;
  asio::ssl::context tls{asio::ssl::context::tls_server};
  tcp::acceptor acceptor{io};
  std::thread accept_thread;
  std::string namespace_name;

  mutable std::mutex mu;
  mutable std::condition_variable cv;
  bool stopping = false;
  std::string token;
  bool forbidden = false;
  bool gone_as_status = false;
  std::string list_body;
  std::map<std::string, json> pods;  // by name
  struct change {
    long version;
    json event;
  };
  std::vector<change> history;
  long version = 100;
  long compacted = 0;
  int watch_generation = 0;
  std::vector<recorded_request> requests;
  std::vector<std::thread> connections;
  std::set<int> open_fds;

  void record(recorded_request r) {
    std::lock_guard lock(mu);
    requests.push_back(std::move(r));
    cv.notify_all();
  }

  void accept_loop() {
    for (;;) {
      tcp::socket s(io);
      asio::error_code ec;
      acceptor.accept(s, ec);
      std::lock_guard lock(mu);
      if (stopping) return;
      if (ec) continue;
      open_fds.insert(s.native_handle());
      connections.emplace_back([this, s = std::move(s)]() mutable { serve(std::move(s)); });
    }
  }

  void serve(tcp::socket socket) {
    const int fd = socket.native_handle();
    asio::ssl::stream<tcp::socket> stream(std::move(socket), tls);
    asio::error_code ec;
    stream.handshake(asio::ssl::stream_base::server, ec);
    if (!ec) handle(stream);
    stream.shutdown(ec);
    std::lock_guard lock(mu);
    open_fds.erase(fd);
  }

  template <class Stream>
  void handle(Stream& stream) {
    asio::error_code ec;
    asio::streambuf buf;
    asio::read_until(stream, buf, "\r\n\r\n", ec);
    if (ec) return;
    std::istream in(&buf);
    std::string method, target, line;
    in >> method >> target;
    std::getline(in, line);
    recorded_request req{.target = target};
    while (std::getline(in, line) && line != "\r") {
      std::string lower = line;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (lower.rfind("authorization: bearer ", 0) == 0) {
        req.token = line.substr(22);
        if (!req.token.empty() && req.token.back() == '\r') req.token.pop_back();
      }
    }
    auto query = query_of(target);
    req.watch = query["watch"] == "true";
    const std::string path = target.substr(0, target.find('?'));

    std::unique_lock lock(mu);
    auto answer = [&](int code, const std::string& body) {
      req.status = code;
      requests.push_back(req);
      cv.notify_all();
      lock.unlock();
      std::string head =
          "HTTP/1.1 " + std::to_string(code) + " " + reason_phrase(code) +
          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\nConnection: close\r\n\r\n";
      asio::write(stream, asio::buffer(head + body), ec);
    };
    if (req.token != token) {
      return answer(401, status_object(401, "Unauthorized", "Unauthorized").dump());
    }
    if (forbidden) {
      return answer(403, status_object(403, "Forbidden",
                                       "pods is forbidden: User \"system:serviceaccount:" + namespace_name +
                                           ":akt\" cannot " + (req.watch ? "watch" : "list") +
                                           " resource \"pods\" in API group \"\" in the namespace \"" +
                                           namespace_name + "\"")
                             .dump());
    }
    if (method != "GET" || path != "/api/v1/namespaces/" + namespace_name + "/pods") {
      return answer(
          404, status_object(404, "NotFound", "the server could not find the requested resource").dump());
    }
    const std::string selector = query["labelSelector"];
    if (!req.watch) {
      if (!list_body.empty()) return answer(200, list_body);
      json items = json::array();
      for (const auto& [name, pod] : pods) {
        if (selects(selector, pod)) items.push_back(pod);
      }
      json list = {{"kind", "PodList"},
                   {"apiVersion", "v1"},
                   {"metadata", {{"resourceVersion", std::to_string(version)}}},
                   {"items", items}};
      return answer(200, list.dump());
    }
    const long from = std::stol(query["resourceVersion"].empty() ? "0" : query["resourceVersion"]);
    const bool gone = from < compacted;
    if (gone && gone_as_status) {
      return answer(410, status_object(410, "Expired",
                                       "too old resource version: " + std::to_string(from) + " (" +
                                           std::to_string(compacted) + ")")
                             .dump());
    }
    req.status = 200;
    requests.push_back(req);
    cv.notify_all();
    const int generation = watch_generation;
    lock.unlock();
    asio::write(stream,
                asio::buffer(std::string("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                         "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")),
                ec);
    if (ec) return;
    auto send_line = [&](const json& event) {
      std::string data = event.dump() + "\n";
      std::ostringstream chunk;
      chunk << std::hex << data.size() << "\r\n" << data << "\r\n";
      asio::write(stream, asio::buffer(chunk.str()), ec);
      return !ec;
    };
    if (gone) {
      send_line({{"type", "ERROR"},
                 {"object", status_object(410, "Expired",
                                          "too old resource version: " + std::to_string(from) + " (" +
                                              std::to_string(compacted) + ")")}});
      asio::write(stream, asio::buffer(std::string("0\r\n\r\n")), ec);
      return;
    }
    std::size_t next = 0;
    lock.lock();
    while (next < history.size() && history[next].version <= from) ++next;
    for (;;) {
      std::vector<json> out;
      for (; next < history.size(); ++next) {
        if (selects(selector, history[next].event["object"])) out.push_back(history[next].event);
      }
      const bool end = stopping || generation != watch_generation;
      lock.unlock();
      for (const auto& e : out) {
        if (!send_line(e)) return;
      }
      if (end) break;
      lock.lock();
      cv.wait(lock, [&] { return stopping || generation != watch_generation || next < history.size(); });
    }
    asio::write(stream, asio::buffer(std::string("0\r\n\r\n")), ec);
  }
};

fake_api_server::fake_api_server(const std::string& cert_file, const std::string& key_file, std::string token,
                                 std::string namespace_name)
    : impl_(std::make_unique<impl>()) {
  impl_->token = std::move(token);
  impl_->namespace_name = std::move(namespace_name);
  impl_->tls.use_certificate_chain_file(cert_file);
  impl_->tls.use_private_key_file(key_file, asio::ssl::context::pem);
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  impl_->accept_thread = std::thread([this] { impl_->accept_loop(); });
}

fake_api_server::~fake_api_server() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    // Wakes connections blocked in a read: a client that never sends.
    for (int fd : impl_->open_fds) ::shutdown(fd, SHUT_RDWR);
  }
  impl_->cv.notify_all();
  {
    // Wakes the accept.
    asio::io_context io;
    tcp::socket s(io);
    asio::error_code ec;
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port()), ec);
    impl_->accept_thread.join();
  }
  std::vector<std::thread> connections;
  {
    std::lock_guard lock(impl_->mu);
    connections.swap(impl_->connections);
  }
  for (auto& t : connections) t.join();
}

std::string fake_api_server::url() const {
  return "https://127.0.0.1:" + std::to_string(port());
}
std::uint16_t fake_api_server::port() const {
  return impl_->acceptor.local_endpoint().port();
}

void fake_api_server::set_token(std::string token) {
  std::lock_guard lock(impl_->mu);
  impl_->token = std::move(token);
}
void fake_api_server::set_forbidden(bool forbidden) {
  std::lock_guard lock(impl_->mu);
  impl_->forbidden = forbidden;
}
void fake_api_server::set_gone_as_http_status(bool as_status) {
  std::lock_guard lock(impl_->mu);
  impl_->gone_as_status = as_status;
}
void fake_api_server::set_list_body(std::string body) {
  std::lock_guard lock(impl_->mu);
  impl_->list_body = std::move(body);
}

void fake_api_server::apply(const std::string& type, json pod) {
  std::lock_guard lock(impl_->mu);
  const long v = ++impl_->version;
  pod["metadata"]["resourceVersion"] = std::to_string(v);
  const std::string name = pod["metadata"]["name"];
  if (type == "DELETED") {
    impl_->pods.erase(name);
  } else {
    impl_->pods[name] = pod;
  }
  pod["kind"] = "Pod";
  pod["apiVersion"] = "v1";
  impl_->history.push_back({v, {{"type", type}, {"object", pod}}});
  impl_->cv.notify_all();
}

void fake_api_server::compact_with_silent_change(const std::string& type, json pod) {
  std::lock_guard lock(impl_->mu);
  const long v = ++impl_->version;
  pod["metadata"]["resourceVersion"] = std::to_string(v);
  const std::string name = pod["metadata"]["name"];
  if (type == "DELETED") {
    impl_->pods.erase(name);
  } else {
    impl_->pods[name] = pod;
  }
  impl_->history.clear();
  impl_->compacted = v;
  ++impl_->watch_generation;
  impl_->cv.notify_all();
}

void fake_api_server::end_watches() {
  std::lock_guard lock(impl_->mu);
  ++impl_->watch_generation;
  impl_->cv.notify_all();
}

std::vector<recorded_request> fake_api_server::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->requests;
}

bool fake_api_server::wait_for_requests(const std::function<bool(const std::vector<recorded_request>&)>& done,
                                        std::chrono::milliseconds limit) const {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, limit, [&] { return done(impl_->requests); });
}

json make_pod(const std::string& name, const std::string& system, const std::string& app,
              const std::string& phase, bool ready, const std::string& ip,
              const std::vector<std::pair<std::string, int>>& ports) {
  json container_ports = json::array();
  for (const auto& [port_name, number] : ports) {
    container_ports.push_back({{"name", port_name}, {"containerPort", number}, {"protocol", "TCP"}});
  }
  json status = {{"phase", phase},
                 {"conditions",
                  {{{"type", "Initialized"}, {"status", "True"}},
                   {{"type", "Ready"}, {"status", ready ? "True" : "False"}},
                   {{"type", "ContainersReady"}, {"status", ready ? "True" : "False"}},
                   {{"type", "PodScheduled"}, {"status", "True"}}}}};
  if (!ip.empty()) {
    status["podIP"] = ip;
    status["podIPs"] = json::array({{{"ip", ip}}});
  }
  return {{"metadata",
           {{"name", name},
            {"namespace", "shop-ns"},
            {"uid", "uid-" + name},
            {"labels",
             {{"app.kubernetes.io/part-of", system},
              {"app.kubernetes.io/component", app},
              {"app.kubernetes.io/name", app},
              {"statefulset.kubernetes.io/pod-name", name}}}}},
          {"spec", {{"containers", {{{"name", "akt"}, {"image", "akt:test"}, {"ports", container_ports}}}}}},
          {"status", status}};
}

}  // namespace akt::discovery::testing
