// akt::error, errc and result<T>: stable codes, readable names, and the
// value-or-error contract.
#include "test_util.hpp"

#include <akt/akt.hpp>

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace {

// The numbers cross the wire: they must never change.
static_assert(static_cast<int>(akt::errc::dead_actor) == 1);
static_assert(static_cast<int>(akt::errc::not_found) == 2);
static_assert(static_cast<int>(akt::errc::name_taken) == 3);
static_assert(static_cast<int>(akt::errc::invalid_name) == 4);
static_assert(static_cast<int>(akt::errc::request_timeout) == 5);
static_assert(static_cast<int>(akt::errc::mailbox_full) == 6);
static_assert(static_cast<int>(akt::errc::already_replied) == 7);
static_assert(static_cast<int>(akt::errc::no_sender) == 8);
static_assert(static_cast<int>(akt::errc::not_running) == 9);
static_assert(static_cast<int>(akt::errc::pre_start_failed) == 10);
static_assert(static_cast<int>(akt::errc::unexpected_reply) == 11);
static_assert(static_cast<int>(akt::errc::invalid_argument) == 12);
static_assert(static_cast<int>(akt::errc::shutdown_timeout) == 13);
static_assert(static_cast<int>(akt::errc::no_message) == 14);
static_assert(static_cast<int>(akt::errc::timeout) == 15);

TEST(error, every_code_has_its_own_name) {
  const std::pair<akt::errc, const char*> names[] = {
      {akt::errc::dead_actor, "dead_actor"},
      {akt::errc::not_found, "not_found"},
      {akt::errc::name_taken, "name_taken"},
      {akt::errc::invalid_name, "invalid_name"},
      {akt::errc::request_timeout, "request_timeout"},
      {akt::errc::mailbox_full, "mailbox_full"},
      {akt::errc::already_replied, "already_replied"},
      {akt::errc::no_sender, "no_sender"},
      {akt::errc::not_running, "not_running"},
      {akt::errc::pre_start_failed, "pre_start_failed"},
      {akt::errc::unexpected_reply, "unexpected_reply"},
      {akt::errc::invalid_argument, "invalid_argument"},
      {akt::errc::shutdown_timeout, "shutdown_timeout"},
      {akt::errc::no_message, "no_message"},
      {akt::errc::timeout, "timeout"},
  };
  for (const auto& [code, name] : names) EXPECT_EQ(akt::to_string(code), name);
}

TEST(error, to_string_is_code_colon_message) {
  const akt::error e(akt::errc::not_found, "no actor named 'x'");
  EXPECT_EQ(e.code(), akt::errc::not_found);
  EXPECT_EQ(e.message(), "no actor named 'x'");
  EXPECT_EQ(e.to_string(), "not_found: no actor named 'x'");
}

TEST(error, result_holds_a_value_or_an_error) {
  akt::result<int> ok = 5;
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 5);
  akt::result<int> bad = akt::error(akt::errc::mailbox_full, "full");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.code(), akt::errc::mailbox_full);
  EXPECT_EQ(bad.error().message(), "full");

  akt::status fine;
  EXPECT_TRUE(fine);
  akt::status failed = akt::error(akt::errc::dead_actor, "gone");
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.code(), akt::errc::dead_actor);
}

TEST(error, reading_the_wrong_alternative_of_a_result_aborts) {
  akt::result<int> bad = akt::error(akt::errc::not_found, "x");
  EXPECT_DEATH((void)bad.value(), "");
  akt::result<int> ok = 1;
  EXPECT_DEATH((void)ok.error(), "");
  akt::status fine;
  EXPECT_DEATH((void)fine.error(), "");
}

}  // namespace
