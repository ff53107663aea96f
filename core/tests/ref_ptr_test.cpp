// Intrusive reference counting, including the tag bit that marks remote
// references: the tag never disturbs the count, and is read back as set.
#include <akt/detail/ref_ptr.hpp>

#include <gtest/gtest.h>

namespace {

class counted final : public akt::detail::ref_counted {
 public:
  counted(bool tagged, int* destroyed) : ref_counted(tagged), destroyed_(destroyed) {}
  bool is_tagged() const noexcept { return tagged(); }

 private:
  ~counted() override { ++*destroyed_; }
  int* destroyed_;
};

void exercise(bool tagged) {
  int destroyed = 0;
  auto* c = new counted(tagged, &destroyed);
  EXPECT_EQ(c->is_tagged(), tagged);
  c->add_refs(64);
  c->release_refs(63);
  c->add_ref();
  EXPECT_EQ(c->is_tagged(), tagged) << "counting changed the tag";
  c->release();
  c->release();
  EXPECT_EQ(destroyed, 0) << "destroyed with one reference left";
  c->release_refs(1);
  EXPECT_EQ(destroyed, 1) << "the last release must destroy, tag or not";
}

TEST(ref_counted, an_untagged_object_is_destroyed_by_its_last_release) {
  exercise(false);
}

TEST(ref_counted, a_tagged_object_keeps_its_tag_and_is_destroyed_by_its_last_release) {
  exercise(true);
}

}  // namespace
