#include "interning.hpp"

namespace akt::remote::detail {

const char* interned_name(interned_kind kind) noexcept {
  switch (kind) {
    case interned_kind::receiver:
      return "receiver";
    case interned_kind::sender:
      return "sender";
    case interned_kind::type:
      return "type";
  }
  return "string";
}

void outbound_interns::apply_slow(interned_kind kind, std::string_view& s, std::uint32_t& id,
                                  std::uint32_t* cached) {
  table& t = tables_[index(kind)];
  if (t.last_id != 0 && s == t.last) {
    id = t.last_id;
    s = {};
    return;
  }
  auto it = t.ids.find(s);
  if (it == t.ids.end()) {
    if (t.ids.size() >= max_interned_ids || s.size() > max_interned_bytes ||
        total_bytes_ + s.size() > max_interned_total_bytes) {
      id = 0;  // past the bounds: in full, every time
      return;
    }
    // A definition: this frame carries the string and its new id.
    it = t.ids.emplace(std::string(s), static_cast<std::uint32_t>(t.ids.size()) + 1).first;
    total_bytes_ += s.size();
    // A frame defines at most one string of each kind, so the journal holds
    // all of a frame's definitions (an encoder defining more per frame would
    // need a longer one to be undone).
    if (journal_size_ < interned_kinds) journal_[journal_size_++] = kind;
  } else {
    s = {};  // a use: the id alone
  }
  id = it->second;
  if (cached != nullptr) {
    *cached = id;
  } else {
    t.last = it->first;
    t.last_id = id;
  }
}

void outbound_interns::undo_frame() noexcept {
  while (journal_size_ != 0) {
    table& t = tables_[index(journal_[--journal_size_])];
    // The newest id of its kind is the one this frame defined.
    const auto newest = static_cast<std::uint32_t>(t.ids.size());
    for (auto it = t.ids.begin(); it != t.ids.end(); ++it) {
      if (it->second != newest) continue;
      total_bytes_ -= it->first.size();
      t.ids.erase(it);
      break;
    }
    if (t.last_id == newest) t.last_id = 0;
    if (t.static_id == newest) t.static_id = 0;
  }
}

bool inbound_interns::resolve_slow(interned_kind kind, std::string_view& s, std::uint32_t id,
                                   std::string& why) {
  std::vector<std::string>& strings = strings_[static_cast<std::size_t>(kind)];
  const auto name = [&] { return std::string(interned_name(kind)) + " id " + std::to_string(id); };
  if (id > max_interned_ids) {
    why = name() + " is over the bound of " + std::to_string(max_interned_ids);
    return false;
  }
  if (s.empty()) {  // a use
    if (id > strings.size()) {
      why = name() + " is used before it was defined";
      return false;
    }
    s = strings[id - 1];
    return true;
  }
  if (id <= strings.size()) {
    if (strings[id - 1] == s) return true;  // defined again as the same string: harmless
    why = name() + " is defined again as another string";
    return false;
  }
  if (id != strings.size() + 1) {
    why = name() + " is defined out of order (the next is " + std::to_string(strings.size() + 1) + ")";
    return false;
  }
  if (s.size() > max_interned_bytes || total_bytes_ + s.size() > max_interned_total_bytes) {
    why = name() + " defines a string of " + std::to_string(s.size()) + " bytes: at most " +
          std::to_string(max_interned_bytes) + " per string and " + std::to_string(max_interned_total_bytes) +
          " per connection";
    return false;
  }
  total_bytes_ += s.size();
  strings.emplace_back(s);
  s = strings.back();
  return true;
}

}  // namespace akt::remote::detail
