// The Kubernetes API's JSON, as the provider reads it: the label selector it
// asks with, a PodList, a WatchEvent line, a Status. Pods become nodes here.
//
// Thread safety: pure functions.
#pragma once

#include <akt/discovery/discovery.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace akt::discovery::k8s {

// "app.kubernetes.io/part-of=<system>,app.kubernetes.io/component=<application>,
//  app.kubernetes.io/name=<application>" (not URL-encoded).
std::string label_selector(std::string_view system, std::string_view application);

// Empty when `value` is a valid label value; otherwise what is wrong with it.
std::string check_label_value(std::string_view option, std::string_view value);

// A selected, serving pod that lacks one of the port names: an error (a list
// the caller asked for) or left out (inside a running watch, which has no
// one to tell).
enum class missing_port { fail, skip };

struct pod_list {
  std::vector<node> nodes;  // sorted by id
  std::string resource_version;
};
result<pod_list> parse_pod_list(std::string_view body, const std::vector<std::string>& port_names,
                                missing_port on_missing);

struct watch_event {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  std::string pod_name;
  std::optional<node> serving;  // ADDED/MODIFIED: the pod's node while it is Running, Ready, with an IP
  std::string resource_version;
  int status_code = 0;  // ERROR: the Status object's code (410: the resourceVersion is too old)
  std::string status_message;
};
result<watch_event> parse_watch_event(std::string_view line, const std::vector<std::string>& port_names);

// A Status object (the body of a failed request), when the body is one.
struct api_status {
  int code = 0;
  std::string reason;
  std::string message;
};
std::optional<api_status> parse_status(std::string_view body);

}  // namespace akt::discovery::k8s
