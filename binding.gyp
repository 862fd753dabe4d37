{
  # One static library per ISA, each with its own flags; the addon itself is built at the
  # baseline and picks a kernel at run time (native/dispatch.cc). No -march=native, no
  # -ffast-math: NaN and Inf must propagate as in PyTorch. -ffp-contract=off keeps every
  # backend bit-identical to the scalar kernel.
  "variables": {
    "kernel_cflags": ["-O3", "-fno-math-errno", "-ffp-contract=off", "-fno-exceptions", "-fvisibility=hidden"],
  },
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "cflags_cc!": ["-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
    "cflags_cc": ["-std=c++17"],
    "cflags": ["-fvisibility=hidden", "-ffp-contract=off"],
    "xcode_settings": {
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
      "OTHER_CFLAGS": ["-ffp-contract=off"],
    },
    "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/std:c++17", "/fp:precise"]}},
  },
  "targets": [
    {
      "target_name": "adam_scalar",
      "type": "static_library",
      "sources": ["<!@(node scripts/sources.cjs scalar)"],
      "cflags": ["<@(kernel_cflags)"],
      "xcode_settings": {"OTHER_CFLAGS": ["<@(kernel_cflags)"]},
    },
    {
      "target_name": "probe_kernels",
      "type": "static_library",
      "sources": ["<!@(node scripts/sources.cjs probe)"],
      "cflags": ["<@(kernel_cflags)"],
      "xcode_settings": {"OTHER_CFLAGS": ["<@(kernel_cflags)"]},
    },
    {
      "target_name": "simd_adam",
      "sources": ["<!@(node scripts/sources.cjs addon)"],
      "dependencies": ["adam_scalar", "probe_kernels"],
      "cflags": ["-O2"],
      "conditions": [
        ["target_arch=='x64'", {"dependencies": ["adam_avx2", "adam_avx512"]}],
        ["target_arch=='arm64'", {"dependencies": ["adam_neon"]}],
      ],
    },
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "adam_avx2",
          "type": "static_library",
          "sources": ["<!@(node scripts/sources.cjs avx2)"],
          "cflags": ["<@(kernel_cflags)", "-mavx2", "-mfma"],
          "xcode_settings": {"OTHER_CFLAGS": ["<@(kernel_cflags)", "-mavx2", "-mfma"]},
          "msvs_settings": {"VCCLCompilerTool": {"EnableEnhancedInstructionSet": "5"}},
        },
        {
          "target_name": "adam_avx512",
          "type": "static_library",
          "sources": ["<!@(node scripts/sources.cjs avx512)"],
          "cflags": ["<@(kernel_cflags)", "-mavx512f", "-Wno-maybe-uninitialized"],
          "xcode_settings": {"OTHER_CFLAGS": ["<@(kernel_cflags)", "-mavx512f"]},
          "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/arch:AVX512"]}},
        },
      ],
    }],
    ["target_arch=='arm64'", {
      "targets": [
        {
          "target_name": "adam_neon",
          "type": "static_library",
          "sources": ["<!@(node scripts/sources.cjs neon)"],
          "cflags": ["<@(kernel_cflags)"],
          "xcode_settings": {"OTHER_CFLAGS": ["<@(kernel_cflags)"]},
        },
      ],
    }],
  ],
}
