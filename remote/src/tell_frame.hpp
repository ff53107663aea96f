// tell_frame: one remote tell of a protobuf value, built once by the
// sending pid (remote_ref::deliver_wire) and used by every path it may
// take: the fast path on an open connection (try_send_wire), then, when
// that misses, the long way (node::send_wire).
#pragma once

#include <akt/detail/envelope.hpp>
#include <akt/pid.hpp>

#include <cassert>
#include <cstdint>
#include <cstring>
#include <string>

#include "byte_queue.hpp"
#include "codec.hpp"
#include "flow.hpp"
#include "interning.hpp"

namespace akt::remote::detail {

using akt::detail::actor_ref;
using akt::detail::ref_ptr;

// A tell's frame: its strings interned on the connection it goes out on
// (under the queue's lock). A small payload is serialized before any lock
// is taken and copied in under it (the I/O thread waits for that lock to
// take the queue: the shorter its hold, the fewer waits); a large one is
// serialized in place, with no copy.
struct tell_frame {
  const std::string& receiver;  // the receiving actor's path (the pid's, alive for the call)
  std::string_view type;        // a descriptor's name (wire_message_of): static storage
  envelope_view env;
  actor_ref* sender;  // the telling actor (alive for the call), or null
  std::string sender_path;
  ref_ptr<actor_ref> forgotten;  // a slot's previous last sender, released after the lock
  payload_writer payload;
  static constexpr std::size_t staged_bytes = 128;
  std::uint8_t staged[staged_bytes];  // a small payload, serialized before the locks
  bool encoded = false;               // checked in debug builds (encode)

  tell_frame(const std::string& to, const akt::detail::wire_message& m, actor_ref* from)
      : receiver(to), type(m.type), sender(from), payload{m.byte_size(m.value), m.write, m.value} {
    env.receiver = to;
    env.type = m.type;
    if (payload.size <= staged_bytes) {
      m.write(m.value, staged);
      payload.write = [](const void* self, std::uint8_t* out) {
        const auto* t = static_cast<const tell_frame*>(self);
        std::memcpy(out, t->staged, t->payload.size);
      };
      payload.ctx = this;
    }
  }
  tell_frame(const tell_frame&) = delete;  // payload.ctx may point at this frame
  tell_frame& operator=(const tell_frame&) = delete;
  // The sender's id on this connection: the slot's last sender by
  // reference, else its path interned (and remembered when it got an id).
  void intern_sender(flow_slot& slot, outbound_interns& interns) {
    if (sender == nullptr) return;
    if (slot.last_sender.get() == sender && slot.last_sender_id != 0) {
      env.sender_id = slot.last_sender_id;  // defined earlier on this connection
      return;
    }
    sender_path = sender->path();
    env.sender = sender_path;
    interns.apply(interned_kind::sender, env.sender, env.sender_id);
    if (env.sender_id != 0) {
      forgotten = std::exchange(slot.last_sender, ref_ptr<actor_ref>::share(sender));
      slot.last_sender_id = env.sender_id;
    }
  }
  // Encoded once at most: interning replaces env's strings by ids of that
  // connection. A path that does not queue the frame never calls this
  // (connection::try_enqueue, admit_locked), so a miss leaves it as built.
  auto encode(flow_slot& slot) {
    return [this, &slot](byte_queue& queue, outbound_interns& interns) {
      assert(!encoded && "a tell_frame is encoded once");
      encoded = true;
      interns.apply(interned_kind::receiver, env.receiver, env.receiver_id, &slot.receiver_id);
      intern_sender(slot, interns);
      interns.apply_static(interned_kind::type, env.type, env.type_id);
      append_envelope_frame(queue, env, payload);
    };
  }
};

}  // namespace akt::remote::detail
