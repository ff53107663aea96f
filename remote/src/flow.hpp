// Flow control between nodes (docs/wire-protocol.md, "Flow control").
//
// Sender: per receiving actor, on each connection, a window of bytes in
// flight (flow_slot): a message's frame size is charged when it is queued;
// Credit frames from the receiver give it back. A full window refuses more
// messages to that actor (errc::backpressure) while messages to other
// actors on the same connection keep flowing: a slow actor slows only its
// own senders.
//
// Receiver: each message from the wire carries a receiver_credit hook
// (akt/detail/wire_envelope.hpp); when the actor takes the message, or it
// is dropped, the bytes are owed back to the sender and returned in a
// Credit frame once grant_bytes are owed. Per connection, inbound_flow
// counts the bytes waiting in local mailboxes and pauses reading above a
// bound, so a sender that ignores its window is held back by TCP itself.
#pragma once

#include <akt/detail/wire_envelope.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace akt::remote::detail {

class connection;

// Credit is returned at the latest once this many bytes are owed; a window
// must be a few times larger (remoting_options::flow_window_bytes >= 4 x).
constexpr std::uint64_t grant_bytes = 64 * 1024;
constexpr std::uint64_t min_window_bytes = 4 * grant_bytes;

struct flow_slot {
  std::atomic<std::int64_t> in_flight{0};  // bytes sent to the receiver, not yet credited
  std::uint32_t receiver_id = 0;           // the receiver's interned id (guarded by the connection's mu_)
};

class inbound_flow {
 public:
  inbound_flow(std::weak_ptr<connection> conn, std::uint64_t max_pending)
      : conn_(std::move(conn)), max_pending_(static_cast<std::int64_t>(max_pending)) {}

  void charge(std::uint32_t cost) noexcept { pending_.fetch_add(cost, std::memory_order_relaxed); }
  // True when reading must pause; it then resumes once half is consumed.
  bool pause_if_over() noexcept;
  bool paused() const noexcept { return paused_.load(std::memory_order_acquire); }
  void release(std::uint32_t cost) noexcept;
  // Sends Credit{receiver, bytes} to the peer (any thread).
  void grant(const std::string& receiver, std::uint64_t bytes) noexcept;

 private:
  std::weak_ptr<connection> conn_;
  const std::int64_t max_pending_;
  std::atomic<std::int64_t> pending_{0};
  std::atomic<bool> paused_{false};
};

class receiver_credit final : public akt::detail::consumption_hook {
 public:
  receiver_credit(std::shared_ptr<inbound_flow> flow, std::string receiver)
      : flow_(std::move(flow)), receiver_(std::move(receiver)) {}
  void consumed(std::uint32_t cost) noexcept override;

 private:
  std::shared_ptr<inbound_flow> flow_;
  const std::string receiver_;
  std::atomic<std::uint64_t> owed_{0};
};

}  // namespace akt::remote::detail
