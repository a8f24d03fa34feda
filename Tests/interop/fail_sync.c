/* An LD_PRELOAD shim for test_sync_failure.py: counts the process's fsync and fdatasync calls
 * and fails the Nth with EIO, without syncing.
 *
 *   FAIL_SYNC_AT=N   fail call N (1-based); unset or 0: fail none
 *   FAIL_SYNC_LOG=F  append one line per call to F: "<n> <fsync|fdatasync> <fd> <ok|EIO> <path>"
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int calls;

static int intercept(const char *name, int fd) {
    int n = __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
    const char *at = getenv("FAIL_SYNC_AT");
    int fail = at != NULL && atoi(at) == n;
    const char *log = getenv("FAIL_SYNC_LOG");
    if (log != NULL) {
        char link[64], path[4096] = "?";
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t length = readlink(link, path, sizeof path - 1);
        if (length >= 0) path[length] = 0;
        char line[4300];
        int size = snprintf(line, sizeof line, "%d %s %d %s %s\n", n, name, fd, fail ? "EIO" : "ok", path);
        int out = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (out >= 0) {
            ssize_t ignored = write(out, line, (size_t)size);
            (void)ignored;
            close(out);
        }
    }
    if (fail) {
        errno = EIO;
        return -1;
    }
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, name);
    return real(fd);
}

int fsync(int fd) { return intercept("fsync", fd); }
int fdatasync(int fd) { return intercept("fdatasync", fd); }
