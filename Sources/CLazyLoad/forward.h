/* FLOW_FORWARD defines function NAME with the library's own signature: on its first call it
 * looks the library's NAME up (see CLazyLoad.h) and from then on calls it directly. PARAMS are
 * the parameters with names, ARGS the names. */
#pragma once
#include "CLazyLoad.h"

/* Defines `static TYPE NAME##_address(void)`: the library's NAME, looked up on the first call.
 * The address is stored once per function; a race between two first calls stores the same value. */
#define FLOW_LOOKUP(LIBRARY, TYPE, NAME)                                                     \
    static TYPE NAME##_address(void) {                                                       \
        static TYPE address;                                                                 \
        TYPE a = __atomic_load_n(&address, __ATOMIC_ACQUIRE);                                \
        if (!a) {                                                                            \
            a = (TYPE)flow_lazy_symbol(&LIBRARY, #NAME);                                     \
            __atomic_store_n(&address, a, __ATOMIC_RELEASE);                                 \
        }                                                                                    \
        return a;                                                                            \
    }

#define FLOW_FORWARD(LIBRARY, RET, NAME, PARAMS, ARGS)                                       \
    typedef RET (*NAME##_pointer) PARAMS;                                                    \
    FLOW_LOOKUP(LIBRARY, NAME##_pointer, NAME)                                               \
    RET NAME PARAMS { return NAME##_address() ARGS; }

/* A void function cannot `return` a call in C. */
#define FLOW_FORWARD_VOID(LIBRARY, NAME, PARAMS, ARGS)                                       \
    typedef void (*NAME##_pointer) PARAMS;                                                   \
    FLOW_LOOKUP(LIBRARY, NAME##_pointer, NAME)                                               \
    void NAME PARAMS { NAME##_address() ARGS; }
