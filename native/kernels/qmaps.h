/* bitsandbytes' dynamic quantization maps (create_dynamic_map as torchao computes it), 256
 * ascending float32 values each, as exact hex literals, and the 8-bit quantizer's thresholds,
 * computed from them at compile time. Entry 256 is a NaN sentinel: torchao's nearest-code
 * rounding reads qmap[c + 1] for every c, and a comparison with NaN is false, so c = 255 never
 * rounds up (the rule's "c < 255"). test/lowbit_kernels.test.ts checks these tables against the
 * TypeScript ones, which are checked against the recorded maps. */
#ifndef SIMD_ADAM_QMAPS_H
#define SIMD_ADAM_QMAPS_H

#include <stdint.h>

namespace {

alignas(64) constexpr float qmap_signed[257] = {
    -0x1.fc66660000000p-1f, -0x1.f533320000000p-1f, -0x1.ee00000000000p-1f, -0x1.e6cccc0000000p-1f,
    -0x1.df99980000000p-1f, -0x1.d866660000000p-1f, -0x1.d133340000000p-1f, -0x1.ca00000000000p-1f,
    -0x1.c2cccc0000000p-1f, -0x1.bb99980000000p-1f, -0x1.b466660000000p-1f, -0x1.ad33320000000p-1f,
    -0x1.a600000000000p-1f, -0x1.9ecccc0000000p-1f, -0x1.9799980000000p-1f, -0x1.9066660000000p-1f,
    -0x1.8933340000000p-1f, -0x1.8200000000000p-1f, -0x1.7accce0000000p-1f, -0x1.73999a0000000p-1f,
    -0x1.6c66680000000p-1f, -0x1.6533340000000p-1f, -0x1.5e00000000000p-1f, -0x1.56ccce0000000p-1f,
    -0x1.4f999a0000000p-1f, -0x1.4866660000000p-1f, -0x1.4133340000000p-1f, -0x1.3a00000000000p-1f,
    -0x1.32cccc0000000p-1f, -0x1.2b999a0000000p-1f, -0x1.2466680000000p-1f, -0x1.1d33340000000p-1f,
    -0x1.1600000000000p-1f, -0x1.0ecccc0000000p-1f, -0x1.07999a0000000p-1f, -0x1.0066660000000p-1f,
    -0x1.f266680000000p-2f, -0x1.e400000000000p-2f, -0x1.d599980000000p-2f, -0x1.c733340000000p-2f,
    -0x1.b8cccc0000000p-2f, -0x1.aa66640000000p-2f, -0x1.9c00000000000p-2f, -0x1.8d99980000000p-2f,
    -0x1.7f33340000000p-2f, -0x1.70cccc0000000p-2f, -0x1.6266640000000p-2f, -0x1.5400000000000p-2f,
    -0x1.4599980000000p-2f, -0x1.3733340000000p-2f, -0x1.28cccc0000000p-2f, -0x1.1a66680000000p-2f,
    -0x1.0c00000000000p-2f, -0x1.fb33340000000p-3f, -0x1.de66680000000p-3f, -0x1.c1999a0000000p-3f,
    -0x1.a4cccc0000000p-3f, -0x1.8800000000000p-3f, -0x1.6b33320000000p-3f, -0x1.4e66660000000p-3f,
    -0x1.31999a0000000p-3f, -0x1.14cccc0000000p-3f, -0x1.f000000000000p-4f, -0x1.b666680000000p-4f,
    -0x1.93d70a0000000p-4f, -0x1.8851ea0000000p-4f, -0x1.7cccce0000000p-4f, -0x1.7147ae0000000p-4f,
    -0x1.65c2900000000p-4f, -0x1.5a3d700000000p-4f, -0x1.4eb8500000000p-4f, -0x1.4333340000000p-4f,
    -0x1.37ae140000000p-4f, -0x1.2c28f60000000p-4f, -0x1.20a3d60000000p-4f, -0x1.151eba0000000p-4f,
    -0x1.09999a0000000p-4f, -0x1.fc28f40000000p-5f, -0x1.e51eba0000000p-5f, -0x1.ce147a0000000p-5f,
    -0x1.b70a3e0000000p-5f, -0x1.a000000000000p-5f, -0x1.88f5c20000000p-5f, -0x1.71eb860000000p-5f,
    -0x1.5ae1460000000p-5f, -0x1.43d70a0000000p-5f, -0x1.2cccce0000000p-5f, -0x1.15c28e0000000p-5f,
    -0x1.fd70a40000000p-6f, -0x1.cf5c260000000p-6f, -0x1.a147ae0000000p-6f, -0x1.7333340000000p-6f,
    -0x1.451eb80000000p-6f, -0x1.170a3e0000000p-6f, -0x1.d1eb860000000p-7f, -0x1.75c2900000000p-7f,
    -0x1.3e76c80000000p-7f, -0x1.2c08300000000p-7f, -0x1.19999a0000000p-7f, -0x1.072b020000000p-7f,
    -0x1.e978d40000000p-8f, -0x1.c49ba60000000p-8f, -0x1.9fbe760000000p-8f, -0x1.7ae1480000000p-8f,
    -0x1.56041a0000000p-8f, -0x1.3126e80000000p-8f, -0x1.0c49ba0000000p-8f, -0x1.ced9140000000p-9f,
    -0x1.851eb80000000p-9f, -0x1.3b645a0000000p-9f, -0x1.e353f80000000p-10f, -0x1.4fdf3a0000000p-10f,
    -0x1.eecbfe0000000p-11f, -0x1.b3d07c0000000p-11f, -0x1.78d5000000000p-11f, -0x1.3dd9820000000p-11f,
    -0x1.02de020000000p-11f, -0x1.8fc5060000000p-12f, -0x1.19ce0a0000000p-12f, -0x1.47ae160000000p-13f,
    -0x1.743e960000000p-14f, -0x1.15df660000000p-14f, -0x1.6f00680000000p-15f, -0x1.64840c0000000p-16f,
    -0x1.040bfe0000000p-17f, -0x1.b435280000000p-19f, -0x1.27476e0000000p-21f, 0x0.0p+0f,
    0x1.27476e0000000p-21f, 0x1.b435280000000p-19f, 0x1.040bfe0000000p-17f, 0x1.64840c0000000p-16f,
    0x1.6f00680000000p-15f, 0x1.15df660000000p-14f, 0x1.743e960000000p-14f, 0x1.47ae160000000p-13f,
    0x1.19ce0a0000000p-12f, 0x1.8fc5060000000p-12f, 0x1.02de020000000p-11f, 0x1.3dd9820000000p-11f,
    0x1.78d5000000000p-11f, 0x1.b3d07c0000000p-11f, 0x1.eecbfe0000000p-11f, 0x1.4fdf3a0000000p-10f,
    0x1.e353f80000000p-10f, 0x1.3b645a0000000p-9f, 0x1.851eb80000000p-9f, 0x1.ced9140000000p-9f,
    0x1.0c49ba0000000p-8f, 0x1.3126e80000000p-8f, 0x1.56041a0000000p-8f, 0x1.7ae1480000000p-8f,
    0x1.9fbe760000000p-8f, 0x1.c49ba60000000p-8f, 0x1.e978d40000000p-8f, 0x1.072b020000000p-7f,
    0x1.19999a0000000p-7f, 0x1.2c08300000000p-7f, 0x1.3e76c80000000p-7f, 0x1.75c2900000000p-7f,
    0x1.d1eb860000000p-7f, 0x1.170a3e0000000p-6f, 0x1.451eb80000000p-6f, 0x1.7333340000000p-6f,
    0x1.a147ae0000000p-6f, 0x1.cf5c260000000p-6f, 0x1.fd70a40000000p-6f, 0x1.15c28e0000000p-5f,
    0x1.2cccce0000000p-5f, 0x1.43d70a0000000p-5f, 0x1.5ae1460000000p-5f, 0x1.71eb860000000p-5f,
    0x1.88f5c20000000p-5f, 0x1.a000000000000p-5f, 0x1.b70a3e0000000p-5f, 0x1.ce147a0000000p-5f,
    0x1.e51eba0000000p-5f, 0x1.fc28f40000000p-5f, 0x1.09999a0000000p-4f, 0x1.151eba0000000p-4f,
    0x1.20a3d60000000p-4f, 0x1.2c28f60000000p-4f, 0x1.37ae140000000p-4f, 0x1.4333340000000p-4f,
    0x1.4eb8500000000p-4f, 0x1.5a3d700000000p-4f, 0x1.65c2900000000p-4f, 0x1.7147ae0000000p-4f,
    0x1.7cccce0000000p-4f, 0x1.8851ea0000000p-4f, 0x1.93d70a0000000p-4f, 0x1.b666680000000p-4f,
    0x1.f000000000000p-4f, 0x1.14cccc0000000p-3f, 0x1.31999a0000000p-3f, 0x1.4e66660000000p-3f,
    0x1.6b33320000000p-3f, 0x1.8800000000000p-3f, 0x1.a4cccc0000000p-3f, 0x1.c1999a0000000p-3f,
    0x1.de66680000000p-3f, 0x1.fb33340000000p-3f, 0x1.0c00000000000p-2f, 0x1.1a66680000000p-2f,
    0x1.28cccc0000000p-2f, 0x1.3733340000000p-2f, 0x1.4599980000000p-2f, 0x1.5400000000000p-2f,
    0x1.6266640000000p-2f, 0x1.70cccc0000000p-2f, 0x1.7f33340000000p-2f, 0x1.8d99980000000p-2f,
    0x1.9c00000000000p-2f, 0x1.aa66640000000p-2f, 0x1.b8cccc0000000p-2f, 0x1.c733340000000p-2f,
    0x1.d599980000000p-2f, 0x1.e400000000000p-2f, 0x1.f266680000000p-2f, 0x1.0066660000000p-1f,
    0x1.07999a0000000p-1f, 0x1.0ecccc0000000p-1f, 0x1.1600000000000p-1f, 0x1.1d33340000000p-1f,
    0x1.2466680000000p-1f, 0x1.2b999a0000000p-1f, 0x1.32cccc0000000p-1f, 0x1.3a00000000000p-1f,
    0x1.4133340000000p-1f, 0x1.4866660000000p-1f, 0x1.4f999a0000000p-1f, 0x1.56ccce0000000p-1f,
    0x1.5e00000000000p-1f, 0x1.6533340000000p-1f, 0x1.6c66680000000p-1f, 0x1.73999a0000000p-1f,
    0x1.7accce0000000p-1f, 0x1.8200000000000p-1f, 0x1.8933340000000p-1f, 0x1.9066660000000p-1f,
    0x1.9799980000000p-1f, 0x1.9ecccc0000000p-1f, 0x1.a600000000000p-1f, 0x1.ad33320000000p-1f,
    0x1.b466660000000p-1f, 0x1.bb99980000000p-1f, 0x1.c2cccc0000000p-1f, 0x1.ca00000000000p-1f,
    0x1.d133340000000p-1f, 0x1.d866660000000p-1f, 0x1.df99980000000p-1f, 0x1.e6cccc0000000p-1f,
    0x1.ee00000000000p-1f, 0x1.f533320000000p-1f, 0x1.fc66660000000p-1f, 0x1.0000000000000p+0f,
    __builtin_nanf(""),
};
alignas(64) constexpr float qmap_unsigned[257] = {
    0x0.0p+0f, 0x1.5cf7540000000p-22f, 0x1.a013300000000p-21f, 0x1.1d36700000000p-19f,
    0x1.2599ec0000000p-18f, 0x1.bc98a20000000p-18f, 0x1.29cbaa0000000p-17f, 0x1.0624dc0000000p-16f,
    0x1.c2e3400000000p-16f, 0x1.3fd0d00000000p-15f, 0x1.9e30000000000p-15f, 0x1.fc8f340000000p-15f,
    0x1.2d77320000000p-14f, 0x1.5ca6c80000000p-14f, 0x1.8bd6620000000p-14f, 0x1.0cb2960000000p-13f,
    0x1.82a9940000000p-13f, 0x1.f8a0900000000p-13f, 0x1.374bc80000000p-12f, 0x1.7247440000000p-12f,
    0x1.ad42c40000000p-12f, 0x1.e83e440000000p-12f, 0x1.119ce20000000p-11f, 0x1.2f1aa00000000p-11f,
    0x1.4c98600000000p-11f, 0x1.6a16200000000p-11f, 0x1.8793de0000000p-11f, 0x1.a511a00000000p-11f,
    0x1.c28f5e0000000p-11f, 0x1.e00d1c0000000p-11f, 0x1.fd8adc0000000p-11f, 0x1.2b020c0000000p-10f,
    0x1.74bc6a0000000p-10f, 0x1.be76c80000000p-10f, 0x1.0418920000000p-9f, 0x1.28f5c20000000p-9f,
    0x1.4dd2f00000000p-9f, 0x1.72b01e0000000p-9f, 0x1.978d4e0000000p-9f, 0x1.bc6a7c0000000p-9f,
    0x1.e147ae0000000p-9f, 0x1.03126e0000000p-8f, 0x1.1581040000000p-8f, 0x1.27ef9e0000000p-8f,
    0x1.3a5e340000000p-8f, 0x1.4ccccc0000000p-8f, 0x1.5f3b640000000p-8f, 0x1.71a9fa0000000p-8f,
    0x1.8418940000000p-8f, 0x1.9687280000000p-8f, 0x1.a8f5c20000000p-8f, 0x1.bb645c0000000p-8f,
    0x1.cdd2f00000000p-8f, 0x1.e0418a0000000p-8f, 0x1.f2b01e0000000p-8f, 0x1.028f5c0000000p-7f,
    0x1.0bc6a60000000p-7f, 0x1.14fdf20000000p-7f, 0x1.1e35400000000p-7f, 0x1.276c8a0000000p-7f,
    0x1.30a3d60000000p-7f, 0x1.39db200000000p-7f, 0x1.43126e0000000p-7f, 0x1.5eb8540000000p-7f,
    0x1.8cccce0000000p-7f, 0x1.bae1460000000p-7f, 0x1.e8f5c40000000p-7f, 0x1.0b851e0000000p-6f,
    0x1.228f5c0000000p-6f, 0x1.39999a0000000p-6f, 0x1.50a3d60000000p-6f, 0x1.67ae160000000p-6f,
    0x1.7eb8540000000p-6f, 0x1.95c2900000000p-6f, 0x1.acccce0000000p-6f, 0x1.c3d70e0000000p-6f,
    0x1.dae1460000000p-6f, 0x1.f1eb860000000p-6f, 0x1.047ae00000000p-5f, 0x1.1000000000000p-5f,
    0x1.1b851e0000000p-5f, 0x1.270a3e0000000p-5f, 0x1.328f5e0000000p-5f, 0x1.3e147a0000000p-5f,
    0x1.49999a0000000p-5f, 0x1.551eb60000000p-5f, 0x1.60a3d60000000p-5f, 0x1.6c28f60000000p-5f,
    0x1.77ae140000000p-5f, 0x1.8333340000000p-5f, 0x1.8eb8540000000p-5f, 0x1.9a3d700000000p-5f,
    0x1.a5c2900000000p-5f, 0x1.b147ae0000000p-5f, 0x1.bcccce0000000p-5f, 0x1.c851ee0000000p-5f,
    0x1.d3d70e0000000p-5f, 0x1.df5c2a0000000p-5f, 0x1.eae1460000000p-5f, 0x1.f666660000000p-5f,
    0x1.00f5c40000000p-4f, 0x1.06b8520000000p-4f, 0x1.0c7ae20000000p-4f, 0x1.123d720000000p-4f,
    0x1.1800000000000p-4f, 0x1.1dc2900000000p-4f, 0x1.2385200000000p-4f, 0x1.2947ae0000000p-4f,
    0x1.2f0a3e0000000p-4f, 0x1.34ccce0000000p-4f, 0x1.3a8f5e0000000p-4f, 0x1.4051ec0000000p-4f,
    0x1.46147a0000000p-4f, 0x1.4bd70a0000000p-4f, 0x1.51999a0000000p-4f, 0x1.575c280000000p-4f,
    0x1.5d1eb80000000p-4f, 0x1.62e1460000000p-4f, 0x1.68a3d60000000p-4f, 0x1.6e66660000000p-4f,
    0x1.7428f60000000p-4f, 0x1.79eb860000000p-4f, 0x1.7fae140000000p-4f, 0x1.8570a40000000p-4f,
    0x1.8b33340000000p-4f, 0x1.90f5c20000000p-4f, 0x1.96b8520000000p-4f, 0x1.a800000000000p-4f,
    0x1.c4cccc0000000p-4f, 0x1.e1999a0000000p-4f, 0x1.fe66660000000p-4f, 0x1.0d99980000000p-3f,
    0x1.1c00000000000p-3f, 0x1.2a66680000000p-3f, 0x1.38cccc0000000p-3f, 0x1.4733340000000p-3f,
    0x1.5599980000000p-3f, 0x1.6400000000000p-3f, 0x1.7266680000000p-3f, 0x1.80cccc0000000p-3f,
    0x1.8f33340000000p-3f, 0x1.9d99980000000p-3f, 0x1.ac00000000000p-3f, 0x1.ba66680000000p-3f,
    0x1.c8cccc0000000p-3f, 0x1.d733340000000p-3f, 0x1.e5999c0000000p-3f, 0x1.f400000000000p-3f,
    0x1.0133340000000p-2f, 0x1.0866660000000p-2f, 0x1.0f999a0000000p-2f, 0x1.16ccce0000000p-2f,
    0x1.1e00000000000p-2f, 0x1.2533340000000p-2f, 0x1.2c66680000000p-2f, 0x1.33999a0000000p-2f,
    0x1.3accce0000000p-2f, 0x1.4200000000000p-2f, 0x1.4933340000000p-2f, 0x1.5066660000000p-2f,
    0x1.5799980000000p-2f, 0x1.5ecccc0000000p-2f, 0x1.6600000000000p-2f, 0x1.6d33320000000p-2f,
    0x1.7466660000000p-2f, 0x1.7b99980000000p-2f, 0x1.82cccc0000000p-2f, 0x1.8a00000000000p-2f,
    0x1.9133340000000p-2f, 0x1.9866660000000p-2f, 0x1.9f99980000000p-2f, 0x1.a6cccc0000000p-2f,
    0x1.ae00000000000p-2f, 0x1.b533320000000p-2f, 0x1.bc66660000000p-2f, 0x1.c3999a0000000p-2f,
    0x1.cacccc0000000p-2f, 0x1.d200000000000p-2f, 0x1.d933340000000p-2f, 0x1.e066660000000p-2f,
    0x1.e7999a0000000p-2f, 0x1.eecccc0000000p-2f, 0x1.f600000000000p-2f, 0x1.fd33320000000p-2f,
    0x1.0233340000000p-1f, 0x1.05cccc0000000p-1f, 0x1.0966640000000p-1f, 0x1.0d00000000000p-1f,
    0x1.1099980000000p-1f, 0x1.1433340000000p-1f, 0x1.17cccc0000000p-1f, 0x1.1b66680000000p-1f,
    0x1.1f00000000000p-1f, 0x1.22999a0000000p-1f, 0x1.2633340000000p-1f, 0x1.29cccc0000000p-1f,
    0x1.2d66680000000p-1f, 0x1.3100000000000p-1f, 0x1.34999a0000000p-1f, 0x1.3833340000000p-1f,
    0x1.3bcccc0000000p-1f, 0x1.3f66660000000p-1f, 0x1.4300000000000p-1f, 0x1.4699980000000p-1f,
    0x1.4a33340000000p-1f, 0x1.4dcccc0000000p-1f, 0x1.5166680000000p-1f, 0x1.5500000000000p-1f,
    0x1.58999c0000000p-1f, 0x1.5c33340000000p-1f, 0x1.5fcccc0000000p-1f, 0x1.6366680000000p-1f,
    0x1.6700000000000p-1f, 0x1.6a999c0000000p-1f, 0x1.6e33340000000p-1f, 0x1.71cccc0000000p-1f,
    0x1.7566680000000p-1f, 0x1.7900000000000p-1f, 0x1.7c99980000000p-1f, 0x1.8033340000000p-1f,
    0x1.83cccc0000000p-1f, 0x1.8766680000000p-1f, 0x1.8b00000000000p-1f, 0x1.8e99980000000p-1f,
    0x1.9233340000000p-1f, 0x1.95cccc0000000p-1f, 0x1.9966640000000p-1f, 0x1.9d00000000000p-1f,
    0x1.a099980000000p-1f, 0x1.a433340000000p-1f, 0x1.a7cccc0000000p-1f, 0x1.ab66680000000p-1f,
    0x1.af00000000000p-1f, 0x1.b2999a0000000p-1f, 0x1.b633340000000p-1f, 0x1.b9cccc0000000p-1f,
    0x1.bd66680000000p-1f, 0x1.c100000000000p-1f, 0x1.c4999a0000000p-1f, 0x1.c833340000000p-1f,
    0x1.cbcccc0000000p-1f, 0x1.cf66660000000p-1f, 0x1.d300000000000p-1f, 0x1.d699980000000p-1f,
    0x1.da33340000000p-1f, 0x1.ddcccc0000000p-1f, 0x1.e166680000000p-1f, 0x1.e500000000000p-1f,
    0x1.e8999c0000000p-1f, 0x1.ec33340000000p-1f, 0x1.efcccc0000000p-1f, 0x1.f366680000000p-1f,
    0x1.f700000000000p-1f, 0x1.fa999c0000000p-1f, 0x1.fe33340000000p-1f, 0x1.0000000000000p+0f,
    __builtin_nanf(""),
};

/* torchao's nearest code of y, literally: the last entry at or below y by binary search (the
 * NaN at 256 never is), then one up if y is at least halfway to the next. A NaN y compares false
 * everywhere and gets 0. The kernels do not run it: they search the thresholds built from it. */
constexpr uint32_t torchao_code(const float *qmap, float y) {
  uint32_t c = 0;
  for (uint32_t b = 128; b >= 1; b /= 2)
    if (y >= qmap[c + b]) c += b;
  if (c < 255 && y - qmap[c] >= (qmap[c + 1] - qmap[c]) * 0.5f) c += 1;
  return c;
}

/* The threshold search (below) as the kernels run it (adam_q8_body.h), one value at a time. */
constexpr uint32_t threshold_code(const float *levels, float y) {
  uint32_t c = 0;
  for (uint32_t b = 128; b >= 1; b /= 2)
    if (y >= levels[128 / b + c / (2 * b)]) c += b;
  return c;
}

/* Float32 values in ascending order as unsigned keys: bits b give the key b | 2^31 when the sign
 * is clear, ~b when it is set. C++17 has no constexpr bit cast, so a key's float is built by
 * arithmetic, exactly: a 24-bit significand times a power of two is a double. */
constexpr double pow2(int e) {
  double r = 1, f = e < 0 ? 0.5 : 2;
  for (int k = e < 0 ? -e : e; k != 0; k >>= 1, f *= f)
    if (k & 1) r *= f;
  return r;
}
constexpr float float_of_key(uint32_t key) {
  const uint32_t b = (key & 0x80000000u) ? key & 0x7fffffffu : ~key;
  const int exponent = static_cast<int>((b >> 23) & 0xffu);
  const uint32_t fraction = b & 0x7fffffu;
  const double magnitude = exponent ? (fraction | 0x800000u) * pow2(exponent - 150) : fraction * pow2(-149);
  return static_cast<float>((b & 0x80000000u) ? -magnitude : magnitude);
}

/* The quantizer's thresholds, level by level. torchao's code of y never decreases as y grows (the
 * binary search's floor code does not, and within one floor code y - qmap[c] grows with y under
 * round-to-nearest), so it equals the number of thresholds t_c <= y (c = 1..255), t_c being the
 * least float32 whose code is at least c; a NaN compares false everywhere and gets 0, as in
 * torchao. A binary search over them needs no rounding step: level b (128, 64, ..., 1) tests
 * t[c + b] with c a multiple of 2b, so its pivots are t[j * 2b + b] for j < 128 / b, stored from
 * index 128 / b (every level of 8 or more starts on a 32-byte boundary: no load splits a cache
 * line); a vector kernel looks a level's pivot up among 128 / b values. Entry 0 pads.
 * native/test/lowbit_check.cc checks both sides of every threshold against torchao_code, and
 * native/test/q8_thresholds.cc every float32 y. */
struct threshold_table {
  float level[256];
};

constexpr threshold_table threshold_levels(const float *qmap) {
  float t[256] = {};
  /* Keys of -1.0f (code 0 in both maps) and 1.0f (code 255): t_c is the least key in between
   * whose code is at least c, found by bisection. */
  const uint32_t minus_one = 0x407fffffu, one = 0xbf800000u;
  for (uint32_t c = 1; c < 256; ++c) {
    uint32_t lo = minus_one, hi = one;
    while (lo < hi) {
      const uint32_t mid = lo + (hi - lo) / 2;
      if (torchao_code(qmap, float_of_key(mid)) >= c) hi = mid;
      else lo = mid + 1;
    }
    t[c] = float_of_key(lo);
  }
  threshold_table out = {};
  for (uint32_t b = 128; b >= 1; b /= 2)
    for (uint32_t j = 0; j < 128 / b; ++j) out.level[128 / b + j] = t[j * 2 * b + b];
  out.level[0] = t[128];
  return out;
}

static_assert(float_of_key(0x407fffffu) == -1.0f && float_of_key(0xbf800000u) == 1.0f, "the keys of -1 and 1");
static_assert(torchao_code(qmap_signed, -1.0f) == 0 && torchao_code(qmap_unsigned, -1.0f) == 0 &&
                  torchao_code(qmap_signed, 1.0f) == 255 && torchao_code(qmap_unsigned, 1.0f) == 255,
              "the bisection starts below code 1 and ends at code 255");

alignas(64) constexpr threshold_table qmap_signed_levels = threshold_levels(qmap_signed);
alignas(64) constexpr threshold_table qmap_unsigned_levels = threshold_levels(qmap_unsigned);
constexpr const float *qmap_signed_thresholds = qmap_signed_levels.level;
constexpr const float *qmap_unsigned_thresholds = qmap_unsigned_levels.level;

}  // namespace

#endif
