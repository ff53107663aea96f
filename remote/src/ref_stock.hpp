// ref_stock: a reader's reference to an object it hands one reference of
// to every message it reads (a receiver's credit hook, a sender's pid).
// References are bought in bulk, one atomic add per `batch`, so the reader
// does not write, per message, the count the consumers release on from
// other cores. A copy shares the object, not the stock; the stock goes back
// when the holder lets go.
//
// Thread safety: one holder thread (the connection's reader); the
// references it hands out go anywhere.
#pragma once

#include <akt/detail/ref_ptr.hpp>

#include <cstdint>
#include <utility>

namespace akt::remote::detail {

template <class T>
class ref_stock {
 public:
  static constexpr std::uint32_t batch = 256;
  ref_stock() noexcept = default;
  explicit ref_stock(akt::detail::ref_ptr<T> object) noexcept : object_(std::move(object)) {}
  ref_stock(const ref_stock& o) noexcept : object_(o.object_) {}
  ref_stock(ref_stock&& o) noexcept : object_(std::move(o.object_)), stock_(std::exchange(o.stock_, 0)) {}
  ref_stock& operator=(ref_stock o) noexcept {
    give_back();
    object_.swap(o.object_);
    std::swap(stock_, o.stock_);
    return *this;
  }
  ~ref_stock() { give_back(); }

  explicit operator bool() const noexcept { return bool(object_); }
  T* get() const noexcept { return object_.get(); }
  // A reference for one message.
  akt::detail::ref_ptr<T> take() noexcept {
    if (stock_ == 0) {
      object_->add_refs(batch);
      stock_ = batch;
    }
    --stock_;
    return akt::detail::ref_ptr<T>::adopt(object_.get());
  }

 private:
  void give_back() noexcept {
    if (object_ && stock_ != 0) object_->release_refs(std::exchange(stock_, 0));
  }
  akt::detail::ref_ptr<T> object_;
  std::uint32_t stock_ = 0;
};

}  // namespace akt::remote::detail
