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

TEST(error, value_of_an_error_throws_bad_result_access_carrying_the_error) {
  akt::result<int> bad = akt::error(akt::errc::not_found, "no actor named 'x'");
  try {
    (void)bad.value();
    FAIL() << "value() on an error did not throw";
  } catch (const akt::bad_result_access& e) {
    EXPECT_EQ(e.error().code(), akt::errc::not_found);
    EXPECT_NE(std::string(e.what()).find("no actor named 'x'"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)*bad, akt::bad_result_access);
  akt::status failed = akt::error(akt::errc::timeout, "late");
  EXPECT_THROW(failed.value(), akt::bad_result_access);
  akt::status fine;
  EXPECT_NO_THROW(fine.value());
}

TEST(error, value_or_and_then_and_transform_pass_errors_on) {
  akt::result<int> ok = 20;
  akt::result<int> bad = akt::error(akt::errc::not_found, "x");
  EXPECT_EQ(ok.value_or(0), 20);
  EXPECT_EQ(bad.value_or(7), 7);
  auto twice = [](int v) { return v * 2; };
  EXPECT_EQ(ok.transform(twice).value(), 40);
  EXPECT_EQ(bad.transform(twice).code(), akt::errc::not_found);
  auto half = [](int v) -> akt::result<int> {
    if (v % 2 != 0) return akt::error(akt::errc::invalid_argument, "odd");
    return v / 2;
  };
  EXPECT_EQ(ok.and_then(half).value(), 10);
  EXPECT_EQ(akt::result<int>(3).and_then(half).code(), akt::errc::invalid_argument);
  EXPECT_EQ(bad.and_then(half).code(), akt::errc::not_found);
  auto as_text = akt::result<int>(5).transform([](int v) { return std::to_string(v); });
  EXPECT_EQ(as_text.value(), "5");
}

TEST(error, reading_the_error_of_a_value_aborts) {
  akt::result<int> ok = 1;
  EXPECT_DEATH((void)ok.error(), "");
  akt::status fine;
  EXPECT_DEATH((void)fine.error(), "");
}

}  // namespace
