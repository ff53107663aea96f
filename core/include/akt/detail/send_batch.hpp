// akt/detail/send_batch.hpp — for transports: while a send_batch lives on a
// thread, messages that thread delivers to local actors are collected per
// actor and handed over in one splice per actor (at most 64 each) when it
// ends. An I/O thread wraps each buffer of received frames in one, so a
// stream of messages to one actor costs one enqueue per batch, not per
// message. Order per (sender, receiver) is kept.
//
// Thread safety: thread-local; create and destroy on the same thread, and do
// not wait for a receiver's reaction inside one.
#pragma once

namespace akt::detail {

class send_batch {
 public:
  send_batch() noexcept;
  ~send_batch();
  send_batch(const send_batch&) = delete;
  send_batch& operator=(const send_batch&) = delete;

 private:
  bool was_active_;
};

}  // namespace akt::detail
