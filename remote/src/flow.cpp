#include "flow.hpp"

#include "connection.hpp"

namespace akt::remote::detail {

bool inbound_flow::pause_if_over() noexcept {
  const std::int64_t charged = charged_.load(std::memory_order_relaxed);
  if (charged - released_seen_ <= max_pending_) return false;
  released_seen_ = released_.load(std::memory_order_acquire);
  if (charged - released_seen_ <= max_pending_) return false;
  paused_.store(true, std::memory_order_seq_cst);
  // Consumption may have caught up meanwhile: then release() saw no pause.
  released_seen_ = released_.load(std::memory_order_seq_cst);
  if (charged - released_seen_ <= max_pending_ / 2 && paused_.exchange(false)) return false;
  return true;
}

void inbound_flow::release(std::uint32_t cost) noexcept {
  const std::int64_t released = released_.fetch_add(cost, std::memory_order_seq_cst) + cost;
  // Reading is paused (rare): the reader charges nothing meanwhile, so
  // charged_ is final here (published before paused_).
  if (paused_.load(std::memory_order_seq_cst) &&
      charged_.load(std::memory_order_relaxed) - released <= max_pending_ / 2 && paused_.exchange(false)) {
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
