// Interning of an envelope's strings per connection (docs/wire-protocol.md,
// "Interned strings"): the receiver path, the sender path and the type name
// that a stream of messages repeats travel once, with a small id, and then
// as the id alone.
//
// outbound_interns is the sending side of one connection: it gives a
// string an id on first use, so the first frame carrying it is a
// *definition* (string and id) and later frames a *use* (id only). Ids must
// reach the peer in the order they were given: the connection calls it
// while it holds its queue's mutex and appends the frame in the same
// critical section.
//
// inbound_interns is the receiving side: it checks definitions and uses
// against the protocol's rules and gives back the string; a frame that
// breaks them closes the connection. It never trusts the peer: ids and
// strings are bounded.
//
// Thread safety: none; each side is guarded by its connection's lock
// (outbound: mu_, inbound: the reader lock).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace akt::remote::detail {

// Ids per kind of string, per connection and direction: 1 .. max_interned_ids.
constexpr std::uint32_t max_interned_ids = 4096;
// The longest string that gets an id; longer ones always travel in full.
constexpr std::size_t max_interned_bytes = 1024;
// All strings given ids on one connection in one direction, together.
constexpr std::size_t max_interned_total_bytes = std::size_t{1} << 20;

enum class interned_kind : std::uint8_t { receiver = 0, sender = 1, type = 2 };
constexpr std::size_t interned_kinds = 3;

class outbound_interns {
 public:
  // Rewrites the field pair (string `s`, id `id`) of one envelope: a string
  // seen before becomes its id alone ({"", id}), a new one its definition
  // ({s, id}), and an empty one, or one past the bounds, stays as it is
  // ({s, 0}). `cached` (optional) remembers the id for a caller that sends
  // the same string again (a flow slot: one receiver); 0 means none yet.
  // Inline for the common case, an id the caller cached (a stream to one
  // receiver); the last string and the table are out of line.
  void apply(interned_kind kind, std::string_view& s, std::uint32_t& id, std::uint32_t* cached = nullptr) {
    if (cached != nullptr && *cached != 0 && !s.empty()) {
      id = *cached;
      s = {};
    } else if (s.empty()) {
      id = 0;
    } else {
      apply_slow(kind, s, id, cached);  // the last string, then the table
    }
  }

  // As apply, for a string in storage that never changes or moves while
  // the program runs (a protobuf descriptor's name): the last one is
  // recognised by its address, with no compare.
  void apply_static(interned_kind kind, std::string_view& s, std::uint32_t& id) {
    table& t = tables_[index(kind)];
    if (s.data() == t.static_data && s.size() == t.static_size && t.static_id != 0) {
      id = t.static_id;
      s = {};
      return;
    }
    const std::string_view whole = s;
    apply(kind, s, id);
    if (id != 0) {
      t.static_data = whole.data();
      t.static_size = whole.size();
      t.static_id = id;
    }
  }

  std::size_t defined(interned_kind kind) const noexcept { return tables_[index(kind)].ids.size(); }

  // A frame's encoding is a transaction: begin_frame() before it (one
  // store), and undo_frame() when it failed midway (out of memory), which
  // forgets the ids it defined. Their definitions never reached the queue,
  // so the peer must not be sent their uses: the next frame defines them
  // again, with the same ids.
  void begin_frame() noexcept { journal_size_ = 0; }
  void undo_frame() noexcept;

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct table {
    std::unordered_map<std::string, std::uint32_t, string_hash, std::equal_to<>> ids;
    std::string last;                   // the string of the last lookup (a stream repeats one)...
    std::uint32_t last_id = 0;          // ...and its id
    const char* static_data = nullptr;  // the last apply_static string...
    std::size_t static_size = 0;
    std::uint32_t static_id = 0;  // ...and its id
  };
  static constexpr std::size_t index(interned_kind k) noexcept { return static_cast<std::size_t>(k); }
  void apply_slow(interned_kind kind, std::string_view& s, std::uint32_t& id, std::uint32_t* cached);

  table tables_[interned_kinds];
  std::size_t total_bytes_ = 0;
  // The kinds of the ids the frame being encoded defined (at most one per
  // kind: a frame carries one receiver, one sender, one type).
  interned_kind journal_[interned_kinds]{};
  std::size_t journal_size_ = 0;
};

class inbound_interns {
 public:
  // Resolves the field pair (string `s`, id `id`) of one envelope: with an
  // id and a string, defines the id (it must be the next one of its kind);
  // with an id alone, sets `s` to the string it was defined as (valid until
  // the next definition of this kind). Without an id, `s` stays as it is.
  // False, with `why`, when the pair breaks the rules: the connection must
  // close. Inline: a use of a defined id, per message, is an index.
  bool resolve(interned_kind kind, std::string_view& s, std::uint32_t id, std::string& why) {
    if (id == 0) return true;
    const std::vector<std::string>& strings = strings_[static_cast<std::size_t>(kind)];
    if (s.empty() && id <= strings.size()) {
      s = strings[id - 1];
      return true;
    }
    return resolve_slow(kind, s, id, why);
  }

  std::size_t defined(interned_kind kind) const noexcept {
    return strings_[static_cast<std::size_t>(kind)].size();
  }
  // The string of an id that is defined (valid until the next definition of its kind).
  std::string_view string_of(interned_kind kind, std::uint32_t id) const noexcept {
    return strings_[static_cast<std::size_t>(kind)][id - 1];
  }

 private:
  bool resolve_slow(interned_kind kind, std::string_view& s, std::uint32_t id, std::string& why);

  std::vector<std::string> strings_[interned_kinds];  // id - 1 -> string
  std::size_t total_bytes_ = 0;
};

// "receiver", "sender", "type": for messages.
const char* interned_name(interned_kind kind) noexcept;

}  // namespace akt::remote::detail
