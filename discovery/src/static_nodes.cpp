// The static provider: a fixed list, checked once.
#include <akt/discovery/discovery.hpp>

#include <algorithm>
#include <set>

namespace akt::discovery {

namespace {

class static_provider final : public provider {
 public:
  explicit static_provider(std::vector<node> nodes) : nodes_(std::move(nodes)) {}
  std::string_view name() const noexcept override { return "static"; }
  status start() override { return {}; }
  result<std::vector<node>> nodes() override { return nodes_; }
  status watch(on_change_fn on_change) override {
    on_change(nodes_);  // never changes afterwards
    return {};
  }
  void stop() override {}

 private:
  std::vector<node> nodes_;
};

}  // namespace

result<std::unique_ptr<provider>> static_nodes(std::vector<node> nodes) {
  if (nodes.empty()) return error(errc::invalid_argument, "static discovery: the list of nodes is empty");
  std::set<std::string> ids;
  for (auto& n : nodes) {
    if (n.host.empty()) return error(errc::invalid_argument, "static discovery: a node has no host");
    if (n.ports.empty())
      return error(errc::invalid_argument, "static discovery: node " + n.host + " has no ports");
    for (const auto& [port_name, port] : n.ports) {
      if (port == 0) {
        return error(errc::invalid_argument,
                     "static discovery: node " + n.host + " has port '" + port_name + "' = 0");
      }
    }
    if (n.id.empty()) n.id = n.host + ":" + std::to_string(n.ports.begin()->second);
    if (!ids.insert(n.id).second) {
      return error(errc::invalid_argument, "static discovery: the id '" + n.id + "' appears twice");
    }
  }
  std::sort(nodes.begin(), nodes.end(), [](const node& a, const node& b) { return a.id < b.id; });
  return std::unique_ptr<provider>(new static_provider(std::move(nodes)));
}

}  // namespace akt::discovery
