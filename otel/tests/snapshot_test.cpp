#include "snapshot.hpp"

#include <gtest/gtest.h>

namespace akt::otel::detail {
namespace {

constexpr metric_info sent{"akt.test.sent", "{message}", "Messages sent.", metric_kind::counter};
constexpr metric_info latency{"akt.test.latency", "s", "How long.", metric_kind::histogram};

TEST(snapshot, groups_points_by_name_in_first_reported_order) {
  metric_snapshot s;
  const metric_attribute a[] = {{"peer", "a:1"}};
  const metric_attribute b[] = {{"peer", "b:2"}};
  s.record(sent, a, std::int64_t{3});
  const double bounds[] = {0.001, 0.01};
  const std::uint64_t counts[] = {1, 2, 0};
  s.record(latency, {}, histogram_data{bounds, counts, 3, 0.012});
  s.record(sent, b, std::int64_t{5});

  ASSERT_EQ(s.families.size(), 2u);
  EXPECT_EQ(s.families[0].name, "akt.test.sent");
  ASSERT_EQ(s.families[0].points.size(), 2u);
  EXPECT_EQ(s.families[0].points[1].attributes[0].second, "b:2");
  EXPECT_EQ(s.families[0].points[1].as_int, 5);
  const metric_family* h = s.find("akt.test.latency");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->points[0].counts, (std::vector<std::uint64_t>{1, 2, 0}));
  EXPECT_EQ(h->points[0].count, 3u);
  EXPECT_EQ(s.find("akt.test.none"), nullptr);
}

}  // namespace
}  // namespace akt::otel::detail
