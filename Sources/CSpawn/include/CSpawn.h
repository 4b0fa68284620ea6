/* CSpawn: start a step's process the way a job runner must, which posix_spawn cannot express. */
#pragma once
#include <sys/types.h>

/// Starts `argv[0]` (searched in PATH) with `envp`, in directory `cwd`, under a small supervisor:
///
///     flow ──fork──▶ supervisor S (leads a new process group; dies with flow)
///                      └──fork+exec──▶ the step's command C (same group)
///
/// - S gets a parent-death signal, so if flow dies in any way (even SIGKILL), S sends SIGTERM to
///   the whole group, waits `grace_seconds`, then SIGKILL: no step process outlives flow.
/// - S ignores the usual termination signals, so a signal flow sends to the group reaches C and
///   S stays to report how C ended: S exits with C's exit status, or dies of C's signal.
/// - When C ends, whatever it left behind in the group is sent SIGTERM.
/// - C: stdin is /dev/null, stdout and stderr go to `out_fd`, every other descriptor is closed,
///   signal dispositions and mask are reset.
/// Returns S's pid (which is also the process group id), or -1 with `*err` set to the errno of
/// the failure (including a failed exec of C).
pid_t flow_spawn(const char *const argv[], const char *const envp[], const char *cwd,
                 int out_fd, int grace_seconds, int *err);

/// syncfs(2): flushes the whole file system holding `fd` (glibc declares it only under _GNU_SOURCE).
int flow_syncfs(int fd);
