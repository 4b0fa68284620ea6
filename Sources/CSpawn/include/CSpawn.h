/* CSpawn: start the processes of steps the way a job runner must, and a few Linux calls glibc
 * declares only under _GNU_SOURCE. */
#pragma once
#include <stdint.h>
#include <sys/types.h>
#include "supervisor.h"

/// Starts a step supervisor (Sources/flow-supervisor, installed beside flow), the one process
/// that starts and watches the commands of flow's local steps:
///
///     flow ──posix_spawn──▶ flow-supervisor (own process group; dies with flow, ends what it started)
///                              ├──clone+exec──▶ a step's command (leads a new process group)
///                              └──clone+exec──▶ another step's command ...
///
/// posix_spawn uses vfork semantics, so starting it does not copy flow's page tables, which grow
/// with the workflow. It runs in /, with 0-2 on /dev/null and 3 on its end of a SOCK_SEQPACKET
/// socketpair; flow's end, close-on-exec, goes to `*socket_fd`. The supervisor's parent-death
/// signal follows the thread that calls this, which must live as long as the supervisor.
/// Returns its pid, or -1 with `*err` set.
pid_t flow_supervisor_start(const char *supervisor, int grace_seconds, int *socket_fd, int *err);

/// Asks the supervisor to start `argv[0]` (searched in the PATH of `envp`) with `envp`, in `cwd`,
/// stdout and stderr into the log at `log_path` (absolute; created on the first byte, see
/// supervisor.h); `held_fd`, unless -1, is a descriptor the command holds open until it ends
/// (the checkpoint lock: a flock that stays held as long as anything of the step may still
/// write to its checkpoint directory). The supervisor receives a copy of it; the caller may
/// close its own once this returns. The answer comes as a FLOW_EVENT_STARTED.
/// Returns 0, or the errno of the send (EPIPE or ECONNRESET: the supervisor has gone).
int flow_supervisor_request(int socket_fd, int64_t token, const char *const argv[], const char *const envp[],
                            const char *cwd, const char *log_path, int held_fd);

/// Reads the supervisor's next event, waiting for it at most `timeout_ms` milliseconds (-1: as
/// long as it takes; 0: only an event that has arrived). Returns 1, 0 when the supervisor has
/// gone (the end of the socket, or a record that is not an event), or -1 when none came in time.
int flow_supervisor_receive(int socket_fd, struct flow_event *event, int timeout_ms);

/// syncfs(2): flushes the whole file system holding `fd` (glibc declares it only under _GNU_SOURCE).
int flow_syncfs(int fd);

/// copy_file_range(2) from the current offsets of `from` and `to` (declared only under
/// _GNU_SOURCE): bytes copied, 0 at the end, -1 with errno.
long flow_copy_file_range(int from, int to, unsigned long length);
