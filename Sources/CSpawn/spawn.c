#define _GNU_SOURCE
#include "CSpawn.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Everything between fork and exec (and all of the supervisor) uses only async-signal-safe
   calls: flow is multi-threaded, and after fork only the forking thread exists. */

static void close_other_fds(int keep) {
    /* close_range(2) closes them in one system call; a loop over every possible descriptor
       (up to RLIMIT_NOFILE, often a million) would cost more than the step itself. */
    if (keep > 3 && close_range(3, (unsigned)keep - 1, 0) != 0) goto fallback;
    if (close_range((unsigned)keep + 1, ~0U, 0) != 0) goto fallback;
    return;
fallback:;
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (int fd = 3; fd < max; fd++) {
        if (fd != keep) close(fd);
    }
}

static void write_int(int fd, int value) {
    ssize_t unused = write(fd, &value, sizeof value);
    (void)unused;
}

static volatile sig_atomic_t parent_died = 0;
static volatile sig_atomic_t grace_over = 0;
static void on_parent_death(int s) { (void)s; parent_died = 1; }
static void on_alarm(int s) { (void)s; grace_over = 1; }

/* The command: runs in the supervisor's group; reports a failed exec through `report`. */
static void exec_command(const char *const argv[], const char *const envp[], const char *cwd,
                         int out_fd, int report) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* only if the supervisor itself is killed */
    sigset_t none; sigemptyset(&none);
    for (int s = 1; s < NSIG; s++) {
        if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
    }
    sigprocmask(SIG_SETMASK, &none, NULL);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0) {
        write_int(report, errno); _exit(127);
    }
    close_other_fds(report);
    if (cwd && chdir(cwd) != 0) { write_int(report, errno); _exit(127); }
    environ = (char **)envp;
    execvp(argv[0], (char *const *)argv);
    write_int(report, errno);
    _exit(127);
}

static void supervise(const char *const argv[], const char *const envp[], const char *cwd,
                      int out_fd, int grace, int to_flow, pid_t flow, int death_signal) {
    setpgid(0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_parent_death;
    sigaction(death_signal, &sa, NULL);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    int ignored[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE};
    for (unsigned i = 0; i < sizeof ignored / sizeof ignored[0]; i++) sigaction(ignored[i], &sa, NULL);
    sigset_t none; sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, death_signal);
    if (getppid() != flow) parent_died = 1; /* flow died before prctl took effect */
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore);

    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) { write_int(to_flow, errno); _exit(127); }
    pid_t child = fork();
    if (child < 0) { write_int(to_flow, errno); _exit(127); }
    if (child == 0) {
        close(to_flow);
        close(report[0]);
        exec_command(argv, envp, cwd, out_fd, report[1]);
    }
    close(report[1]);
    close(out_fd);
    int exec_errno = 0;
    ssize_t n;
    do { n = read(report[0], &exec_errno, sizeof exec_errno); } while (n < 0 && errno == EINTR);
    close(report[0]);
    write_int(to_flow, n == (ssize_t)sizeof exec_errno ? exec_errno : 0);
    close(to_flow);

    int status = 0;
    int terminating = 0;
    for (;;) {
        pid_t r = waitpid(child, &status, 0);
        if (r == child) break;
        if (r < 0 && errno != EINTR) _exit(127);
        if (parent_died && !terminating) {
            terminating = 1;
            kill(0, SIGTERM); /* the whole group; this process ignores it */
            alarm(grace > 0 ? (unsigned)grace : 1);
        }
        if (grace_over) kill(0, SIGKILL); /* ends this process too */
    }
    kill(0, SIGTERM); /* anything the command left running in its group */
    if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
    signal(sig, SIG_DFL);
    sigset_t only; sigemptyset(&only); sigaddset(&only, sig);
    sigprocmask(SIG_UNBLOCK, &only, NULL);
    kill(getpid(), sig);
    _exit(128 + sig);
}

pid_t flow_spawn(const char *const argv[], const char *const envp[], const char *cwd,
                 int out_fd, int grace_seconds, int *err) {
    int fromsup[2];
    if (pipe2(fromsup, O_CLOEXEC) != 0) { *err = errno; return -1; }
    pid_t flow = getpid();
    int death_signal = SIGRTMIN + 3;
    pid_t pid = fork();
    if (pid < 0) { *err = errno; close(fromsup[0]); close(fromsup[1]); return -1; }
    if (pid == 0) {
        close(fromsup[0]);
        supervise(argv, envp, cwd, out_fd, grace_seconds, fromsup[1], flow, death_signal);
        _exit(127);
    }
    close(fromsup[1]);
    /* Also set the group from this side: whichever runs first wins the race. */
    setpgid(pid, pid);
    int child_errno = -1;
    ssize_t n;
    do { n = read(fromsup[0], &child_errno, sizeof child_errno); } while (n < 0 && errno == EINTR);
    close(fromsup[0]);
    if (n != (ssize_t)sizeof child_errno || child_errno != 0) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        *err = (n == (ssize_t)sizeof child_errno && child_errno > 0) ? child_errno : ECHILD;
        return -1;
    }
    return pid;
}

int flow_syncfs(int fd) { return syncfs(fd); }
