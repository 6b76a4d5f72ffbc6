/*
 * The libm functions wasm2c's output calls (its wasm_floor() & co. handle NaN themselves first). With SSE4.1
 * (compile.ts enables it when the CPU has it) rounding is one `roundsd/roundss`; otherwise it is done on the
 * bits. Inline asm keeps gcc from turning a body back into a call to the function being defined.
 * Rounding modes for round*: 1 floor, 2 ceil, 3 trunc, 0 nearest-even; +8 suppresses the inexact exception.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t bits64(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static inline double from64(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }
static inline uint32_t bits32(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline float from32(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }

#ifdef __SSE4_1__
#define ROUND_SD(x, mode) ({ double r_; __asm__("roundsd %2, %1, %0" : "=x"(r_) : "x"(x), "i"(mode)); r_; })
#define ROUND_SS(x, mode) ({ float r_; __asm__("roundss %2, %1, %0" : "=x"(r_) : "x"(x), "i"(mode)); r_; })
double floor(double x) { return ROUND_SD(x, 9); }
float floorf(float x) { return ROUND_SS(x, 9); }
double ceil(double x) { return ROUND_SD(x, 10); }
float ceilf(float x) { return ROUND_SS(x, 10); }
double trunc(double x) { return ROUND_SD(x, 11); }
float truncf(float x) { return ROUND_SS(x, 11); }
double nearbyint(double x) { return ROUND_SD(x, 8); }
float nearbyintf(float x) { return ROUND_SS(x, 8); }
#else
double trunc(double x) {
  uint64_t u = bits64(x);
  int e = (int)((u >> 52) & 0x7ff) - 1023;
  if (e >= 52) return x;                                   /* already integral, or inf/NaN */
  if (e < 0) return from64(u & 0x8000000000000000ull);     /* |x| < 1: signed zero */
  return from64(u & ~(0x000fffffffffffffull >> e));
}
float truncf(float x) {
  uint32_t u = bits32(x);
  int e = (int)((u >> 23) & 0xff) - 127;
  if (e >= 23) return x;
  if (e < 0) return from32(u & 0x80000000u);
  return from32(u & ~(0x007fffffu >> e));
}
double floor(double x) { double t = trunc(x); return x < t ? t - 1.0 : t; }
float floorf(float x) { float t = truncf(x); return x < t ? t - 1.0f : t; }
double ceil(double x) { double t = trunc(x); return x > t ? t + 1.0 : t; }
float ceilf(float x) { float t = truncf(x); return x > t ? t + 1.0f : t; }
/* Adding and removing 2^52 (2^23) rounds to nearest-even in the default rounding mode. */
double nearbyint(double x) {
  double a = fabs(x);
  if (!(a < 4503599627370496.0)) return x;
  volatile double r = a + 4503599627370496.0;
  return copysign(r - 4503599627370496.0, x);
}
float nearbyintf(float x) {
  float a = fabsf(x);
  if (!(a < 8388608.0f)) return x;
  volatile float r = a + 8388608.0f;
  return copysignf(r - 8388608.0f, x);
}
#endif

double sqrt(double x) { double r; __asm__("sqrtsd %1, %0" : "=x"(r) : "x"(x)); return r; }
float sqrtf(float x) { float r; __asm__("sqrtss %1, %0" : "=x"(r) : "x"(x)); return r; }
double fabs(double x) { return from64(bits64(x) & ~0x8000000000000000ull); }
float fabsf(float x) { return from32(bits32(x) & ~0x80000000u); }
double copysign(double a, double b) {
  return from64((bits64(a) & ~0x8000000000000000ull) | (bits64(b) & 0x8000000000000000ull));
}
float copysignf(float a, float b) {
  return from32((bits32(a) & ~0x80000000u) | (bits32(b) & 0x80000000u));
}
