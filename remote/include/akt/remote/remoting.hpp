// akt/remote/remoting.hpp — location-transparent messaging between actor
// systems over TCP.
//
//   sys->registry().register_message<demo::Ping>();     // every type that crosses the wire
//   auto* node = akt::remote::remoting::enable(*sys, {.host = "127.0.0.1", .port = 0}).value();
//   std::printf("listening on %s\n", node->address().c_str());   // port 0 picked a free port
//   auto pong = node->lookup("127.0.0.1", 4000, "pong", 1s).value();  // a pid like any other
//   pong.tell(ping);                                    // serialized, batched, sent
//   auto r = pong.ask<demo::Pong>(ping, 1s);            // replies travel back
//   auto same = sys->lookup("akt://pong@127.0.0.1:4000/pong");   // full paths resolve through the system
//
// Remoting is an extension of the system (akt/extension.hpp): the system
// owns it, and stop() closes it after the actors stopped. Node up / down
// events reach the event stream (event_kind::node_up / node_down) and
// every other extension.
//
// A remote pid supports tell, ask, stop; the receiving actor gets the
// original protobuf message and a sender it can reply to. Paths of a system
// with remoting read akt://<system>@<host>:<port>/<name>.
//
// Secured by a shared secret (remoting_options::secret) or mutual TLS
// (remoting_options::tls); see remoting_options for what each proves.
//
// A tell that cannot be delivered on the other side (no such actor, a full
// mailbox, an unknown type, a refused command) is a dead letter there and is
// reported back: the sending system counts it in dead_letters() too, as it
// does messages to a node that is down.
//
// Messages crossing the wire must be Protocol Buffers messages registered
// with sys->registry().register_message<T>() on both systems; an unregistered or
// non-protobuf type is refused at the sender (errc::invalid_argument) or
// answered by the receiver with errc::invalid_argument ("unknown type").
//
// One TCP connection per pair of nodes, opened on first use and reused;
// writes are batched (everything queued goes out in one write); order is
// kept per (sender, receiver). A lost connection fails the asks waiting on
// it at once (errc::dead_actor) and is re-opened, with backoff, on the next
// send. Malformed, truncated or oversized frames close that connection only.
// See docs/wire-protocol.md for the protocol.
//
// Thread safety: all members from any thread.
#pragma once

#include <akt/akt.hpp>
#include <akt/registry.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace akt::remote {

// TLS for every connection of a node (OpenSSL). Both sides need it: a node
// with TLS refuses plain peers (the handshake fails and only that connection
// closes). Peers are verified against `ca_file`; with `mutual`, a node also
// demands and verifies the certificate of whoever connects to it.
// Certificates must name the node's IP address (subjectAltName IP).
struct tls_options {
  std::string certificate_file{};  // PEM: this node's certificate (chain)
  std::string private_key_file{};  // PEM: its key
  std::string ca_file{};           // PEM: the authorities trusted for peers
  bool mutual = false;
};

// What peers may do to this node's actors beyond sending them messages and
// looking them up (in the spirit of Akka's untrusted mode). Refused
// commands get errc::not_permitted back, naming the option.
struct remote_permissions {
  bool stop = false;                          // KIND_STOP: peers may stop local actors by path
  bool watch = true;                          // peers may watch local actors (death watch across nodes)
  std::size_t max_watches_per_peer = 10'000;  // per connection; beyond: not_permitted
  // Kinds (registry().register_kind<A>()) peers may spawn here; empty: none.
  std::vector<std::string> spawnable_kinds{};
};

struct remoting_options {
  std::string host = "127.0.0.1";  // the address to listen on and to advertise
  std::uint16_t port = 0;          // 0 = pick a free port (see remoting::port())

  // Authentication. A node's address is what its peer proved, never what
  // it claimed: with a shared `secret` both sides prove they hold it over
  // fresh nonces (HMAC-SHA256; the secret never crosses the wire), and a
  // peer that cannot is refused; with mutual TLS the peer's certificate
  // must name the IP address it claims. A node with neither accepts any
  // peer, trusts no peer's address (replies go back over the connection
  // the request came on, and an unauthenticated peer is never dialled), and
  // may bind only a loopback address, unless `insecure_no_authentication`.
  std::string secret{};              // shared by every node of the system; at least 16 bytes
  std::optional<tls_options> tls{};  // unset = plain TCP
  bool insecure_no_authentication = false;
  remote_permissions permissions{};

  // Failure detection: a peer silent for `silent_heartbeats` intervals is
  // declared down (once): its asks fail, its watchers get Terminated,
  // node_down is announced, messages still queued for it are dead letters.
  std::chrono::milliseconds heartbeat_interval{1000};
  std::uint32_t silent_heartbeats = 3;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds handshake_timeout{5000};  // connected to Hello and Proof done

  // Resource limits. A frame over max_frame_bytes (or over 4 KiB before the
  // handshake is done) closes its connection.
  std::size_t max_frame_bytes = 16 * 1024 * 1024;
  std::size_t max_connections = 1024;  // inbound connections at once; beyond: refused

  // Back-pressure. Per receiving actor, at most `flow_window_bytes` of frames
  // are in flight (sent, not yet taken by that actor): the receiver grants
  // credit as it consumes. Beyond that window, or with more than
  // `max_outbound_bytes` queued on a connection, tell returns
  // errc::backpressure (after waiting up to `backpressure_wait` for credit,
  // 0 = not at all). One slow actor fills only its own window: messages to
  // the others on the same connection keep flowing. A receiver reads no
  // more from a connection while `max_inbound_pending_bytes` of its frames
  // wait in local mailboxes.
  //
  // The outbound queue is small on purpose: the kernel's socket buffers
  // and the receiver's window hold the stream in flight, and a deep queue
  // only keeps megabytes of frames cold in memory (a 32 MiB queue made a
  // fast stream ~10 % slower, docs/benchmarks.md). A frame is admitted
  // while the queue is under the bound, so one frame of any size up to
  // max_frame_bytes always gets in: the queue holds at most
  // max_outbound_bytes plus one frame. Bursts beyond it from a thread that
  // must not fail: set backpressure_wait. Replies, failures, credits and
  // commands are not held to it (a reply cannot wait for credit): they are
  // refused only past twice the larger of max_outbound_bytes and
  // max_frame_bytes, against a peer that does not read.
  std::size_t flow_window_bytes = 16 * 1024 * 1024;  // ~10 ms of a fast stream: smaller windows stall it
  std::size_t max_outbound_bytes = 2 * 1024 * 1024;
  std::size_t max_inbound_pending_bytes = 64 * 1024 * 1024;
  std::chrono::milliseconds backpressure_wait{0};

  // Scheduling (Linux). The node's I/O thread wakes for every read and
  // write; under the default policy each wake-up preempts whatever runs on
  // the core — often a worker or an asker that is about to read the same
  // bytes itself. With `batch_io_thread` the I/O thread runs under
  // SCHED_BATCH: the same share of the CPU as any thread (nice 0), but a
  // wake-up waits for the running thread to yield or use up its slice
  // (a polling worker yields every few microseconds, a polling remote
  // asker every 32 rounds, ~30 us). On two
  // cores this took a remote round trip's p99 from 3.4-3.9x its p50 to
  // 2.5-2.9x and a stream of tells from 7.4-8.6 M to 9.5-11.2 M msgs/s
  // (docs/benchmarks.md, eighth session). Off: the thread keeps the
  // process's policy.
  bool batch_io_thread = true;
};

namespace detail {
class node;
}  // namespace detail

class remoting final : public akt::extension {
 public:
  // Adds remoting to `system`, which owns it from then on: it listens (now,
  // or when the system starts) and gives the system its network address.
  // The pointer stays valid until the system is destroyed. Errors:
  // invalid_argument (bad host, remoting already enabled), not_running (the
  // system stopped), and the bind failure, said plainly.
  [[nodiscard]] static result<remoting*> enable(actor_system& system, remoting_options options = {});
  ~remoting() override;  // closes every connection
  remoting(const remoting&) = delete;
  remoting& operator=(const remoting&) = delete;

  const std::string& host() const noexcept;
  std::uint16_t port() const noexcept;
  std::string address() const;  // "host:port"

  // Finds a named actor on another node (one round trip). Errors: not_found,
  // request_timeout, dead_actor (node unreachable).
  [[nodiscard]] result<pid> lookup(std::string_view host, std::uint16_t port, std::string_view name,
                                   std::chrono::nanoseconds timeout);
  // A pid for a full path "akt://sys@host:port/name" (no round trip); also
  // what actor_system::lookup does with such a path.
  [[nodiscard]] result<pid> resolve(std::string_view path);
  // Spawns a top-level actor of a registered kind on another node (empty
  // name = anonymous). Errors: not_found (no such kind there), name_taken,
  // invalid_name, request_timeout, dead_actor (unreachable).
  [[nodiscard]] result<pid> spawn(std::string_view host, std::uint16_t port, std::string_view kind,
                                  std::string_view name, std::chrono::nanoseconds timeout);

  // Counters for tests and metrics.
  std::uint64_t connections_opened() const noexcept;
  std::uint64_t frames_rejected() const noexcept;      // malformed, oversized, out of protocol
  std::uint64_t handshakes_refused() const noexcept;   // failed authentication or handshake deadline
  std::uint64_t backpressure_events() const noexcept;  // tells refused with errc::backpressure
  // Tells and asks that waited for window or queue space (backpressure_wait
  // set), whether they went out or were refused after the wait.
  std::uint64_t backpressure_waits() const noexcept;

  // akt::extension
  std::string_view name() const noexcept override { return "remote"; }
  status start(actor_system& system) override;
  void stop() override;
  std::string node_address() const override;
  std::optional<result<pid>> try_resolve(std::string_view name_or_path) override;  // akt://sys@host:port/...
  void poll_idle() noexcept override;
  // A membership extension (the cluster) says a node left: it is down here
  // too, whether or not its connection noticed yet (watchers get
  // Terminated, asks to it fail).
  void on_node_event(const node_event& e) noexcept override;
  // Per peer (attribute akt.peer, "host:port": for a connection whose peer
  // proved nothing, the address it claimed): messages and bytes sent and
  // received, whether it is up, reconnects, back-pressure and failures by
  // akt.reason; node-wide: connections open and opened, frames rejected,
  // handshakes refused. Every series also carries akt.system. Peers whose
  // connections all closed keep their figures, for the last 256 of them.
  // Table of names and units: docs/ARCHITECTURE.md, "Remoting", Metrics.
  void report_metrics(metric_sink& sink) const override;

 private:
  explicit remoting(std::shared_ptr<detail::node> node);
  std::shared_ptr<detail::node> node_;
};

}  // namespace akt::remote
