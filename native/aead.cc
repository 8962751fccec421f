// ChaCha20-Poly1305 (RFC 8439 section 2.8) for vnet's WireGuard transport path, on the OpenSSL
// inside the node binary: its EVP symbols resolve from the running process when the addon
// loads, so nothing links against a system libcrypto. Node's own API builds a Cipher object and
// an output Buffer per packet; here one cipher context per direction lives as long as the
// module and is re-keyed per call (for ChaCha20 a key is 32 bytes copied, not a schedule), and
// the result goes straight into the caller's buffer at the caller's offset, so the JavaScript
// side allocates nothing per packet. The TypeScript backend is src/real/crypto-native.ts.
#include <dlfcn.h>
#include <openssl/evp.h>
#include <string.h>

#include "addon.h"

namespace vnet {

static const size_t kKeyBytes = 32;
static const size_t kNonceBytes = 12;
static const size_t kTagBytes = 16;

struct AeadContexts {
  EVP_CIPHER* cipher = nullptr;
  EVP_CIPHER_CTX* seal = nullptr;
  EVP_CIPHER_CTX* open = nullptr;
};

// One set per thread (the main thread, or a worker that loads the addon), made on first use and
// kept for the thread's life: a context is never shared between two threads.
static AeadContexts* Contexts(Napi::Env env) {
  static thread_local AeadContexts* ctx = nullptr;
  if (ctx != nullptr) return ctx;
  auto* c = new AeadContexts;
  c->cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  if (c->cipher != nullptr) {
    c->seal = EVP_CIPHER_CTX_new();
    c->open = EVP_CIPHER_CTX_new();
  }
  if (c->seal == nullptr || c->open == nullptr ||
      EVP_EncryptInit_ex(c->seal, c->cipher, nullptr, nullptr, nullptr) != 1 ||
      EVP_DecryptInit_ex(c->open, c->cipher, nullptr, nullptr, nullptr) != 1) {
    EVP_CIPHER_CTX_free(c->seal);
    EVP_CIPHER_CTX_free(c->open);
    EVP_CIPHER_free(c->cipher);
    delete c;
    throw Napi::Error::New(env, "ChaCha20-Poly1305 is not available from the OpenSSL in this node");
  }
  ctx = c;
  return ctx;
}

// The arguments both directions share, checked once: key, nonce, optional additional data,
// source range and destination offset.
struct AeadArgs {
  const uint8_t* key;
  const uint8_t* nonce;
  const uint8_t* ad;
  size_t adLen;
  const uint8_t* src;
  size_t length;
  uint8_t* out;
  size_t outRoom;
};

static Napi::Uint8Array U8(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsTypedArray()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a Uint8Array");
  }
  return info[i].As<Napi::Uint8Array>();
}

static size_t Offset(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0) || v > 4294967295.0 || v != static_cast<double>(static_cast<uint64_t>(v))) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be a non-negative integer");
  }
  return static_cast<size_t>(v);
}

// (key, nonce, ad | undefined, src, srcOffset, length, out, outOffset)
static AeadArgs ReadArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 8) throw Napi::TypeError::New(env, "expected (key, nonce, ad, src, srcOffset, length, out, outOffset)");
  Napi::Uint8Array key = U8(info, 0, "key");
  Napi::Uint8Array nonce = U8(info, 1, "nonce");
  if (key.ElementLength() != kKeyBytes) throw Napi::RangeError::New(env, "a ChaCha20-Poly1305 key is 32 bytes");
  if (nonce.ElementLength() != kNonceBytes) throw Napi::RangeError::New(env, "a ChaCha20-Poly1305 nonce is 12 bytes");
  AeadArgs a;
  a.key = key.Data();
  a.nonce = nonce.Data();
  a.ad = nullptr;
  a.adLen = 0;
  if (!info[2].IsUndefined() && !info[2].IsNull()) {
    Napi::Uint8Array ad = U8(info, 2, "ad");
    a.ad = ad.Data();
    a.adLen = ad.ElementLength();
  }
  Napi::Uint8Array src = U8(info, 3, "src");
  size_t srcOffset = Offset(info, 4, "srcOffset");
  a.length = Offset(info, 5, "length");
  if (srcOffset + a.length > src.ElementLength()) throw Napi::RangeError::New(env, "source range outside its buffer");
  a.src = src.Data() + srcOffset;
  Napi::Uint8Array out = U8(info, 6, "out");
  size_t outOffset = Offset(info, 7, "outOffset");
  if (outOffset > out.ElementLength()) throw Napi::RangeError::New(env, "output offset outside its buffer");
  a.out = out.Data() + outOffset;
  a.outRoom = out.ElementLength() - outOffset;
  return a;
}

// OpenSSL encrypts in place when input and output start together, but not into a range that
// overlaps the input elsewhere.
static void CheckOverlap(Napi::Env env, const uint8_t* in, const uint8_t* out, size_t n) {
  if (in != out && out < in + n && in < out + n) {
    throw Napi::RangeError::New(env, "output overlaps the input without starting at the same byte");
  }
}

// aeadSeal(...) -> length + 16: ciphertext then tag at out[outOffset..].
static Napi::Value AeadSeal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AeadArgs a = ReadArgs(info);
  if (a.outRoom < a.length + kTagBytes) throw Napi::RangeError::New(env, "output too small for ciphertext and tag");
  CheckOverlap(env, a.src, a.out, a.length);
  EVP_CIPHER_CTX* c = Contexts(env)->seal;
  int n = 0;
  bool ok = EVP_EncryptInit_ex(c, nullptr, nullptr, a.key, a.nonce) == 1;
  if (ok && a.adLen > 0) ok = EVP_EncryptUpdate(c, nullptr, &n, a.ad, static_cast<int>(a.adLen)) == 1;
  if (ok && a.length > 0) ok = EVP_EncryptUpdate(c, a.out, &n, a.src, static_cast<int>(a.length)) == 1;
  if (ok) ok = EVP_EncryptFinal_ex(c, a.out + a.length, &n) == 1;
  if (ok) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, kTagBytes, a.out + a.length) == 1;
  if (!ok) throw Napi::Error::New(env, "ChaCha20-Poly1305 seal failed inside OpenSSL");
  return Napi::Number::New(env, static_cast<double>(a.length + kTagBytes));
}

// aeadOpen(...) -> plaintext length, or -1 when the tag does not verify (then the output range
// is zeroed: no unauthenticated plaintext is left behind; in place, the ciphertext is gone too).
static Napi::Value AeadOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AeadArgs a = ReadArgs(info);
  if (a.length < kTagBytes) return Napi::Number::New(env, -1);
  size_t ptLen = a.length - kTagBytes;
  if (a.outRoom < ptLen) throw Napi::RangeError::New(env, "output too small for the plaintext");
  CheckOverlap(env, a.src, a.out, ptLen);
  // The tag is read before the plaintext may overwrite it (out may reach past src's ciphertext).
  uint8_t tag[kTagBytes];
  memcpy(tag, a.src + ptLen, kTagBytes);
  EVP_CIPHER_CTX* c = Contexts(env)->open;
  int n = 0;
  bool ok = EVP_DecryptInit_ex(c, nullptr, nullptr, a.key, a.nonce) == 1;
  if (ok) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, kTagBytes, tag) == 1;
  if (ok && a.adLen > 0) ok = EVP_DecryptUpdate(c, nullptr, &n, a.ad, static_cast<int>(a.adLen)) == 1;
  if (ok && ptLen > 0) ok = EVP_DecryptUpdate(c, a.out, &n, a.src, static_cast<int>(ptLen)) == 1;
  if (!ok) throw Napi::Error::New(env, "ChaCha20-Poly1305 open failed inside OpenSSL");
  if (EVP_DecryptFinal_ex(c, a.out + ptLen, &n) != 1) {
    memset(a.out, 0, ptLen);
    return Napi::Number::New(env, -1);
  }
  return Napi::Number::New(env, static_cast<double>(ptLen));
}

// The EVP functions come from the node binary, bound lazily at first call: a node that does not
// export them (built with its symbols hidden) would abort on that call. So the AEAD is offered
// only when every one of them is there; otherwise the TypeScript side falls back to node:crypto
// and the rest of the addon (TAP, UDP) still loads.
static bool HasOpensslSymbols() {
  static const char* const kNames[] = {
      "EVP_CIPHER_fetch",    "EVP_CIPHER_free",     "EVP_CIPHER_CTX_new",  "EVP_CIPHER_CTX_free",
      "EVP_CIPHER_CTX_ctrl", "EVP_EncryptInit_ex",  "EVP_EncryptUpdate",   "EVP_EncryptFinal_ex",
      "EVP_DecryptInit_ex",  "EVP_DecryptUpdate",   "EVP_DecryptFinal_ex",
  };
  for (const char* name : kNames) {
    if (dlsym(RTLD_DEFAULT, name) == nullptr) return false;
  }
  return true;
}

void InitAead(Napi::Env env, Napi::Object exports) {
  if (!HasOpensslSymbols()) return;
  exports.Set("aeadSeal", Napi::Function::New(env, AeadSeal));
  exports.Set("aeadOpen", Napi::Function::New(env, AeadOpen));
}

}  // namespace vnet
