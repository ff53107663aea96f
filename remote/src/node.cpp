#include "node.hpp"

#include <akt/detail/thread_name.hpp>
#include <algorithm>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

#include "address.hpp"
#include "remote_ref.hpp"

namespace akt::remote::detail {

// ---------------------------------------------------------------- lifecycle

node::node(actor_system& system, remoting_options options)
    : system_(system),
      options_(std::move(options)),
      work_(asio::make_work_guard(io_)),
      acceptor_(io_),
      accept_timer_(io_),
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

// The smallest outbound queue allowed (remoting_options::max_outbound_bytes).
constexpr std::size_t min_outbound_bytes = 64 * 1024;

error bad_option(const std::string& what) {
  return error(errc::invalid_argument, "remoting_options: " + what);
}

}  // namespace

status node::validate() const {
  const remoting_options& o = options_;
  asio::error_code ec;
  (void)asio::ip::make_address(o.host, ec);
  if (ec) return bad_option("host '" + o.host + "' is not an IP address: " + ec.message());
  if (!o.secret.empty() && o.secret.size() < min_secret_size) {
    return bad_option("the secret has " + std::to_string(o.secret.size()) + " bytes; at least " +
                      std::to_string(min_secret_size) + " are needed");
  }
  const bool authenticated = !o.secret.empty() || (o.tls && o.tls->mutual);
  if (!authenticated && !o.insecure_no_authentication && !is_loopback(o.host)) {
    return bad_option(
        "remoting on " + o.host +
        " (not loopback) needs authentication: set secret (shared by the nodes) or tls with mutual "
        "= true, or insecure_no_authentication = true to accept any peer");
  }
  if (o.heartbeat_interval.count() <= 0 || o.silent_heartbeats == 0)
    return bad_option("heartbeat_interval and silent_heartbeats must be positive");
  if (o.connect_timeout.count() <= 0 || o.handshake_timeout.count() <= 0)
    return bad_option("connect_timeout and handshake_timeout must be positive");
  if (o.max_frame_bytes < 4096 || o.max_frame_bytes > (1u << 30))
    return bad_option("max_frame_bytes must be between 4 KiB and 1 GiB");
  if (o.max_connections == 0) return bad_option("max_connections must be positive");
  if (o.flow_window_bytes < min_window_bytes) {
    return bad_option("flow_window_bytes must be at least " + std::to_string(min_window_bytes) +
                      " (credit comes back per " + std::to_string(grant_bytes) + " bytes)");
  }
  if (o.max_outbound_bytes < min_outbound_bytes)
    return bad_option("max_outbound_bytes must be at least " + std::to_string(min_outbound_bytes) +
                      " (a smaller queue cannot batch a stream's writes)");
  if (o.max_inbound_pending_bytes < o.flow_window_bytes)
    return bad_option("max_inbound_pending_bytes must be at least flow_window_bytes");
  return {};
}

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
  if (auto s = validate(); !s) return s;
  asio::error_code ec;
  if (options_.tls) {
    auto server = make_tls_context(*options_.tls, true);
    if (!server) return std::move(server).error();
    auto client = make_tls_context(*options_.tls, false);
    if (!client) return std::move(client).error();
    tls_server_ = std::move(*server);
    tls_client_ = std::move(*client);
  }
  const asio::ip::tcp::endpoint at(asio::ip::make_address(options_.host), options_.port);
  acceptor_.open(at.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(at, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return error(errc::invalid_argument, "cannot listen on " + options_.host + ":" +
                                             std::to_string(options_.port) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  address_ = options_.host + ":" + std::to_string(port_);
  accept_next();
  sweep_pending();
  heartbeat();
  thread_ = std::thread([this] {
    akt::detail::name_this_thread("akt-remote-io");
    if (options_.batch_io_thread) use_batch_scheduling();
    io_.run();
  });
  return {};
}

void node::use_batch_scheduling() {
#if defined(__linux__)
  // Priority 0 is the only one SCHED_BATCH has: no privilege needed.
  sched_param param{};
  if (const int err = pthread_setschedparam(pthread_self(), SCHED_BATCH, &param); err != 0) {
    system_.logger().info("remoting: the I/O thread keeps its scheduling policy (SCHED_BATCH refused: " +
                          std::string(std::strerror(err)) + ")");
  }
#endif
}

void node::shutdown() {
  if (stopped_.exchange(true)) return;
  (void)inbound_worker_.stop();  // if the system still runs (a failed start)
  std::unordered_set<std::shared_ptr<connection>> conns;
  {
    std::lock_guard g(peers_mu_);
    conns.swap(all_);
    by_address_.clear();
  }
  asio::post(io_, [this] {
    asio::error_code ignored;
    acceptor_.close(ignored);
    accept_timer_.cancel();
    sweep_timer_.cancel();
    heartbeat_timer_.cancel();
  });
  for (const auto& c : conns) c->close("remoting closed");
  work_.reset();
  if (thread_.joinable()) {
    // Let the closes run, then stop whatever is still pending.
    asio::post(io_, [this] { io_.stop(); });
    thread_.join();
  }
  // A connection accepted while the above ran is closed too: its pids then
  // let go of it (connection::close), which breaks the cycle of a
  // connection whose reader cache holds pids that hold it.
  {
    std::lock_guard g(peers_mu_);
    conns.clear();
    conns.swap(all_);
    by_address_.clear();
  }
  for (const auto& c : conns) c->close("remoting closed");
  const error e(errc::dead_actor, "remoting on this node closed before the reply came");
  for (auto& p : pending_.take_all()) p.fail(e);
}

void node::sweep_pending() {
  sweep_timer_.expires_after(options_.heartbeat_interval);
  sweep_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    pending_.sweep();
    sweep_pending();
  });
}

void node::warn_limited(const std::string& what) {
  const auto now = std::chrono::steady_clock::now();
  std::string line;
  {
    std::lock_guard g(log_mu_);
    if (now - last_warning_ < std::chrono::seconds(1)) {
      ++suppressed_warnings_;
      return;
    }
    last_warning_ = now;
    line = "remoting: " + what;
    if (suppressed_warnings_ != 0) {
      line += " (and " + std::to_string(suppressed_warnings_) + " more warnings in the last second)";
      suppressed_warnings_ = 0;
    }
  }
  system_.logger().warn(line);
}

void node::handshake_refused(const std::string& peer, const std::string& why) {
  refused_.fetch_add(1, std::memory_order_relaxed);
  warn_limited("refused a connection" + (peer.empty() ? std::string() : " from " + peer) + ": " + why);
}

// ---------------------------------------------------------------- sending

namespace {
thread_local std::string tls_frame;    // NOLINT: encoding scratch, reused
thread_local std::string tls_payload;  // NOLINT

// The tracestate a context carries on the wire: none when over the bound
// (a local tracer may make a longer one; a receiver would drop it anyway).
std::string_view wire_tracestate(const trace_context& tc) noexcept {
  const std::string& s = tc.tracestate();
  return s.size() <= max_tracestate_bytes ? std::string_view(s) : std::string_view();
}

// An envelope's strings as they go out on a connection (its queue's lock
// held, so ids are given in queue order): ids for those seen before there,
// definitions for new ones. `slot` remembers its receiver's id.
void intern_strings(outbound_interns& interns, envelope_view& env, flow_slot* slot) {
  interns.apply(interned_kind::receiver, env.receiver, env.receiver_id,
                slot != nullptr ? &slot->receiver_id : nullptr);
  interns.apply(interned_kind::sender, env.sender, env.sender_id);
  interns.apply(interned_kind::type, env.type, env.type_id);
}

// The sink of an ask that arrived from another node: the reply goes back
// over the connection the ask came on, never to an address it named.
class remote_reply_sink final : public reply_sink {
 public:
  remote_reply_sink(std::weak_ptr<node> n, std::weak_ptr<connection> via, std::uint64_t correlation)
      : node_(std::move(n)), via_(std::move(via)), correlation_(correlation) {}

  bool complete(envelope_ptr& reply) override {
    if (done_.exchange(true)) return false;
    auto n = node_.lock();
    auto c = via_.lock();
    if (n && c) {
      n->send_reply(c, correlation_, std::move(reply));
    } else if (n) {
      n->system().report_dead_letter(reply->type_name(),
                                     error(errc::dead_actor, "a reply whose asker's connection closed"));
    }
    return true;
  }
  void fail(error e) noexcept override {
    if (done_.exchange(true)) return;
    auto n = node_.lock();
    auto c = via_.lock();
    if (n && c) n->send_failure(*c, correlation_, e);
  }
  bool is_waiting() const noexcept override { return !done_.load(); }
  bool held_until_stop() const noexcept override { return false; }

 private:
  std::weak_ptr<node> node_;
  std::weak_ptr<connection> via_;
  std::uint64_t correlation_;
  std::atomic<bool> done_{false};
};

}  // namespace

ref_ptr<reply_sink> make_remote_reply_sink(std::weak_ptr<node> n, std::weak_ptr<connection> via,
                                           std::uint64_t correlation) {
  return ref_ptr<reply_sink>::adopt(new remote_reply_sink(std::move(n), std::move(via), correlation));
}

status node::send_envelope(const std::string& address, const std::string& receiver, envelope_ptr e,
                           connection_handle& handle) {
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
  if (e->trace && e->trace.get() == akt::detail::current_trace() && e->trace->is_sampled()) [[unlikely]] {
    // Sent under this thread's sampled context: a tracer may open its send span.
    e->trace = system_.observe_send(*e->trace, send_view{nullptr, receiver, env.type, bool(e->reply_to)});
  }
  const std::string traceparent = e->trace ? e->trace->traceparent() : std::string();
  env.traceparent = traceparent;
  if (e->trace) env.tracestate = wire_tracestate(*e->trace);
  error why(errc::dead_actor, std::string());  // filled by route on failure only
  auto route_to = route(address, receiver, handle, &why);
  if (!route_to.conn) {
    count_send_failure(address);
    system_.report_dead_letter(e->type_name(), why);
    return why;
  }
  std::uint64_t correlation = 0;
  if (e->reply_to) {
    env.kind = envelope_kind::ask;
    correlation = pending_.add(pending_ask{e->reply_to, nullptr, route_to.conn.get()});
    env.correlation_id = correlation;
  }
  flow_slot* slot = route_to.slot.get();
  status s;
  try {
    s = route_to.conn->enqueue(
        *slot,
        [&](byte_queue& queue, outbound_interns& interns) {
          intern_strings(interns, env, slot);
          append_envelope_frame(queue, env);
        },
        /*urgent=*/true);
  } catch (...) {
    if (correlation != 0) pending_.erase(correlation);  // nothing was sent: no reply will come
    throw;
  }
  if (s && correlation != 0 && route_to.conn->is_closed()) {
    // Closed meanwhile: its close may have failed the pending asks before ours was added.
    if (pending_.take(correlation, route_to.conn.get()))
      s = error(errc::dead_actor, "the connection to " + address + " was lost");
    else
      return s;
  }
  if (!s) {
    if (correlation != 0) pending_.erase(correlation);
    if (s.code() != errc::backpressure) count_send_failure(address);
    system_.report_dead_letter(e->type_name(),
                               error(s.code(), "to " + receiver + ": " + s.error().message()));
  }
  return s;
}

std::optional<status> try_send_wire(connection_handle& handle, tell_frame& t,
                                    std::shared_ptr<connection>& wake) {
  return handle
      .with_open([&](connection& c, flow_slot& slot) -> std::optional<status> {
        bool post = false;
        std::optional<status> r = c.try_enqueue(slot, t.encode(slot), post);
        if (post) wake = c.shared_from_this();
        return r;
      })
      .value_or(std::nullopt);
}

status node::send_wire(const std::string& address, tell_frame& t, const trace_context* trace,
                       connection_handle& handle) {
  std::string traceparent;
  trace_ref carried;           // the send span's context, when a tracer opened one
  std::optional<status> fast;  // an untraced tell's fast path was tried by the caller
  if (trace != nullptr) {
    if (trace == akt::detail::current_trace() && trace->is_sampled()) {
      carried = system_.observe_send(*trace, send_view{nullptr, t.receiver, t.type, false});
      trace = carried.get();
    }
    traceparent = trace->traceparent();
    t.env.traceparent = traceparent;
    t.env.tracestate = wire_tracestate(*trace);
    std::shared_ptr<connection> wake;
    fast = try_send_wire(handle, t, wake);
    if (wake) wake->post_write();  // this node is held by the caller
  }
  status s;
  if (fast) {
    s = *fast;
  } else {
    // Filled by route on failure only: a thread's scratch, so no error is
    // built per tell (even an empty one moves its string out of line).
    thread_local error why(errc::dead_actor, std::string());
    auto route_to = route(address, t.receiver, handle, &why);
    s = route_to.conn ? route_to.conn->enqueue(*route_to.slot, t.encode(*route_to.slot)) : status(why);
  }
  if (!s) [[unlikely]] {
    if (s.code() != errc::backpressure) count_send_failure(address);
    system_.report_dead_letter(t.type, error(s.code(), "to " + t.receiver + ": " + s.error().message()));
  }
  return s;
}

status node::send_stop(const std::string& address, const std::string& receiver, connection_handle& handle) {
  return send_command(address, envelope_kind::stop, receiver, {}, handle);
}

status node::send_command(const std::string& address, envelope_kind kind, const std::string& receiver,
                          std::string_view sender, connection_handle& handle) {
  envelope_view env;
  env.kind = kind;
  env.receiver = receiver;
  env.sender = sender;
  error why(errc::dead_actor, std::string());  // filled by route on failure only
  auto route_to = route(address, receiver, handle, &why);
  if (!route_to.conn) return why;
  tls_frame.clear();
  append_envelope_frame(tls_frame, env);
  return route_to.conn->send(tls_frame);
}

void node::send_reply(const std::shared_ptr<connection>& via, std::uint64_t correlation, envelope_ptr reply) {
  status s;
  bool out_of_memory = false;
  try {
    envelope_view env;
    env.kind = envelope_kind::reply;
    env.correlation_id = correlation;
    env.type = reply->wire_type();
    const std::string sender = reply->sender ? reply->sender->path() : std::string();
    env.sender = sender;
    tls_payload.clear();
    if (env.type.empty() || !reply->serialize(tls_payload)) {
      send_failure(
          *via, correlation,
          error(errc::invalid_argument, "the reply, a " + reply->type_name() + ", cannot cross the wire"));
      return;
    }
    env.payload = tls_payload;
    const std::string traceparent = reply->trace ? reply->trace->traceparent() : std::string();
    env.traceparent = traceparent;
    if (reply->trace) env.tracestate = wire_tracestate(*reply->trace);
    const auto encode = [&](byte_queue& queue, outbound_interns& interns) {
      intern_strings(interns, env, nullptr);
      append_envelope_frame(queue, env);
    };
    s = via->send_encoded(encode, /*urgent=*/true, /*messages=*/1);
  } catch (const std::bad_alloc&) {
    // Nothing was queued (a failed encode leaves the stream as it was): the
    // replying actor goes on, the asker times out.
    out_of_memory = true;
  }
  if (s && !out_of_memory) return;
  try {
    const std::string why = out_of_memory ? "out of memory while sending it" : s.error().message();
    system_.report_dead_letter(reply->type_name(), error(out_of_memory ? errc::backpressure : s.code(),
                                                         "a reply to " + via->peer() + ": " + why));
  } catch (const std::bad_alloc&) {
    // Out of memory for the report too: the reply is dropped unreported.
  }
}

void node::send_failure(connection& via, std::uint64_t correlation, const error& e, std::string_view receiver,
                        std::string_view type) {
  envelope_view env;
  env.kind = envelope_kind::failure;
  env.correlation_id = correlation;
  env.receiver = receiver;
  env.type = type;
  env.error_code = static_cast<std::uint32_t>(e.code());
  try {
    const std::string message = e.message().substr(0, 1024);
    env.error_message = message;
    tls_frame.clear();
    append_envelope_frame(tls_frame, env);
    (void)via.send(tls_frame, /*urgent=*/correlation != 0);
  } catch (const std::bad_alloc&) {
    // Out of memory: the failure is not sent (nothing half-queued); the asker times out.
  }
}

// ---------------------------------------------------------------- round trips

result<pid> node::round_trip_for_path(const std::string& address, envelope_view env,
                                      std::chrono::nanoseconds timeout, const std::string& what) {
  error why(errc::dead_actor, std::string());  // filled by route on failure only
  auto c = connection_to(address, &why);
  if (!c) return why;
  auto found = std::make_shared<std::promise<result<std::string>>>();
  auto answer = found->get_future();
  const std::uint64_t correlation = pending_.add(pending_ask{{}, found, c.get()});
  env.correlation_id = correlation;
  tls_frame.clear();
  append_envelope_frame(tls_frame, env);
  status s = c->send(tls_frame, /*urgent=*/true);
  if (s && c->is_closed() && pending_.take(correlation, c.get())) {
    s = error(errc::dead_actor, "the connection to " + address + " was lost");
  }
  if (!s) {
    pending_.erase(correlation);
    return std::move(s).error();
  }
  if (answer.wait_for(timeout) != std::future_status::ready) {
    pending_.erase(correlation);
    return error(errc::request_timeout, "no answer from " + address + " to " + what + " within " +
                                            akt::detail::format_duration(timeout.count()));
  }
  result<std::string> path = answer.get();
  if (!path) return std::move(path).error();
  if (!parse_remote_path(*path)) {
    return error(errc::invalid_argument,
                 address + " answered " + what + " with a malformed path: '" + path->substr(0, 256) + "'");
  }
  return pid(remote_ref_for(*path, c.get()));  // a path on another address stays bound to this connection
}

result<pid> node::lookup(const std::string& address, const std::string& name,
                         std::chrono::nanoseconds timeout) {
  if (auto a = parse_address(address); !a) return std::move(a).error();
  envelope_view env;
  env.kind = envelope_kind::lookup;
  env.receiver = name;
  return round_trip_for_path(address, env, timeout, "a lookup of '" + name + "'");
}

result<pid> node::spawn(const std::string& address, const std::string& kind, const std::string& name,
                        std::chrono::nanoseconds timeout) {
  if (auto a = parse_address(address); !a) return std::move(a).error();
  envelope_view env;
  env.kind = envelope_kind::spawn;
  env.type = kind;
  env.receiver = name;
  return round_trip_for_path(address, env, timeout, "a spawn of kind '" + kind + "'");
}

result<pid> node::resolve(std::string_view path) {
  auto parsed = parse_remote_path(path);
  if (!parsed) return std::move(parsed).error();
  if (parsed->address == address()) return system_.lookup(path);
  return pid(remote_ref_for(std::string(path), nullptr));
}

ref_ptr<actor_ref> node::remote_ref_for(const std::string& path, connection* via) {
  auto parsed = parse_remote_path(path);
  std::string address = parsed ? parsed->address : std::string();
  std::string name = parsed ? parsed->name : path.substr(path.rfind('/') + 1);
  // Over a connection whose peer proved nothing, the pid goes back over that
  // connection only: its address is never dialled.
  const bool bound = via != nullptr && (!via->trusted_address() || !parsed || parsed->address != via->peer());
  auto* ref = new remote_ref(weak_from_this(), path, std::move(address), std::move(name));
  if (via != nullptr) {
    if (bound) {
      ref->bind_to(via->shared_from_this());
    } else {
      ref->remember(via->shared_from_this());
    }
  }
  return ref_ptr<actor_ref>::adopt(ref);
}

}  // namespace akt::remote::detail
