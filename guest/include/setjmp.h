/* Freestanding <setjmp.h> for x86-64 (guest/runtime/entry.S): rbx, rbp, r12-r15, rsp, return address. */
#ifndef AK_LIBC_SETJMP_H
#define AK_LIBC_SETJMP_H

typedef unsigned long jmp_buf[8];

__attribute__((returns_twice)) int setjmp(jmp_buf env);
__attribute__((noreturn)) void longjmp(jmp_buf env, int val);

#endif
