/* CSpawn: start a step's process the way a job runner must. */
#pragma once
#include <sys/types.h>

/// Starts `argv[0]` (searched in PATH) with `envp`, in directory `cwd`, under the supervisor
/// executable `supervisor` (Sources/flow-supervisor, installed beside flow):
///
///     flow ──posix_spawn──▶ flow-supervisor (leads a new process group; dies with flow)
///                              └──fork+exec──▶ the step's command (same group)
///
/// posix_spawn uses vfork semantics, so starting a step does not copy flow's page tables, which
/// grow with the workflow. stdin is /dev/null, stdout and stderr go to `out_fd`; the supervisor
/// receives only descriptors 0-3, and 4 when `keep_fd` is not -1: a descriptor that the
/// supervisor and the command hold open until both have ended (the checkpoint lock: a flock that
/// stays held as long as anything of the step may still write to its checkpoint directory).
/// See flow-supervisor's main.c for what it guarantees.
/// Returns the supervisor's pid (which is also the process group id), or -1 with `*err` set to
/// the errno of the failure (including a failed exec of the command).
pid_t flow_spawn(const char *supervisor, const char *const argv[], const char *const envp[],
                 const char *cwd, int out_fd, int keep_fd, int grace_seconds, int *err);

/// syncfs(2): flushes the whole file system holding `fd` (glibc declares it only under _GNU_SOURCE).
int flow_syncfs(int fd);

/// copy_file_range(2) from the current offsets of `from` and `to` (declared only under
/// _GNU_SOURCE): bytes copied, 0 at the end, -1 with errno.
long flow_copy_file_range(int from, int to, unsigned long length);
