/* Freestanding <alloca.h> */
#ifndef AK_LIBC_ALLOCA_H
#define AK_LIBC_ALLOCA_H
#define alloca __builtin_alloca
#endif
