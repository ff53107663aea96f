// Test helpers for attacking a node from outside: a raw client that speaks
// the wire protocol by hand (frames built with codec.hpp, the handshake
// with handshake.hpp's proofs, optionally with a shared secret), a bare
// listening socket that tells whether anybody connected to it, and a
// bounded wait. Plain POSIX sockets on 127.0.0.1; every read and write has
// a deadline, so a test never hangs on a node that misbehaves.
#pragma once

#include <akt/remote/remoting.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "codec.hpp"
#include "handshake.hpp"
#include "interning.hpp"

namespace akt_test {

namespace wire = akt::remote::detail;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// Polls `pred` (pacing 1 ms) until it holds or `timeout` passes.
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout = 10s) {
  const auto end = clock_type::now() + timeout;
  while (!pred()) {
    if (clock_type::now() > end) return pred();
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

inline int remaining_ms(clock_type::time_point end) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - clock_type::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// One frame read from a node, owning its bytes.
struct owned_frame {
  wire::frame_kind kind = wire::frame_kind::heartbeat;
  // hello
  std::uint32_t version = 0;
  std::string system, address, nonce;
  bool secret = false;
  // envelope
  wire::envelope_kind envelope = wire::envelope_kind::tell;
  std::string receiver, sender, type, payload, error_message;
  std::uint64_t correlation = 0;
  std::uint32_t error_code = 0;
  // receiver, sender and type are resolved (interned ids replaced by their
  // strings); the ids and the strings as sent are kept to check the wire.
  std::uint32_t receiver_id = 0, sender_id = 0, type_id = 0;
  std::string sent_receiver, sent_sender, sent_type;
  // proof
  std::string proof;
  // credit
  std::string credit_receiver;
  std::uint64_t credit_bytes = 0;

  bool is(wire::envelope_kind k) const { return kind == wire::frame_kind::envelope && envelope == k; }

  static owned_frame from(const wire::frame_view& f) {
    owned_frame o;
    o.kind = f.kind;
    o.version = f.hello.protocol_version;
    o.system = f.hello.system;
    o.address = f.hello.address;
    o.nonce = f.hello.nonce;
    o.secret = f.hello.secret;
    o.envelope = f.envelope.kind;
    o.receiver = f.envelope.receiver;
    o.sender = f.envelope.sender;
    o.type = f.envelope.type;
    o.payload = f.envelope.payload;
    o.error_message = f.envelope.error_message;
    o.correlation = f.envelope.correlation_id;
    o.error_code = f.envelope.error_code;
    o.sent_receiver = o.receiver;
    o.sent_sender = o.sender;
    o.sent_type = o.type;
    o.receiver_id = f.envelope.receiver_id;
    o.sender_id = f.envelope.sender_id;
    o.type_id = f.envelope.type_id;
    o.proof = f.proof;
    o.credit_receiver = f.credit.receiver;
    o.credit_bytes = f.credit.bytes;
    return o;
  }
};

// A client that speaks the wire protocol by hand.
class raw_peer {
 public:
  // Connects to 127.0.0.1:port; check connected().
  explicit raw_peer(std::uint16_t port, std::chrono::milliseconds within = 5s) : nonce_(wire::fresh_nonce()) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int flags = ::fcntl(fd_, F_GETFL);
    ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      pollfd p{fd_, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      if (errno != EINPROGRESS || ::poll(&p, 1, static_cast<int>(within.count())) != 1 ||
          ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        close();
        return;
      }
    }
    connected_ = true;
  }
  ~raw_peer() { close(); }
  raw_peer(const raw_peer&) = delete;
  raw_peer& operator=(const raw_peer&) = delete;

  bool connected() const noexcept { return connected_; }
  // This client's Hello nonce.
  const std::string& nonce() const noexcept { return nonce_; }
  // The node's Hello, once handshake() or next() read it.
  const std::optional<owned_frame>& node_hello() const noexcept { return node_hello_; }
  // The node closed the connection (a read saw EOF or a reset).
  bool closed_by_node() const noexcept { return eof_; }
  // Why a frame from the node broke the rules of interned ids (empty: none did).
  const std::string& interning_error() const noexcept { return interning_error_; }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Writes all of `bytes` within `within`; false if the node stopped
  // reading or closed.
  bool send_bytes(std::string_view bytes, std::chrono::milliseconds within = 5s) {
    const auto end = clock_type::now() + within;
    while (!bytes.empty()) {
      if (fd_ < 0) return false;
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, remaining_ms(end)) != 1) return false;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    return true;
  }

  bool send_hello(std::string_view system, std::string_view address, bool secret = false) {
    std::string out;
    wire::append_hello_frame(out, wire::hello_view{.protocol_version = wire::protocol_version,
                                                   .system = system,
                                                   .address = address,
                                                   .nonce = nonce_,
                                                   .secret = secret});
    return send_bytes(out);
  }
  bool send_proof(std::string_view mac) {
    std::string out;
    wire::append_proof_frame(out, mac);
    return send_bytes(out);
  }
  bool send_heartbeat() {
    std::string out;
    wire::append_heartbeat_frame(out, 1);
    return send_bytes(out);
  }
  bool send_envelope(const wire::envelope_view& e) {
    std::string out;
    wire::append_envelope_frame(out, e);
    return send_bytes(out);
  }

  // The proof this client owes as the initiator, for `secret`, claiming
  // `system` and `address` (needs the node's Hello).
  std::string my_proof(std::string_view secret, std::string_view system, std::string_view address) const {
    return wire::make_proof(secret, wire::handshake_role::initiator, nonce_, node_hello_->nonce, system,
                            address);
  }

  // The handshake as the initiator: Hello (claiming `system`, `address`),
  // the node's Hello, and with a non-empty `secret` both proofs (the
  // node's is checked). False, with `why`, when the node refused or did
  // not answer in time.
  bool handshake(std::string_view system, std::string_view address, std::string_view secret = {},
                 std::string* why = nullptr, std::chrono::milliseconds within = 5s) {
    auto fail = [&](const std::string& w) {
      if (why != nullptr) *why = w;
      return false;
    };
    if (!send_hello(system, address, !secret.empty())) return fail("could not send the Hello");
    if (!node_hello_) {
      auto h = next(within);
      if (!h) return fail(eof_ ? "closed before the node's Hello" : "no Hello from the node");
      if (h->kind != wire::frame_kind::hello) return fail("the node's first frame is not a Hello");
      node_hello_ = std::move(*h);
    }
    if (secret.empty()) return true;
    if (!send_proof(my_proof(secret, system, address))) return fail("could not send the Proof");
    auto p = next(within);
    if (!p) return fail(eof_ ? "closed by the node after our Proof" : "no Proof from the node");
    if (p->kind != wire::frame_kind::proof) return fail("the node's second frame is not a Proof");
    const std::string expected =
        wire::make_proof(secret, wire::handshake_role::acceptor, nonce_, node_hello_->nonce,
                         node_hello_->system, node_hello_->address);
    if (!wire::same_proof(expected, p->proof)) return fail("the node's Proof is wrong");
    // The node decides on our proof after sending its own: a refusal shows
    // as the connection closing; a heartbeat round trip would not prove
    // acceptance either, so callers check what they need (a lookup answer).
    return true;
  }

  // Reads the node's Hello (the first frame it sends) without sending anything.
  bool read_node_hello(std::chrono::milliseconds within = 5s) {
    if (node_hello_) return true;
    auto h = next(within);
    if (!h || h->kind != wire::frame_kind::hello) return false;
    node_hello_ = std::move(*h);
    return true;
  }

  // The next frame within `within`; nullopt on timeout, close (see
  // closed_by_node) or a frame that does not decode.
  std::optional<owned_frame> next(std::chrono::milliseconds within) {
    const auto end = clock_type::now() + within;
    for (;;) {
      if (auto f = take_buffered()) return f;
      if (fd_ < 0 || eof_) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, remaining_ms(end));
      if (r < 0 && errno == EINTR) continue;
      if (r != 1) return std::nullopt;  // timeout
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        in_.append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR && errno != EWOULDBLOCK)) {
        eof_ = true;
      }
    }
  }

  // Every frame until `done(frame)` holds (that frame included), the node
  // closes, or `within` passes.
  std::vector<owned_frame> read_until(const std::function<bool(const owned_frame&)>& done,
                                      std::chrono::milliseconds within) {
    std::vector<owned_frame> seen;
    const auto end = clock_type::now() + within;
    for (;;) {
      auto f = next(std::chrono::milliseconds(remaining_ms(end)));
      if (!f) return seen;
      seen.push_back(std::move(*f));
      if (done(seen.back())) return seen;
    }
  }
  // Every frame for `during` (or until the node closes).
  std::vector<owned_frame> read_for(std::chrono::milliseconds during) {
    return read_until([](const owned_frame&) { return false; }, during);
  }
  // True when the node closes the connection within `within` (frames read
  // meanwhile go to `seen`).
  bool wait_closed(std::chrono::milliseconds within, std::vector<owned_frame>* seen = nullptr) {
    auto frames = read_for(within);
    if (seen != nullptr) *seen = std::move(frames);
    return eof_;
  }

 private:
  std::optional<owned_frame> take_buffered() {
    if (in_.empty()) return std::nullopt;
    wire::frame_view f;
    std::size_t used = 0;
    if (wire::decode_frame(in_, 1u << 30, f, used) != wire::decode_status::frame) return std::nullopt;
    owned_frame o = owned_frame::from(f);
    in_.erase(0, used);
    if (o.kind == wire::frame_kind::envelope) {
      // As a node would: ids the node interned become their strings.
      std::string_view r = o.receiver, se = o.sender, t = o.type;
      if (!interned_.resolve(wire::interned_kind::receiver, r, o.receiver_id, interning_error_) ||
          !interned_.resolve(wire::interned_kind::sender, se, o.sender_id, interning_error_) ||
          !interned_.resolve(wire::interned_kind::type, t, o.type_id, interning_error_)) {
        eof_ = true;  // a node that breaks the rules: as if it had closed
        return std::nullopt;
      }
      o.receiver = std::string(r);
      o.sender = std::string(se);
      o.type = std::string(t);
    }
    if (o.kind == wire::frame_kind::hello && !node_hello_) node_hello_ = o;
    return o;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string nonce_;
  std::string in_;
  std::optional<owned_frame> node_hello_;
  wire::inbound_interns interned_;  // the node's interned strings on this connection
  std::string interning_error_;     // set when the node broke the interning rules
};

// A listening socket on 127.0.0.1 that nobody should dial: tells whether a
// connection arrived.
class raw_listener {
 public:
  raw_listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 || ::listen(fd_, 16) != 0)
      return;
    socklen_t len = sizeof at;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&at), &len);
    port_ = ntohs(at.sin_port);
  }
  ~raw_listener() {
    if (fd_ >= 0) ::close(fd_);
  }
  raw_listener(const raw_listener&) = delete;
  raw_listener& operator=(const raw_listener&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // True if somebody connected within `within` (the connection is accepted and closed).
  bool connection_within(std::chrono::milliseconds within) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(within.count())) != 1) return false;
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c >= 0) ::close(c);
    return true;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace akt_test
