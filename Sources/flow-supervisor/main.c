/* flow-supervisor: the small process between flow and a step's command.
 *
 *   flow-supervisor FLOW_PID GRACE_SECONDS REPORT_FD DIR -- COMMAND [ARGS...]
 *
 * flow starts it with posix_spawn (no copy of flow's page tables, however large flow has grown),
 * as the leader of a new process group, with stdout/stderr already on the step's log. It:
 * - asks for a signal when its parent dies (PR_SET_PDEATHSIG), and then sends SIGTERM to the whole
 *   group, waits GRACE_SECONDS, and sends SIGKILL: no step process outlives flow, however flow ends
 *   (if flow is already gone when the supervisor starts, the command is never started);
 * - ignores the usual termination signals, so that a signal flow sends to the group reaches the
 *   command while the supervisor stays to report how the command ended;
 * - forks and execs COMMAND in DIR (stdin from /dev/null), writes 0 or the exec errno to REPORT_FD;
 * - exits with the command's status, or dies of the command's signal; anything the command left
 *   running in the group gets SIGTERM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void report(int fd, int value) {
    ssize_t unused = write(fd, &value, sizeof value);
    (void)unused;
}

int main(int argc, char **argv) {
    if (argc < 7 || strcmp(argv[5], "--") != 0) {
        static const char usage[] = "usage: flow-supervisor FLOW_PID GRACE REPORT_FD DIR -- COMMAND [ARGS...]\n";
        ssize_t unused = write(2, usage, sizeof usage - 1);
        (void)unused;
        return 64;
    }
    pid_t flow = (pid_t)atol(argv[1]);
    int grace = atoi(argv[2]);
    int report_fd = atoi(argv[3]);
    const char *dir = argv[4];
    char **command = argv + 6;
    int death_signal = SIGRTMIN + 3;

    /* The parent-death signal, SIGCHLD and the grace alarm are blocked for good and taken with
     * sigtimedwait below, so none of them can arrive in a gap between a check and a wait (a flag
     * set by a handler just before waitpid blocks would be seen only when the command ends, and
     * the step would outlive flow). The one-second timeout is a second line of defence: a
     * supervisor whose parent is no longer flow notices it within a second whatever happens. */
    sigset_t waited;
    sigemptyset(&waited);
    sigaddset(&waited, death_signal);
    sigaddset(&waited, SIGCHLD);
    sigaddset(&waited, SIGALRM);
    sigprocmask(SIG_BLOCK, &waited, NULL);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_IGN;
    int ignored[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE};
    for (unsigned i = 0; i < sizeof ignored / sizeof ignored[0]; i++) sigaction(ignored[i], &sa, NULL);
    prctl(PR_SET_PDEATHSIG, death_signal);
    /* flow may have died before prctl took effect: then nothing is started at all. */
    if (getppid() != flow) { report(report_fd, ESRCH); return 127; }
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore);

    int exec_report[2];
    if (pipe2(exec_report, O_CLOEXEC) != 0) { report(report_fd, errno); return 127; }
    pid_t child = fork();
    if (child < 0) { report(report_fd, errno); return 127; }
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* only if the supervisor itself is killed */
        if (getppid() == 1) _exit(127);   /* ... and it was, before prctl */
        for (int s = 1; s < NSIG; s++) {
            if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
        }
        sigset_t none; sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        close(report_fd);
        close(exec_report[0]);
        if (chdir(dir) != 0) { report(exec_report[1], errno); _exit(127); }
        execvp(command[0], command);
        report(exec_report[1], errno);
        _exit(127);
    }
    close(exec_report[1]);
    int exec_errno = 0;
    ssize_t n;
    do { n = read(exec_report[0], &exec_errno, sizeof exec_errno); } while (n < 0 && errno == EINTR);
    close(exec_report[0]);
    report(report_fd, n == (ssize_t)sizeof exec_errno ? exec_errno : 0);
    close(report_fd);

    /* Fault injection for the tests: stay here, between starting the command and waiting for it,
     * for this many milliseconds (the window where a death of flow used to go unnoticed). */
    const char *pause_ms = getenv("FLOW_SUPERVISOR_TEST_PAUSE_MS");
    if (pause_ms) {
        struct timespec pause = {atol(pause_ms) / 1000, (atol(pause_ms) % 1000) * 1000000L};
        while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {}
    }

    int status = 0;
    int terminating = 0;
    for (;;) {
        pid_t r = waitpid(child, &status, WNOHANG);
        if (r == child) break;
        if (r < 0 && errno != EINTR) return 127;
        if (!terminating && getppid() != flow) {
            terminating = 1;
            kill(0, SIGTERM); /* the whole group; this process ignores it */
            alarm(grace > 0 ? (unsigned)grace : 1);
        }
        struct timespec second = {1, 0};
        int sig = sigtimedwait(&waited, NULL, terminating ? NULL : &second);
        if (sig == death_signal && !terminating) {
            terminating = 1;
            kill(0, SIGTERM);
            alarm(grace > 0 ? (unsigned)grace : 1);
        } else if (sig == SIGALRM && terminating) {
            kill(0, SIGKILL); /* ends this process too */
        }
    }
    kill(0, SIGTERM); /* anything the command left running in its group */
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
    signal(sig, SIG_DFL);
    sigset_t only; sigemptyset(&only); sigaddset(&only, sig);
    sigprocmask(SIG_UNBLOCK, &only, NULL);
    kill(getpid(), sig);
    return 128 + sig;
}
