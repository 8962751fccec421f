// vnet's native addon: the few things Node cannot do from JavaScript. Each part registers its
// functions on the module's exports from its own file; the TypeScript side loads the addon
// through src/real/native.ts and keeps a pure-JavaScript path wherever one exists.
#pragma once
#include <napi.h>

#include <string>

namespace vnet {

// Throws a JavaScript Error whose `code` is the errno name ("EPERM") and whose message says
// what was being done.
[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& what, int err);

void InitTap(Napi::Env env, Napi::Object exports);
void InitAead(Napi::Env env, Napi::Object exports);
void InitUdp(Napi::Env env, Napi::Object exports);

}  // namespace vnet
