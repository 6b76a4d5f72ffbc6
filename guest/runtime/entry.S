/*
 * Guest entry points (x86-64, CPL3, no OS). The host enters `_start` once with RSP = top of guest memory and
 * RDI = guest memory size, and `ak_dispatch_entry` for every call with a fresh stack. Neither returns: the C code
 * ends each with an `out` the host does not resume; `ud2` turns a resume into a shutdown exit (a trap).
 * Also here: setjmp/longjmp for wasm-rt.h's <setjmp.h>.
 */
#ifndef AK_HARNESS

        .section .text.entry, "ax"
        .globl _start
        .type _start, @function
_start:
        xor %ebp, %ebp
        and $-16, %rsp
        call ak_fpu_reset
        call ak_vm_main              /* (mem_size in RDI) */
1:      ud2
        jmp 1b
        .size _start, . - _start

        .globl ak_dispatch_entry
        .type ak_dispatch_entry, @function
ak_dispatch_entry:
        xor %ebp, %ebp
        and $-16, %rsp
        call ak_fpu_reset
        call ak_dispatch
1:      ud2
        jmp 1b
        .size ak_dispatch_entry, . - ak_dispatch_entry

/* Default SSE/x87 state (round to nearest, all exceptions masked), whatever the vCPU was left with: a Wasm
   float operation must never fault. */
        .type ak_fpu_reset, @function
ak_fpu_reset:
        fninit
        sub $8, %rsp
        movl $0x1f80, (%rsp)
        ldmxcsr (%rsp)
        add $8, %rsp
        ret
        .size ak_fpu_reset, . - ak_fpu_reset

#endif

        .text
        .globl setjmp
        .type setjmp, @function
setjmp:
        mov %rbx, 0(%rdi)
        mov %rbp, 8(%rdi)
        mov %r12, 16(%rdi)
        mov %r13, 24(%rdi)
        mov %r14, 32(%rdi)
        mov %r15, 40(%rdi)
        lea 8(%rsp), %rdx            /* RSP as it will be after `ret` */
        mov %rdx, 48(%rdi)
        mov (%rsp), %rdx             /* return address */
        mov %rdx, 56(%rdi)
        xor %eax, %eax
        ret
        .size setjmp, . - setjmp

        .globl longjmp
        .type longjmp, @function
longjmp:
        mov %esi, %eax
        test %eax, %eax
        jnz 1f
        inc %eax                     /* longjmp(env, 0) makes setjmp return 1 */
1:      mov 0(%rdi), %rbx
        mov 8(%rdi), %rbp
        mov 16(%rdi), %r12
        mov 24(%rdi), %r13
        mov 32(%rdi), %r14
        mov 40(%rdi), %r15
        mov 48(%rdi), %rsp
        jmp *56(%rdi)
        .size longjmp, . - longjmp

        .section .note.GNU-stack, "", @progbits
