// akt/detail/ref_ptr.hpp — intrusive reference counting for runtime objects
// (actor references, reply sinks).
//
// Thread safety: add_ref/release may be called from any thread. The count is
// incremented relaxed (a new reference can only be made from an existing one)
// and decremented acq_rel, so the thread that destroys sees every write made
// through other references.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

namespace akt::detail {

class ref_counted {
 public:
  ref_counted() = default;
  ref_counted(const ref_counted&) = delete;
  ref_counted& operator=(const ref_counted&) = delete;

  void add_ref() const noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() const noexcept {
    if ((refs_.fetch_sub(1, std::memory_order_acq_rel) & count_mask) == 1) destroy();
  }
  // Bulk forms, for handing out many references with one atomic operation.
  void add_refs(std::uint32_t n) const noexcept { refs_.fetch_add(n, std::memory_order_relaxed); }
  void release_refs(std::uint32_t n) const noexcept {
    if (n != 0 && (refs_.fetch_sub(n, std::memory_order_acq_rel) & count_mask) == n) destroy();
  }

 protected:
  // A tagged object carries one fixed bit of type information in the count's
  // word (read without a virtual call, costing no space): actor_ref uses it
  // to mark remote references.
  explicit ref_counted(bool tagged) noexcept : refs_(tagged ? tag_bit | 1u : 1u) {}
  bool tagged() const noexcept { return (refs_.load(std::memory_order_relaxed) & tag_bit) != 0; }

  virtual ~ref_counted() = default;
  virtual void destroy() const noexcept { delete this; }

 private:
  static constexpr std::uint32_t tag_bit = 1u << 31;
  static constexpr std::uint32_t count_mask = tag_bit - 1;  // 2^31 references are never reached
  mutable std::atomic<std::uint32_t> refs_{1};
};

// Owning pointer to a ref_counted object. `adopt` takes over a reference that
// the caller already holds (a fresh object starts with one).
template <class T>
class ref_ptr {
 public:
  ref_ptr() noexcept = default;
  static ref_ptr adopt(T* p) noexcept {
    ref_ptr r;
    r.p_ = p;
    return r;
  }
  static ref_ptr share(T* p) noexcept {
    if (p) p->add_ref();
    return adopt(p);
  }
  ref_ptr(const ref_ptr& o) noexcept : p_(o.p_) {
    if (p_) p_->add_ref();
  }
  ref_ptr(ref_ptr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  template <class U>
  ref_ptr(ref_ptr<U> o) noexcept : p_(o.detach()) {}  // NOLINT: upcast
  ~ref_ptr() {
    if (p_) p_->release();
  }
  ref_ptr& operator=(ref_ptr o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }

  T* get() const noexcept { return p_; }
  T* operator->() const noexcept { return p_; }
  T& operator*() const noexcept { return *p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  T* detach() noexcept { return std::exchange(p_, nullptr); }
  void reset() noexcept { ref_ptr().swap(*this); }
  // Takes over a reference the caller holds, releasing the one held before.
  void reset_adopt(T* p) noexcept {
    if (T* old = std::exchange(p_, p)) old->release();
  }
  void swap(ref_ptr& o) noexcept { std::swap(p_, o.p_); }

  friend bool operator==(const ref_ptr& a, const ref_ptr& b) noexcept { return a.p_ == b.p_; }

 private:
  T* p_ = nullptr;
};

}  // namespace akt::detail
