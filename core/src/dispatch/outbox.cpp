#include "dispatch/outbox.hpp"

#include "actor/actor_cell.hpp"
#include "system/system_core.hpp"

namespace akt::detail {

namespace {

constexpr std::uint32_t max_batch = 64;  // per target, then it goes out
constexpr int max_targets = outbox_max_targets;
// A target with more waiting than this gets helped by the sender's worker
// (see scheduler::relieve): producers cannot bury a consumer.
constexpr std::int64_t backlog_limit = 1024;

}  // namespace

struct outbox_batch {
  actor_cell* target;  // holds a reference while batched
  envelope* first;
  envelope* last;
  std::uint32_t count;
};
using batch = outbox_batch;

struct outbox::state {
  batch batches[max_targets];
  int used;
  actor_cell* backlogged;  // holds a reference until relieved
};

namespace {
thread_local outbox::state tls_outbox;  // NOLINT: zero-initialized plain data

void hand_over(outbox::state& s, batch& b) noexcept {
  if (b.target->enqueue_chain(b.first, b.count) > backlog_limit && s.backlogged == nullptr) {
    s.backlogged = b.target;  // keep the batch's reference for relieve()
    return;
  }
  b.target->release();
}

// Runs after the outbox's own bookkeeping is done: relieving runs another
// actor's turn, which may use the outbox itself.
void relieve_backlog(outbox::state& s) noexcept {
  actor_cell* c = s.backlogged;
  if (c == nullptr) return;
  s.backlogged = nullptr;
  c->system().dispatcher().relieve(c);
  c->release();
}

}  // namespace

bool outbox::try_add_batched(actor_cell* target, envelope* e) noexcept {
  outbox::state& s = tls_outbox;
  e->next = nullptr;
  for (int i = 0; i < s.used; ++i) {
    batch& b = s.batches[i];
    if (b.target != target) continue;
    b.last->next = e;
    b.last = e;
    if (++b.count == max_batch) {
      hand_over(s, b);
      b = s.batches[--s.used];
      relieve_backlog(s);
      outbox_has_work = s.used > 0;
    }
    return true;
  }
  // Order per target holds because a message only goes direct while no
  // batch for its target is pending (searched above).
  bool seen = false;
  for (int i = 0; i < outbox_direct_used && !seen; ++i) seen = outbox_direct[i] == target;
  if (!seen) {
    if (outbox_direct_used < max_targets) outbox_direct[outbox_direct_used++] = target;
    return false;
  }
  if (s.used == max_targets) flush();
  target->add_ref();
  s.batches[s.used++] = batch{target, e, e, 1};
  outbox_has_work = true;
  return true;
}

void outbox::flush() noexcept {
  outbox::state& s = tls_outbox;
  // Handing over can run code that sends (a schedule never does, but keep
  // the loop robust): take the batches out first.
  while (s.used > 0) {
    batch b = s.batches[0];
    s.batches[0] = s.batches[--s.used];
    hand_over(s, b);
  }
  outbox_has_work = false;
  relieve_backlog(s);
}

}  // namespace akt::detail

#include <akt/detail/send_batch.hpp>

namespace akt::detail {

send_batch::send_batch() noexcept : was_active_(outbox_active) {
  outbox_active = true;
  outbox_direct_used = 0;
}

send_batch::~send_batch() {
  if (outbox_has_work) outbox::flush();
  outbox_direct_used = 0;
  outbox_active = was_active_;
}

}  // namespace akt::detail
