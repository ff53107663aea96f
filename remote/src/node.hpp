// node: the remoting machinery of one actor system. Its parts, by file:
//   node.cpp         lifecycle (listen, accept, shutdown) and what this
//                    node sends (tells, asks, lookups, spawns, stops)
//   peers.cpp        the peer table: connections by address, node up /
//                    down (each exactly once), reconnect backoff, heartbeats
//   inbound.cpp      what arrives: a handler per envelope kind, permissions
//   watches.cpp      death watch across nodes, both directions
//   connection.cpp   one connection: handshake, framing, batched writes
//   flow.cpp         credit-based flow control
//   correlations.hpp asks waiting for their answer
//   tell_frame.hpp   one tell of a protobuf value, built once for all its paths
// One I/O thread runs all socket work; senders serialize on their own
// threads and only append bytes under a connection's mutex.
#pragma once

#include <akt/remote/remoting.hpp>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "codec.hpp"
#include "connection.hpp"
#include "correlations.hpp"
#include "tell_frame.hpp"

namespace akt::remote::detail {

using akt::detail::actor_ref;
using akt::detail::envelope_ptr;
using akt::detail::ref_ptr;
using akt::detail::reply_sink;

// Work from the network that must run on a worker (see node::start_inbound_worker).
struct inbound_job {
  std::function<void()> run;
};

// The fast path of a tell (tell_frame.hpp), taken by a remote pid before
// it locks its node: the frame goes onto the pid's open connection under
// its handle's lock, with no reference counted, and never waits. nullopt:
// nothing was sent (no open connection yet, or the window or the queue is
// full); node::send_wire then takes the long way with the same frame.
// `wake`: the I/O thread must be woken to write (connection::post_write),
// which needs the node held (its io_context).
std::optional<status> try_send_wire(connection_handle& handle, tell_frame& t,
                                    std::shared_ptr<connection>& wake);

class node : public std::enable_shared_from_this<node> {
 public:
  node(actor_system& system, remoting_options options);
  ~node();

  // Checks the options (authentication required off loopback, limits).
  status validate() const;
  status listen();
  // The actor that runs inbound work which calls user code (a remote spawn's
  // pre_start) on a worker. Started after listen, once the system runs.
  status start_inbound_worker();
  void shutdown();

  const std::string& host() const noexcept { return options_.host; }
  std::uint16_t port() const noexcept { return port_; }
  const std::string& address() const noexcept { return address_; }
  actor_system& system() noexcept { return system_; }
  const remoting_options& options() const noexcept { return options_; }
  asio::io_context& io() noexcept { return io_; }
  asio::ssl::context* tls_client() noexcept { return tls_client_.get(); }
  asio::ssl::context* tls_server() noexcept { return tls_server_.get(); }

  // ---- what this node sends (node.cpp). `handle` is the remote pid's
  // memory of its connection (connection.hpp).
  status send_envelope(const std::string& address, const std::string& receiver, envelope_ptr e,
                       connection_handle& handle);
  // A tell of a protobuf value, the long way: a traced one gets its trace
  // context and tries the fast path; an untraced one comes here when the
  // caller's fast path (try_send_wire) missed, and is routed (dialling,
  // waiting up to remoting_options::backpressure_wait for window or queue).
  status send_wire(const std::string& address, tell_frame& t, const trace_context* trace,
                   connection_handle& handle);
  status send_stop(const std::string& address, const std::string& receiver, connection_handle& handle);
  // A command frame (stop, watch, unwatch, terminated) for `receiver`, not flow-controlled.
  status send_command(const std::string& address, envelope_kind kind, const std::string& receiver,
                      std::string_view sender, connection_handle& handle);
  result<pid> lookup(const std::string& address, const std::string& name, std::chrono::nanoseconds timeout);
  result<pid> spawn(const std::string& address, const std::string& kind, const std::string& name,
                    std::chrono::nanoseconds timeout);
  result<pid> resolve(std::string_view path);
  // A reply or failure for an ask that came over `via`.
  void send_reply(const std::shared_ptr<connection>& via, std::uint64_t correlation, envelope_ptr reply);
  void send_failure(connection& via, std::uint64_t correlation, const error& e,
                    std::string_view receiver = {}, std::string_view type = {});

  // ---- death watch (watches.cpp): `watcher` (local) watches `target` on node `address`.
  void watch(const std::string& address, const std::string& target, actor_ref& watcher,
             connection_handle& handle);
  void unwatch(const std::string& address, const std::string& target, actor_ref& watcher,
               connection_handle& handle);
  // Tells the remote watcher `watcher_path` that local actor `target_path` stopped.
  void send_terminated(const std::string& address, const std::string& watcher_path,
                       const std::string& target_path, connection_handle& handle);

  // ---- from connections (I/O thread, or a reader holding the reader lock)
  void on_open(connection& c);
  void on_frame(connection& from, frame_view& frame, std::uint32_t cost);
  // The run of stream tells at the front of `in` (codec's interned_tell)
  // to actors this connection's reader already knows, from senders and of
  // types it knows: delivered with no frame_view, no lookups. Returns the
  // bytes taken; stops before anything else, and when reading must pause.
  std::size_t on_interned_tells(connection& from, std::string_view in);
  void on_closed(connection& c, const std::string& why);
  void handshake_refused(const std::string& peer, const std::string& why);
  void frame_rejected() noexcept { frames_rejected_.fetch_add(1, std::memory_order_relaxed); }
  void backpressure_event() noexcept { backpressure_.fetch_add(1, std::memory_order_relaxed); }
  void backpressure_wait_event() noexcept { backpressure_waits_.fetch_add(1, std::memory_order_relaxed); }

  // The node at `address` is gone (a membership extension said so): close
  // its connections, which declares it down; tell watchers of its actors.
  void forget(const std::string& address, const std::string& why);

  // A thread waiting for a reply from `address` reads it itself (see connection::poll_read).
  void poll_incoming(connection_handle& handle);
  // An idle worker reads one connection's socket (the next, round-robin):
  // a request finds a running thread instead of waking the I/O thread.
  void poll_some();

  // ---- metrics (metrics.cpp): per peer and node-wide, for an exporter.
  void report_metrics(metric_sink& sink);
  // A send to `address` failed (other than back-pressure): counted for its
  // peer when the node knows it (never a record for an address only named).
  void count_send_failure(const std::string& address);

  std::uint64_t connections_opened() const noexcept { return opened_.load(std::memory_order_relaxed); }
  std::uint64_t frames_rejected() const noexcept { return frames_rejected_.load(std::memory_order_relaxed); }
  std::uint64_t handshakes_refused() const noexcept { return refused_.load(std::memory_order_relaxed); }
  std::uint64_t backpressure_events() const noexcept { return backpressure_.load(std::memory_order_relaxed); }
  std::uint64_t backpressure_waits() const noexcept {
    return backpressure_waits_.load(std::memory_order_relaxed);
  }

  // A pid for `path` (from the wire): bound to `via` when it came over a
  // connection whose peer's address is unproved.
  ref_ptr<actor_ref> remote_ref_for(const std::string& path, connection* via);

 private:
  // ---- peers.cpp
  // The connection and flow slot to reach `receiver` at `address`: the one
  // `handle` remembers while open, else the peer table's (dialling when
  // allowed). Null with `why` set when there is none.
  connection_handle::entry route(const std::string& address, const std::string& receiver,
                                 connection_handle& handle, error* why);
  std::shared_ptr<connection> connection_to(const std::string& address, error* why);
  void heartbeat();
  void use_batch_scheduling();  // on the I/O thread (remoting_options::batch_io_thread)
  void accept_next();
  void sweep_pending();
  void warn_limited(const std::string& what);  // at most one line a second, with a count of the rest

  // Per-peer records for metrics (peers.cpp), guarded by peers_mu_. A
  // connection is tracked (counted in its peer's record) from its dial, or
  // once an accepted one is open (its peer's address is known then); when
  // it closes its counters are folded into the record. A record whose last
  // connection closed is kept — cumulative counters must not go back — but
  // only the last max_departed_peers of those, so a flapping network cannot
  // grow it without bound.
  enum class failure_reason : std::uint8_t { connect, lost, send };
  static constexpr std::size_t failure_reasons = 3;
  static constexpr std::size_t max_departed_peers = 256;
  struct peer_record {
    connection_traffic closed{};   // carried by its connections that closed
    std::uint64_t reconnects = 0;  // up again after being down
    std::array<std::uint64_t, failure_reasons> failures{};
    std::uint32_t live = 0;         // tracked connections not yet closed
    std::uint64_t departed_at = 0;  // when live fell to 0: the order of departures
    bool ever_up = false;
  };
  void track_locked(connection& c);
  // `why`: the failure to count, if any.
  void untrack_locked(connection& c, const failure_reason* why);

  // ---- inbound.cpp
  using handler = void (node::*)(connection&, const envelope_view&, std::uint32_t cost);
  static const std::array<handler, 10> handlers_;                                   // by envelope_kind
  void on_message(connection& from, const envelope_view& env, std::uint32_t cost);  // tell, ask
  void on_answer(connection& from, const envelope_view& env, std::uint32_t cost);   // reply, failure
  void on_lookup(connection& from, const envelope_view& env, std::uint32_t cost);
  void on_stop(connection& from, const envelope_view& env, std::uint32_t cost);
  void on_watch(connection& from, const envelope_view& env, std::uint32_t cost);
  void on_unwatch(connection& from, const envelope_view& env, std::uint32_t cost);
  void on_terminated(connection& from, const envelope_view& env, std::uint32_t cost);
  void on_spawn(connection& from, const envelope_view& env, std::uint32_t cost);
  // A message from `from` that reaches no actor here: a dead letter here,
  // and a FAILURE back (correlation 0 for a tell) the sender counts.
  void refuse_message(connection& from, const envelope_view& env, const error& why);
  // The decoder for the envelope's type, or null (remembered by type id, or
  // the last one in `cache`).
  message_decoder decoder_for(inbound_cache& cache, const envelope_view& env);
  // The local actor (and its credit) the envelope's receiver names; null
  // when there is none (refused: a dead letter, a FAILURE back).
  inbound_cache::receiver_entry* find_target(connection& from, const envelope_view& env);
  // The envelope's (non-empty) sender as a pid (remembered by sender id, or the last one).
  ref_ptr<actor_ref> sender_of(connection& from, const envelope_view& env);
  // A message the target's mailbox refused (full, or its actor stopped).
  void delivery_refused(connection& from, const envelope_view& env, inbound_cache::receiver_entry& to,
                        const error& why);
  trace_ref trace_from_wire(std::string_view traceparent, std::string_view tracestate);
  // Answers a LOOKUP or SPAWN: REPLY with the actor's full path, or FAILURE.
  void answer_with_path(connection& to, std::uint64_t correlation, const result<pid>& found);
  result<pid> round_trip_for_path(const std::string& address, envelope_view env,
                                  std::chrono::nanoseconds timeout, const std::string& what);

  // ---- watches.cpp
  // Tells local watchers of actors on `address` that those actors are gone
  // (the node closed the watch, or is down).
  void drop_watches(const std::string& address, const std::string* only_target, const std::string& why);
  // Ends the watches a connection's peer held on local actors.
  void end_inbound_watches(const connection* c);

  actor_system& system_;
  pid inbound_worker_;  // set once by start_inbound_worker, before any frame is read
  remoting_options options_;
  std::string address_;  // host:port once listening
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_timer_;
  std::chrono::milliseconds accept_backoff_{10};
  asio::steady_timer sweep_timer_;
  asio::steady_timer heartbeat_timer_;
  std::unique_ptr<asio::ssl::context> tls_client_, tls_server_;
  std::uint16_t port_ = 0;
  std::thread thread_;

  // The peer table (peers.cpp), guarded by peers_mu_.
  std::mutex peers_mu_;
  std::unordered_map<std::string, std::shared_ptr<connection>> by_address_;  // proved or dialled addresses
  std::unordered_set<std::shared_ptr<connection>> all_;                      // every live connection
  std::unordered_map<std::string, const connection*> up_;  // address -> the connection that announced it up
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> retry_after_;
  std::unordered_map<std::string, std::chrono::milliseconds> backoff_;
  std::size_t inbound_ = 0;      // accepted connections alive
  std::size_t poll_cursor_ = 0;  // poll_some's round-robin

  // Death watch (watches.cpp).
  struct remote_watch {
    std::string target;  // full path of the watched actor on that node
    ref_ptr<actor_ref> watcher;
  };
  struct inbound_watch {
    pid target;                  // local
    ref_ptr<actor_ref> watcher;  // remote, bound to the connection
  };
  std::mutex watches_mu_;
  std::unordered_map<std::string, std::vector<remote_watch>> watches_;  // ours, by node address
  std::unordered_map<const connection*, std::vector<inbound_watch>>
      inbound_watches_;  // peers', by connection

  std::unordered_map<std::string, peer_record> peer_records_;  // guarded by peers_mu_
  std::uint64_t departures_ = 0;                               // guarded by peers_mu_

  correlations pending_;

  std::mutex log_mu_;
  std::chrono::steady_clock::time_point last_warning_{};
  std::uint64_t suppressed_warnings_ = 0;

  std::atomic<std::uint64_t> opened_{0};
  std::atomic<std::uint64_t> frames_rejected_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<std::uint64_t> backpressure_{0};
  std::atomic<std::uint64_t> backpressure_waits_{0};
  std::atomic<bool> stopped_{false};
};

}  // namespace akt::remote::detail
