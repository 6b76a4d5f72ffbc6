/* Freestanding <assert.h>: a failed assertion ends the run with AK_PORT_ABORT and the expression as message. */
#ifndef AK_LIBC_ASSERT_H
#define AK_LIBC_ASSERT_H

__attribute__((noreturn)) void ak_assert_fail(const char *expr, const char *file, int line);

#ifdef NDEBUG
#define assert(x) ((void)0)
#else
#define assert(x) ((x) ? (void)0 : ak_assert_fail(#x, __FILE__, __LINE__))
#endif

#endif
