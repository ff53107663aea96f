// akt/detail/thread_name.hpp — names the calling thread, so `top -H`,
// `perf`, gdb and /proc/<pid>/task/*/comm tell Akt's threads apart
// ("akt-worker-0", "akt-remote-io", ...). Used by the core and the modules
// for every thread they start.
//
// Linux keeps 15 bytes of a name; a longer one is cut there. Elsewhere, or
// when the kernel refuses, the thread simply keeps its old name.
#pragma once

#include <string_view>

#if defined(__linux__)
#include <pthread.h>
#endif

namespace akt::detail {

inline void name_this_thread(std::string_view name) noexcept {
#if defined(__linux__)
  char buffer[16] = {};
  const std::size_t n = name.size() < 15 ? name.size() : 15;
  for (std::size_t i = 0; i < n; ++i) buffer[i] = name[i];
  (void)pthread_setname_np(pthread_self(), buffer);
#else
  (void)name;
#endif
}

}  // namespace akt::detail
