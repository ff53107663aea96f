// akt/actor.hpp — what a user implements. One instance handles one message at
// a time, so its state needs no lock.
//
//   struct counter : akt::actor {
//     int n = 0;
//     void receive(akt::context& ctx) override {
//       if (ctx.message<Increment>()) ++n;
//       else if (ctx.message<GetCount>()) ctx.reply(Count{n});
//     }
//   };
//
// Lifecycle: pre_start (once, before any message; an error or exception
// there makes the spawn fail and nothing stays behind), receive (per
// message), post_stop (once, after every child has stopped). An exception
// escaping receive is caught by the dispatcher, counted as an error of this
// actor, and handed to its supervisor (supervision.hpp): by default the
// actor is restarted — a fresh instance, its queued messages kept.
#pragma once

#include <akt/detail/small_alloc.hpp>
#include <akt/error.hpp>

#include <cstddef>

namespace akt {

class context;

class actor {
 public:
  virtual ~actor() = default;
  virtual status pre_start(context& ctx) {
    (void)ctx;
    return {};
  }
  virtual void receive(context& ctx) = 0;
  virtual void post_stop(context& ctx) { (void)ctx; }

  // Actors come from Akt's small-object allocator: no per-object header,
  // which matters when a process holds millions of them.
  static void* operator new(std::size_t size) { return detail::small_alloc(size); }
  static void operator delete(void* p, std::size_t size) noexcept { detail::small_free(p, size); }
  // Over-aligned types skip it: its blocks are only 16-byte aligned.
  static void* operator new(std::size_t size, std::align_val_t al) { return ::operator new(size, al); }
  static void operator delete(void* p, std::size_t size, std::align_val_t al) noexcept {
    ::operator delete(p, size, al);
  }
};

}  // namespace akt
