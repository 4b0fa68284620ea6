/* CLazyLoad: the C libraries that only some commands need (libcurl for the remote cache;
 * OpenBLAS, libarchive, libturbojpeg and libpng for the built-in ops) are loaded on first use
 * with dlopen instead of at start-up. Every command paid for loading them: a program linked
 * against all of them starts in about 30 ms here, one linked against the engine's own
 * libraries (SQLite, xxHash, LZ4) in about 3 ms (bench/RESULTS.md, "Start-up").
 *
 * Each library function flow calls is defined here under its own name (so the Swift wrappers
 * call it as before) and forwards to the library's, looked up once. A library that cannot be
 * loaded is a clear error naming it and the Debian package that provides it, and exit status 69. */
#pragma once

struct flow_lazy_library {
    const char *soname;   /* as in the library's DT_SONAME: the ABI flow was built against */
    const char *package;  /* the Debian package to install when it is missing */
    void *handle;         /* set once loaded */
};

/* The address of `symbol` in `library`, loading the library first if needed; never NULL (a
 * missing library or symbol ends the process with a message). Thread-safe. */
void *flow_lazy_symbol(struct flow_lazy_library *library, const char *symbol);
/* As `flow_lazy_symbol`, but NULL when the library lacks the symbol. */
void *flow_lazy_optional_symbol(struct flow_lazy_library *library, const char *symbol);
/* 1 when the library is loaded (by a call to one of its functions). */
int flow_lazy_is_loaded(const struct flow_lazy_library *library);
