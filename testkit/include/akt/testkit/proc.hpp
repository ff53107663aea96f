// akt/testkit/proc.hpp — what Linux's /proc says about this process's
// threads and about other processes, for tests that check which threads a
// system runs (their names: akt/detail/thread_name.hpp) or find a child
// process by its command line.
//
//   int workers = 0;
//   for (const auto& t : akt::testkit::threads_of_this_process())
//     if (t.name.starts_with("akt-worker-")) ++workers;
//
//   std::string cmdline = akt::testkit::read_proc_file("/proc/1234/cmdline");
//
// A thread or process that exits while it is read is skipped (or reads as
// empty): never an exception. (std::ifstream is not used: libstdc++'s
// filebuf throws on the ESRCH such a read may get, which once failed a test
// in CI.)
//
// Thread safety: any thread.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

namespace akt::testkit {

// The whole file at `path` (a /proc file has no size to ask for): empty
// when it cannot be opened, and what was read before an error.
inline std::string read_proc_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string out;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the end, or the thread or process went away
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

struct thread_entry {
  pid_t tid;
  std::string name;  // as the thread named itself (at most 15 characters), or its program's
};

// This process's threads now; empty when /proc cannot be read.
inline std::vector<thread_entry> threads_of_this_process() {
  std::vector<thread_entry> threads;
  DIR* tasks = ::opendir("/proc/self/task");
  if (tasks == nullptr) return threads;
  while (dirent* t = ::readdir(tasks)) {
    if (t->d_name[0] == '.') continue;
    std::string name = read_proc_file(std::string("/proc/self/task/") + t->d_name + "/comm");
    if (name.empty()) continue;  // gone meanwhile
    if (name.back() == '\n') name.pop_back();
    threads.push_back({static_cast<pid_t>(std::atoi(t->d_name)), std::move(name)});
  }
  ::closedir(tasks);
  return threads;
}

}  // namespace akt::testkit
