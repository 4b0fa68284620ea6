#define _GNU_SOURCE
#include "CSpawn.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <sys/wait.h>

extern char **environ;

/* Between fork and exec only async-signal-safe calls are allowed: no malloc, no stdio. */
static void child_fail(int pipe_fd, int e) {
    ssize_t unused = write(pipe_fd, &e, sizeof e);
    (void)unused;
    _exit(127);
}

static void close_other_fds(int keep) {
    /* close_range(2) closes them in one system call; a loop over every possible descriptor
       (up to RLIMIT_NOFILE, often a million) would cost more than the step itself. */
    if (keep > 3) {
        if (close_range(3, (unsigned)keep - 1, 0) != 0) goto fallback;
    }
    if (close_range((unsigned)keep + 1, ~0U, 0) != 0) goto fallback;
    return;
fallback:;
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (int fd = 3; fd < max; fd++) {
        if (fd != keep) close(fd);
    }
}

pid_t flow_spawn(const char *const argv[], const char *const envp[], const char *cwd,
                 int out_fd, int pdeath, int *err) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) { *err = errno; return -1; }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) { *err = errno; close(pipefd[0]); close(pipefd[1]); return -1; }
    if (pid == 0) {
        setpgid(0, 0);
        if (pdeath) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent) _exit(129); /* the parent died before prctl */
        }
        sigset_t none; sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int s = 1; s < NSIG; s++) {
            if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull < 0) child_fail(pipefd[1], errno);
        if (dup2(devnull, 0) < 0) child_fail(pipefd[1], errno);
        if (dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0) child_fail(pipefd[1], errno);
        int keep = pipefd[1];
        close_other_fds(keep);
        if (cwd && chdir(cwd) != 0) child_fail(pipefd[1], errno);
        environ = (char **)envp;
        execvp(argv[0], (char *const *)argv);
        child_fail(pipefd[1], errno);
    }
    close(pipefd[1]);
    int child_errno = 0;
    ssize_t n;
    do { n = read(pipefd[0], &child_errno, sizeof child_errno); } while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    if (n == sizeof child_errno) {
        /* exec failed: reap the child that already exited. */
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        *err = child_errno;
        return -1;
    }
    /* Also set the group from the parent side: whichever runs first wins the race. */
    setpgid(pid, pid);
    return pid;
}

int flow_syncfs(int fd) { return syncfs(fd); }
