// Allocation of envelopes. Plain operator new for now; kept behind one
// function pair so a pooled allocator can replace it without touching callers.
#include <akt/detail/envelope.hpp>
#include <akt/pid.hpp>

#include <new>

namespace akt::detail {

envelope::~envelope() = default;

void* allocate_envelope(std::size_t size) { return ::operator new(size); }

void free_envelope(void* p, std::size_t size) noexcept { ::operator delete(p, size); }

}  // namespace akt::detail
