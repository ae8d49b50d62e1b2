/* The host's resolv.conf (see resolv.h). */
#include "netd/resolv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int append(char *buf, size_t len, size_t *used, const char *a, const char *b)
{
        int n = snprintf(buf + *used, len - *used, "%s%s\n", a, b);
        if (n < 0 || (size_t)n >= len - *used)
                return -ENOSPC;
        *used += (size_t)n;
        return 0;
}

int resolv_format(const Ts__Net__Resolver *want, const char *const *nameservers, size_t n_ns,
                  char *buf, size_t len)
{
        size_t used = 0;
        if (len == 0)
                return -ENOSPC;
        buf[0] = '\0';
        int r = 0;
        used = (size_t)snprintf(buf, len, "%s", RESOLV_HEADER);
        if (used >= len)
                return -ENOSPC;
        if (r == 0 && want->n_search > 0) {
                r = append(buf, len, &used, "search", "");
                used--; /* continue the line */
                for (size_t i = 0; r == 0 && i < want->n_search; i++) {
                        r = append(buf, len, &used, " ", want->search[i]);
                        used--;
                }
                if (r == 0)
                        r = append(buf, len, &used, "", "");
        }
        if (n_ns == 0) {
                nameservers = (const char *const *)want->nameservers;
                n_ns = want->n_nameservers;
        }
        for (size_t i = 0; r == 0 && i < n_ns; i++)
                r = append(buf, len, &used, "nameserver ", nameservers[i]);
        return r < 0 ? r : (int)used;
}

/* The current content of PATH into BUF (LEN bytes, NUL-terminated); -errno. */
static int read_file(const char *path, char *buf, size_t len)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, len - 1);
        int e = errno;
        close(fd);
        if (n < 0)
                return -e;
        buf[n] = '\0';
        return (int)n;
}

int resolv_write(const char *path, const char *content, int *changed)
{
        char cur[4096];
        int n = read_file(path, cur, sizeof(cur));
        if (changed != NULL)
                *changed = 0;
        if (content == NULL) {
                if (n < 0 || strncmp(cur, RESOLV_HEADER, strlen(RESOLV_HEADER)) != 0)
                        return 0; /* none, or not netd's */
                if (unlink(path) < 0 && errno != ENOENT)
                        return -errno;
                if (changed != NULL)
                        *changed = 1;
                return 0;
        }
        if (n >= 0 && strcmp(cur, content) == 0)
                return 0;
        char tmp[4096];
        if ((size_t)snprintf(tmp, sizeof(tmp), "%s.netd-tmp", path) >= sizeof(tmp))
                return -ENAMETOOLONG;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        size_t len = strlen(content);
        ssize_t w = write(fd, content, len);
        int e = errno;
        if (close(fd) < 0 && w >= 0)
                e = errno, w = -1;
        if (w != (ssize_t)len || rename(tmp, path) < 0) {
                e = w != (ssize_t)len ? (w < 0 ? e : EIO) : errno;
                unlink(tmp);
                return -e;
        }
        if (changed != NULL)
                *changed = 1;
        return 0;
}
