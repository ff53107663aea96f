#include <akt/detail/wire_envelope.hpp>
#include <akt/pid.hpp>

#include <cstring>
#include <new>
#include <utility>

#include "dispatch/ref_cache.hpp"

namespace akt::detail {

wire_envelope::wire_envelope(decoder decode, std::uint32_t type_size, std::uint32_t bytes_size,
                             std::size_t allocated) noexcept
    : decode_(decode), type_size_(type_size), bytes_size_(bytes_size), allocated_(allocated) {
  kind = envelope_kind::wire;
}

envelope_ptr wire_envelope::make(decoder decode, std::string_view type, std::string_view bytes,
                                 ref_ptr<consumption_hook> hook, std::uint32_t cost) {
  const std::size_t size = sizeof(wire_envelope) + type.size() + bytes.size();
  void* memory = small_alloc(size);
  auto* e = ::new (memory) wire_envelope(decode, static_cast<std::uint32_t>(type.size()),
                                         static_cast<std::uint32_t>(bytes.size()), size);
  if (!type.empty()) std::memcpy(e->data(), type.data(), type.size());
  if (!bytes.empty()) std::memcpy(e->data() + type.size(), bytes.data(), bytes.size());
  e->hook_ = std::move(hook);
  e->cost_ = cost;
  return envelope_ptr(e);
}

namespace {

// What this worker consumed and has not told its hook (ref_cache.hpp).
struct held_consumption {
  consumption_hook* hook;  // holds `refs` references to it
  std::uint64_t cost;
  std::uint32_t refs;
};
constinit thread_local held_consumption tls_held{};  // NOLINT: per thread by design
constexpr std::uint64_t held_cost_bound = 16 * 1024;

}  // namespace

void flush_consumption() noexcept {
  held_consumption& h = tls_held;
  consumption_hook* hook = std::exchange(h.hook, nullptr);
  if (hook == nullptr) return;
  hook->consumed(static_cast<std::uint32_t>(std::exchange(h.cost, 0)));
  drop_ref(hook, std::exchange(h.refs, 0));
}

void wire_envelope::report_consumed() noexcept {
  if (!hook_) return;
  if (!tls_ref_cache.active) {  // not a worker: nothing would flush what is held
    hook_->consumed(cost_);
    hook_.reset();
    return;
  }
  held_consumption& h = tls_held;
  if (h.hook != hook_.get()) {
    flush_consumption();
    h.hook = hook_.get();
  }
  (void)hook_.detach();  // its reference is held in h.refs
  h.cost += cost_;
  ++h.refs;
  if (h.cost >= held_cost_bound) flush_consumption();
}

envelope_ptr wire_envelope::decode() {
  report_consumed();  // taken by its actor: the sender may send more
  envelope_ptr d = decode_(bytes());
  if (!d) return d;
  d->sender = std::move(sender);
  d->reply_to = std::move(reply_to);
  d->trace = std::move(trace);
  return d;
}

void wire_envelope::dispose() noexcept {
  report_consumed();  // dropped (a dead letter): the credit still goes back
  const std::size_t size = allocated_;
  this->~wire_envelope();
  small_free(this, size);
}

}  // namespace akt::detail
