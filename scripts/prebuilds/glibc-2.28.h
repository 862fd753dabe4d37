/* Force-included (-include) into every source of a prebuild compiled against a glibc newer than
 * the 2.28 baseline. glibc 2.29 gave exp, exp2, log, log2 and pow new default symbol versions
 * (faster code, no SVID error handling); the old versions still exist in every later glibc and
 * compute the same values, so binding to them keeps the addon loadable on glibc 2.28. A symbol
 * with no pre-2.29 version cannot be pinned: check-symbols.cjs then fails the build instead. */
#if defined(__x86_64__)
#define SIMD_ADAM_GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define SIMD_ADAM_GLIBC_BASE "GLIBC_2.17"
#endif
#ifdef SIMD_ADAM_GLIBC_BASE
__asm__(".symver exp,exp@" SIMD_ADAM_GLIBC_BASE);
__asm__(".symver exp2,exp2@" SIMD_ADAM_GLIBC_BASE);
__asm__(".symver log,log@" SIMD_ADAM_GLIBC_BASE);
__asm__(".symver log2,log2@" SIMD_ADAM_GLIBC_BASE);
__asm__(".symver pow,pow@" SIMD_ADAM_GLIBC_BASE);
#endif
