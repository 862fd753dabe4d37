{
  # The MPI binding: one source, compiled and linked with the flags of the MPI library's own
  # compiler wrapper (mpicc --showme), so that Open MPI and MPICH both work.
  "targets": [
    {
      "target_name": "simd_adam_mpi",
      "sources": ["native/mpi_binding.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["OMPI_SKIP_MPICXX", "MPICH_SKIP_MPICXX", "NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc!": ["-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "<!@(node scripts/mpi-flags.cjs compile)"],
      "libraries": ["<!@(node scripts/mpi-flags.cjs link)", "-ldl"],
    },
  ],
}
