/* The messages between flow and its step supervisor (Sources/flow-supervisor).
 *
 * They travel over a SOCK_SEQPACKET socketpair: each send is one record and each receive takes
 * one whole record, so neither side ever holds half a message. flow sends requests from one
 * thread at a time (the runner's); the supervisor answers every request with one
 * FLOW_EVENT_STARTED, in order, and later sends one FLOW_EVENT_ENDED for each command that
 * started. A side that reads the end of the socket knows the other has gone.
 */
#pragma once
#include <stdint.h>

/// The most bytes of strings one record carries; a longer request continues in more records.
/// (A record must fit the socket's send buffer, about 200 KB by default; a command line may be
/// larger.)
#define FLOW_SUPERVISOR_CHUNK 32768

/// A request carries a held descriptor (see flow_request).
#define FLOW_REQUEST_HELD 1u

/// flow → supervisor: start a command. The record holds this header and then the first of
/// `length` bytes of strings: the working directory, the absolute path of the step's log, the
/// `argc` arguments and the `envc` environment entries, each ending in NUL; the rest follow in
/// records of their own, each at most FLOW_SUPERVISOR_CHUNK bytes. With FLOW_REQUEST_HELD the
/// first record also carries (SCM_RIGHTS) a descriptor the command must hold open.
///
/// The command's stdout and stderr are one pipe that the supervisor drains into the log,
/// which it creates (replacing any file of that name) on the first byte: no output, no file.
struct flow_request {
    int64_t token;
    uint32_t argc;
    uint32_t envc;
    uint32_t length;
    uint32_t flags;
};

enum flow_event_kind {
    /// The answer to a request: `pid` is the command's pid and process group, or 0 when it did
    /// not start and `value` holds the errno of what failed (fork, chdir, exec).
    FLOW_EVENT_STARTED = 1,
    /// A command ended: `value` is its wait status, `maxrss_kb` its ru_maxrss (the peak resident
    /// set of the command and of the descendants it waited for), in KiB, and `log_error` 0 or
    /// the errno of the first failure to create or write its log (its output from then on was
    /// dropped). Everything the command wrote is in the log by the time this is sent.
    FLOW_EVENT_ENDED = 2,
};

/// supervisor → flow, one record each.
struct flow_event {
    int64_t token;
    int32_t kind;
    int32_t pid;
    int32_t value;
    int32_t log_error;
    int64_t maxrss_kb;
};
