// The peer table: which connection reaches which node, node up / down, the
// backoff before dialling a node that failed again, heartbeats and the
// silence rule, and accepting connections.
#include <algorithm>

#include "address.hpp"
#include "node.hpp"

namespace akt::remote::detail {

namespace {
std::int64_t steady_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
constexpr auto first_backoff = std::chrono::milliseconds(100);
constexpr auto max_backoff = std::chrono::milliseconds(5000);
}  // namespace

connection_handle::entry node::route(const std::string& address, const std::string& receiver,
                                     connection_handle& handle, error* why) {
  connection_handle::entry e = handle.get();
  if (e.conn && !e.conn->is_closed()) [[likely]] {
    if (!e.slot) {
      e.slot = e.conn->slot_for(receiver);
      handle.set(e.conn, e.slot);
    }
    return e;
  }
  if (handle.bound() || address.empty()) {
    *why = error(errc::dead_actor, "the connection " + receiver +
                                       " came over is closed, and its node's address is unproved: it is "
                                       "not dialled (authenticate the nodes to allow it)");
    return {};
  }
  auto c = connection_to(address, why);
  if (!c) return {};
  e = {c, c->slot_for(receiver)};
  handle.set(e.conn, e.slot);
  return e;
}

std::shared_ptr<connection> node::connection_to(const std::string& address, error* why) {
  std::lock_guard g(peers_mu_);
  if (stopped_.load()) {
    *why = error(errc::dead_actor, "remoting on this node is closed");
    return nullptr;
  }
  if (auto it = by_address_.find(address); it != by_address_.end() && !it->second->is_closed())
    return it->second;
  const auto now = std::chrono::steady_clock::now();
  if (auto r = retry_after_.find(address); r != retry_after_.end() && now < r->second) {
    *why = error(errc::dead_actor,
                 "node " + address + " is unreachable (next attempt in " +
                     akt::detail::format_duration(std::chrono::nanoseconds(r->second - now).count()) + ")");
    return nullptr;
  }
  auto parsed = parse_address(address);
  if (!parsed) {
    *why = parsed.error();
    return nullptr;
  }
  auto c = std::make_shared<connection>(*this, asio::ip::tcp::socket(io_), address);
  by_address_[address] = c;
  all_.insert(c);
  track_locked(*c);
  opened_.fetch_add(1, std::memory_order_relaxed);
  c->start_outbound(asio::ip::tcp::endpoint(asio::ip::make_address(parsed->host), parsed->port),
                    options_.connect_timeout);
  return c;
}

void node::on_open(connection& c) {
  bool announce = false;
  const std::string peer = c.peer();
  {
    std::lock_guard g(peers_mu_);
    if (stopped_.load()) return;
    auto self = c.shared_from_this();
    if (!all_.contains(self)) return;  // closed meanwhile
    track_locked(c);                   // under the address it gave, proved or not
    if (!c.trusted_address()) return;  // an unproved address is nobody's: nothing to announce
    auto& current = by_address_[peer];
    if (!current || current->is_closed()) current = self;
    backoff_.erase(peer);
    retry_after_.erase(peer);
    if (!up_.contains(peer)) {
      up_[peer] = &c;
      announce = true;
      peer_record& r = peer_records_[peer];
      if (r.ever_up) ++r.reconnects;
      r.ever_up = true;
    }
  }
  if (announce) system_.announce(node_event{node_event_kind::up, peer, {}});
}

void node::on_closed(connection& c, const std::string& why) {
  const std::string peer = c.peer();
  bool down = false;
  {
    std::lock_guard g(peers_mu_);
    auto self = c.shared_from_this();
    if (all_.erase(self) != 0 && !c.outbound()) --inbound_;
    // A failure unless this node is closing: never reached (connect or
    // handshake), or lost once open (the peer stopped, fell silent, I/O).
    const failure_reason reason = c.is_open() ? failure_reason::lost : failure_reason::connect;
    untrack_locked(c, stopped_.load() ? nullptr : &reason);
    if (auto it = by_address_.find(peer); it != by_address_.end() && it->second.get() == &c)
      by_address_.erase(it);
    if (c.outbound() && !c.is_open()) {  // never reached it: wait longer before the next attempt
      auto& b = backoff_[peer];
      b = b.count() == 0 ? first_backoff : std::min(b * 2, max_backoff);
      retry_after_[peer] = std::chrono::steady_clock::now() + b;
    }
    if (auto it = up_.find(peer); it != up_.end() && it->second == &c) {
      // Down once, whatever reconnect is under way; unless another open
      // connection to the same node carries on.
      auto other = by_address_.find(peer);
      if (other != by_address_.end() && other->second->is_open() && !other->second->is_closed()) {
        it->second = other->second.get();
      } else {
        up_.erase(it);
        down = true;
      }
    }
  }
  const bool stopping = stopped_.load();
  if (!stopping && c.is_open()) {
    system_.logger().warn("remoting: connection to " + (peer.empty() ? std::string("a peer") : peer) +
                          " closed: " + why);
  } else if (!stopping && c.outbound()) {
    warn_limited("cannot reach " + peer + ": " + why);
  }
  // Messages that never left are dead letters here.
  if (const std::uint64_t unsent = c.unsent_messages(); unsent != 0) {
    system_.report_dead_letter(
        "message",
        error(errc::dead_actor, std::to_string(unsent) + " message(s) unsent to " + peer +
                                    " when the connection closed (" + why + ")"),
        unsent);
  }
  // Asks that went out on it fail now, not at their timeout.
  const error lost(errc::dead_actor, "the connection to " + (peer.empty() ? std::string("the peer") : peer) +
                                         " was lost (" + why + ")");
  for (auto& p : pending_.take_for(&c)) p.fail(lost);
  end_inbound_watches(&c);
  if (down) {
    drop_watches(peer, nullptr, why);
    if (!stopping) system_.announce(node_event{node_event_kind::down, peer, why});
  }
}

void node::track_locked(connection& c) {
  if (c.tracked()) return;
  peer_record& r = peer_records_[c.peer()];
  ++r.live;
  r.departed_at = 0;
  c.set_tracked(true);
}

void node::untrack_locked(connection& c, const failure_reason* why) {
  if (!c.tracked()) return;
  c.set_tracked(false);
  auto it = peer_records_.find(c.peer());
  if (it == peer_records_.end()) return;  // a record with live connections is never dropped
  peer_record& r = it->second;
  r.closed += c.traffic();
  if (why != nullptr) ++r.failures[static_cast<std::size_t>(*why)];
  if (r.live > 0 && --r.live == 0) {
    r.departed_at = ++departures_;
    // At most one departure more than the bound: drop the oldest departed.
    std::size_t departed = 0;
    auto oldest = peer_records_.end();
    for (auto p = peer_records_.begin(); p != peer_records_.end(); ++p) {
      if (p->second.live != 0) continue;
      ++departed;
      if (oldest == peer_records_.end() || p->second.departed_at < oldest->second.departed_at) oldest = p;
    }
    if (departed > max_departed_peers) peer_records_.erase(oldest);
  }
}

void node::count_send_failure(const std::string& address) {
  if (address.empty()) return;
  std::lock_guard g(peers_mu_);
  if (auto it = peer_records_.find(address); it != peer_records_.end())
    ++it->second.failures[static_cast<std::size_t>(failure_reason::send)];
}

void node::forget(const std::string& address, const std::string& why) {
  std::vector<std::shared_ptr<connection>> gone;
  {
    std::lock_guard g(peers_mu_);
    for (const auto& c : all_) {
      if (c->is_open() && c->trusted_address() && c->peer() == address)
        gone.push_back(c);  // open: peer() is stable
    }
  }
  for (auto& c : gone) c->close(why);
  drop_watches(address, nullptr, why);  // also when no connection was open
}

void node::heartbeat() {
  heartbeat_timer_.expires_after(options_.heartbeat_interval);
  heartbeat_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    std::vector<std::shared_ptr<connection>> conns;
    {
      std::lock_guard g(peers_mu_);
      conns.assign(all_.begin(), all_.end());
    }
    const auto silent_limit =
        std::chrono::duration_cast<std::chrono::microseconds>(options_.heartbeat_interval).count() *
        static_cast<std::int64_t>(options_.silent_heartbeats);
    std::string beat;
    append_heartbeat_frame(beat, static_cast<std::uint64_t>(steady_us()));
    for (auto& c : conns) {
      if (!c->is_open()) continue;  // the handshake has its own deadline
      if (steady_us() - c->last_heard_us() > silent_limit) {
        c->close("peer silent for " + std::to_string(options_.silent_heartbeats) + " heartbeat intervals");
      } else {
        (void)c->send(beat);
      }
    }
    heartbeat();
  });
}

void node::accept_next() {
  acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (stopped_.load() || ec == asio::error::operation_aborted) return;  // closed
    if (ec) {
      // Out of descriptors or memory, a connection reset before accept...:
      // say so, and accept again after a pause (not in a busy loop).
      warn_limited("accept failed: " + ec.message() + "; accepting again in " +
                   akt::detail::format_duration(std::chrono::nanoseconds(accept_backoff_).count()));
      accept_timer_.expires_after(accept_backoff_);
      accept_backoff_ = std::min(accept_backoff_ * 2, std::chrono::milliseconds(1000));
      accept_timer_.async_wait([this](const asio::error_code& e) {
        if (!e) accept_next();
      });
      return;
    }
    accept_backoff_ = std::chrono::milliseconds(10);
    std::shared_ptr<connection> c;
    {
      std::lock_guard g(peers_mu_);
      if (inbound_ < options_.max_connections) {
        c = std::make_shared<connection>(*this, std::move(socket), std::string());
        all_.insert(c);
        ++inbound_;
      }
    }
    if (c) {
      opened_.fetch_add(1, std::memory_order_relaxed);
      c->start_inbound();
    } else {
      refused_.fetch_add(1, std::memory_order_relaxed);
      warn_limited("refused a connection: " + std::to_string(options_.max_connections) +
                   " are open (remoting_options::max_connections)");
      asio::error_code ignored;
      socket.close(ignored);
    }
    accept_next();
  });
}

void node::poll_some() {
  std::shared_ptr<connection> c;
  {
    std::unique_lock g(peers_mu_, std::try_to_lock);
    if (!g.owns_lock() || all_.empty()) return;
    auto it = all_.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(poll_cursor_++ % all_.size()));
    c = *it;
  }
  c->poll_read();
}

void node::poll_incoming(connection_handle& handle) {
  if (auto e = handle.get(); e.conn && !e.conn->is_closed()) e.conn->poll_read();
}

}  // namespace akt::remote::detail
