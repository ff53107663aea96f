// akt/remote/remoting.hpp — location-transparent messaging between actor
// systems over TCP.
//
//   akt::remote::register_message<demo::Ping>();       // every type that crosses the wire
//   auto node = akt::remote::remoting::enable(*sys, {.host = "127.0.0.1", .port = 0}).value();
//   std::printf("listening on %s\n", node->address().c_str());   // port 0 picked a free port
//   auto pong = node->lookup("127.0.0.1", 4000, "pong", 1s).value();  // a pid like any other
//   pong.tell(ping);                                    // serialized, batched, sent
//   auto r = pong.ask<demo::Pong>(ping, 1s);            // replies travel back
//
// A remote pid supports tell, ask, stop; the receiving actor gets the
// original protobuf message and a sender it can reply to. Paths of a system
// with remoting read akt://<system>@<host>:<port>/<name>.
//
// TLS (optionally mutual) through remoting_options::tls.
//
// Messages crossing the wire must be Protocol Buffers messages registered
// with register_message<T>() in both processes; an unregistered or
// non-protobuf type is refused at the sender (errc::invalid_argument) or
// answered by the receiver with errc::invalid_argument ("unknown type").
//
// One TCP connection per pair of nodes, opened on first use and reused;
// writes are batched (everything queued goes out in one write); order is
// kept per (sender, receiver). A lost connection fails the asks waiting on
// it at once (errc::dead_actor) and is re-opened, with backoff, on the next
// send. Malformed, truncated or oversized frames close that connection only.
//
// Thread safety: all members from any thread.
#pragma once

#include <akt/akt.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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

struct remoting_options {
  std::string host = "127.0.0.1";  // the address to listen on and to advertise
  std::uint16_t port = 0;          // 0 = pick a free port (see remoting::port())
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds heartbeat_interval{1000};  // a peer silent 3 intervals is dead
  std::size_t max_frame_bytes = 16 * 1024 * 1024;
  std::optional<tls_options> tls{};  // unset = plain TCP
};

namespace detail {
class node;
using message_decoder = akt::detail::envelope_ptr (*)(std::string_view bytes);
void register_decoder(std::string type_name, message_decoder decode);
using kind_spawner = std::function<result<pid>(actor_system&, std::string name)>;
void register_kind(std::string kind, kind_spawner spawn);
}  // namespace detail

// Lets other nodes spawn actors of type A here, by the name `kind`
// (remoting::spawn). A is constructed with no arguments. Register in the
// process that will host the actors.
template <class A>
void register_kind(std::string kind) {
  detail::register_kind(std::move(kind),
                        [](actor_system& sys, std::string name) { return sys.spawn<A>(name); });
}

// Makes T (a generated protobuf message) decodable when it arrives. Call it
// once per type, in every process, before messages of that type arrive.
template <class T>
void register_message() {
  static_assert(protobuf_message<T>, "only Protocol Buffers messages cross the wire");
  detail::register_decoder(T::descriptor()->full_name(),
                           [](std::string_view bytes) -> akt::detail::envelope_ptr {
                             // Parsed straight into a recycled envelope: no copy, no allocation
                             // once the pool is warm (ParseFromArray clears what was there).
                             akt::detail::envelope_ptr e(akt::detail::envelope_pool<T>::take());
                             auto& value = static_cast<akt::detail::typed_envelope<T>&>(*e).value;
                             if (!value.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
                               return nullptr;
                             return e;
                           });
}

class remoting {
 public:
  // Starts listening and gives `system` a network address. Errors:
  // invalid_argument (bad host), not_running (the system is not running),
  // and the bind failure, said plainly.
  [[nodiscard]] static result<std::unique_ptr<remoting>> enable(actor_system& system,
                                                                remoting_options options = {});
  ~remoting();  // closes every connection
  remoting(const remoting&) = delete;
  remoting& operator=(const remoting&) = delete;

  const std::string& host() const noexcept;
  std::uint16_t port() const noexcept;
  std::string address() const;  // "host:port"

  // Finds a named actor on another node (one round trip). Errors: not_found,
  // request_timeout, dead_actor (node unreachable).
  [[nodiscard]] result<pid> lookup(std::string_view host, std::uint16_t port, std::string_view name,
                                   std::chrono::nanoseconds timeout);
  // A pid for a full path "akt://sys@host:port/name" (no round trip).
  [[nodiscard]] result<pid> resolve(std::string_view path);
  // Spawns a top-level actor of a registered kind on another node (empty
  // name = anonymous). Errors: not_found (no such kind there), name_taken,
  // invalid_name, request_timeout, dead_actor (unreachable).
  [[nodiscard]] result<pid> spawn(std::string_view host, std::uint16_t port, std::string_view kind,
                                  std::string_view name, std::chrono::nanoseconds timeout);

  // Counters for tests and metrics.
  std::uint64_t connections_opened() const noexcept;
  std::uint64_t frames_rejected() const noexcept;

 private:
  explicit remoting(std::shared_ptr<detail::node> node);
  std::shared_ptr<detail::node> node_;
};

}  // namespace akt::remote
