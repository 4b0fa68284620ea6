/* flow-supervisor: the one process between flow and the commands of its local steps.
 *
 *   flow-supervisor FLOW_PID GRACE_SECONDS        (descriptor 3: a socket to flow)
 *
 * flow starts one when its first local step starts (LocalExecutor, through CSpawn), with
 * posix_spawn (no copy of flow's page tables, however large flow has grown), in a process group
 * of its own, in /, with 0-2 on /dev/null and 3 a SOCK_SEQPACKET socket; the messages are in
 * CSpawn's supervisor.h. It:
 * - starts each requested command in a new process group of its own (the command's pid is the
 *   group's id, which flow signals), in its directory, with stdin /dev/null and stdout and stderr
 *   on the step's log, and answers with the pid or with the errno of what failed (exec, chdir);
 * - reaps each command that ends, sends SIGTERM to what the command left in its group, and
 *   reports the wait status and peak memory;
 * - when flow dies (its parent-death signal, a parent that is no longer flow, or the end of the
 *   socket), starts nothing more, sends SIGTERM to every group it started that still has a
 *   process, SIGKILL after GRACE_SECONDS, and exits: no step process outlives flow, however
 *   flow ends.
 * Each command asks for SIGKILL when the supervisor dies; flow then kills what is left in the
 * command's group and reports the step as failed.
 *
 * The signals it waits for (the parent-death signal, SIGCHLD) are blocked and read from a
 * signalfd, so none can arrive in a gap between a check and a wait; the usual termination
 * signals are blocked and never read, so a stray SIGTERM or Ctrl-C leaves it reporting. It
 * installs no handler and ignores no signal, so a command starts with every disposition at its
 * default once it has cleared its signal mask.
 */
#define _GNU_SOURCE
#include "supervisor.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { SOCKET_FD = 3 };

/// A command this supervisor started. Its pid is also its process group's id.
struct child {
    pid_t pid;
    int64_t token;
    /// Reaped; kept only after flow died, while its group may still hold processes.
    int ended;
};

static struct child *children;
static size_t child_count, child_capacity;
static pid_t flow;
static int grace_seconds;
static int terminating;
static struct timespec deadline;

static void send_event(int64_t token, int kind, pid_t pid, int value, long maxrss_kb) {
    struct flow_event e = {.token = token, .kind = kind, .pid = pid, .value = value, .maxrss_kb = maxrss_kb};
    /* A failure means flow is gone; the main loop notices that on its own. */
    while (send(SOCKET_FD, &e, sizeof e, MSG_NOSIGNAL) < 0 && errno == EINTR) {}
}

static double seconds_until(struct timespec t) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(t.tv_sec - now.tv_sec) + (double)(t.tv_nsec - now.tv_nsec) / 1e9;
}

/// flow has gone: SIGTERM to every group, and SIGKILL at the deadline (see main).
static void begin_terminating(void) {
    if (terminating) return;
    terminating = 1;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += grace_seconds;
    for (size_t i = 0; i < child_count; i++) kill(-children[i].pid, SIGTERM);
}

/* ---- starting a command ---- */

/// What the command's side of clone needs, and what it reports back (the two share memory).
struct launch {
    char *const *argv;
    char *const *envp;
    const char *dir;
    int log;
    int held;
    pid_t supervisor;
    volatile int error;
};

/// The stack the command's side runs on until it execs. One at a time: CLONE_VFORK suspends the
/// supervisor until the command has exec'd or exited.
static char command_stack[256 << 10] __attribute__((aligned(16)));

/// Runs in the new process, sharing the supervisor's memory until execve: only system calls,
/// no allocation, and `error` is the one thing it writes.
static int command_main(void *argument) {
    struct launch *l = argument;
    setpgid(0, 0);
    /* SIGKILL if the supervisor dies: a command never outlives it (flow kills the rest of the
     * group). If the supervisor died before prctl took effect, the parent is already another. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != l->supervisor) {
        l->error = ESRCH;
        _exit(127);
    }
    /* 0 is /dev/null already. The received descriptors are close-on-exec; dup2 clears that on
     * the copies. The held descriptor lands on 3 (the socket's number, close-on-exec here). */
    if (dup2(l->log, 1) < 0 || dup2(l->log, 2) < 0 || (l->held >= 0 && dup2(l->held, 3) < 0)) {
        l->error = errno;
        _exit(127);
    }
    if (chdir(l->dir) != 0) {
        l->error = errno;
        _exit(127);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* execvpe searches the PATH of `environ`, which the supervisor set to the step's. */
    execvpe(l->argv[0], l->argv, l->envp);
    l->error = errno;
    _exit(127);
}

/// Starts a command; returns its pid, or 0 with `*error` set.
static pid_t launch(char *const *argv, char *const *envp, const char *dir, int log, int held, int *error) {
    struct launch l = {argv, envp, dir, log, held, getpid(), 0};
    char **own = environ;
    environ = (char **)envp;
    /* CLONE_VFORK: this returns once the command has exec'd or exited, so the exec's errno is
     * known here, no pipe is needed, and the command has made its process group before flow
     * learns its pid (no race between setpgid and a signal to the group). CLONE_VM: no copy of
     * the page tables. The descriptor table is the command's own copy. */
    pid_t pid = clone(command_main, command_stack + sizeof command_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &l);
    environ = own;
    if (pid < 0) {
        *error = errno;
        return 0;
    }
    if (l.error != 0) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        *error = l.error;
        return 0;
    }
    return pid;
}

/// Records a started command; returns 0, or ENOMEM when it cannot be followed.
static int add_child(pid_t pid, int64_t token) {
    if (child_count == child_capacity) {
        size_t capacity = child_capacity ? child_capacity * 2 : 64;
        struct child *grown = realloc(children, capacity * sizeof *grown);
        if (!grown) return ENOMEM;
        children = grown;
        child_capacity = capacity;
    }
    children[child_count++] = (struct child){pid, token, 0};
    return 0;
}

/// The value of environment entry NAME in `envp`, or NULL.
static const char *lookup(char *const *envp, const char *name) {
    size_t n = strlen(name);
    for (; *envp; envp++) {
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=') return *envp + n + 1;
    }
    return NULL;
}

/* ---- requests ---- */

static char record[sizeof(struct flow_request) + FLOW_SUPERVISOR_CHUNK];

/// Parses the strings of a request: the directory, then `argc` arguments and `envc` environment
/// entries, each ending in NUL, and nothing after. Fills `argv` (then NULL, then the environment,
/// then NULL); returns 0 or EPROTO.
static int parse(char *strings, uint32_t length, uint32_t argc, uint32_t envc, char **argv) {
    if (length == 0 || strings[length - 1] != '\0' || argc == 0) return EPROTO;
    char *p = strings + strlen(strings) + 1, *end = strings + length;
    char **envp = argv + argc + 1;
    for (uint32_t i = 0; i < argc + envc; i++) {
        if (p >= end) return EPROTO;
        if (i < argc) argv[i] = p; else envp[i - argc] = p;
        p += strlen(p) + 1;
    }
    return p == end ? 0 : EPROTO;
}

/// Reads and serves one request. Returns 0 when flow is gone (the end of the socket) or sent
/// what no flow sends (then nothing it says can be trusted).
static int serve_request(void) {
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(2 * sizeof(int))];
    } control;
    struct iovec iov = {record, sizeof record};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space, .msg_controllen = sizeof control.space};
    ssize_t n;
    do { n = recvmsg(SOCKET_FD, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n <= 0) return 0;

    int fds[2] = {-1, -1};
    int received = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (received < 2) fds[received++] = fd; else close(fd);
        }
    }
    struct flow_request r;
    size_t have = 0;
    int held = 0;
    char *strings = NULL;
    if ((size_t)n >= sizeof r && !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        memcpy(&r, record, sizeof r);
        have = (size_t)n - sizeof r;
        held = (r.flags & FLOW_REQUEST_HELD) ? 1 : 0;
        if (have <= r.length && received == 1 + held) strings = malloc((size_t)r.length + 1);
    }
    if (!strings) {
        for (int i = 0; i < received; i++) close(fds[i]);
        return 0;
    }
    memcpy(strings, record + sizeof r, have);
    /* The rest of the strings, one record each; a record longer than what is left is cut short
     * (MSG_TRUNC gives its real length) and ends the conversation. */
    while (have < r.length) {
        do { n = recv(SOCKET_FD, strings + have, r.length - have, MSG_TRUNC); } while (n < 0 && errno == EINTR);
        if (n <= 0 || (size_t)n > r.length - have) {
            for (int i = 0; i < received; i++) close(fds[i]);
            free(strings);
            return 0;
        }
        have += (size_t)n;
    }
    char **argv = calloc((size_t)r.argc + r.envc + 2, sizeof *argv);
    int error = argv ? parse(strings, r.length, r.argc, r.envc, argv) : ENOMEM;
    char **envp = argv ? argv + r.argc + 1 : NULL;
    pid_t pid = 0;
    if (error == 0) pid = launch(argv, envp, strings, fds[0], held ? fds[1] : -1, &error);
    /* The command has its own copies now: the supervisor holds no step's log or lock. */
    for (int i = 0; i < received; i++) close(fds[i]);
    if (pid > 0 && (error = add_child(pid, r.token)) != 0) {
        /* A command no one follows must not run: it is reaped as an unknown child. */
        kill(-pid, SIGKILL);
        pid = 0;
    }
    send_event(r.token, FLOW_EVENT_STARTED, pid, error, 0);

    /* Fault injection for the tests: stay here, between starting a command and watching for
     * flow's death again, for this many milliseconds (a window where a death of flow could go
     * unnoticed). */
    const char *pause_ms = error == 0 ? lookup(envp, "FLOW_SUPERVISOR_TEST_PAUSE_MS") : NULL;
    if (pause_ms) {
        long ms = atol(pause_ms);
        struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {}
    }
    free(strings);
    free(argv);
    return 1;
}

/* ---- ends ---- */

static struct child *find(pid_t pid) {
    for (size_t i = 0; i < child_count; i++) {
        if (children[i].pid == pid) return &children[i];
    }
    return NULL;
}

/// Reaps every command that has ended and reports it.
static void reap(void) {
    for (;;) {
        /* Look first (WNOWAIT): until the command is reaped its pid stays taken, so the group id
         * the SIGTERM goes to cannot have been given to another process. */
        siginfo_t info;
        info.si_pid = 0;
        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
        pid_t pid = info.si_pid;
        kill(-pid, SIGTERM); /* anything the command left running in its group */
        int status = 0;
        struct rusage usage;
        memset(&usage, 0, sizeof usage);
        while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {}
        struct child *c = find(pid);
        if (!c) continue;
        send_event(c->token, FLOW_EVENT_ENDED, pid, status, usage.ru_maxrss);
        if (terminating) {
            c->ended = 1;
        } else {
            *c = children[--child_count];
        }
    }
}

/// After flow died: whether any group still holds a process (forgetting those that do not).
static int any_group_left(void) {
    size_t kept = 0;
    for (size_t i = 0; i < child_count; i++) {
        if (!children[i].ended || kill(-children[i].pid, 0) == 0) children[kept++] = children[i];
    }
    child_count = kept;
    return child_count > 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        static const char usage[] = "usage: flow-supervisor FLOW_PID GRACE_SECONDS (descriptor 3: the socket to flow)\n";
        ssize_t unused = write(2, usage, sizeof usage - 1);
        (void)unused;
        return 64;
    }
    flow = (pid_t)atol(argv[1]);
    grace_seconds = atoi(argv[2]) > 0 ? atoi(argv[2]) : 1;
    int death_signal = SIGRTMIN + 3;

    sigset_t blocked, waited;
    sigemptyset(&waited);
    sigaddset(&waited, death_signal);
    sigaddset(&waited, SIGCHLD);
    blocked = waited;
    int ignored[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE};
    for (unsigned i = 0; i < sizeof ignored / sizeof ignored[0]; i++) sigaddset(&blocked, ignored[i]);
    sigprocmask(SIG_BLOCK, &blocked, NULL);
    int signals = signalfd(-1, &waited, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signals < 0) return 71;
    /* posix_spawn's dup2 left the socket inheritable: commands must not hold it. */
    if (fcntl(SOCKET_FD, F_SETFD, FD_CLOEXEC) != 0) return 71;
    /* The death signal follows the thread of flow that started this process (it lives as long as
     * this process does). flow may have died before prctl took effect: then start nothing. */
    prctl(PR_SET_PDEATHSIG, death_signal);
    if (getppid() != flow) return 0;
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore);

    for (;;) {
        /* The one-second timeout is a second line of defence: a supervisor whose parent is no
         * longer flow notices it within a second whatever happens. */
        if (!terminating && getppid() != flow) begin_terminating();
        int timeout = 1000;
        if (terminating) {
            if (!any_group_left()) return 0;
            double left = seconds_until(deadline);
            if (left <= 0) {
                for (size_t i = 0; i < child_count; i++) kill(-children[i].pid, SIGKILL);
                return 0;
            }
            /* Groups of ended commands are looked at again every 100 ms. */
            timeout = left < 0.1 ? (int)(left * 1000) + 1 : 100;
        }
        struct pollfd watched[2] = {{.fd = signals, .events = POLLIN}, {.fd = SOCKET_FD, .events = POLLIN}};
        int ready = poll(watched, terminating ? 1 : 2, timeout);
        if (ready < 0) continue; /* EINTR; nothing else is possible with these arguments */
        if (watched[0].revents & POLLIN) {
            struct signalfd_siginfo info;
            int ended = 0;
            while (read(signals, &info, sizeof info) == (ssize_t)sizeof info) {
                if ((int)info.ssi_signo == death_signal) begin_terminating();
                if (info.ssi_signo == SIGCHLD) ended = 1;
            }
            /* One SIGCHLD may stand for several ends: reap takes every command that has ended. */
            if (ended) reap();
        }
        if (!terminating && watched[1].revents && getppid() == flow) {
            if (!serve_request()) begin_terminating();
        }
    }
}
