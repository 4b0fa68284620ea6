#define _GNU_SOURCE
#include "CSpawn.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t flow_supervisor_start(const char *supervisor, int grace_seconds, int *socket_fd, int *err) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) { *err = errno; return -1; }
    char flow_pid[24], grace[24];
    snprintf(flow_pid, sizeof flow_pid, "%ld", (long)getpid());
    snprintf(grace, sizeof grace, "%d", grace_seconds);
    const char *args[] = {supervisor, flow_pid, grace, NULL};
    const char *no_environment[] = {NULL};

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_adddup2(&actions, pair[1], 3); /* dup2 clears close-on-exec */
    posix_spawn_file_actions_addclosefrom_np(&actions, 4);
    /* Not in the workspace: a directory it holds could not be unmounted while flow runs. */
    posix_spawn_file_actions_addchdir_np(&actions, "/");
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    pid_t pid = -1;
    int rc = posix_spawn(&pid, supervisor, &actions, &attr, (char *const *)args, (char *const *)no_environment);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(pair[1]);
    if (rc != 0) { *err = rc; close(pair[0]); return -1; }
    *socket_fd = pair[0];
    return pid;
}

/// sendmsg of one whole record, retried on EINTR: 0 or an errno.
static int send_record(int socket_fd, struct msghdr *msg) {
    while (sendmsg(socket_fd, msg, MSG_NOSIGNAL) < 0) {
        if (errno != EINTR) return errno;
    }
    return 0;
}

int flow_supervisor_request(int socket_fd, int64_t token, const char *const argv[], const char *const envp[],
                            const char *cwd, const char *log_path, int held_fd) {
    struct flow_request r = {.token = token, .flags = held_fd >= 0 ? FLOW_REQUEST_HELD : 0};
    size_t length = strlen(cwd) + 1 + strlen(log_path) + 1;
    for (; argv[r.argc]; r.argc++) length += strlen(argv[r.argc]) + 1;
    for (; envp[r.envc]; r.envc++) length += strlen(envp[r.envc]) + 1;
    if (length > UINT32_MAX) return E2BIG;
    r.length = (uint32_t)length;
    char *buffer = malloc(sizeof r + length);
    if (!buffer) return ENOMEM;
    memcpy(buffer, &r, sizeof r);
    char *p = buffer + sizeof r;
    size_t n = strlen(cwd) + 1;
    memcpy(p, cwd, n);
    p += n;
    n = strlen(log_path) + 1;
    memcpy(p, log_path, n);
    p += n;
    for (uint32_t i = 0; i < r.argc; i++) { n = strlen(argv[i]) + 1; memcpy(p, argv[i], n); p += n; }
    for (uint32_t i = 0; i < r.envc; i++) { n = strlen(envp[i]) + 1; memcpy(p, envp[i], n); p += n; }

    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    size_t first = length < FLOW_SUPERVISOR_CHUNK ? length : FLOW_SUPERVISOR_CHUNK;
    struct iovec iov = {buffer, sizeof r + first};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (held_fd >= 0) {
        msg.msg_control = control.space;
        msg.msg_controllen = CMSG_SPACE(sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &held_fd, sizeof(int));
    }
    int error = send_record(socket_fd, &msg);
    for (size_t sent = first; error == 0 && sent < length;) {
        size_t part = length - sent < FLOW_SUPERVISOR_CHUNK ? length - sent : FLOW_SUPERVISOR_CHUNK;
        struct iovec more = {buffer + sizeof r + sent, part};
        struct msghdr next = {.msg_iov = &more, .msg_iovlen = 1};
        error = send_record(socket_fd, &next);
        sent += part;
    }
    free(buffer);
    return error;
}

int flow_supervisor_receive(int socket_fd, struct flow_event *event, int timeout_ms) {
    if (timeout_ms != 0) {
        struct pollfd watch = {.fd = socket_fd, .events = POLLIN};
        int ready;
        do { ready = poll(&watch, 1, timeout_ms); } while (ready < 0 && errno == EINTR);
        if (ready == 0) return -1;
    }
    ssize_t n;
    do { n = recv(socket_fd, event, sizeof *event, MSG_TRUNC | MSG_DONTWAIT); } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -1;
    return n == (ssize_t)sizeof *event ? 1 : 0;
}

int flow_syncfs(int fd) { return syncfs(fd); }

long flow_copy_file_range(int from, int to, unsigned long length) {
    return (long)copy_file_range(from, NULL, to, NULL, (size_t)length, 0);
}
