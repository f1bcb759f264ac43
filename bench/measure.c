/* bench/measure.c: run a command and report ITS wall time and peak RSS alone.
 *
 * Usage: measure RESULT_FILE COMMAND [ARGS...]
 * Writes "<exit status or -signal> <wall seconds> <ru_maxrss KiB>" to RESULT_FILE.
 *
 * Why a C helper: on Linux a process's ru_maxrss starts from the RSS of the process it was
 * forked from (exec keeps the old mm's high-water mark), so children forked straight from the
 * benchmark's Python process would report at least the harness's own RSS.  Forked from this
 * small program instead, the command's ru_maxrss is its own (and its waited-for children's). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: measure RESULT_FILE COMMAND [ARGS...]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 2; }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror(argv[2]);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) { perror("wait4"); return 2; }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    FILE *f = fopen(argv[1], "w");
    if (!f) { perror(argv[1]); return 2; }
    fprintf(f, "%d %.6f %ld\n", code, wall, ru.ru_maxrss);
    fclose(f);
    return 0;
}
