// akt/detail/envelope_pool.hpp — recycled envelopes for transports (the
// remote module's decoders): not part of what an actor user includes.
#pragma once

#include <akt/detail/envelope.hpp>

#include <cstdint>
#include <mutex>
#include <vector>

namespace akt::detail {

// Recycles the envelopes of one message type between threads, for messages
// that are made on one thread and disposed of on another at a high rate:
// those decoded from the wire (remoting's I/O thread makes them, workers
// dispose of them). A recycled envelope keeps its value's allocations (a
// protobuf string field keeps its capacity), so decoding the next message
// into it allocates nothing; without the pool each message cost a malloc on
// the I/O thread and a free on the worker, a quarter of remote_tell's time.
//
// Per-thread stacks of up to 2 x 64, exchanged in batches of 64 through a
// shared list under a mutex; past 64 spare batches (4,096 envelopes) per
// type, envelopes are deleted instead. take() may be used for a T whose
// value the caller overwrites entirely (the decoders parse into it).
//
// Thread safety: take and give_back from any thread.
template <class T>
class envelope_pool {
 public:
  static typed_envelope<T>* take() {
    [[maybe_unused]] static const bool linked = (typed_envelope<T>::give_back_to_pool = &give_back, true);
    local& l = tls();
    if (l.head == nullptr) l.refill();
    if (l.head == nullptr) {
      auto* e = new typed_envelope<T>();
      e->pooled = true;
      return e;
    }
    typed_envelope<T>* e = l.head;
    l.head = next_of(e);
    --l.count;
    return e;
  }

  static void give_back(typed_envelope<T>* e) noexcept {
    e->sender.reset();
    e->reply_to.reset();
    e->trace.reset();
    e->counted = false;
    local& l = tls();
    e->next = l.head;
    l.head = e;
    if (++l.count == 2 * batch) l.spill();
  }

 private:
  static constexpr std::uint32_t batch = 64;
  static constexpr std::size_t max_spare_batches = 64;

  static typed_envelope<T>* next_of(typed_envelope<T>* e) noexcept {
    return static_cast<typed_envelope<T>*>(e->next);
  }
  static void delete_list(typed_envelope<T>* e) noexcept {
    while (e != nullptr) {
      typed_envelope<T>* n = next_of(e);
      delete e;
      e = n;
    }
  }

  struct shared {
    std::mutex mu;
    std::vector<typed_envelope<T>*> batches;  // each a list of `batch` envelopes
  };
  static shared& spare() {
    static auto* s = new shared();  // never destroyed: threads may exit after static destruction
    return *s;
  }

  struct local {
    typed_envelope<T>* head = nullptr;
    std::uint32_t count = 0;

    local() = default;
    local(const local&) = delete;
    local& operator=(const local&) = delete;
    ~local() { delete_list(head); }

    // Hands the older half over as one batch (or deletes it).
    void spill() noexcept {
      typed_envelope<T>* first = head;
      for (std::uint32_t i = 1; i < batch; ++i) first = next_of(first);
      typed_envelope<T>* rest = next_of(first);  // the batch to hand over
      first->next = nullptr;
      count = batch;
      shared& s = spare();
      {
        std::lock_guard g(s.mu);
        if (s.batches.size() < max_spare_batches) {
          s.batches.push_back(rest);
          return;
        }
      }
      delete_list(rest);
    }
    void refill() {
      shared& s = spare();
      std::lock_guard g(s.mu);
      if (s.batches.empty()) return;
      head = s.batches.back();
      s.batches.pop_back();
      count = batch;
    }
  };
  static local& tls() {
    thread_local local l;
    return l;
  }
};

}  // namespace akt::detail
