// correlations: the asks, lookups and spawns this node sent and waits to
// hear about, by correlation id. Each remembers the connection it went
// out on: only that connection may answer it, and losing that connection
// fails it at once.
//
// Thread safety: all members from any thread.
#pragma once

#include <akt/akt.hpp>

#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace akt::remote::detail {

class connection;

struct pending_ask {
  akt::detail::ref_ptr<akt::detail::reply_sink> sink;        // an ask
  std::shared_ptr<std::promise<result<std::string>>> found;  // or a lookup / spawn: the full path
  const connection* via = nullptr;                           // identity only, never dereferenced

  void fail(const error& e) const {
    if (sink) sink->fail(e);
    if (found) found->set_value(e);
  }
};

class correlations {
 public:
  std::uint64_t add(pending_ask p) {
    const std::uint64_t id = next_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard g(mu_);
    pending_.emplace(id, std::move(p));
    return id;
  }
  // The ask `id` if `from` is the connection it went out on.
  std::optional<pending_ask> take(std::uint64_t id, const connection* from) {
    std::lock_guard g(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end() || it->second.via != from) return std::nullopt;
    pending_ask p = std::move(it->second);
    pending_.erase(it);
    return p;
  }
  void erase(std::uint64_t id) {
    std::lock_guard g(mu_);
    pending_.erase(id);
  }
  std::vector<pending_ask> take_for(const connection* c) {
    std::vector<pending_ask> out;
    std::lock_guard g(mu_);
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.via == c) {
        out.push_back(std::move(it->second));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }
  std::vector<pending_ask> take_all() {
    std::vector<pending_ask> out;
    std::lock_guard g(mu_);
    for (auto& [id, p] : pending_) out.push_back(std::move(p));
    pending_.clear();
    return out;
  }
  // Forgets asks whose asker gave up; a reply arriving later is dropped.
  void sweep() {
    std::lock_guard g(mu_);
    std::erase_if(pending_, [](const auto& p) { return p.second.sink && !p.second.sink->is_waiting(); });
  }

 private:
  std::atomic<std::uint64_t> next_{1};
  std::mutex mu_;
  std::unordered_map<std::uint64_t, pending_ask> pending_;
};

}  // namespace akt::remote::detail
