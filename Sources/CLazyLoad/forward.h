/* FLOW_FORWARD defines function NAME with the library's own signature: on its first call it
 * looks the library's NAME up (see CLazyLoad.h) and from then on calls it directly. PARAMS are
 * the parameters with names, ARGS the names. The pointer is set once per function; a race
 * between two first calls writes the same value. */
#pragma once
#include "CLazyLoad.h"

#define FLOW_FORWARD(LIBRARY, RET, NAME, PARAMS, ARGS)                                       \
    RET NAME PARAMS {                                                                        \
        static RET (*function) PARAMS;                                                       \
        RET (*f) PARAMS = __atomic_load_n(&function, __ATOMIC_ACQUIRE);                      \
        if (!f) {                                                                            \
            f = (RET (*) PARAMS)flow_lazy_symbol(&LIBRARY, #NAME);                           \
            __atomic_store_n(&function, f, __ATOMIC_RELEASE);                                \
        }                                                                                    \
        return f ARGS;                                                                       \
    }

#define FLOW_FORWARD_VOID(LIBRARY, NAME, PARAMS, ARGS)                                       \
    void NAME PARAMS {                                                                       \
        static void (*function) PARAMS;                                                      \
        void (*f) PARAMS = __atomic_load_n(&function, __ATOMIC_ACQUIRE);                     \
        if (!f) {                                                                            \
            f = (void (*) PARAMS)flow_lazy_symbol(&LIBRARY, #NAME);                          \
            __atomic_store_n(&function, f, __ATOMIC_RELEASE);                                \
        }                                                                                    \
        f ARGS;                                                                              \
    }
