// akt/testkit/proc.hpp against the real /proc: a thread that names itself
// is listed with its name while it runs and not after it is joined; a
// file that cannot be read is empty, not an exception.
#include <akt/testkit/proc.hpp>

#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>  // program_invocation_short_name (glibc)
#include <chrono>
#include <string>
#include <thread>

namespace {

bool listed(pid_t tid, const std::string& name) {
  for (const auto& t : akt::testkit::threads_of_this_process()) {
    if (t.tid == tid) return t.name == name;
  }
  return false;
}

std::string name_of(pid_t tid) {
  for (const auto& t : akt::testkit::threads_of_this_process()) {
    if (t.tid == tid) return t.name;
  }
  return "(not listed)";
}

TEST(proc, a_named_thread_is_listed_with_its_name_while_it_runs_and_not_after_join) {
  std::atomic<pid_t> tid{0};
  std::atomic<bool> done{false};
  std::thread t([&] {
    pthread_setname_np(pthread_self(), "proc-test-x");
    tid.store(static_cast<pid_t>(::syscall(SYS_gettid)));
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);  // bounded
    while (!done.load() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  });
  const auto started = std::chrono::steady_clock::now() + std::chrono::seconds(10);  // bounded
  while (tid.load() == 0 && std::chrono::steady_clock::now() < started) std::this_thread::yield();
  ASSERT_NE(tid.load(), 0) << "the thread did not start";
  EXPECT_TRUE(listed(tid.load(), "proc-test-x"));
  // The main thread, under its program's name (at most 15 characters).
  EXPECT_EQ(name_of(::getpid()), std::string(program_invocation_short_name).substr(0, 15));
  done.store(true);
  t.join();
  // A joined thread may still be listed for a moment (the kernel clears its
  // tid before it leaves the thread group): bounded wait.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (listed(tid.load(), "proc-test-x") && std::chrono::steady_clock::now() < until)
    std::this_thread::yield();
  EXPECT_FALSE(listed(tid.load(), "proc-test-x"));
}

TEST(proc, read_proc_file_reads_a_whole_file_and_an_unreadable_one_is_empty) {
  const std::string cmdline = akt::testkit::read_proc_file("/proc/self/cmdline");
  ASSERT_FALSE(cmdline.empty());
  EXPECT_NE(cmdline.find(program_invocation_short_name), std::string::npos) << cmdline;  // this program
  EXPECT_EQ(akt::testkit::read_proc_file("/proc/self/no-such-file"), "");
  EXPECT_EQ(akt::testkit::read_proc_file("/proc/999999999/cmdline"), "") << "no such process";
  // Larger than one read(2) of 4 KiB: read whole.
  const std::string maps = akt::testkit::read_proc_file("/proc/self/maps");
  EXPECT_GT(maps.size(), 4096u);
  EXPECT_EQ(maps.back(), '\n');
}

}  // namespace
