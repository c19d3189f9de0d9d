// The Node addon around ssl3d's TensorFlow ops: loading it (require) has already registered every op of the other
// files in TensorFlow's registries (their static initialisers); it exports `opNames`, the ops registered under the
// Ssl3d prefix, so that a loader can check what it got.
#include <node_api.h>

#include "common.h"

NAPI_MODULE_INIT() {
  std::vector<tensorflow::OpDef> ops;
  tensorflow::OpRegistry::Global()->GetRegisteredOps(&ops);
  napi_value names;
  napi_create_array(env, &names);
  uint32_t n = 0;
  for (const auto& op : ops) {
    if (op.name().rfind("Ssl3d", 0) != 0) continue;
    napi_value s;
    napi_create_string_utf8(env, op.name().c_str(), op.name().size(), &s);
    napi_set_element(env, names, n++, s);
  }
  napi_set_named_property(env, exports, "opNames", names);
  return exports;
}
