// akt/detail/small_alloc.hpp — the allocator behind envelopes, actor cells
// and actor instances: size classes of 16 bytes up to 512, per-thread free
// lists, and whole batches handed between threads through one mutex-guarded
// central list (so a consumer freeing what a producer allocated costs a
// lock only once per batch). No per-object header.
//
// Memory is kept for reuse, never returned to the system: the footprint is
// the peak number of live small objects. Larger requests go to operator new.
// Under AddressSanitizer everything goes to operator new, so use-after-free
// is still caught.
//
// Thread safety: any thread may free what any thread allocated.
#pragma once

#include <cstddef>

namespace akt::detail {

void* small_alloc(std::size_t size);
void small_free(void* p, std::size_t size) noexcept;

}  // namespace akt::detail
