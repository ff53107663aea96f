// node: the remoting machinery of one actor system — a listener, one
// connection per peer node, the asks waiting for remote replies, and the
// delivery of incoming envelopes to local actors. One I/O thread runs all
// socket work; senders serialize on their own threads and only append bytes
// under a connection's mutex.
#pragma once

#include <akt/remote/remoting.hpp>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "codec.hpp"

namespace akt::remote::detail {

using akt::detail::actor_ref;
using akt::detail::envelope_ptr;
using akt::detail::ref_ptr;
using akt::detail::reply_sink;

class node;

// Work from the network that must run on a worker (see node::start_inbound_worker).
struct inbound_job {
  std::function<void()> run;
};

// Bytes read from a socket and not yet framed. Reads go straight into its
// free space, which is never zero-filled (a std::string resized by 64 KiB
// before every read spent 2-3 us per read in memset, on the latency path).
class read_buffer {
 public:
  // Room for at least `n` more bytes at the end (unread bytes move to the
  // front, or the buffer grows, when needed).
  char* reserve(std::size_t n);
  void commit(std::size_t n) noexcept { end_ += n; }
  std::string_view unread() const noexcept { return {data_.get() + start_, end_ - start_}; }
  void consume(std::size_t n) noexcept {
    start_ += n;
    if (start_ == end_) start_ = end_ = 0;
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  std::size_t start_ = 0;
  std::size_t end_ = 0;
};

// What a connection's reader remembers between messages (guarded by the
// connection's reader lock): a stream of messages to one actor, of one
// type, costs no lookup.
struct inbound_cache {
  std::unordered_map<std::string, pid> local;  // receiver path -> local pid
  std::string last_receiver;                   // the path of...
  pid last_target;                             // ...the last local delivery
  std::string last_type;                       // the last type decoded...
  message_decoder last_decoder = nullptr;      // ...and its decoder (decoders are never removed)
};

// One TCP connection to a peer node. Writes are batched: whatever was queued
// while a write was in flight goes out in the next single write.
class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(node& owner, asio::ip::tcp::socket socket, std::string peer);
  ~connection();

  void start_outbound(const asio::ip::tcp::endpoint& to, std::chrono::milliseconds timeout);
  void start_inbound();
  // Appends ready frames; any thread. False if the connection is closed.
  // `urgent` (asks, replies): when nothing is queued or being written, the
  // caller writes them itself at once instead of waking the I/O thread.
  bool send(std::string_view frames, bool urgent = false);
  // Appends what `encode(queue)` writes to the outbound queue, under the
  // queue's lock (a tell encoded in place: no intermediate buffer). False
  // if the connection is closed.
  template <class Encode>
  bool enqueue(Encode&& encode) {
    if (closed_.load(std::memory_order_acquire)) return false;
    std::lock_guard g(mu_);
    if (closed_.load(std::memory_order_relaxed)) return false;
    encode(queued_);
    kick_write_locked();
    return true;
  }
  void close(const std::string& why);

  // For a plain thread waiting for a reply from this peer: reads and
  // handles what has arrived, on the calling thread, unless someone else is
  // reading right now. Saves the I/O thread's wake-up on the reply's path.
  // Plain TCP only (a TLS stream is read by the I/O thread alone).
  void poll_read();

  // Reader state (the reader lock held: the I/O thread's read handler, or poll_read).
  inbound_cache& cache() noexcept { return cache_; }

  const std::string& peer() const noexcept { return peer_; }  // "host:port" once known
  // Inbound connections learn their peer from its Hello (under the reader
  // lock; stable once the connection is closed or the Hello is handled).
  void set_peer(std::string address) { peer_ = std::move(address); }
  // Microseconds (steady clock) when something last arrived.
  std::int64_t last_heard_us() const noexcept { return last_heard_us_.load(std::memory_order_relaxed); }
  bool is_closed() const noexcept { return closed_.load(std::memory_order_acquire); }

 private:
  void write_hello_first();
  void kick_write_locked();  // with mu_ held
  void do_write();
  void do_read();        // TLS: asio reads into in_
  void wait_readable();  // plain TCP: wait, then drain_locked() under read_mu_
  bool drain_locked();   // recv until nothing is left; false once closed
  void on_bytes();

  void on_ready();  // connected (and TLS handshake done): start writing and reading

  node& node_;
  asio::ip::tcp::socket socket_;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;  // null for plain TCP
  asio::steady_timer connect_timer_;
  std::string peer_;  // I/O thread only after construction

  std::mutex mu_;
  std::string queued_;    // guarded by mu_: frames waiting for the next write
  bool writing_ = false;  // guarded by mu_
  bool ready_ = false;    // guarded by mu_: connected (outbound) / accepted (inbound)
  std::atomic<bool> closed_{false};
  std::atomic<std::int64_t> last_heard_us_{0};

  std::string in_flight_;  // I/O thread: the buffer being written

  // The reader lock: whoever reads the socket (the I/O thread, or a thread
  // polling for its reply) holds it from recv to the end of dispatch, so
  // frames are handled one at a time, in order. Lock order: read_mu_, then mu_.
  std::mutex read_mu_;
  std::atomic<bool> reading_{false};  // plain TCP reads have started (connected)
  read_buffer in_;                    // guarded by read_mu_: bytes read, not yet framed
  bool hello_seen_ = false;           // guarded by read_mu_
  inbound_cache cache_;               // guarded by read_mu_
};

// The connection a remote pid used last: a stream of tells to one actor
// skips the node's connection map and its mutex (perf: ~20% of a remote
// tell's instructions on the sending thread). Held weakly, so a pid never
// keeps a connection — and its socket — alive past its node's io_context.
class connection_handle {
 public:
  std::shared_ptr<connection> get() noexcept {
    lock();
    std::shared_ptr<connection> c = conn_.lock();
    busy_.clear(std::memory_order_release);
    return c;
  }
  void set(const std::shared_ptr<connection>& c) noexcept {
    lock();
    conn_ = c;
    busy_.clear(std::memory_order_release);
  }

 private:
  void lock() noexcept {
    while (busy_.test_and_set(std::memory_order_acquire)) {
      while (busy_.test(std::memory_order_relaxed)) std::this_thread::yield();  // held for a few instructions
    }
  }
  std::atomic_flag busy_;
  std::weak_ptr<connection> conn_;
};

class node : public std::enable_shared_from_this<node> {
 public:
  node(actor_system& system, remoting_options options);
  ~node();

  status listen();
  // The actor that runs inbound work which calls user code (a remote spawn's
  // pre_start) on a worker. Started after listen, once the system runs.
  status start_inbound_worker();
  void shutdown();

  const std::string& host() const noexcept { return options_.host; }
  std::uint16_t port() const noexcept { return port_; }
  std::string address() const { return options_.host + ":" + std::to_string(port_); }
  actor_system& system() noexcept { return system_; }
  const remoting_options& options() const noexcept { return options_; }
  asio::io_context& io() noexcept { return io_; }
  asio::ssl::context* tls_client() noexcept { return tls_client_.get(); }
  asio::ssl::context* tls_server() noexcept { return tls_server_.get(); }

  // Outbound: serialize `e` for `receiver` (a full path) on node `address`.
  // `handle` (optional, here and below) remembers the connection between calls.
  status send_envelope(const std::string& address, const std::string& receiver, envelope_ptr e,
                       connection_handle* handle = nullptr);
  // The same for a tell of a protobuf value serialized from the caller's object.
  status send_wire(const std::string& address, const std::string& receiver,
                   const akt::detail::wire_message& m, actor_ref* sender, const trace_context* trace,
                   connection_handle* handle = nullptr);
  status send_stop(const std::string& address, const std::string& receiver);

  // Remote death watch: `watcher` (local) watches `target` on node `address`.
  void watch(const std::string& address, const std::string& target, actor_ref& watcher);
  void unwatch(const std::string& address, const std::string& target, actor_ref& watcher);
  // Tells the remote watcher `watcher_path` that local actor `target_path` stopped.
  void send_terminated(const std::string& address, const std::string& watcher_path,
                       const std::string& target_path);
  result<pid> lookup(const std::string& address, const std::string& name, std::chrono::nanoseconds timeout);
  result<pid> spawn(const std::string& address, const std::string& kind, const std::string& name,
                    std::chrono::nanoseconds timeout);
  result<pid> resolve(std::string_view path);

  // Inbound (I/O thread).
  void on_frame(connection& from, const frame_view& frame);
  void on_hello(connection& from, const hello_view& hello);
  void on_closed(connection& c, const std::string& why);
  // The decoder for a wire type name, or null (remembers the last in `cache`).
  message_decoder decoder_for(inbound_cache& cache, std::string_view type);
  // An outbound connection is ready (connected, TLS done): the node is up.
  void on_connected(connection& c);
  // A thread waiting for a reply from `address` reads it itself (see connection::poll_read).
  void poll_incoming(const std::string& address, connection_handle& handle);
  // An idle worker reads one connection's socket (the next, round-robin):
  // a request finds a running thread instead of waking the I/O thread.
  void poll_some();
  void frame_rejected() noexcept { frames_rejected_.fetch_add(1, std::memory_order_relaxed); }

  // A reply or failure for a remote ask we answered.
  void send_reply(const std::string& address, std::uint64_t correlation, envelope_ptr reply);
  void send_failure(const std::string& address, std::uint64_t correlation, const error& e);

  std::uint64_t connections_opened() const noexcept { return opened_.load(std::memory_order_relaxed); }
  std::uint64_t frames_rejected() const noexcept { return frames_rejected_.load(std::memory_order_relaxed); }

 private:
  struct pending_ask {
    ref_ptr<reply_sink> sink;                                  // an ask
    std::shared_ptr<std::promise<result<std::string>>> found;  // or a lookup: the full path found
    std::string address;
  };

  std::shared_ptr<connection> connection_to(const std::string& address, error* why);
  // Sends `env` (given a fresh correlation id) and waits for the REPLY's receiver path.
  result<pid> round_trip_for_path(const std::string& address, envelope_view env,
                                  std::chrono::nanoseconds timeout, const std::string& what);
  status send_frame(const std::string& address, const envelope_view& frame,
                    connection_handle* handle = nullptr);
  // The connection `handle` remembers while it is open, else connection_to's
  // (which `handle` then remembers).
  std::shared_ptr<connection> connection_via(const std::string& address, connection_handle* handle,
                                             error* why);
  ref_ptr<actor_ref> remote_ref_for(const std::string& path);
  trace_ref trace_from_wire(std::string_view traceparent);
  void deliver_local(connection& from, const envelope_view& env);
  // Answers a LOOKUP or SPAWN: REPLY with the actor's full path, or FAILURE.
  void answer_with_path(const std::string& peer, std::uint64_t correlation, const result<pid>& found);
  void accept_next();
  void sweep_pending();
  void heartbeat();
  // Tells local watchers of actors on `address` that those actors are gone
  // (the node closed the watch, or is unreachable).
  void drop_watches(const std::string& address, const std::string* only_target, const std::string& why);

  actor_system& system_;
  pid inbound_worker_;  // set once by start_inbound_worker, before any frame is read
  remoting_options options_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer sweep_timer_;
  std::unique_ptr<asio::ssl::context> tls_client_, tls_server_;
  std::uint16_t port_ = 0;
  std::thread thread_;

  std::size_t poll_cursor_ = 0;  // guarded by connections_mu_: poll_some's round-robin
  std::mutex connections_mu_;
  std::unordered_map<std::string, std::shared_ptr<connection>> connections_;            // by peer address
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> retry_after_;  // guarded likewise
  std::unordered_map<std::string, std::chrono::milliseconds> backoff_;                  // guarded likewise

  struct remote_watch {
    std::string target;  // full path of the watched actor on that node
    ref_ptr<actor_ref> watcher;
  };
  std::mutex watches_mu_;
  std::unordered_map<std::string, std::vector<remote_watch>>
      watches_;  // by node address; guarded by watches_mu_
  asio::steady_timer heartbeat_timer_;

  std::mutex pending_mu_;
  std::unordered_map<std::uint64_t, pending_ask> pending_;  // guarded by pending_mu_
  std::atomic<std::uint64_t> next_correlation_{1};

  std::atomic<std::uint64_t> opened_{0};
  std::atomic<std::uint64_t> frames_rejected_{0};
  std::atomic<bool> stopped_{false};
};

}  // namespace akt::remote::detail
