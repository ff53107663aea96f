// Logging: a custom logger receives the runtime's messages, levels filter,
// the discard logger drops everything, the stderr logger writes to stderr.
#include "test_util.hpp"

#include <akt/akt.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

struct explode {};

void throw_on_explode(akt::context& ctx) {
  if (ctx.message<explode>()) throw std::runtime_error("kaboom-1234");
  if (auto* p = ctx.message<ping>()) (void)ctx.reply(pong{p->seq});
}

TEST(logger, custom_logger_gets_an_error_naming_the_actor_whose_receive_threw) {
  auto log = std::make_shared<recording_logger>();
  auto sys = start_system("logsys", {.logger = log});
  ASSERT_TRUE(sys);
  auto a = sys->spawn_fn("thrower", throw_on_explode);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->tell(explode{}));
  ASSERT_TRUE(wait_until([&] { return a->metrics().errors == 1; }));
  EXPECT_TRUE(wait_until([&] { return log->has_line(akt::log_level::error, {"akt://logsys/thrower"}); }))
      << "no error line naming akt://logsys/thrower among " << log->lines().size() << " lines";
  EXPECT_TRUE(log->has_line(akt::log_level::error, {"akt://logsys/thrower", "kaboom-1234"}))
      << "the error line should carry the exception's message";
}

TEST(logger, system_and_context_hand_out_the_configured_logger) {
  auto log = std::make_shared<recording_logger>();
  auto sys = start_system("sys", {.logger = log});
  ASSERT_TRUE(sys);
  EXPECT_EQ(&sys->logger(), log.get());
  auto a = sys->spawn_fn("talker", [](akt::context& ctx) {
    if (ctx.message<ping>()) {
      ctx.logger().warn("talker says hi");
      (void)ctx.reply(pong{});
    }
  });
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->ask<pong>(ping{}, 5s));
  EXPECT_TRUE(log->has_line(akt::log_level::warn, {"talker says hi"}));
}

class threshold_logger final : public akt::logger {
 public:
  explicit threshold_logger(akt::log_level level) : level_(level) {}
  void log(akt::log_level level, std::string_view message) override { inner.log(level, message); }
  akt::log_level level() const noexcept override { return level_; }
  recording_logger inner;

 private:
  akt::log_level level_;
};

TEST(logger, messages_below_the_level_never_reach_log) {
  threshold_logger warn_and_up(akt::log_level::warn);
  warn_and_up.debug("d");
  warn_and_up.info("i");
  warn_and_up.warn("w");
  warn_and_up.error("e");
  const auto lines = warn_and_up.inner.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].level, akt::log_level::warn);
  EXPECT_EQ(lines[0].text, "w");
  EXPECT_EQ(lines[1].level, akt::log_level::error);
  EXPECT_FALSE(warn_and_up.is_enabled(akt::log_level::info));
  EXPECT_TRUE(warn_and_up.is_enabled(akt::log_level::critical));

  threshold_logger off(akt::log_level::off);
  off.error("e");
  EXPECT_TRUE(off.inner.lines().empty());
  EXPECT_FALSE(off.is_enabled(akt::log_level::off));
}

TEST(logger, discard_logger_drops_everything) {
  auto discard = akt::make_discard_logger();
  ASSERT_TRUE(discard);
  EXPECT_FALSE(discard->is_enabled(akt::log_level::critical));
  ::testing::internal::CaptureStderr();
  discard->error("should-not-appear");
  discard->log(akt::log_level::critical, "should-not-appear");
  {
    auto sys = start_system("quiet", {.logger = discard});
    ASSERT_TRUE(sys);
    auto a = sys->spawn_fn("thrower", throw_on_explode);
    ASSERT_TRUE(a);
    ASSERT_TRUE(a->tell(explode{}));
    ASSERT_TRUE(wait_until([&] { return a->metrics().errors == 1; }));
  }
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(out, "");
}

TEST(logger, stderr_logger_writes_enabled_levels_to_stderr) {
  auto log = akt::make_stderr_logger(akt::log_level::warn);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->level(), akt::log_level::warn);
  ::testing::internal::CaptureStderr();
  log->info("quiet-5678");
  log->error("loud-1234");
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("loud-1234"), std::string::npos) << out;
  EXPECT_EQ(out.find("quiet-5678"), std::string::npos) << out;
}

TEST(logger, two_stderr_loggers_coexist) {
  auto one = akt::make_stderr_logger();
  auto two = akt::make_stderr_logger(akt::log_level::debug);
  ASSERT_TRUE(one && two);
  EXPECT_EQ(one->level(), akt::log_level::info);
  EXPECT_EQ(two->level(), akt::log_level::debug);
  ::testing::internal::CaptureStderr();
  one->warn("from-one");
  two->debug("from-two");
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("from-one"), std::string::npos) << out;
  EXPECT_NE(out.find("from-two"), std::string::npos) << out;
}

TEST(logger, default_logger_is_stderr_at_info) {
  ::testing::internal::CaptureStderr();
  {
    auto created = akt::actor_system::create("loud");
    ASSERT_TRUE(created);
    auto& sys = *created;
    EXPECT_EQ(sys->logger().level(), akt::log_level::info);
    ASSERT_TRUE(sys->start());
    auto a = sys->spawn_fn("thrower", throw_on_explode);
    ASSERT_TRUE(a);
    ASSERT_TRUE(a->tell(explode{}));
    ASSERT_TRUE(wait_until([&] { return a->metrics().errors == 1; }));
    (void)sys->stop();
  }
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("akt://loud/thrower"), std::string::npos) << out;
}

}  // namespace
