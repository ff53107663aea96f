#include "node.hpp"

#include <akt/detail/send_batch.hpp>
#include <akt/detail/wire_envelope.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <sys/socket.h>

#include "remote_ref.hpp"

namespace akt::remote::detail {

namespace {

// The sink of an ask that arrived from another node: the reply goes back
// over the wire with the ask's correlation id.
class remote_reply_sink final : public reply_sink {
 public:
  remote_reply_sink(std::weak_ptr<node> n, std::string address, std::uint64_t correlation)
      : node_(std::move(n)), address_(std::move(address)), correlation_(correlation) {}

  bool complete(envelope_ptr& reply) override {
    if (done_.exchange(true)) return false;
    if (auto n = node_.lock()) n->send_reply(address_, correlation_, std::move(reply));
    return true;
  }
  void fail(error e) noexcept override {
    if (done_.exchange(true)) return;
    if (auto n = node_.lock()) n->send_failure(address_, correlation_, e);
  }
  bool is_waiting() const noexcept override { return !done_.load(); }
  bool held_until_stop() const noexcept override { return false; }

 private:
  std::weak_ptr<node> node_;
  std::string address_;
  std::uint64_t correlation_;
  std::atomic<bool> done_{false};
};

bool parse_address(const std::string& address, std::string& host, std::uint16_t& port) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = address.substr(0, colon);
  try {
    const int p = std::stoi(address.substr(colon + 1));
    if (p <= 0 || p > 65535) return false;
    port = static_cast<std::uint16_t>(p);
  } catch (...) {
    return false;
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------- connection

namespace {
// Up to 256 KiB per read (~2,500 small tells): fewer wake-ups and syscalls
// per message than 64 KiB (remote_tell +12%).
constexpr std::size_t read_chunk = 262144;

std::int64_t steady_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

connection::connection(node& owner, asio::ip::tcp::socket socket, std::string peer)
    : node_(owner), socket_(std::move(socket)), connect_timer_(owner.io()), peer_(std::move(peer)) {
  last_heard_us_.store(steady_us(), std::memory_order_relaxed);
  asio::ssl::context* ctx = peer_.empty() ? owner.tls_server() : owner.tls_client();
  if (ctx != nullptr) {
    tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, *ctx);
    if (!peer_.empty()) {  // outbound: the peer's certificate must name the address we dialled
      tls_->set_verify_callback(asio::ssl::host_name_verification(peer_.substr(0, peer_.rfind(':'))));
    }
  }
  write_hello_first();
}

void connection::on_ready() {
  auto go = [self = shared_from_this()] {
    {
      std::lock_guard g(self->mu_);
      self->ready_ = true;
      self->kick_write_locked();
    }
    if (!self->peer_.empty()) self->node_.on_connected(*self);  // outbound: we know whom we reached
    if (self->tls_) {
      self->do_read();
    } else {
      self->reading_.store(true, std::memory_order_release);
      self->wait_readable();
    }
  };
  if (!tls_) {
    go();
    return;
  }
  const auto role = peer_.empty() ? asio::ssl::stream_base::server : asio::ssl::stream_base::client;
  tls_->async_handshake(role, [self = shared_from_this(), go](const asio::error_code& ec) {
    if (ec) {
      self->node_.frame_rejected();
      self->close("TLS handshake failed: " + ec.message());
      return;
    }
    go();
  });
}

connection::~connection() = default;

void connection::write_hello_first() {
  append_hello_frame(queued_, node_.system().name(), node_.address());
}

void connection::start_outbound(const asio::ip::tcp::endpoint& to, std::chrono::milliseconds timeout) {
  auto self = shared_from_this();
  connect_timer_.expires_after(timeout);
  connect_timer_.async_wait([self](const asio::error_code& ec) {
    if (!ec) self->close("connect timed out");
  });
  socket_.async_connect(to, [self](const asio::error_code& ec) {
    self->connect_timer_.cancel();
    if (ec) {
      self->close("connect failed: " + ec.message());
      return;
    }
    asio::error_code ignored;
    self->socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    self->on_ready();
  });
}

void connection::start_inbound() {
  asio::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  on_ready();
}

bool connection::send(std::string_view frames, bool urgent) {
  if (closed_.load(std::memory_order_acquire)) return false;
  std::lock_guard g(mu_);
  if (closed_.load(std::memory_order_relaxed)) return false;
  if (urgent && !tls_ && ready_ && !writing_ && queued_.empty()) {
    // The line is free and someone waits for this: write it here and now.
    const ssize_t n =
        ::send(socket_.native_handle(), frames.data(), frames.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(frames.size())) return true;
    if (n > 0) frames.remove_prefix(static_cast<std::size_t>(n));  // the rest goes the usual way
  }
  queued_.append(frames);
  kick_write_locked();
  return true;
}

void connection::kick_write_locked() {
  if (writing_ || !ready_ || queued_.empty()) return;
  writing_ = true;
  asio::post(node_.io(), [self = shared_from_this()] { self->do_write(); });
}

void connection::do_write() {
  {
    std::lock_guard g(mu_);
    in_flight_.clear();
    in_flight_.swap(queued_);  // everything queued goes out in this one write
  }
  auto self = shared_from_this();
  auto done = [self](const asio::error_code& ec, std::size_t) {
    if (ec) {
      self->close("write failed: " + ec.message());
      return;
    }
    std::lock_guard g(self->mu_);
    self->writing_ = false;
    self->kick_write_locked();
  };
  if (tls_) {
    asio::async_write(*tls_, asio::buffer(in_flight_), done);
  } else {
    asio::async_write(socket_, asio::buffer(in_flight_), done);
  }
}

char* read_buffer::reserve(std::size_t n) {
  if (capacity_ - end_ >= n) return data_.get() + end_;
  const std::size_t unread = end_ - start_;
  if (capacity_ - unread >= n && start_ > 0) {
    std::memmove(data_.get(), data_.get() + start_, unread);
  } else {
    const std::size_t grown = std::max(capacity_ * 2, unread + n);
    auto bigger = std::make_unique_for_overwrite<char[]>(grown);
    if (unread > 0) std::memcpy(bigger.get(), data_.get() + start_, unread);
    data_ = std::move(bigger);
    capacity_ = grown;
  }
  start_ = 0;
  end_ = unread;
  return data_.get() + end_;
}

void connection::do_read() {
  char* into = in_.reserve(read_chunk);
  auto self = shared_from_this();
  auto done = [self](const asio::error_code& ec, std::size_t n) {
    self->in_.commit(n);
    if (ec) {
      self->close(ec == asio::error::eof ? "closed by peer" : "read failed: " + ec.message());
      return;
    }
    self->on_bytes();
    if (!self->is_closed()) self->do_read();
  };
  if (tls_) {
    tls_->async_read_some(asio::buffer(into, read_chunk), done);
  } else {
    socket_.async_read_some(asio::buffer(into, read_chunk), done);
  }
}

void connection::wait_readable() {
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](const asio::error_code& ec) {
                       if (ec) {
                         if (ec != asio::error::operation_aborted)
                           self->close("read failed: " + ec.message());
                         return;
                       }
                       // Re-armed before draining: bytes that arrive after the drain's last
                       // recv complete the new wait (epoll is edge-triggered under asio).
                       if (self->is_closed()) return;
                       self->wait_readable();
                       std::lock_guard g(self->read_mu_);
                       (void)self->drain_locked();
                     });
}

bool connection::drain_locked() {
  for (;;) {
    if (is_closed()) return false;
    char* into = in_.reserve(read_chunk);
    const ssize_t n = ::recv(socket_.native_handle(), into, read_chunk, MSG_DONTWAIT);
    if (n > 0) {
      in_.commit(static_cast<std::size_t>(n));
      on_bytes();
      continue;
    }
    if (n == 0) {
      close("closed by peer");
      return false;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    if (errno == EINTR) continue;
    close(std::string("read failed: ") + std::strerror(errno));
    return false;
  }
}

void connection::poll_read() {
  if (!reading_.load(std::memory_order_acquire) || is_closed()) return;
  std::unique_lock g(read_mu_, std::try_to_lock);
  if (!g.owns_lock()) return;  // someone is reading: they will handle it
  (void)drain_locked();
}

void connection::on_bytes() {
  last_heard_us_.store(steady_us(), std::memory_order_relaxed);
  akt::detail::send_batch batch;  // a buffer's messages to one actor arrive as one splice
  frame_view frame;
  for (;;) {
    std::size_t used = 0;
    const std::string_view rest = in_.unread();
    const decode_status s = decode_frame(rest, node_.options().max_frame_bytes, frame, used);
    if (s == decode_status::need_more) return;
    if (s != decode_status::frame) {
      node_.frame_rejected();
      close(s == decode_status::too_large ? "frame over the size limit" : "malformed frame");
      return;
    }
    in_.consume(used);
    if (!hello_seen_) {
      if (frame.kind != frame_kind::hello || frame.hello.protocol_version != protocol_version) {
        node_.frame_rejected();
        close("handshake failed: the first frame must be a Hello of protocol version " +
              std::to_string(protocol_version));
        return;
      }
      hello_seen_ = true;
      node_.on_hello(*this, frame.hello);
      continue;
    }
    node_.on_frame(*this, frame);
    if (is_closed()) return;
  }
}

void connection::close(const std::string& why) {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return;
  asio::post(node_.io(), [self = shared_from_this(), why] {
    asio::error_code ignored;
    self->connect_timer_.cancel();
    {
      // A sender may be writing directly (send, urgent), a waiting thread
      // reading (poll_read): neither may see the descriptor closed under it.
      std::scoped_lock g(self->read_mu_, self->mu_);
      self->socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      self->socket_.close(ignored);
    }
    self->node_.on_closed(*self, why);
  });
}

// ---------------------------------------------------------------- node

node::node(actor_system& system, remoting_options options)
    : system_(system),
      options_(std::move(options)),
      work_(asio::make_work_guard(io_)),
      acceptor_(io_),
      sweep_timer_(io_),
      heartbeat_timer_(io_) {}

node::~node() {
  shutdown();
}

namespace {

result<std::unique_ptr<asio::ssl::context>> make_tls_context(const tls_options& t, bool server) {
  auto ctx = std::make_unique<asio::ssl::context>(server ? asio::ssl::context::tls_server
                                                         : asio::ssl::context::tls_client);
  asio::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1,
                   ec);
  auto fail = [&](const std::string& what, const std::string& file) {
    return error(errc::invalid_argument, "TLS: cannot " + what + " '" + file + "': " + ec.message());
  };
  if (ctx->load_verify_file(t.ca_file, ec); ec) return fail("load the CA file", t.ca_file);
  if (server || t.mutual) {
    if (ctx->use_certificate_chain_file(t.certificate_file, ec); ec)
      return fail("load the certificate", t.certificate_file);
    if (ctx->use_private_key_file(t.private_key_file, asio::ssl::context::pem, ec); ec) {
      return fail("load the private key", t.private_key_file);
    }
  }
  if (server) {
    ctx->set_verify_mode(
        t.mutual ? asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert : asio::ssl::verify_none,
        ec);
  } else {
    ctx->set_verify_mode(asio::ssl::verify_peer, ec);
  }
  return ctx;
}

}  // namespace

status node::start_inbound_worker() {
  // Bounded: a peer flooding SPAWN frames gets mailbox_full, not memory.
  auto w = system_.spawn_fn(spawn_options{.mailbox = {.capacity = 1024}}, [](akt::context& ctx) {
    if (auto* job = ctx.message<inbound_job>()) job->run();
  });
  if (!w) return error(w.code(), "remoting: cannot start its inbound worker: " + w.error().message());
  inbound_worker_ = std::move(*w);
  return {};
}

status node::listen() {
  asio::error_code ec;
  if (options_.tls) {
    auto server = make_tls_context(*options_.tls, true);
    if (!server) return std::move(server).error();
    auto client = make_tls_context(*options_.tls, false);
    if (!client) return std::move(client).error();
    tls_server_ = std::move(*server);
    tls_client_ = std::move(*client);
  }
  const auto ip = asio::ip::make_address(options_.host, ec);
  if (ec)
    return error(errc::invalid_argument,
                 "remoting host '" + options_.host + "' is not an IP address: " + ec.message());
  const asio::ip::tcp::endpoint at(ip, options_.port);
  acceptor_.open(at.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(at, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return error(errc::invalid_argument, "cannot listen on " + options_.host + ":" +
                                             std::to_string(options_.port) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  accept_next();
  sweep_pending();
  heartbeat();
  thread_ = std::thread([this] { io_.run(); });
  return {};
}

void node::shutdown() {
  if (stopped_.exchange(true)) return;
  (void)inbound_worker_.stop();  // if the system still runs (a failed start)
  std::unordered_map<std::string, std::shared_ptr<connection>> conns;
  {
    std::lock_guard g(connections_mu_);
    conns.swap(connections_);
  }
  asio::post(io_, [this] {
    asio::error_code ignored;
    acceptor_.close(ignored);
    sweep_timer_.cancel();
    heartbeat_timer_.cancel();
  });
  for (auto& [address, c] : conns) c->close("remoting closed");
  work_.reset();
  if (thread_.joinable()) {
    // Let the closes run, then stop whatever is still pending.
    asio::post(io_, [this] { io_.stop(); });
    thread_.join();
  }
  std::unordered_map<std::uint64_t, pending_ask> pending;
  {
    std::lock_guard g(pending_mu_);
    pending.swap(pending_);
  }
  for (auto& [id, p] : pending) {
    error e(errc::dead_actor, "remoting on this node closed before the reply came");
    if (p.sink) p.sink->fail(e);
    if (p.found) p.found->set_value(e);
  }
}

void node::heartbeat() {
  heartbeat_timer_.expires_after(options_.heartbeat_interval);
  heartbeat_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    std::vector<std::shared_ptr<connection>> conns;
    {
      std::lock_guard g(connections_mu_);
      for (auto& [address, c] : connections_) conns.push_back(c);
    }
    const auto silent_limit =
        std::chrono::duration_cast<std::chrono::microseconds>(options_.heartbeat_interval).count() * 3;
    std::string beat;
    append_heartbeat_frame(beat, static_cast<std::uint64_t>(steady_us()));
    for (auto& c : conns) {
      if (steady_us() - c->last_heard_us() > silent_limit) {
        c->close("peer silent for 3 heartbeat intervals");
      } else {
        (void)c->send(beat);
      }
    }
    heartbeat();
  });
}

void node::accept_next() {
  acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec) return;  // closed
    auto c = std::make_shared<connection>(*this, std::move(socket), std::string());
    opened_.fetch_add(1, std::memory_order_relaxed);
    c->start_inbound();
    accept_next();
  });
}

void node::sweep_pending() {
  // Asks whose asker gave up are forgotten; a reply arriving later is dropped.
  sweep_timer_.expires_after(options_.heartbeat_interval);
  sweep_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    {
      std::lock_guard g(pending_mu_);
      for (auto it = pending_.begin(); it != pending_.end();) {
        it = it->second.sink && !it->second.sink->is_waiting() ? pending_.erase(it) : std::next(it);
      }
    }
    sweep_pending();
  });
}

std::shared_ptr<connection> node::connection_to(const std::string& address, error* why) {
  std::lock_guard g(connections_mu_);
  if (stopped_.load()) {
    *why = error(errc::dead_actor, "remoting on this node is closed");
    return nullptr;
  }
  if (auto it = connections_.find(address); it != connections_.end() && !it->second->is_closed())
    return it->second;
  if (auto r = retry_after_.find(address);
      r != retry_after_.end() && std::chrono::steady_clock::now() < r->second) {
    *why = error(errc::dead_actor,
                 "node " + address + " is unreachable (next attempt in " +
                     akt::detail::format_duration(
                         std::chrono::nanoseconds(r->second - std::chrono::steady_clock::now()).count()) +
                     ")");
    return nullptr;
  }
  std::string host;
  std::uint16_t port = 0;
  asio::error_code ec;
  if (!parse_address(address, host, port)) {
    *why = error(errc::invalid_argument, "'" + address + "' is not a host:port address");
    return nullptr;
  }
  const auto ip = asio::ip::make_address(host, ec);
  if (ec) {
    *why = error(errc::invalid_argument, "'" + host + "' is not an IP address");
    return nullptr;
  }
  auto c = std::make_shared<connection>(*this, asio::ip::tcp::socket(io_), address);
  connections_[address] = c;
  opened_.fetch_add(1, std::memory_order_relaxed);
  c->start_outbound(asio::ip::tcp::endpoint(ip, port), options_.connect_timeout);
  return c;
}

namespace {
thread_local std::string tls_frame;    // NOLINT: encoding scratch, reused
thread_local std::string tls_payload;  // NOLINT
}  // namespace

std::shared_ptr<connection> node::connection_via(const std::string& address, connection_handle* handle,
                                                 error* why) {
  std::shared_ptr<connection> c = handle != nullptr ? handle->get() : nullptr;
  if (c && !c->is_closed()) return c;
  c = connection_to(address, why);
  if (c && handle != nullptr) handle->set(c);
  return c;
}

status node::send_frame(const std::string& address, const envelope_view& frame, connection_handle* handle) {
  error why(errc::dead_actor, "");
  auto c = connection_via(address, handle, &why);
  if (!c) return why;
  tls_frame.clear();
  append_envelope_frame(tls_frame, frame);
  const bool urgent = frame.kind != envelope_kind::tell && frame.kind != envelope_kind::stop;
  if (!c->send(tls_frame, urgent))
    return error(errc::dead_actor, "the connection to " + address + " is closed");
  return {};
}

status node::send_envelope(const std::string& address, const std::string& receiver, envelope_ptr e,
                           connection_handle* handle) {
  envelope_view env;
  env.receiver = receiver;
  const std::string sender = e->sender ? e->sender->path() : std::string();
  env.sender = sender;
  env.type = e->wire_type();
  tls_payload.clear();
  if (env.type.empty() || !e->serialize(tls_payload)) {
    return error(errc::invalid_argument, "a " + e->type_name() + " cannot cross the wire to " + receiver +
                                             ": only Protocol Buffers messages can");
  }
  env.payload = tls_payload;
  const std::string traceparent = e->trace ? e->trace->traceparent() : std::string();
  env.traceparent = traceparent;
  std::uint64_t correlation = 0;
  if (e->reply_to) {
    correlation = next_correlation_.fetch_add(1, std::memory_order_relaxed);
    env.kind = envelope_kind::ask;
    env.correlation_id = correlation;
    std::lock_guard g(pending_mu_);
    pending_[correlation] = pending_ask{e->reply_to, nullptr, address};
  }
  auto s = send_frame(address, env, handle);
  if (!s && correlation != 0) {
    std::lock_guard g(pending_mu_);
    pending_.erase(correlation);
  }
  return s;
}

status node::send_wire(const std::string& address, const std::string& receiver,
                       const akt::detail::wire_message& m, actor_ref* sender, const trace_context* trace,
                       connection_handle* handle) {
  envelope_view env;
  env.receiver = receiver;
  std::string traceparent;
  if (trace != nullptr) [[unlikely]] {
    traceparent = trace->traceparent();
    env.traceparent = traceparent;
  }
  std::string sender_path;
  if (sender != nullptr) {
    sender_path = sender->path();
    env.sender = sender_path;
  }
  env.type = m.type;
  const payload_writer payload{m.byte_size(m.value), m.write, m.value};
  error why(errc::dead_actor, "");
  auto c = connection_via(address, handle, &why);
  if (!c) return why;
  if (!c->enqueue([&](std::string& queue) { append_envelope_frame(queue, env, payload); }))
    return error(errc::dead_actor, "the connection to " + address + " is closed");
  return {};
}

status node::send_stop(const std::string& address, const std::string& receiver) {
  envelope_view env;
  env.kind = envelope_kind::stop;
  env.receiver = receiver;
  return send_frame(address, env);
}

result<pid> node::round_trip_for_path(const std::string& address, envelope_view env,
                                      std::chrono::nanoseconds timeout, const std::string& what) {
  auto found = std::make_shared<std::promise<result<std::string>>>();
  auto answer = found->get_future();
  const std::uint64_t correlation = next_correlation_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard g(pending_mu_);
    pending_[correlation] = pending_ask{{}, found, address};
  }
  env.correlation_id = correlation;
  if (auto s = send_frame(address, env); !s) {
    std::lock_guard g(pending_mu_);
    pending_.erase(correlation);
    return std::move(s).error();
  }
  if (answer.wait_for(timeout) != std::future_status::ready) {
    std::lock_guard g(pending_mu_);
    pending_.erase(correlation);
    return error(errc::request_timeout, "no answer from " + address + " to " + what + " within " +
                                            akt::detail::format_duration(timeout.count()));
  }
  result<std::string> path = answer.get();
  if (!path) return std::move(path).error();
  return pid(remote_ref_for(*path));
}

result<pid> node::lookup(const std::string& address, const std::string& name,
                         std::chrono::nanoseconds timeout) {
  envelope_view env;
  env.kind = envelope_kind::lookup;
  env.receiver = name;
  return round_trip_for_path(address, env, timeout, "a lookup of '" + name + "'");
}

result<pid> node::spawn(const std::string& address, const std::string& kind, const std::string& name,
                        std::chrono::nanoseconds timeout) {
  envelope_view env;
  env.kind = envelope_kind::spawn;
  env.type = kind;
  env.receiver = name;
  return round_trip_for_path(address, env, timeout, "a spawn of kind '" + kind + "'");
}

result<pid> node::resolve(std::string_view path) {
  std::string address, name;
  if (!split_remote_path(path, address, name)) {
    return error(errc::invalid_argument,
                 "'" + std::string(path) + "' is not a remote path (akt://system@host:port/name)");
  }
  if (address == this->address()) return system_.lookup(path);
  return pid(remote_ref_for(std::string(path)));
}

ref_ptr<actor_ref> node::remote_ref_for(const std::string& path) {
  std::string address, name;
  split_remote_path(path, address, name);
  return ref_ptr<actor_ref>::adopt(new remote_ref(weak_from_this(), path, address, name));
}

// ---------------------------------------------------------------- death watch

void node::watch(const std::string& address, const std::string& target, actor_ref& watcher) {
  {
    std::lock_guard g(watches_mu_);
    watches_[address].push_back(remote_watch{target, ref_ptr<actor_ref>::share(&watcher)});
  }
  envelope_view env;
  env.kind = envelope_kind::watch;
  env.receiver = target;
  const std::string from = watcher.path();
  env.sender = from;
  if (auto s = send_frame(address, env); !s) drop_watches(address, &target, s.error().message());
}

void node::unwatch(const std::string& address, const std::string& target, actor_ref& watcher) {
  {
    std::lock_guard g(watches_mu_);
    auto& list = watches_[address];
    std::erase_if(list,
                  [&](const remote_watch& w) { return w.target == target && w.watcher.get() == &watcher; });
  }
  envelope_view env;
  env.kind = envelope_kind::unwatch;
  env.receiver = target;
  const std::string from = watcher.path();
  env.sender = from;
  (void)send_frame(address, env);
}

void node::send_terminated(const std::string& address, const std::string& watcher_path,
                           const std::string& target_path) {
  envelope_view env;
  env.kind = envelope_kind::terminated;
  env.receiver = watcher_path;
  env.sender = target_path;
  (void)send_frame(address, env);
}

void node::drop_watches(const std::string& address, const std::string* only_target, const std::string& why) {
  std::vector<remote_watch> gone;
  {
    std::lock_guard g(watches_mu_);
    auto it = watches_.find(address);
    if (it == watches_.end()) return;
    auto& list = it->second;
    for (auto w = list.begin(); w != list.end();) {
      if (only_target == nullptr || w->target == *only_target) {
        gone.push_back(std::move(*w));
        w = list.erase(w);
      } else {
        ++w;
      }
    }
  }
  for (auto& w : gone) {
    system_.logger().debug("remoting: " + w.target + " is gone for its watchers (" + why + ")");
    (void)w.watcher->deliver(akt::detail::make_envelope(terminated{pid(remote_ref_for(w.target))}));
  }
}

// ---------------------------------------------------------------- inbound

// A malformed traceparent from a peer is dropped (the message still goes
// through, untraced): tracing must never cost a message.
trace_ref node::trace_from_wire(std::string_view traceparent) {
  auto tc = trace_context::parse(traceparent);
  if (!tc) {
    system_.logger().debug("remoting: ignored a malformed traceparent: " + tc.error().message());
    return {};
  }
  return std::move(*tc);
}

void node::on_hello(connection& from, const hello_view& hello) {
  if (!from.peer().empty()) return;  // outbound: we know whom we called
  // Inbound: replies to this node go back over this connection.
  auto self = from.shared_from_this();
  const std::string address(hello.address);
  std::string host;
  std::uint16_t port = 0;
  if (address.size() > 261 || !parse_address(address, host, port)) {
    frame_rejected();
    from.close("a Hello whose address is not host:port");
    return;
  }
  bool current = false;
  {
    std::lock_guard g(connections_mu_);
    from.set_peer(address);
    auto it = connections_.find(address);
    if (it == connections_.end() || it->second->is_closed()) {
      connections_[address] = self;
      current = true;
    }
  }
  // Announced once per node reachable, not per duplicate connection.
  if (current && !stopped_.load()) system_.announce(node_event{node_event_kind::up, address, {}});
}

void node::on_connected(connection& c) {
  bool current = false;
  {
    std::lock_guard g(connections_mu_);
    auto it = connections_.find(c.peer());
    current = it != connections_.end() && it->second.get() == &c;
  }
  if (current && !stopped_.load()) system_.announce(node_event{node_event_kind::up, c.peer(), {}});
}

void node::on_closed(connection& c, const std::string& why) {
  const std::string peer = c.peer();
  bool was_current = false;
  {
    std::lock_guard g(connections_mu_);
    if (auto it = connections_.find(peer); it != connections_.end() && it->second.get() == &c) {
      connections_.erase(it);
      was_current = true;
    }
    if (why.starts_with("connect")) {
      auto& b = backoff_[peer];
      b = b.count() == 0 ? std::chrono::milliseconds(100) : std::min(b * 2, std::chrono::milliseconds(5000));
      retry_after_[peer] = std::chrono::steady_clock::now() + b;
    } else {
      backoff_.erase(peer);
      retry_after_.erase(peer);
    }
  }
  if (!stopped_.load()) {
    system_.logger().warn("remoting: connection to " + (peer.empty() ? std::string("a peer") : peer) +
                          " closed: " + why);
  }
  if (!was_current || peer.empty()) return;
  if (!stopped_.load()) system_.announce(node_event{node_event_kind::down, peer, why});
  drop_watches(peer, nullptr, why);
  // Asks waiting on that node fail now, not at their timeout.
  std::vector<pending_ask> failed;
  {
    std::lock_guard g(pending_mu_);
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.address == peer) {
        failed.push_back(std::move(it->second));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  }
  error e(errc::dead_actor, "the connection to " + peer + " was lost (" + why + ")");
  for (auto& p : failed) {
    if (p.sink) p.sink->fail(e);
    if (p.found) p.found->set_value(e);
  }
}

void node::on_frame(connection& from, const frame_view& frame) {
  if (frame.kind == frame_kind::heartbeat) return;
  if (frame.kind != frame_kind::envelope) {
    frame_rejected();
    from.close("a second Hello");
    return;
  }
  const envelope_view& env = frame.envelope;
  switch (env.kind) {
    case envelope_kind::tell:
    case envelope_kind::ask:
      deliver_local(from, env);
      return;
    case envelope_kind::stop: {
      auto target = system_.lookup_local(env.receiver);
      if (target) (void)target->stop();
      return;
    }
    case envelope_kind::spawn: {
      auto spawner = system_.registry().find_kind(env.type);
      if (!spawner) {
        answer_with_path(from.peer(), env.correlation_id,
                         error(errc::not_found, "no actor kind '" + std::string(env.type) +
                                                    "' is registered at " + address()));
        return;
      }
      // The new actor's pre_start is user code: it runs on a worker, in the
      // inbound worker's turn, never on this thread (the I/O thread, a plain
      // thread polling for its reply, or an idle worker's poll).
      auto job = [self = weak_from_this(), spawner = std::move(spawner), peer = from.peer(),
                  correlation = env.correlation_id, name = std::string(env.receiver)] {
        if (auto n = self.lock()) n->answer_with_path(peer, correlation, spawner(n->system(), name));
      };
      if (auto s = inbound_worker_.tell(inbound_job{std::move(job)}); !s) {
        answer_with_path(from.peer(), env.correlation_id, s.error());
      }
      return;
    }
    case envelope_kind::watch: {
      auto target = system_.lookup_local(env.receiver);
      auto watcher = remote_ref_for(std::string(env.sender));
      if (!target) {
        send_terminated(from.peer(), std::string(env.sender),
                        std::string(env.receiver));  // nothing there: gone
        return;
      }
      (void)target->ref()->add_watcher(*watcher);
      return;
    }
    case envelope_kind::unwatch: {
      if (auto target = system_.lookup_local(env.receiver))
        target->ref()->remove_watcher(*remote_ref_for(std::string(env.sender)));
      return;
    }
    case envelope_kind::terminated: {
      // The watched actor stopped: every local watcher of it is told (the
      // other TERMINATED frames for the same actor then find nothing left).
      const std::string target(env.sender);
      drop_watches(from.peer(), &target, "it stopped");
      return;
    }
    case envelope_kind::lookup: {
      answer_with_path(from.peer(), env.correlation_id, system_.lookup_local(env.receiver));
      return;
    }
    case envelope_kind::reply:
    case envelope_kind::failure: {
      pending_ask p;
      {
        std::lock_guard g(pending_mu_);
        auto it = pending_.find(env.correlation_id);
        if (it == pending_.end()) {
          if (env.kind == envelope_kind::failure && env.correlation_id == 0) {
            system_.logger().warn("remoting: " + from.peer() +
                                  " refused a message: " + std::string(env.error_message));
          }
          return;  // a late answer: the asker gave up
        }
        p = std::move(it->second);
        pending_.erase(it);
      }
      if (env.kind == envelope_kind::failure) {
        error e(static_cast<errc>(env.error_code), std::string(env.error_message));
        if (p.sink) p.sink->fail(e);
        if (p.found) p.found->set_value(e);
        return;
      }
      if (p.found) {
        p.found->set_value(result<std::string>(std::string(env.receiver)));
        return;
      }
      auto decode = decoder_for(from.cache(), env.type);
      envelope_ptr reply = decode ? decode(env.payload) : nullptr;
      if (!reply) {
        p.sink->fail(error(errc::invalid_argument, "the reply's type " + std::string(env.type) +
                                                       " is unknown here: registry().register_message<" +
                                                       std::string(env.type) + ">()"));
        return;
      }
      if (!env.sender.empty()) reply->sender = remote_ref_for(std::string(env.sender));
      if (!env.traceparent.empty()) reply->trace = trace_from_wire(env.traceparent);
      if (!p.sink->complete(reply)) system_.logger().debug("remoting: a late reply was dropped");
      return;
    }
  }
  frame_rejected();
  from.close("unknown envelope kind");
}

void node::answer_with_path(const std::string& peer, std::uint64_t correlation, const result<pid>& found) {
  if (!found) {
    send_failure(peer, correlation, found.error());
    return;
  }
  const std::string path = found->path();
  envelope_view reply;
  reply.kind = envelope_kind::reply;
  reply.correlation_id = correlation;
  reply.receiver = path;
  (void)send_frame(peer, reply);
}

message_decoder node::decoder_for(inbound_cache& cache, std::string_view type) {
  if (cache.last_decoder != nullptr && type == cache.last_type) return cache.last_decoder;
  message_decoder d = system_.registry().find_decoder(type);
  if (d != nullptr) {
    cache.last_type.assign(type);
    cache.last_decoder = d;
  }
  return d;
}

void node::poll_some() {
  std::shared_ptr<connection> c;
  {
    std::unique_lock g(connections_mu_, std::try_to_lock);
    if (!g.owns_lock() || connections_.empty()) return;
    auto it = connections_.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(poll_cursor_++ % connections_.size()));
    c = it->second;
  }
  c->poll_read();
}

void node::poll_incoming(const std::string& address, connection_handle& handle) {
  std::shared_ptr<connection> c = handle.get();
  if (!c || c->is_closed()) {  // look it up, never open one: there is nothing to read then
    std::lock_guard g(connections_mu_);
    auto it = connections_.find(address);
    if (it == connections_.end()) return;
    c = it->second;
    handle.set(c);
  }
  c->poll_read();
}

void node::deliver_local(connection& from, const envelope_view& env) {
  const bool is_ask = env.kind == envelope_kind::ask;
  auto refuse = [&](const error& e) {
    system_.logger().warn("remoting: refused a " + std::string(env.type) + " from " + from.peer() + " for " +
                          std::string(env.receiver) + ": " + e.to_string());
    send_failure(from.peer(), is_ask ? env.correlation_id : 0, e);
  };
  auto decode = decoder_for(from.cache(), env.type);
  if (decode == nullptr) {
    refuse(error(errc::invalid_argument, "unknown message type '" + std::string(env.type) + "' at " +
                                             address() + ": registry().register_message<" +
                                             std::string(env.type) + ">() there"));
    return;
  }
  // Decoded by the receiving actor's worker, not here (see wire_envelope.hpp):
  // this thread only frames and copies.
  envelope_ptr e = akt::detail::wire_envelope::make(decode, env.type, env.payload);
  if (!env.sender.empty()) e->sender = remote_ref_for(std::string(env.sender));
  if (!env.traceparent.empty()) e->trace = trace_from_wire(env.traceparent);
  if (is_ask) {
    e->reply_to =
        ref_ptr<reply_sink>::adopt(new remote_reply_sink(weak_from_this(), from.peer(), env.correlation_id));
  }
  // A stream of messages to one actor hits the last target without a lookup.
  inbound_cache& cache = from.cache();
  if (!cache.last_target || env.receiver != cache.last_receiver) {
    auto cached = cache.local.find(std::string(env.receiver));
    if (cached == cache.local.end()) {
      auto target = system_.lookup_local(env.receiver);
      if (!target) {
        e->reply_to.reset();
        refuse(target.error());
        return;
      }
      if (cache.local.size() > 100'000) cache.local.clear();
      cached = cache.local.emplace(std::string(env.receiver), *target).first;
    }
    cache.last_receiver = cached->first;
    cache.last_target = cached->second;
  }
  auto s = cache.last_target.ref()->deliver(std::move(e));
  if (!s) {
    cache.local.erase(cache.last_receiver);
    cache.last_target = pid();
    cache.last_receiver.clear();
    if (is_ask) send_failure(from.peer(), env.correlation_id, s.error());
  }
}

void node::send_reply(const std::string& address, std::uint64_t correlation, envelope_ptr reply) {
  envelope_view env;
  env.kind = envelope_kind::reply;
  env.correlation_id = correlation;
  env.type = reply->wire_type();
  const std::string sender = reply->sender ? reply->sender->path() : std::string();
  env.sender = sender;
  tls_payload.clear();
  if (env.type.empty() || !reply->serialize(tls_payload)) {
    send_failure(
        address, correlation,
        error(errc::invalid_argument, "the reply, a " + reply->type_name() + ", cannot cross the wire"));
    return;
  }
  env.payload = tls_payload;
  const std::string traceparent = reply->trace ? reply->trace->traceparent() : std::string();
  env.traceparent = traceparent;
  (void)send_frame(address, env);
}

void node::send_failure(const std::string& address, std::uint64_t correlation, const error& e) {
  envelope_view env;
  env.kind = envelope_kind::failure;
  env.correlation_id = correlation;
  env.error_code = static_cast<std::uint32_t>(e.code());
  env.error_message = e.message();
  (void)send_frame(address, env);
}

}  // namespace akt::remote::detail
