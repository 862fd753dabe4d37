{
  # The shipped addon: one static library per ISA, each with its own flags, and the glue at the
  # baseline, which picks a kernel at run time (native/runtime/dispatch.cc). Sources and GCC/Clang
  # flags come from native/build.json, the list CMakeLists.txt and scripts/test-kernels.sh read
  # too; MSVC's equivalents are written here. -ffp-contract=off keeps every backend
  # bit-identical to the scalar kernel. The benchmark probes are not part of this build.
  "variables": {
    "kernel_cflags": ["<!@(node scripts/native-build.cjs flags kernel)"],
  },
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
    "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
    "cflags_cc!": ["-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
    "cflags_cc": ["-std=c++17"],
    "cflags": ["<!@(node scripts/native-build.cjs flags common)"],
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
      "sources": ["<!@(node scripts/native-build.cjs sources scalar)"],
      "cflags": ["<@(kernel_cflags)"],
      "xcode_settings": {"OTHER_CFLAGS": ["<@(kernel_cflags)"]},
    },
    {
      "target_name": "simd_adam",
      "sources": ["<!@(node scripts/native-build.cjs sources runtime)", "<!@(node scripts/native-build.cjs sources addon)"],
      "dependencies": ["adam_scalar"],
      "cflags": ["<!@(node scripts/native-build.cjs flags glue)"],
      "conditions": [
        ["target_arch=='x64'", {"dependencies": ["adam_avx2", "adam_avx512", "adam_avx512bf16"]}],
        ["target_arch=='arm64'", {"dependencies": ["adam_neon"]}],
        # dlopen/dladdr (native/napi/instance.h pins the module): in libdl before glibc 2.34.
        ["OS=='linux'", {"libraries": ["-ldl"]}],
      ],
    },
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "adam_avx2",
          "type": "static_library",
          "sources": ["<!@(node scripts/native-build.cjs sources avx2)"],
          "cflags": ["<@(kernel_cflags)", "<!@(node scripts/native-build.cjs flags avx2)"],
          "xcode_settings": {"OTHER_CFLAGS": ["<@(kernel_cflags)", "<!@(node scripts/native-build.cjs flags avx2)"]},
          "msvs_settings": {"VCCLCompilerTool": {"EnableEnhancedInstructionSet": "5"}},
        },
        {
          "target_name": "adam_avx512",
          "type": "static_library",
          "sources": ["<!@(node scripts/native-build.cjs sources avx512)"],
          "cflags": ["<@(kernel_cflags)", "<!@(node scripts/native-build.cjs flags avx512)"],
          "xcode_settings": {"OTHER_CFLAGS": ["<@(kernel_cflags)", "-mavx512f"]},
          "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/arch:AVX512"]}},
        },
        {
          # The bf16 store with vcvtneps2bf16, dispatched only where the CPU has AVX512_BF16.
          "target_name": "adam_avx512bf16",
          "type": "static_library",
          "sources": ["<!@(node scripts/native-build.cjs sources avx512bf16)"],
          "cflags": ["<@(kernel_cflags)", "<!@(node scripts/native-build.cjs flags avx512bf16)"],
          "xcode_settings": {"OTHER_CFLAGS": ["<@(kernel_cflags)", "-mavx512f", "-mavx512bf16"]},
          "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/arch:AVX512"]}},
        },
      ],
    }],
    ["target_arch=='arm64'", {
      "targets": [
        {
          "target_name": "adam_neon",
          "type": "static_library",
          "sources": ["<!@(node scripts/native-build.cjs sources neon)"],
          "cflags": ["<@(kernel_cflags)", "<!@(node scripts/native-build.cjs flags neon)"],
          "xcode_settings": {"OTHER_CFLAGS": ["<@(kernel_cflags)"]},
        },
      ],
    }],
  ],
}
