#define _GNU_SOURCE
#include "CSpawn.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t flow_spawn(const char *supervisor, const char *const argv[], const char *const envp[],
                 const char *cwd, int out_fd, int keep_fd, int grace_seconds, int *err) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) { *err = errno; return -1; }

    /* The supervisor's own arguments, then "--" and the command. */
    int n = 0;
    while (argv[n]) n++;
    const char **args = calloc((size_t)n + 7, sizeof *args);
    if (!args) { *err = ENOMEM; close(report[0]); close(report[1]); return -1; }
    char flow_pid[24], grace[24];
    snprintf(flow_pid, sizeof flow_pid, "%ld", (long)getpid());
    snprintf(grace, sizeof grace, "%d", grace_seconds);
    args[0] = supervisor; args[1] = flow_pid; args[2] = grace; args[3] = "3"; args[4] = cwd; args[5] = "--";
    for (int i = 0; i < n; i++) args[6 + i] = argv[i];

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 2);
    posix_spawn_file_actions_adddup2(&actions, report[1], 3); /* dup2 clears close-on-exec */
    if (keep_fd >= 0) posix_spawn_file_actions_adddup2(&actions, keep_fd, 4);
    posix_spawn_file_actions_addclosefrom_np(&actions, keep_fd >= 0 ? 5 : 4);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    pid_t pid = -1;
    int rc = posix_spawn(&pid, supervisor, &actions, &attr, (char *const *)args, (char *const *)envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    free(args);
    close(report[1]);
    if (rc != 0) { *err = rc; close(report[0]); return -1; }

    int child_errno = -1;
    ssize_t got;
    do { got = read(report[0], &child_errno, sizeof child_errno); } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got != (ssize_t)sizeof child_errno || child_errno != 0) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        *err = (got == (ssize_t)sizeof child_errno && child_errno > 0) ? child_errno : ECHILD;
        return -1;
    }
    return pid;
}

int flow_syncfs(int fd) { return syncfs(fd); }

long flow_copy_file_range(int from, int to, unsigned long length) {
    return (long)copy_file_range(from, NULL, to, NULL, (size_t)length, 0);
}
