/* CSpawn: start a step's process the way a job runner must, which posix_spawn cannot express. */
#pragma once
#include <sys/types.h>

/// Forks and execs `argv[0]` (searched in PATH) with `envp`, in directory `cwd`:
/// - the child leads a new process group (so the whole group can be signalled),
/// - the child gets SIGTERM if flow dies (PR_SET_PDEATHSIG), unless `pdeath` is 0,
/// - stdin is /dev/null, stdout and stderr go to `out_fd` (both),
/// - `progress_fd`, if >= 0, is kept open in the child under the same number,
/// - every other descriptor is closed, signal dispositions and mask are reset.
/// Returns the child's pid, or -1 with `*err` set to the errno of the failure
/// (including a failed exec, reported through a close-on-exec pipe).
pid_t flow_spawn(const char *const argv[], const char *const envp[], const char *cwd,
                 int out_fd, int pdeath, int *err);

/// syncfs(2): flushes the whole file system holding `fd` (glibc declares it only under _GNU_SOURCE).
int flow_syncfs(int fd);
