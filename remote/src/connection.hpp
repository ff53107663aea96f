// connection: one TCP (or TLS) connection to another node, in both
// directions. It runs the handshake (Hello, then a Proof of the shared
// secret when the node has one), frames the bytes it reads, and writes
// batched: whatever was queued while a write was in flight goes out in the
// next single write.
//
// Every buffer is bounded: before the handshake is done frames are at most
// 4 KiB and nothing but the handshake is written; afterwards the outbound
// queue is bounded in bytes (remoting_options::max_outbound_bytes), the
// read buffer by the frame limit, and reading pauses while too many of this
// connection's messages wait in local mailboxes (flow control, flow.hpp).
//
// Thread safety: send / enqueue / close from any thread; the reader lock
// (read_mu_) is held by whoever reads the socket (the I/O thread, or a
// thread polling for its reply), from recv to the end of dispatch, so frames
// are handled one at a time, in order. Lock order: read_mu_, then mu_.
#pragma once

#include <akt/akt.hpp>
#include <akt/registry.hpp>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "address.hpp"
#include "codec.hpp"
#include "flow.hpp"
#include "handshake.hpp"
#include "interning.hpp"

namespace akt::remote::detail {

class node;
class connection_handle;

// A spin lock whose release is a plain store: a connection's queue lock
// and a remote pid's handle lock (both held for a few instructions to a
// few hundred nanoseconds, never across a wait). A sending
// thread holds it for a few hundred nanoseconds per message and the I/O
// thread takes it once or twice per write, so a waiter spins briefly, then
// yields its core (a holder may have been preempted on a machine with more
// runnable threads than cores); nobody sleeps in the kernel, so no unlock
// pays a wake-up. perf: as glibc's adaptive mutex, the locked exchange of
// its unlock was a quarter of a remote stream's sending thread - one
// locked instruction in three per tell, each waiting for the stores before
// it to drain.
class spin_mutex {
 public:
  spin_mutex() noexcept = default;
  spin_mutex(const spin_mutex&) = delete;
  spin_mutex& operator=(const spin_mutex&) = delete;
  void lock() noexcept {
    if (!held_.exchange(true, std::memory_order_acquire)) [[likely]]
      return;
    lock_contended();
  }
  bool try_lock() noexcept {
    return !held_.load(std::memory_order_relaxed) && !held_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { held_.store(false, std::memory_order_release); }

 private:
  void lock_contended() noexcept;
  std::atomic<bool> held_{false};
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
// reader lock): a stream of messages to one actor, of one type, costs no
// lookup. Strings the peer interned (interning.hpp) are resolved by index,
// and what they lead to is kept by id; strings sent in full go through the
// maps and the last-seen entries. Bounded: past `max_entries` a map starts
// over; ids are bounded by max_interned_ids.
struct inbound_cache {
  static constexpr std::size_t max_entries = 4096;
  struct receiver_entry {
    pid target;         // looked up on first use, again once it stopped
    credit_ref credit;  // made on first use
  };
  inbound_interns interned;
  std::vector<receiver_entry> by_receiver_id;                   // id - 1 ->
  std::vector<message_decoder> by_type_id;                      // id - 1 -> (null: unknown yet)
  std::vector<ref_stock<akt::detail::actor_ref>> by_sender_id;  // id - 1 -> (bought in bulk)

  std::unordered_map<std::string, pid> local;           // receiver path -> local pid
  std::unordered_map<std::string, credit_ref> credits;  // receiver path -> credit
  std::string last_receiver;                            // the path of the last local delivery sent in full...
  receiver_entry last;                                  // ...its actor and credit
  std::string last_sender;                              // the last sender path...
  akt::detail::ref_ptr<akt::detail::actor_ref>
      last_sender_ref;                     // ...and its pid (one per stream of messages)
  std::string last_type;                   // the last type decoded...
  message_decoder last_decoder = nullptr;  // ...and its decoder (decoders are never removed)
};

// What a connection carried (metrics), as read at one moment.
struct connection_traffic {
  std::uint64_t messages_sent = 0;  // tells, asks and replies accepted for sending
  std::uint64_t bytes_sent = 0;     // frame bytes written to the socket (or the TLS stream)
  std::uint64_t messages_received = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t backpressure = 0;        // sends refused with errc::backpressure
  std::uint64_t backpressure_waits = 0;  // sends that waited for room (backpressure_wait), then went or not
  connection_traffic& operator+=(const connection_traffic& o) noexcept {
    messages_sent += o.messages_sent;
    bytes_sent += o.bytes_sent;
    messages_received += o.messages_received;
    bytes_received += o.bytes_received;
    backpressure += o.backpressure;
    backpressure_waits += o.backpressure_waits;
    return *this;
  }
};

// Adds to a counter that has one writer at a time (a lock held): a relaxed
// load and store, with no locked instruction on the send path; readers
// (an exporter) load it relaxed.
template <class Int>
inline void bump(std::atomic<Int>& counter, std::uint64_t n = 1) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + static_cast<Int>(n), std::memory_order_relaxed);
}

class connection : public std::enable_shared_from_this<connection> {
 public:
  // `dialled`: the address we connect to (outbound); empty for an accepted one.
  connection(node& owner, asio::ip::tcp::socket socket, std::string dialled);
  ~connection();

  void start_outbound(const asio::ip::tcp::endpoint& to, std::chrono::milliseconds timeout);
  void start_inbound();

  // Appends ready frames that are not flow-controlled (replies, failures,
  // credits, heartbeats, commands); any thread. `urgent` (asks, replies):
  // when the line is free the caller writes them itself at once instead of
  // waking the I/O thread. Errors: dead_actor (closed), backpressure (the
  // outbound queue is over twice its bound: the peer does not read).
  // `messages`: how many tells, asks or replies `frames` holds (metrics).
  status send(std::string_view frames, bool urgent = false, std::uint32_t messages = 0);
  // As send, for a frame that `encode(queue, interns)` appends under the
  // queue's lock (a reply: its strings interned in queue order).
  template <class Encode>
  status send_encoded(Encode&& encode, bool urgent, std::uint32_t messages);
  // Appends a message frame for `slot`'s receiver that
  // `encode(queue, interns)` writes, under the queue's lock (encoded in
  // place: no intermediate buffer; its strings interned in queue order),
  // and charges its size to the slot. `urgent` (asks): written at once by
  // the caller when the line is free. Errors: dead_actor (closed),
  // backpressure (the slot's window or the queue is full, also after
  // waiting up to remoting_options::backpressure_wait). The caller holds
  // the node (its io_context must outlive the call).
  template <class Encode>
  status enqueue(flow_slot& slot, Encode&& encode, bool urgent = false);
  void close(const std::string& why);

  // For a plain thread waiting for a reply from this peer: reads and
  // handles what has arrived, on the calling thread, unless someone else is
  // reading right now. Saves the I/O thread's wake-up on the reply's path.
  // Plain TCP only (a TLS stream is read by the I/O thread alone).
  void poll_read();

  // Sender-side flow control: the window of one receiving actor on this
  // connection (made on first use; see flow.hpp).
  std::shared_ptr<flow_slot> slot_for(std::string_view receiver);
  void on_credit(std::string_view receiver, std::uint64_t bytes);
  // Receiver side: this connection's messages waiting in local mailboxes.
  inbound_flow& inflow() noexcept { return *inflow_; }
  const std::shared_ptr<inbound_flow>& inflow_shared() const noexcept { return inflow_; }
  // Resumes reading paused by flow control (any thread).
  void resume_reading();

  // The handles (remote pids) holding this connection: each is told to let
  // go of it when it closes (connection_handle::forget). Attaching to a
  // closed connection makes the handle forget it at once.
  void attach(connection_handle& h);
  void detach(connection_handle& h) noexcept;

  // As enqueue, for a tell's fast path: nullopt, with nothing queued and
  // `encode` not called, when the connection is closed or the message would
  // have to wait for room (the caller then takes the slow path, which may
  // wait, with the same encoder: tell_frame.hpp relies on this). It does not need
  // the node: `post` is set when the I/O thread must be woken, which the
  // caller does (post_write) with the node held.
  template <class Encode>
  std::optional<status> try_enqueue(flow_slot& slot, Encode&& encode, bool& post);
  // Wakes the I/O thread to write what is queued (after claim_write_locked
  // said so); the node, and so its io_context, must be held.
  void post_write();

  // Reader state (the reader lock held: the I/O thread's read handler, or poll_read).
  inbound_cache& cache() noexcept { return cache_; }

  // The peer's address: the one dialled (outbound), else the one its Hello
  // gave (proved when authenticated()). Stable once open.
  const std::string& peer() const noexcept { return peer_; }
  bool outbound() const noexcept { return outbound_; }
  // The peer proved its address (shared secret, or a certificate naming it).
  bool authenticated() const noexcept { return authenticated_; }
  // An outbound connection, or an inbound one whose peer proved its address:
  // messages to that address may use it, and a pid that came over it may
  // be re-dialled.
  bool trusted_address() const noexcept { return outbound_ || authenticated_; }
  bool is_open() const noexcept { return open_.load(std::memory_order_acquire); }
  bool is_closed() const noexcept { return closed_.load(std::memory_order_acquire); }
  // Microseconds (steady clock) when something last arrived.
  std::int64_t last_heard_us() const noexcept { return last_heard_us_.load(std::memory_order_relaxed); }
  // Messages queued or being written when the connection closed (dead letters).
  std::uint64_t unsent_messages() const noexcept;

  // Metrics: what this connection carried so far (any thread), and a
  // message that arrived (the reader lock held).
  connection_traffic traffic() const noexcept;
  void count_received_message() noexcept { bump(messages_received_); }
  // Whether the node counts this connection in its peer's record (guarded
  // by the node's peers_mu_; see node::track_locked).
  bool tracked() const noexcept { return tracked_; }
  void set_tracked(bool on) noexcept { tracked_ = on; }

 private:
  void on_ready();  // connected (and TLS handshake done): send Hello, read
  void on_hello(const hello_view& hello);
  void on_proof(std::string_view mac);
  void open();                                    // handshake done: user frames may flow
  void refuse(const std::string& why);            // the handshake failed: count, close
  bool handshake_frame(const frame_view& frame);  // false once closed

  void kick_write_locked();  // with mu_ held
  // With mu_ held: whether a write must be started (then marked as started);
  // the caller posts it (post_write) once mu_ is released. From a thread
  // other than the I/O thread, the post wakes that thread (a system call):
  // under the lock it made the I/O thread wait for it (perf).
  bool claim_write_locked();
  // With mu_ held and only the frames just encoded queued: writes them on
  // the caller's thread when the line is free (plain TCP, open, no write in
  // flight). True when all went; what did not stays queued.
  bool write_now_locked();
  error queue_full_locked();  // with mu_ held: counts the refusal
  // With mu_ held: appends one frame, `encode(queued_, interns_)`, as a
  // transaction. When the encoder throws (out of memory) the queue and the
  // interned ids are as they were before it, and so are `slot`'s cached
  // ids; the exception goes on to the caller, who reports it. A frame
  // half-written or an id whose definition never left would corrupt the
  // stream for every later frame.
  template <class Encode>
  void encode_locked(Encode& encode, std::size_t before, flow_slot* slot);
  void undo_encode_locked(std::size_t before, flow_slot* slot) noexcept;
  void do_write();
  void do_read();       // TLS: asio reads into in_
  void arm_read();      // plain TCP: wait, then drain_locked() under read_mu_
  bool drain_locked();  // recv until nothing is left or reading pauses; false once closed
  void on_bytes();
  // With mu_ held: whether a message for `slot` may be queued now, after
  // waiting up to backpressure_wait_ for credit. Error: backpressure, dead_actor.
  status admit_locked(flow_slot& slot, std::unique_lock<spin_mutex>& g);
  bool full_locked(const flow_slot& slot) const noexcept {
    return slot.in_flight.load(std::memory_order_relaxed) >= window_ || queued_.size() >= max_outbound_;
  }
  void forget_handles() noexcept;  // on close, on the I/O thread
  error closed_error() const;

  node& node_;
  const std::int64_t window_;       // flow_window_bytes
  const std::size_t max_outbound_;  // max_outbound_bytes: messages (tells, asks) are admitted below it
  // Frames that are not messages (replies, failures, credits, commands) are
  // admitted below this: a reply cannot wait for credit nor be retried, so
  // its bound is not the tell queue's, only one against a peer that never
  // reads (two frames of max_frame_bytes, or twice max_outbound_bytes).
  const std::size_t max_queued_;
  const std::chrono::milliseconds backpressure_wait_;
  asio::ip::tcp::socket socket_;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;  // null for plain TCP
  asio::steady_timer deadline_;                                     // connect, then handshake
  std::string peer_;
  std::string claimed_;  // the address in the peer's Hello
  const bool outbound_;
  bool authenticated_ = false;  // set before open_, stable afterwards

  // Handshake state (reader lock).
  std::string my_nonce_;
  std::string peer_nonce_;
  std::string peer_system_;
  bool hello_seen_ = false;
  bool proof_expected_ = false;

  mutable spin_mutex mu_;
  std::condition_variable_any credit_cv_;             // with mu_: credit arrived, or closed
  byte_queue handshake_out_;                          // guarded by mu_: Hello and Proof, written first
  byte_queue queued_;                                 // guarded by mu_: frames waiting for the next write
  std::uint64_t queued_messages_ = 0;                 // guarded by mu_: message frames in queued_
  std::atomic<std::uint64_t> messages_sent_{0};       // written under mu_ (bump)
  std::atomic<std::uint64_t> bytes_sent_{0};          // written under mu_ (bump)
  std::atomic<std::uint64_t> backpressure_{0};        // written under mu_ (bump)
  std::atomic<std::uint64_t> backpressure_waits_{0};  // written under mu_ (bump)
  std::uint64_t writing_messages_ = 0;                // guarded by mu_: message frames in in_flight_
  bool writing_ = false;                              // guarded by mu_
  bool ready_ = false;                                // guarded by mu_: connected (TLS done)
  std::unordered_map<std::string, std::shared_ptr<flow_slot>> slots_;  // guarded by mu_
  outbound_interns interns_;                                           // guarded by mu_
  std::atomic<bool> open_{false};
  std::atomic<bool> closed_{false};
  std::atomic<std::int64_t> last_heard_us_{0};

  byte_queue in_flight_;  // I/O thread: the buffer being written

  // The memory of the one post_write in flight at a time (claim_write_locked
  // makes it one): waking the I/O thread allocates nothing, so it cannot run
  // out of memory after a frame was queued and leave writing_ set with no
  // write to come. asio frees it before running the handler.
  struct post_memory {
    alignas(std::max_align_t) unsigned char bytes[256];
    std::atomic<bool> used{false};
  };
  template <class T>
  struct post_allocator;
  post_memory post_memory_;

  std::mutex read_mu_;
  std::atomic<bool> reading_{false};  // plain TCP reads have started
  bool armed_ = false;                // I/O thread: a read wait is pending (plain TCP) / a read (TLS)
  read_buffer in_;                    // guarded by read_mu_: bytes read, not yet framed
  inbound_cache cache_;               // guarded by read_mu_
  std::atomic<std::uint64_t> messages_received_{0};  // written under read_mu_ (bump)
  std::atomic<std::uint64_t> bytes_received_{0};     // written under read_mu_ (bump)
  bool tracked_ = false;                             // guarded by the node's peers_mu_
  std::shared_ptr<inbound_flow> inflow_;

  std::mutex handles_mu_;
  std::vector<connection_handle*> handles_;  // guarded by handles_mu_
  bool handles_forgotten_ = false;           // guarded by handles_mu_: closed, none may attach
};

// The connection a remote pid used last: a stream of tells to one actor
// skips the node's connection map and its mutex, finds its flow slot
// without a lookup, and — while the handle's lock is held — uses both with
// no reference counted (perf: the references' locked instructions were a
// quarter of a remote tell on the sending thread).
//
// The handle holds its connection strongly while it is open: the
// connection knows its handles and makes them let go of it when it closes
// (forget), so a pid never keeps a closed connection — and its socket —
// alive past its node's io_context.
//
// A pid that came over an unauthenticated connection is bound to it
// (`bound`): it is used while open, and its address is never dialled.
//
// Locks: set_mu_ (set, destruction), then the connection's handles_mu_
// (attach, detach, and forget from its close), then busy_ (innermost; the
// fast path holds it around the connection's queue lock, never waiting).
class connection_handle {
 public:
  struct entry {
    std::shared_ptr<connection> conn;
    std::shared_ptr<flow_slot> slot;
  };
  connection_handle() = default;
  connection_handle(const connection_handle&) = delete;
  connection_handle& operator=(const connection_handle&) = delete;
  ~connection_handle();

  // Before the handle is shared: use `c` first; with `bound`, only `c`.
  void start_with(const std::shared_ptr<connection>& c, bool bound);

  entry get() noexcept {
    std::lock_guard g(busy_);
    return {conn_, slot_};
  }
  void set(const std::shared_ptr<connection>& c, std::shared_ptr<flow_slot> slot);

  // Calls f(connection&, flow_slot&) with the handle's lock held, when it
  // holds an open connection and a slot; nullopt otherwise. `f` must not
  // wait (the fast path of a tell: connection::try_enqueue); if it throws
  // (out of memory), the lock is released and the exception goes on.
  template <class F>
  auto with_open(F&& f) -> std::optional<std::invoke_result_t<F, connection&, flow_slot&>> {
    std::lock_guard g(busy_);
    std::optional<std::invoke_result_t<F, connection&, flow_slot&>> r;
    if (conn_ && slot_) r = f(*conn_, *slot_);
    return r;
  }

  // Bound to a connection whose peer's address may not be dialled.
  bool bound() const noexcept { return bound_; }

  // `c` closed (its close, on the I/O thread): let go of it, if held.
  // Returns what was held, for the caller to release outside the locks.
  entry forget(const connection* c) noexcept;

 private:
  std::mutex set_mu_;
  spin_mutex busy_;
  std::shared_ptr<connection> conn_;  // guarded by busy_; attached to it (connection::attach)
  std::shared_ptr<flow_slot> slot_;   // guarded by busy_
  bool bound_ = false;
};

}  // namespace akt::remote::detail

namespace akt::remote::detail {

template <class Encode>
status connection::enqueue(flow_slot& slot, Encode&& encode, bool urgent) {
  if (closed_.load(std::memory_order_acquire)) return closed_error();
  std::unique_lock g(mu_);
  if (auto s = admit_locked(slot, g); !s) return s;
  const std::size_t before = queued_.size();
  encode_locked(encode, before, &slot);
  bump(slot.in_flight, queued_.size() - before);  // written under mu_ only
  bump(messages_sent_);
  if (urgent && before == 0 && write_now_locked()) return {};
  ++queued_messages_;
  // Posted after the lock: the caller (a tell or an ask) holds the node,
  // so its io_context outlives the post.
  const bool post = claim_write_locked();
  g.unlock();
  if (post) post_write();
  return {};
}

template <class Encode>
std::optional<status> connection::try_enqueue(flow_slot& slot, Encode&& encode, bool& post) {
  if (closed_.load(std::memory_order_acquire)) return std::nullopt;
  std::lock_guard g(mu_);
  if (closed_.load(std::memory_order_relaxed) || full_locked(slot)) return std::nullopt;
  const std::size_t before = queued_.size();
  encode_locked(encode, before, &slot);
  bump(slot.in_flight, queued_.size() - before);  // written under mu_ only
  bump(messages_sent_);
  ++queued_messages_;
  post = claim_write_locked();
  return status();
}

template <class Encode>
void connection::encode_locked(Encode& encode, std::size_t before, flow_slot* slot) {
  interns_.begin_frame();
  try {
    encode(queued_, interns_);
  } catch (...) {
    undo_encode_locked(before, slot);
    throw;
  }
}

template <class Encode>
status connection::send_encoded(Encode&& encode, bool urgent, std::uint32_t messages) {
  if (closed_.load(std::memory_order_acquire)) return closed_error();
  std::lock_guard g(mu_);
  if (closed_.load(std::memory_order_relaxed)) return closed_error();
  if (queued_.size() >= max_queued_) return queue_full_locked();
  const std::size_t before = queued_.size();
  encode_locked(encode, before, nullptr);
  if (messages != 0) bump(messages_sent_, messages);
  if (urgent && before == 0 && write_now_locked()) return {};
  // Posted under the lock: a caller here need not hold the node (a credit
  // from a worker), and close() waits for the lock before the node may go.
  kick_write_locked();
  return {};
}

}  // namespace akt::remote::detail
