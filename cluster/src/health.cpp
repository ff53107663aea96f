#include "health.hpp"

#include <akt/detail/thread_name.hpp>
#include <asio.hpp>

#include <atomic>

namespace akt::cluster::detail {

namespace {
constexpr std::size_t max_request = 4096;
constexpr std::size_t max_connections = 64;
constexpr auto request_deadline = std::chrono::seconds(2);
}  // namespace

// Handlers capture the state by plain pointer: the state outlives the io
// thread (stop joins it), and a shared pointer held by handlers stored in
// the state's own io_context would keep it alive forever.
struct health_server::state {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor{io};
  std::function<bool()> alive;
  readiness_fn ready;
  std::atomic<std::size_t> open{0};
  std::uint16_t port = 0;

  void accept() {
    acceptor.async_accept([self = this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        if (self->open.load() >= max_connections) {
          asio::error_code ignored;
          socket.close(ignored);  // busy: the prober tries again
        } else {
          self->serve(std::move(socket));
        }
      }
      self->accept();
    });
  }

  std::string answer(const std::string& head) const {
    auto reply = [](int code, const char* reason, const std::string& body) {
      return "HTTP/1.1 " + std::to_string(code) + " " + reason +
             "\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
             std::to_string(body.size() + 1) + "\r\n\r\n" + body + "\n";
    };
    const auto line_end = head.find("\r\n");
    const std::string line = head.substr(0, line_end);
    const auto sp1 = line.find(' ');
    const auto sp2 = sp1 == std::string::npos ? std::string::npos : line.find(' ', sp1 + 1);
    if (sp2 == std::string::npos || line.compare(sp2 + 1, 5, "HTTP/") != 0)
      return reply(400, "Bad Request", "not HTTP");
    const std::string method = line.substr(0, sp1), path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (path != "/healthz" && path != "/readyz") return reply(404, "Not Found", "try /healthz or /readyz");
    if (method != "GET" && method != "HEAD") return reply(405, "Method Not Allowed", "GET only");
    if (!alive()) return reply(503, "Service Unavailable", "the actor system is not running");
    if (path == "/healthz") return reply(200, "OK", "ok");
    const std::string why = ready();
    return why.empty() ? reply(200, "OK", "ready") : reply(503, "Service Unavailable", why);
  }

  void serve(asio::ip::tcp::socket socket) {
    struct connection {
      connection(asio::ip::tcp::socket s, asio::io_context& io) : socket(std::move(s)), deadline(io) {}
      asio::ip::tcp::socket socket;
      asio::steady_timer deadline;
      asio::streambuf in{max_request};
      std::string out;
    };
    ++open;
    auto c = std::make_shared<connection>(std::move(socket), io);
    c->deadline.expires_after(request_deadline);
    c->deadline.async_wait([c](const asio::error_code& ec) {
      if (!ec) {
        asio::error_code ignored;
        c->socket.close(ignored);  // too slow
      }
    });
    asio::async_read_until(
        c->socket, c->in, "\r\n\r\n", [self = this, c](const asio::error_code& ec, std::size_t) {
          auto done = [self, c] {
            c->deadline.cancel();
            asio::error_code ignored;
            c->socket.close(ignored);
            --self->open;
          };
          if (ec) return done();  // closed, too large, or too slow
          std::string head(asio::buffers_begin(c->in.data()), asio::buffers_end(c->in.data()));
          c->out = self->answer(head);
          asio::async_write(c->socket, asio::buffer(c->out),
                            [done](const asio::error_code&, std::size_t) { done(); });
        });
  }
};

health_server::health_server(std::function<bool()> alive, readiness_fn ready)
    : state_(std::make_shared<state>()) {
  state_->alive = std::move(alive);
  state_->ready = std::move(ready);
}

health_server::~health_server() {
  stop();
}

status health_server::start(const std::string& host, std::uint16_t port) {
  asio::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return error(errc::invalid_argument, "health endpoint: '" + host + "' is not an IP address");
  const asio::ip::tcp::endpoint at(address, port);
  state_->acceptor.open(at.protocol(), ec);
  if (!ec) state_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) state_->acceptor.bind(at, ec);
  if (!ec) state_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return error(errc::unavailable, "health endpoint: cannot listen on " + host + ":" + std::to_string(port) +
                                        ": " + ec.message());
  }
  state_->port = state_->acceptor.local_endpoint().port();
  state_->accept();
  thread_ = std::thread([s = state_.get()] {
    akt::detail::name_this_thread("akt-health");
    s->io.run();
  });
  return {};
}

std::uint16_t health_server::port() const noexcept {
  return state_->port;
}

void health_server::stop() {
  state_->io.stop();
  if (thread_.joinable()) thread_.join();
  asio::error_code ignored;
  state_->acceptor.close(ignored);
}

}  // namespace akt::cluster::detail
