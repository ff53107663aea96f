#include "kubernetes/pods.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace akt::discovery::k8s {

namespace {

using json = nlohmann::json;

error malformed(std::string_view what, std::string_view why) {
  return error(errc::unavailable, "kubernetes discovery: the API server sent a malformed " +
                                      std::string(what) + ": " + std::string(why));
}

// j[key] when j is an object that has it, else null.
const json& field(const json& j, const char* key) {
  static const json null_json;
  if (!j.is_object()) return null_json;
  auto it = j.find(key);
  return it == j.end() ? null_json : *it;
}

std::string string_field(const json& j, const char* key) {
  const json& f = field(j, key);
  return f.is_string() ? f.get<std::string>() : std::string();
}

bool is_ready(const json& status) {
  const json& conditions = field(status, "conditions");
  if (!conditions.is_array()) return false;
  return std::any_of(conditions.begin(), conditions.end(), [](const json& c) {
    return string_field(c, "type") == "Ready" && string_field(c, "status") == "True";
  });
}

// The pod's node, nullopt when it does not serve (yet, or any more).
result<std::optional<node>> pod_to_node(const json& pod, const std::vector<std::string>& port_names,
                                        missing_port on_missing) {
  const std::string name = string_field(field(pod, "metadata"), "name");
  if (name.empty()) return malformed("pod", "it has no metadata.name");
  const json& status = field(pod, "status");
  const std::string ip = string_field(status, "podIP");
  if (string_field(status, "phase") != "Running" || !is_ready(status) || ip.empty()) {
    return std::optional<node>();
  }
  node n{.id = name, .host = ip, .ports = {}};
  const json& containers = field(field(pod, "spec"), "containers");
  if (!containers.is_array()) return malformed("pod", "pod " + name + " has no spec.containers list");
  std::vector<std::string> seen;
  for (const json& c : containers) {
    const json& ports = field(c, "ports");
    if (ports.is_null()) continue;
    if (!ports.is_array())
      return malformed("pod", "pod " + name + " has a container whose ports are not a list");
    for (const json& p : ports) {
      const std::string port_name = string_field(p, "name");
      const json& number = field(p, "containerPort");
      if (!port_name.empty()) seen.push_back(port_name);
      if (std::find(port_names.begin(), port_names.end(), port_name) == port_names.end()) continue;
      if (!number.is_number_integer() || number.get<long long>() < 1 || number.get<long long>() > 65535) {
        return malformed("pod",
                         "pod " + name + "'s port '" + port_name + "' has no containerPort in 1..65535");
      }
      n.ports.emplace(port_name, static_cast<std::uint16_t>(number.get<long long>()));
    }
  }
  for (const auto& wanted : port_names) {
    if (n.ports.contains(wanted)) continue;
    if (on_missing == missing_port::skip) return std::optional<node>();
    std::string has;
    for (const auto& s : seen) has += (has.empty() ? "" : ", ") + s;
    return error(errc::invalid_argument,
                 "kubernetes discovery: pod " + name +
                     " (Running, Ready, selected by the labels) has no container port named '" + wanted +
                     "' (its named ports: " + (has.empty() ? "none" : has) +
                     "); name the ports in the pod template's spec.containers[].ports[].name");
  }
  return std::optional<node>(std::move(n));
}

}  // namespace

std::string label_selector(std::string_view system, std::string_view application) {
  std::string s = "app.kubernetes.io/part-of=";
  s += system;
  s += ",app.kubernetes.io/component=";
  s += application;
  s += ",app.kubernetes.io/name=";
  s += application;
  return s;
}

std::string check_label_value(std::string_view option, std::string_view value) {
  const std::string what = "kubernetes discovery: options." + std::string(option);
  if (value.empty()) {
    return what + " is empty; it names the pods' label (app.kubernetes.io/" +
           (option == "system" ? "part-of" : "component and app.kubernetes.io/name") + ") to select";
  }
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  bool ok = value.size() <= 63 && alnum(value.front()) && alnum(value.back());
  for (char c : value) ok = ok && (alnum(c) || c == '-' || c == '_' || c == '.');
  if (!ok) {
    return what + " = '" + std::string(value) +
           "' is not a label value: at most 63 characters of [A-Za-z0-9-_.], starting and ending with a "
           "letter or digit";
  }
  return {};
}

result<pod_list> parse_pod_list(std::string_view body, const std::vector<std::string>& port_names,
                                missing_port on_missing) {
  json list = json::parse(body, nullptr, false);
  if (list.is_discarded()) return malformed("PodList", "the body is not JSON");
  if (string_field(list, "kind") != "PodList") {
    return malformed("PodList", "its kind is '" + string_field(list, "kind") + "', not PodList");
  }
  pod_list out;
  out.resource_version = string_field(field(list, "metadata"), "resourceVersion");
  if (out.resource_version.empty()) return malformed("PodList", "it has no metadata.resourceVersion");
  const json& items = field(list, "items");
  if (!items.is_array() && !items.is_null()) return malformed("PodList", "its items are not a list");
  if (items.is_array()) {
    for (const json& pod : items) {
      auto n = pod_to_node(pod, port_names, on_missing);
      if (!n) return n.error();
      if (*n) out.nodes.push_back(std::move(**n));
    }
  }
  std::sort(out.nodes.begin(), out.nodes.end(), [](const node& a, const node& b) { return a.id < b.id; });
  return out;
}

result<watch_event> parse_watch_event(std::string_view line, const std::vector<std::string>& port_names) {
  json event = json::parse(line, nullptr, false);
  if (event.is_discarded()) return malformed("watch event", "a line is not JSON");
  watch_event out;
  out.type = string_field(event, "type");
  const json& object = field(event, "object");
  if (!object.is_object()) return malformed("watch event", "it has no object");
  if (out.type == "ERROR") {
    const json& code = field(object, "code");
    out.status_code = code.is_number_integer() ? code.get<int>() : 0;
    out.status_message = string_field(object, "message");
    return out;
  }
  if (out.type != "ADDED" && out.type != "MODIFIED" && out.type != "DELETED" && out.type != "BOOKMARK") {
    return malformed("watch event", "unknown type '" + out.type + "'");
  }
  out.resource_version = string_field(field(object, "metadata"), "resourceVersion");
  if (out.type == "BOOKMARK") return out;
  out.pod_name = string_field(field(object, "metadata"), "name");
  if (out.pod_name.empty()) return malformed("watch event", "its pod has no metadata.name");
  if (out.type != "DELETED") {
    auto n = pod_to_node(object, port_names, missing_port::skip);
    if (!n) return n.error();
    out.serving = std::move(*n);
  }
  return out;
}

std::optional<api_status> parse_status(std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || string_field(j, "kind") != "Status") return std::nullopt;
  const json& code = field(j, "code");
  return api_status{.code = code.is_number_integer() ? code.get<int>() : 0,
                    .reason = string_field(j, "reason"),
                    .message = string_field(j, "message")};
}

}  // namespace akt::discovery::k8s
