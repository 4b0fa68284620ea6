/* libcurl, for the remote cache (HTTP module). */
#define CURL_DISABLE_TYPECHECK
#include "../CCurl/shim.h"
#include "forward.h"

static struct flow_lazy_library curl = {"libcurl.so.4", "libcurl4", 0};

FLOW_FORWARD(curl, CURLcode, curl_global_init, (long flags), (flags))
FLOW_FORWARD(curl, CURL *, curl_easy_init, (void), ())
FLOW_FORWARD_VOID(curl, curl_easy_cleanup, (CURL *handle), (handle))
FLOW_FORWARD(curl, const char *, curl_easy_strerror, (CURLcode code), (code))
FLOW_FORWARD(curl, struct curl_slist *, curl_slist_append, (struct curl_slist *list, const char *data), (list, data))
FLOW_FORWARD_VOID(curl, curl_slist_free_all, (struct curl_slist *list), (list))
FLOW_FORWARD(curl, CURLM *, curl_multi_init, (void), ())
FLOW_FORWARD(curl, CURLMcode, curl_multi_cleanup, (CURLM *multi), (multi))
FLOW_FORWARD(curl, CURLMcode, curl_multi_add_handle, (CURLM *multi, CURL *handle), (multi, handle))
FLOW_FORWARD(curl, CURLMcode, curl_multi_remove_handle, (CURLM *multi, CURL *handle), (multi, handle))
FLOW_FORWARD(curl, CURLMcode, curl_multi_perform, (CURLM *multi, int *running), (multi, running))
FLOW_FORWARD(curl, CURLMcode, curl_multi_poll,
             (CURLM *multi, struct curl_waitfd extra_fds[], unsigned int extra_nfds, int timeout_ms, int *ret),
             (multi, extra_fds, extra_nfds, timeout_ms, ret))
FLOW_FORWARD(curl, CURLMsg *, curl_multi_info_read, (CURLM *multi, int *msgs_in_queue), (multi, msgs_in_queue))

/* The variadic functions, called with exactly one argument of the option's type. */
typedef CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
typedef CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
typedef CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);

FLOW_LOOKUP(curl, easy_setopt, curl_easy_setopt)
FLOW_LOOKUP(curl, easy_getinfo, curl_easy_getinfo)
FLOW_LOOKUP(curl, multi_setopt, curl_multi_setopt)
#define SETOPT curl_easy_setopt_address()
#define GETINFO curl_easy_getinfo_address()

CURLcode flow_curl_setopt_long(CURL *h, CURLoption o, long v) { return SETOPT(h, o, v); }
CURLcode flow_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return SETOPT(h, o, v); }
CURLcode flow_curl_setopt_string(CURL *h, CURLoption o, const char *v) { return SETOPT(h, o, v); }
CURLcode flow_curl_setopt_pointer(CURL *h, CURLoption o, void *v) { return SETOPT(h, o, v); }
CURLcode flow_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return SETOPT(h, o, v); }
CURLcode flow_curl_setopt_data_callback(CURL *h, CURLoption o, flow_curl_data_callback f) { return SETOPT(h, o, f); }
CURLcode flow_curl_setopt_seek_callback(CURL *h, CURLoption o, flow_curl_seek_callback f) { return SETOPT(h, o, f); }

CURLcode flow_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return GETINFO(h, i, v); }
CURLcode flow_curl_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) { return GETINFO(h, i, v); }
CURLcode flow_curl_getinfo_string(CURL *h, CURLINFO i, char **v) { return GETINFO(h, i, v); }
CURLcode flow_curl_getinfo_pointer(CURL *h, CURLINFO i, void **v) { return GETINFO(h, i, v); }

CURLMcode flow_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v) {
    return curl_multi_setopt_address()(m, o, v);
}
