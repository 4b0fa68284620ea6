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
 *   on one pipe, and answers with the pid or with the errno of what failed (exec, chdir);
 * - moves what comes through each pipe into the step's log, which it creates on the first byte:
 *   a step that prints nothing leaves no log file (most steps of a build print nothing, and a
 *   file is an inode to allocate, and one more to free when the run's logs are removed);
 * - reaps each command that ends, sends SIGTERM to what the command left in its group, moves
 *   into the log what its pipe holds (everything the command wrote), and reports the wait
 *   status, the peak memory and whether the log could be written. A process of the step that
 *   still holds the pipe does not delay that report: what it writes later is appended to the
 *   log for as long as this supervisor lives;
 * - never blocks on the socket: flow reads it only while it waits for something, so reports
 *   it has not taken yet wait here (in order) until the socket has room;
 * - when flow dies (its parent-death signal, a parent that is no longer flow, or the end of the
 *   socket), starts nothing more, sends SIGTERM to every group it started that still has a
 *   process, SIGKILL after GRACE_SECONDS, and exits: no step process outlives flow, however
 *   flow ends.
 * Each command asks for SIGKILL when the supervisor dies; flow then kills what is left in the
 * command's group and reports the step as failed.
 *
 * The signals it waits for (the parent-death signal, SIGCHLD) are blocked and read from a
 * signalfd, watched with the socket and the pipes in one epoll set, so none can arrive in a gap
 * between a check and a wait, and no pipe can hold up the others (each is non-blocking, and one
 * wake-up moves at most OUTPUT_TURN bytes of one pipe); the usual termination
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
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { SOCKET_FD = 3 };

/// The read end of a command's stdout and stderr, and the log it goes to.
struct output {
    /// Non-blocking; -1 once every writer has closed it and it is empty.
    int pipe;
    /// -1 until the first byte.
    int log;
    /// The errno of the first failure to create or write the log; what comes after is dropped.
    int error;
    /// splice(2) failed once on this log (a file system that takes no splice, or an error that
    /// read and write will name): read and write from then on.
    int no_splice;
    /// Its command has not been reaped yet (the child points to it; freed only by the reap).
    int owned;
    struct output *prev, *next;
    char path[];
};

/// Every output whose pipe is open, or whose command still runs.
static struct output *outputs;

/// A command this supervisor started. Its pid is also its process group's id.
struct child {
    pid_t pid;
    int64_t token;
    /// Reaped; kept only after flow died, while its group may still hold processes.
    int ended;
    struct output *out;
};

static struct child *children;
static size_t child_count, child_capacity;
static pid_t flow;
static int grace_seconds;
static int terminating;
static struct timespec deadline;
static int epoll;
/// The descriptor limit commands get: the supervisor raises its own for the pipes it holds.
static struct rlimit command_files;

/// epoll's tags for the two descriptors that are not pipes (a pipe's tag is its output).
enum { TAG_SIGNALS = 1, TAG_SOCKET = 2 };

/// Events flow has not taken yet because its end of the socket was full, oldest first. flow
/// reads the socket only while it waits for something, so the supervisor must never block on
/// it: a request flow sends meanwhile could then wait for the supervisor forever. (What is queued
/// here is lost if the supervisor is killed; flow then reports those steps as ended with it.)
static struct flow_event *unsent;
static size_t unsent_head, unsent_count, unsent_capacity;

/// What epoll watches the socket for (main adds it with EPOLLIN).
static uint32_t socket_watched = EPOLLIN;

/// Watches the socket for what is awaited: requests until terminating, room while events wait.
/// (Called after every send; the set changes only when the queue fills or empties.)
static void watch_socket(void) {
    uint32_t events = (terminating ? 0 : EPOLLIN) | (unsent_head < unsent_count ? EPOLLOUT : 0);
    if (events == socket_watched) return;
    if (events == 0) {
        epoll_ctl(epoll, EPOLL_CTL_DEL, SOCKET_FD, NULL);
    } else {
        struct epoll_event watch = {.events = events, .data.u64 = TAG_SOCKET};
        int op = socket_watched == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
        epoll_ctl(epoll, op, SOCKET_FD, &watch);
    }
    socket_watched = events;
}

static void send_waiting(const struct flow_event *e) {
    while (send(SOCKET_FD, e, sizeof *e, MSG_NOSIGNAL) < 0 && errno == EINTR) {}
}

/// Sends what is queued, as far as the socket takes it now.
static void send_unsent(void) {
    while (unsent_head < unsent_count) {
        ssize_t n = send(SOCKET_FD, &unsent[unsent_head], sizeof unsent[0], MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            watch_socket();
            return;
        }
        /* Any other failure means flow is gone; the main loop notices that on its own. */
        if (n < 0) break;
        unsent_head++;
    }
    unsent_head = unsent_count = 0;
    watch_socket();
}

/// Before the supervisor exits: what is queued goes to flow, waiting up to 5 s for room (flow
/// reads it whenever it waits for a step); once flow has gone a send fails at once.
static void send_unsent_before_exit(void) {
    for (int tries = 0; unsent_head < unsent_count && tries < 50; tries++) {
        send_unsent();
        if (unsent_head < unsent_count) {
            struct pollfd room = {.fd = SOCKET_FD, .events = POLLOUT};
            poll(&room, 1, 100);
        }
    }
}

static void send_event(int64_t token, int kind, pid_t pid, int value, long maxrss_kb, int log_error) {
    struct flow_event e = {.token = token, .kind = kind, .pid = pid, .value = value, .log_error = log_error, .maxrss_kb = maxrss_kb};
    if (unsent_count == unsent_capacity) {
        size_t capacity = unsent_capacity ? unsent_capacity * 2 : 64;
        struct flow_event *grown = realloc(unsent, capacity * sizeof *grown);
        if (!grown) {
            /* No memory to queue it: what is queued goes first, in order, then this one, each
             * waiting for room. */
            for (; unsent_head < unsent_count; unsent_head++) send_waiting(&unsent[unsent_head]);
            unsent_head = unsent_count = 0;
            send_waiting(&e);
            watch_socket();
            return;
        }
        unsent = grown;
        unsent_capacity = capacity;
    }
    unsent[unsent_count++] = e;
    /* Behind others, it waits for the room they wait for. */
    if (unsent_count - unsent_head == 1) send_unsent();
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
    watch_socket(); /* no more requests; room for what is queued, if anything is */
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += grace_seconds;
    for (size_t i = 0; i < child_count; i++) kill(-children[i].pid, SIGTERM);
}

/* ---- output ---- */

/// The most bytes one wake-up moves from one pipe, so that a step printing without pause does
/// not keep the others (and the reports of ends) waiting.
enum { OUTPUT_TURN = 1 << 20 };

static char scratch[64 << 10];

/// A new pipe for a command's output to the log at `path`, watched by epoll; NULL with `*error`.
/// The write end goes to `*write_end` (close-on-exec: only the command's dup2 copies survive).
static struct output *output_open(const char *path, int *write_end, int *error) {
    size_t length = strlen(path) + 1;
    struct output *o = malloc(sizeof *o + length);
    int ends[2];
    if (!o || pipe2(ends, O_CLOEXEC) != 0) {
        *error = o ? errno : ENOMEM;
        free(o);
        return NULL;
    }
    *o = (struct output){.pipe = ends[0], .log = -1, .owned = 1};
    memcpy(o->path, path, length);
    struct epoll_event watch = {.events = EPOLLIN, .data.ptr = o};
    if (fcntl(ends[0], F_SETFL, O_NONBLOCK) != 0 || epoll_ctl(epoll, EPOLL_CTL_ADD, ends[0], &watch) != 0) {
        *error = errno;
        close(ends[0]);
        close(ends[1]);
        free(o);
        return NULL;
    }
    /* A log left by an earlier attempt of the step would pass for this one's if it printed nothing. */
    unlink(path);
    o->next = outputs;
    if (outputs) outputs->prev = o;
    outputs = o;
    *write_end = ends[1];
    return o;
}

/// Appends `n` bytes to the log, creating it first.
static void output_write(struct output *o, const char *bytes, size_t n) {
    if (o->error) return;
    if (o->log < 0) {
        o->log = open(o->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (o->log < 0) {
            o->error = errno;
            return;
        }
    }
    while (n > 0) {
        ssize_t w = write(o->log, bytes, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            o->error = w < 0 ? errno : EIO;
            return;
        }
        bytes += w;
        n -= (size_t)w;
    }
}

/// Closes the pipe and the log; the output is freed here unless its command has yet to be reaped.
static void output_close(struct output *o) {
    if (o->pipe >= 0) {
        epoll_ctl(epoll, EPOLL_CTL_DEL, o->pipe, NULL);
        close(o->pipe);
        o->pipe = -1;
    }
    if (o->log >= 0) {
        close(o->log);
        o->log = -1;
    }
    if (o->owned) return;
    if (o->prev) o->prev->next = o->next; else outputs = o->next;
    if (o->next) o->next->prev = o->prev;
    free(o);
}

/// Moves what the pipe holds into the log, at most `limit` bytes: the first bytes through
/// `scratch` (whether there is a first byte decides whether the log is created), the rest with
/// splice, which copies nothing through this process. Closes the output at the end of the pipe.
static void output_drain(struct output *o, size_t limit) {
    while (o->pipe >= 0 && limit > 0) {
        size_t want = limit < OUTPUT_TURN ? limit : OUTPUT_TURN;
        ssize_t n;
        if (o->log >= 0 && !o->no_splice && !o->error) {
            n = splice(o->pipe, NULL, o->log, NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n > 0) {
                limit -= (size_t)n;
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno == EAGAIN) return;
            if (n < 0) o->no_splice = 1; /* and read and write say what it is */
            else {
                output_close(o);
                return;
            }
        }
        n = read(o->pipe, scratch, want < sizeof scratch ? want : sizeof scratch);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            output_close(o);
            return;
        }
        output_write(o, scratch, (size_t)n);
        limit -= (size_t)n;
    }
}

/// What the pipe holds now: everything its writers wrote before this call. A drain of one byte
/// more also closes the output when no writer is left (the read after these bytes returns 0),
/// and waits for nothing when one is.
static size_t output_pending(const struct output *o) {
    int n = 0;
    if (o->pipe < 0) return 0;
    return ioctl(o->pipe, FIONREAD, &n) == 0 && n > 0 ? (size_t)n : 0;
}

/* ---- starting a command ---- */

/// What the command's side of clone needs, and what it reports back (the two share memory).
struct launch {
    char *const *argv;
    char *const *envp;
    const char *dir;
    int out;
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
    /* 0 is /dev/null already. The pipe and the received descriptor are close-on-exec; dup2
     * clears that on the copies. The held descriptor lands on 3 (the socket's number,
     * close-on-exec here). */
    if (dup2(l->out, 1) < 0 || dup2(l->out, 2) < 0 || (l->held >= 0 && dup2(l->held, 3) < 0)) {
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
    setrlimit(RLIMIT_NOFILE, &command_files);
    /* execvpe searches the PATH of `environ`, which the supervisor set to the step's. */
    execvpe(l->argv[0], l->argv, l->envp);
    l->error = errno;
    _exit(127);
}

/// Starts a command; returns its pid, or 0 with `*error` set.
static pid_t launch(char *const *argv, char *const *envp, const char *dir, int out, int held, int *error) {
    struct launch l = {argv, envp, dir, out, held, getpid(), 0};
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
static int add_child(pid_t pid, int64_t token, struct output *out) {
    if (child_count == child_capacity) {
        size_t capacity = child_capacity ? child_capacity * 2 : 64;
        struct child *grown = realloc(children, capacity * sizeof *grown);
        if (!grown) return ENOMEM;
        children = grown;
        child_capacity = capacity;
    }
    children[child_count++] = (struct child){pid, token, 0, out};
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

/// Parses the strings of a request: the directory, the log, then `argc` arguments and `envc`
/// environment entries, each ending in NUL, and nothing after. Sets `*log`, fills `argv` (then
/// NULL, then the environment, then NULL); returns 0 or EPROTO.
static int parse(char *strings, uint32_t length, uint32_t argc, uint32_t envc, const char **log, char **argv) {
    if (length == 0 || strings[length - 1] != '\0' || argc == 0) return EPROTO;
    char *p = strings + strlen(strings) + 1, *end = strings + length;
    if (p >= end || *p != '/') return EPROTO;
    *log = p;
    p += strlen(p) + 1;
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
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    struct iovec iov = {record, sizeof record};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space, .msg_controllen = sizeof control.space};
    ssize_t n;
    do { n = recvmsg(SOCKET_FD, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n <= 0) return 0;

    int fds[1] = {-1};
    int received = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (received < 1) fds[received++] = fd; else close(fd);
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
        if (have <= r.length && received == held) strings = malloc((size_t)r.length + 1);
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
    const char *log = NULL;
    int error = argv ? parse(strings, r.length, r.argc, r.envc, &log, argv) : ENOMEM;
    char **envp = argv ? argv + r.argc + 1 : NULL;
    pid_t pid = 0;
    int write_end = -1;
    struct output *out = error == 0 ? output_open(log, &write_end, &error) : NULL;
    if (out) pid = launch(argv, envp, strings, write_end, held ? fds[0] : -1, &error);
    /* The command has its own copies now: the supervisor holds no step's lock, and only the
     * read end of its pipe. */
    for (int i = 0; i < received; i++) close(fds[i]);
    if (write_end >= 0) close(write_end);
    if (pid > 0 && (error = add_child(pid, r.token, out)) != 0) {
        /* A command no one follows must not run: it is reaped as an unknown child. */
        kill(-pid, SIGKILL);
        pid = 0;
    }
    if (pid == 0 && out) {
        out->owned = 0;
        output_close(out);
    }
    send_event(r.token, FLOW_EVENT_STARTED, pid, error, 0, 0);

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
        /* Everything the command wrote is in the pipe: into the log before the end is reported.
         * What the pipe holds now bounds the wait, should a process left in the group write on. */
        int log_error = 0;
        if (c->out) {
            output_drain(c->out, output_pending(c->out) + 1);
            log_error = c->out->error;
            c->out->owned = 0;
            if (c->out->pipe < 0) output_close(c->out);
            c->out = NULL;
        }
        send_event(c->token, FLOW_EVENT_ENDED, pid, status, usage.ru_maxrss, log_error);
        if (terminating) {
            c->ended = 1;
        } else {
            *c = children[--child_count];
        }
    }
}

/// Before the supervisor exits: what the pipes hold goes into the logs, and the reports flow
/// has not taken yet go to it. Returns 0.
static int finish_outputs(void) {
    for (struct output *o = outputs, *next; o; o = next) {
        next = o->next; /* a drain that reaches the end of the pipe frees the output */
        output_drain(o, output_pending(o) + 1);
    }
    send_unsent_before_exit();
    return 0;
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
    epoll = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event watch_signals = {.events = EPOLLIN, .data.u64 = TAG_SIGNALS};
    struct epoll_event watch_socket = {.events = EPOLLIN, .data.u64 = TAG_SOCKET};
    if (epoll < 0 || epoll_ctl(epoll, EPOLL_CTL_ADD, signals, &watch_signals) != 0 ||
        epoll_ctl(epoll, EPOLL_CTL_ADD, SOCKET_FD, &watch_socket) != 0) return 71;
    /* One pipe per running step (and per step whose leftovers still write): the soft limit goes
     * up to the hard one here, and back down in each command. */
    getrlimit(RLIMIT_NOFILE, &command_files);
    struct rlimit files = {command_files.rlim_max, command_files.rlim_max};
    setrlimit(RLIMIT_NOFILE, &files);
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
            if (!any_group_left()) return finish_outputs();
            double left = seconds_until(deadline);
            if (left <= 0) {
                for (size_t i = 0; i < child_count; i++) kill(-children[i].pid, SIGKILL);
                return finish_outputs();
            }
            /* Groups of ended commands are looked at again every 100 ms. */
            timeout = left < 0.1 ? (int)(left * 1000) + 1 : 100;
        }
        struct epoll_event ready[64];
        int count = epoll_wait(epoll, ready, 64, timeout);
        int ended = 0, request = 0;
        for (int i = 0; i < count; i++) {
            if (ready[i].data.u64 == TAG_SIGNALS) {
                struct signalfd_siginfo info;
                while (read(signals, &info, sizeof info) == (ssize_t)sizeof info) {
                    if ((int)info.ssi_signo == death_signal) begin_terminating();
                    if (info.ssi_signo == SIGCHLD) ended = 1;
                }
            } else if (ready[i].data.u64 == TAG_SOCKET) {
                if (unsent_head < unsent_count && (ready[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))) send_unsent();
                if (ready[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) request = 1;
            } else {
                /* An output that a reap below closes and frees is not in this list: pipes come
                 * first, and a reap frees only outputs whose pipe has closed. */
                output_drain(ready[i].data.ptr, OUTPUT_TURN);
            }
        }
        /* One SIGCHLD may stand for several ends: reap takes every command that has ended. */
        if (ended) reap();
        if (!terminating && request && getppid() == flow) {
            if (!serve_request()) begin_terminating();
        }
    }
}
