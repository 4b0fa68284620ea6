#include "CLazyLoad.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *open_library(struct flow_lazy_library *library) {
    void *handle = __atomic_load_n(&library->handle, __ATOMIC_ACQUIRE);
    if (handle) return handle;
    pthread_mutex_lock(&lock);
    handle = library->handle;
    if (!handle) {
        handle = dlopen(library->soname, RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            fprintf(stderr, "flow: error: cannot load %s: %s\n"
                            "  it is needed by what this command does; install it (Debian: apt-get install %s)\n",
                    library->soname, dlerror(), library->package);
            fflush(stderr);
            _exit(69); /* EX_UNAVAILABLE */
        }
        __atomic_store_n(&library->handle, handle, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&lock);
    return handle;
}

void *flow_lazy_optional_symbol(struct flow_lazy_library *library, const char *symbol) {
    return dlsym(open_library(library), symbol);
}

void *flow_lazy_symbol(struct flow_lazy_library *library, const char *symbol) {
    void *address = flow_lazy_optional_symbol(library, symbol);
    if (!address) {
        fprintf(stderr, "flow: error: %s has no function %s: it is not the version flow was built against "
                        "(install the one of package %s)\n", library->soname, symbol, library->package);
        fflush(stderr);
        _exit(69);
    }
    return address;
}

int flow_lazy_is_loaded(const struct flow_lazy_library *library) {
    return __atomic_load_n(&library->handle, __ATOMIC_ACQUIRE) != NULL;
}
