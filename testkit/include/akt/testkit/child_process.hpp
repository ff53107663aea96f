// akt/testkit/child_process.hpp — starting the real processes a test needs
// (an etcd, a DNS server, a node of its own) so that none outlives it.
//
//   pid_t etcd = akt::testkit::spawn_child({"/usr/bin/etcd", "--data-dir=/tmp/x"});
//
// The child dies with the thread that starts it (PR_SET_PDEATHSIG: start
// children from the test's own thread), and inherits no descriptor but
// stdin, stdout and stderr (those given, or /dev/null): a killed test leaves no process behind, and no
// inherited lock or pipe outlives it (an orphaned etcd holding a build lock once stalled every later build).
// Linux only.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

#include <string>
#include <vector>

extern char** environ;

namespace akt::testkit {

// Forks and execs `args[0]` with `args`; gives the child's pid, or -1.
inline pid_t spawn_child(std::vector<std::string> args, int stdin_fd = -1, int stdout_fd = -1,
                         int stderr_fd = -1) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child != 0) return child;
  // In the child: only async-signal-safe calls until exec.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  const int null = ::open("/dev/null", O_RDWR);
  ::dup2(stdin_fd >= 0 ? stdin_fd : null, STDIN_FILENO);
  ::dup2(stdout_fd >= 0 ? stdout_fd : null, STDOUT_FILENO);
  ::dup2(stderr_fd >= 0 ? stderr_fd : null, STDERR_FILENO);
  ::close_range(3, ~0U, 0);
  ::execve(argv[0], argv.data(), environ);
  ::_exit(127);
}

}  // namespace akt::testkit
