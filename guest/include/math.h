/*
 * Freestanding <math.h>: what wasm2c's output calls (guest/runtime/math.c). Classification macros map to gcc
 * builtins, which never call out of line.
 */
#ifndef AK_LIBC_MATH_H
#define AK_LIBC_MATH_H

#define NAN (__builtin_nanf(""))
#define INFINITY (__builtin_inff())
#define isnan(x) __builtin_isnan(x)
#define isinf(x) __builtin_isinf_sign(x)
#define signbit(x) __builtin_signbit(x)

double floor(double x);
float floorf(float x);
double ceil(double x);
float ceilf(float x);
double trunc(double x);
float truncf(float x);
double nearbyint(double x);
float nearbyintf(float x);
double fabs(double x);
float fabsf(float x);
double sqrt(double x);
float sqrtf(float x);
double copysign(double a, double b);
float copysignf(float a, float b);

#endif
