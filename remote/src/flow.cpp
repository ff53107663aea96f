#include "flow.hpp"

#include "connection.hpp"

namespace akt::remote::detail {

bool inbound_flow::pause_if_over() noexcept {
  if (pending_.load(std::memory_order_relaxed) <= max_pending_) return false;
  paused_.store(true, std::memory_order_release);
  // Consumption may have caught up meanwhile: then release() saw no pause.
  if (pending_.load(std::memory_order_acquire) <= max_pending_ / 2 && paused_.exchange(false)) return false;
  return true;
}

void inbound_flow::release(std::uint32_t cost) noexcept {
  const std::int64_t left = pending_.fetch_sub(cost, std::memory_order_acq_rel) - cost;
  if (left <= max_pending_ / 2 && paused_.load(std::memory_order_acquire) && paused_.exchange(false)) {
    if (auto c = conn_.lock()) c->resume_reading();
  }
}

void inbound_flow::grant(const std::string& receiver, std::uint64_t bytes) noexcept {
  auto c = conn_.lock();
  if (!c || c->is_closed()) return;
  try {
    std::string frame;
    append_credit_frame(frame, receiver, bytes);
    (void)c->send(frame);
  } catch (...) {
    // Out of memory: the credit is lost; the sender's window shrinks by it.
  }
}

void receiver_credit::consumed(std::uint32_t cost) noexcept {
  flow_->release(cost);
  if (owed_.fetch_add(cost, std::memory_order_acq_rel) + cost < grant_bytes) return;
  if (const std::uint64_t owed = owed_.exchange(0, std::memory_order_acq_rel); owed != 0) {
    flow_->grant(receiver_, owed);
  }
}

}  // namespace akt::remote::detail
