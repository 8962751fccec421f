{
  "targets": [
    {
      "target_name": "vnet_native",
      "sources": ["native/addon.cc", "native/tap.cc", "native/aead.cc", "native/udp.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O2", "-fexceptions"]
    }
  ]
}
