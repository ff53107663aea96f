// byte_queue: a connection's outbound bytes (frames waiting for a write).
//
// A std::string would do, but growing one writes every new byte (resize
// zero-fills, then the encoder overwrites): ~57 of a remote tell's ~780
// instructions on the sending thread (callgrind, issue 13). Here the
// encoder is handed the new bytes unwritten and writes each of them once.
// Capacity doubles as it grows and is kept across clear() and swap(), so a
// connection's two buffers (the queue and the one being written) stop
// allocating once they have held the largest batch.
//
// Thread safety: none; the connection guards its queues (see connection.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

namespace akt::remote::detail {

class byte_queue {
 public:
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  const char* data() const noexcept { return data_.get(); }
  std::string_view view() const noexcept { return {data_.get(), size_}; }

  // Makes the queue `n` bytes longer and returns where those bytes start:
  // the caller writes all of them before anyone reads the queue.
  char* extend(std::size_t n) {
    if (capacity_ - size_ < n) grow(n);
    char* at = data_.get() + size_;
    size_ += n;
    return at;
  }
  void append(std::string_view bytes) {
    if (!bytes.empty()) std::memcpy(extend(bytes.size()), bytes.data(), bytes.size());
  }
  // Drops the first `n` bytes (those a write took).
  void erase_front(std::size_t n) noexcept {
    n = std::min(n, size_);
    if (n < size_) std::memmove(data_.get(), data_.get() + n, size_ - n);
    size_ -= n;
  }
  void clear() noexcept { size_ = 0; }
  // Drops the bytes from `n` on (a frame whose encoding failed midway).
  void truncate(std::size_t n) noexcept { size_ = std::min(n, size_); }
  void swap(byte_queue& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
  }

 private:
  void grow(std::size_t n) {
    const std::size_t wanted = std::max({capacity_ * 2, size_ + n, std::size_t{4096}});
    auto bigger = std::make_unique_for_overwrite<char[]>(wanted);
    if (size_ != 0) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = wanted;
  }

  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace akt::remote::detail
