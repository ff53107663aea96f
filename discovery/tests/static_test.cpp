#include <akt/discovery/discovery.hpp>

#include <gtest/gtest.h>

namespace {

using akt::discovery::node;

TEST(static_discovery, lists_the_nodes_sorted_and_watch_gives_them_once) {
  auto p = akt::discovery::static_nodes({
      {.id = "b", .host = "127.0.0.2", .ports = {{"clients-port", 2379}, {"peers-port", 2380}}},
      {.id = "a", .host = "127.0.0.1", .ports = {{"clients-port", 2379}}},
  });
  ASSERT_TRUE(p) << p.error().to_string();
  ASSERT_TRUE((*p)->start());
  auto nodes = (*p)->nodes();
  ASSERT_TRUE(nodes);
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_EQ((*nodes)[0].id, "a");
  EXPECT_EQ((*nodes)[1].port("peers-port"), 2380);
  EXPECT_EQ((*nodes)[0].port("peers-port"), 0);
  int calls = 0;
  ASSERT_TRUE((*p)->watch([&](const std::vector<node>& now) {
    ++calls;
    EXPECT_EQ(now, *nodes);
  }));
  (*p)->stop();
  EXPECT_EQ(calls, 1);
}

TEST(static_discovery, bad_lists_are_refused_clearly) {
  auto empty = akt::discovery::static_nodes({});
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message().find("empty"), std::string::npos);
  auto twice = akt::discovery::static_nodes(
      {{.id = "x", .host = "h", .ports = {{"p", 1}}}, {.id = "x", .host = "i", .ports = {{"p", 1}}}});
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message().find("twice"), std::string::npos);
  auto zero = akt::discovery::static_nodes({{.host = "h", .ports = {{"clients-port", 0}}}});
  ASSERT_FALSE(zero);
  EXPECT_NE(zero.error().message().find("clients-port"), std::string::npos);
  auto portless = akt::discovery::static_nodes({{.host = "h"}});
  ASSERT_FALSE(portless);
  auto defaulted = akt::discovery::static_nodes({{.host = "h", .ports = {{"clients-port", 5}}}});
  ASSERT_TRUE(defaulted);
  EXPECT_EQ((*(*defaulted)->nodes())[0].id, "h:5");
}

}  // namespace
