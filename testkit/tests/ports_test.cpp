// free_tcp_port across processes: two processes picking ports at the same
// time never get the same one (each holds a lock file per port it got).
#include <akt/testkit/ports.hpp>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdio>
#include <set>
#include <vector>

namespace {

TEST(ports, two_processes_never_get_the_same_port) {
  // Of the ~10,000 ports below the ephemeral range: collisions certain without the locks.
  constexpr int per_process = 300;
  int to_parent[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // picks its ports, sends them, and lives until the parent has picked too
    ::close(to_parent[0]);
    for (int i = 0; i < per_process; ++i) {
      const std::uint16_t p = akt::testkit::free_tcp_port();
      if (::write(to_parent[1], &p, sizeof p) != sizeof p) ::_exit(2);
    }
    for (;;) ::pause();  // until the parent kills it
  }
  struct reaper {
    pid_t pid;
    ~reaper() {
      ::kill(pid, SIGKILL);
      int st = 0;
      ::waitpid(pid, &st, 0);
    }
  } reap{child};
  ::close(to_parent[1]);
  std::set<std::uint16_t> childs;
  for (int i = 0; i < per_process; ++i) {
    std::uint16_t p = 0;
    ASSERT_EQ(::read(to_parent[0], &p, sizeof p), static_cast<ssize_t>(sizeof p));
    ASSERT_NE(p, 0);
    childs.insert(p);
  }
  // The child still lives (blocked above), holding its ports' locks.
  std::vector<std::uint16_t> mine;
  for (int i = 0; i < per_process; ++i) mine.push_back(akt::testkit::free_tcp_port());
  for (std::uint16_t p : mine) {
    EXPECT_NE(p, 0);
    EXPECT_FALSE(childs.contains(p)) << "port " << p << " given to both processes";
  }
}

}  // namespace
