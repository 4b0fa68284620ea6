/* CCurl: the C headers Swift imports for libcurl (Debian's libcurl4-openssl-dev: TLS by OpenSSL,
 * HTTP/2 by nghttp2).
 *
 * curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic, which Swift cannot
 * call; each wrapper below passes one argument of one type, so the types are checked at the call
 * site. They are defined in CLazyLoad/curl.c, which loads libcurl on first use. The flag macros
 * are casts ((unsigned long)1<<0), which Swift does not import either. */
#pragma once
#include <curl/curl.h>

typedef size_t (*flow_curl_data_callback)(char *buffer, size_t size, size_t count, void *userdata);
typedef int (*flow_curl_seek_callback)(void *userdata, curl_off_t offset, int origin);

CURLcode flow_curl_setopt_long(CURL *h, CURLoption o, long v);
CURLcode flow_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v);
CURLcode flow_curl_setopt_string(CURL *h, CURLoption o, const char *v);
CURLcode flow_curl_setopt_pointer(CURL *h, CURLoption o, void *v);
CURLcode flow_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v);
CURLcode flow_curl_setopt_data_callback(CURL *h, CURLoption o, flow_curl_data_callback f);
CURLcode flow_curl_setopt_seek_callback(CURL *h, CURLoption o, flow_curl_seek_callback f);

CURLcode flow_curl_getinfo_long(CURL *h, CURLINFO i, long *v);
CURLcode flow_curl_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v);
CURLcode flow_curl_getinfo_string(CURL *h, CURLINFO i, char **v);
CURLcode flow_curl_getinfo_pointer(CURL *h, CURLINFO i, void **v);

CURLMcode flow_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v);

static const long flow_CURLAUTH_BASIC = (long)CURLAUTH_BASIC;
static const long flow_CURL_GLOBAL_DEFAULT = CURL_GLOBAL_DEFAULT;
static const long flow_CURLPIPE_MULTIPLEX = CURLPIPE_MULTIPLEX;
static const int flow_CURL_SEEKFUNC_OK = CURL_SEEKFUNC_OK;
static const int flow_CURL_SEEKFUNC_FAIL = CURL_SEEKFUNC_FAIL;
static const size_t flow_CURL_READFUNC_ABORT = CURL_READFUNC_ABORT;
static const int flow_CURL_ERROR_SIZE = CURL_ERROR_SIZE;
