// The child tree on its own, with a stand-in for actor_cell.
#include "actor/child_tree.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct node {
  explicit node(std::string n = "")
      : name(n.empty() ? nullptr : std::make_unique<std::string>(std::move(n))) {}
  akt::detail::child_tree_links<node>& tree_links() noexcept { return links; }
  const std::string* tree_name() const noexcept { return name.get(); }
  std::unique_ptr<std::string> name;
  akt::detail::child_tree_links<node> links;
};

std::vector<node*> listed(const akt::detail::child_tree<node>& t) {
  std::vector<node*> out;
  t.for_each([&](node* n) { out.push_back(n); });
  return out;
}

}  // namespace

TEST(child_tree, children_are_listed_most_recent_first_and_found_by_name) {
  akt::detail::child_tree<node> t;
  node a("a"), b, c("c");
  std::lock_guard g(t);
  ASSERT_TRUE(t.add(&a));
  ASSERT_TRUE(t.add(&b));
  ASSERT_TRUE(t.add(&c));
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(listed(t), (std::vector<node*>{&c, &b, &a}));
  EXPECT_EQ(t.find("a"), &a);
  EXPECT_EQ(t.find("c"), &c);
  EXPECT_EQ(t.find("b"), nullptr);  // anonymous children are not indexed
}

TEST(child_tree, a_taken_name_is_refused_and_nothing_changes) {
  akt::detail::child_tree<node> t;
  node a("same"), b("same");
  std::lock_guard g(t);
  ASSERT_TRUE(t.add(&a));
  EXPECT_FALSE(t.add(&b));
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(listed(t), (std::vector<node*>{&a}));
  EXPECT_EQ(t.find("same"), &a);
}

TEST(child_tree, removing_a_child_frees_its_name_and_keeps_the_others_linked) {
  akt::detail::child_tree<node> t;
  node a("a"), b("b"), c("c");
  std::lock_guard g(t);
  ASSERT_TRUE(t.add(&a));
  ASSERT_TRUE(t.add(&b));
  ASSERT_TRUE(t.add(&c));
  EXPECT_EQ(t.remove(&b), 2u);  // from the middle
  EXPECT_EQ(listed(t), (std::vector<node*>{&c, &a}));
  EXPECT_EQ(t.find("b"), nullptr);
  EXPECT_EQ(t.remove(&c), 1u);  // the first
  EXPECT_EQ(listed(t), (std::vector<node*>{&a}));
  node again("b");
  EXPECT_TRUE(t.add(&again));
  EXPECT_EQ(t.remove(&a), 1u);  // the last
  EXPECT_EQ(t.remove(&again), 0u);
  EXPECT_TRUE(t.empty());
}
