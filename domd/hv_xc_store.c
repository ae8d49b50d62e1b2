/* Small xenstore helpers of the Xen backend.  No transactions: each node is written once,
 * and the guest only looks at its tree once it is introduced. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domd/hv_xc.h"

static int vpath(char *buf, size_t len, const char *fmt, va_list ap)
{
        int n = vsnprintf(buf, len, fmt, ap);
        return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int xcs_write(struct xcb *x, const char *value, const char *fmt, ...)
{
        char path[512];
        va_list ap;
        va_start(ap, fmt);
        int r = vpath(path, sizeof(path), fmt, ap);
        va_end(ap);
        if (r < 0)
                return r;
        return xs_write(x->xs, XBT_NULL, path, value, strlen(value)) ? 0 : -(errno ? errno : EIO);
}

char *xcs_read(struct xcb *x, const char *fmt, ...)
{
        char path[512];
        va_list ap;
        va_start(ap, fmt);
        int r = vpath(path, sizeof(path), fmt, ap);
        va_end(ap);
        if (r < 0)
                return NULL;
        unsigned len;
        return xs_read(x->xs, XBT_NULL, path, &len);
}

int xcs_rm(struct xcb *x, const char *fmt, ...)
{
        char path[512];
        va_list ap;
        va_start(ap, fmt);
        int r = vpath(path, sizeof(path), fmt, ap);
        va_end(ap);
        if (r < 0)
                return r;
        return xs_rm(x->xs, XBT_NULL, path) || errno == ENOENT ? 0 : -errno;
}

int xcs_mkdir_perm(struct xcb *x, const char *path, uint32_t owner, uint32_t reader)
{
        struct xs_permissions perms[2] = {{.id = owner, .perms = XS_PERM_NONE},
                                          {.id = reader, .perms = XS_PERM_READ}};
        if (!xs_mkdir(x->xs, XBT_NULL, path))
                return -(errno ? errno : EIO);
        if (!xs_set_permissions(x->xs, XBT_NULL, path, perms, owner == reader ? 1 : 2))
                return -(errno ? errno : EIO);
        return 0;
}

unsigned xcs_count(struct xcb *x, const char *fmt, ...)
{
        char path[512];
        va_list ap;
        va_start(ap, fmt);
        int r = vpath(path, sizeof(path), fmt, ap);
        va_end(ap);
        if (r < 0)
                return 0;
        unsigned n = 0;
        char **ents = xs_directory(x->xs, XBT_NULL, path, &n);
        free(ents);
        return ents ? n : 0;
}

char *xcs_vm_path(struct xcb *x, uint32_t domid)
{
        char *vm = xcs_read(x, "/local/domain/%" PRIu32 "/vm", domid);
        if (vm && strncmp(vm, "/vm/", 4)) {
                free(vm);
                return NULL;
        }
        return vm;
}
