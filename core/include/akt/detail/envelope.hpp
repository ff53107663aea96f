// akt/detail/envelope.hpp — the unit that travels through mailboxes.
//
// An envelope is allocated once per message by the sender and freed by the
// receiver after handling; it carries the message value inline (no second
// allocation, no serialization for local delivery), the sender, and where a
// reply goes for asks. Mailboxes hold envelopes' addresses (segment_queue.hpp).
//
// Thread safety: an envelope has one owner at a time; ownership moves with the
// envelope_ptr (sender -> mailbox -> receiving actor).
#pragma once

#include <akt/detail/ref_ptr.hpp>
#include <akt/detail/small_alloc.hpp>
#include <akt/detail/type_id.hpp>
#include <akt/error.hpp>
#include <akt/trace.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace akt::detail {

class actor_ref;
class reply_sink;

enum class envelope_kind : std::uint8_t {
  user,              // a message for receive()
  stop,              // begin stopping the actor (children first)
  children_stopped,  // the last child of a stopping actor has terminated
  continuation,      // the outcome of a non-blocking request, run in the asker
  restart,           // restart by hand, or as a sibling under one_for_all
  restart_now,       // a restart's backoff delay has passed
  escalated,         // a child escalated its failure: fail as if it were ours
  passivate_check,   // the passivation wheel asks: idle long enough?
  wire,              // a user message still in wire form (wire_envelope.hpp): decoded, then handled as user
};

struct envelope {
  envelope* next = nullptr;  // chains envelopes one thread holds: an outbox's batch, a pool's free list
  type_id type = nullptr;    // of the value; nullptr for system kinds
  envelope_kind kind = envelope_kind::user;
  bool pooled = false;           // from an envelope_pool, and goes back to it (see dispose)
  bool counted = false;          // counted against a bounded mailbox until taken (actor_cell::deliver)
  ref_ptr<actor_ref> sender;     // null when sent from outside any actor
  ref_ptr<reply_sink> reply_to;  // set for asks and requests
  trace_ref trace;               // the W3C trace context it carries; null when untraced

  envelope() = default;
  envelope(const envelope&) = delete;
  envelope& operator=(const envelope&) = delete;
  virtual ~envelope();  // out of line: actor_ref is complete only there
  // Ends the envelope's life: deletes it, or returns it to its pool.
  virtual void dispose() noexcept { delete this; }
  virtual std::string type_name() const = 0;
  // Appends the value's wire form (Protocol Buffers) to `out`; false when the
  // value cannot cross the wire (not a protobuf message).
  virtual bool serialize(std::string& out) const {
    (void)out;
    return false;
  }
  // The protobuf full name of the value ("demo.Ping"); empty when it has none.
  virtual std::string_view wire_type() const noexcept { return {}; }

  // From the small-object allocator (per-thread free lists; see small_alloc.hpp).
  static void* operator new(std::size_t size) { return small_alloc(size); }
  static void operator delete(void* p, std::size_t size) noexcept { small_free(p, size); }
  // Over-aligned types skip it: its blocks are only 16-byte aligned.
  static void* operator new(std::size_t size, std::align_val_t al) { return ::operator new(size, al); }
  static void operator delete(void* p, std::size_t size, std::align_val_t al) noexcept {
    ::operator delete(p, size, al);
  }
};

template <class T>
class envelope_pool;  // envelope_pool.hpp: recycled envelopes for transports

template <class T>
struct typed_envelope final : envelope {
  T value;

  template <class U>
  explicit typed_envelope(U&& v) : value(std::forward<U>(v)) {
    type = type_id_of<T>();
  }
  typed_envelope() requires std::is_default_constructible_v<T> { type = type_id_of<T>(); }
  void dispose() noexcept override;
  std::string type_name() const override { return type_name_of(value); }
  // Set by envelope_pool<T>: where a pooled envelope goes back to.
  static inline void (*give_back_to_pool)(typed_envelope*) noexcept = nullptr;
  std::string_view wire_type() const noexcept override {
    if constexpr (protobuf_message<T>) {
      static const std::string_view name = T::descriptor()->full_name();  // descriptor() is not free
      return name;
    } else {
      return {};
    }
  }
  bool serialize(std::string& out) const override {
    if constexpr (protobuf_message<T>) {
      return value.AppendToString(&out);
    } else {
      (void)out;
      return false;
    }
  }
};

struct envelope_deleter {
  void operator()(envelope* e) const noexcept { e->dispose(); }
};
using envelope_ptr = std::unique_ptr<envelope, envelope_deleter>;

template <class T>
void typed_envelope<T>::dispose() noexcept {
  if (pooled) {
    give_back_to_pool(this);  // only envelopes made by envelope_pool<T>::take are pooled
  } else {
    delete this;
  }
}

template <class T>
envelope_ptr make_envelope(T&& value) {
  using V = std::remove_cvref_t<T>;
  static_assert(!std::is_pointer_v<V>, "send values, not raw pointers");
  static_assert(std::is_move_constructible_v<V>, "a message must be movable");
  return envelope_ptr(new typed_envelope<V>(std::forward<T>(value)));
}

template <class T>
T* payload_as(envelope* e) noexcept {
  if (e == nullptr || e->type != type_id_of<T>()) return nullptr;
  return &static_cast<typed_envelope<std::remove_cvref_t<T>>*>(e)->value;
}

// A protobuf value to be written to the wire straight from the caller's
// object: a tell to a remote actor serializes it without first copying it
// into an envelope.
struct wire_message {
  std::string_view type;  // the protobuf full name
  const void* value;
  std::size_t (*byte_size)(const void* value);          // must be called before write
  void (*write)(const void* value, std::uint8_t* out);  // exactly byte_size bytes
};

template <class T>
requires protobuf_message<T> wire_message wire_message_of(const T& value)
noexcept {
  static const std::string_view name = T::descriptor()->full_name();
  return wire_message{name, &value,
                      [](const void* v) -> std::size_t { return static_cast<const T*>(v)->ByteSizeLong(); },
                      [](const void* v, std::uint8_t* out) {
                        static_cast<const T*>(v)->SerializeWithCachedSizesToArray(out);
                      }};
}

// Where the reply to an ask or request goes.
class reply_sink : public ref_counted {
 public:
  // Takes the reply if the asker is still waiting for it. Returns false when
  // it no longer is (it timed out, or was answered already); `reply` is then
  // left with the caller, who dead-letters it.
  virtual bool complete(envelope_ptr& reply) = 0;
  // Ends the wait with an error (the request was dead-lettered, the system
  // stopped). No-op when the asker is no longer waiting.
  virtual void fail(error e) noexcept = 0;
  // False once the asker stopped waiting (timed out or answered): a
  // transport may forget the request then.
  virtual bool is_waiting() const noexcept { return true; }
  // An ask let go of unanswered is held by the system and failed when it
  // stops (true), or failed at once with errc::no_reply (false: a
  // transport's, whose number a peer controls).
  virtual bool held_until_stop() const noexcept { return true; }
};

}  // namespace akt::detail
