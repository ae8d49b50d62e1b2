#include "stord/qimg.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "stord/spawn.h"

LOG_MODULE(qimg)

void qimg_info_clear(struct qimg_info *i)
{
        if (i == NULL)
                return;
        free(i->backing);
        i->backing = NULL;
}

int qimg_info_parse(const char *json, struct qimg_info *out)
{
        json_error_t jerr;
        json_t *root = json_loads(json, 0, &jerr);
        int rc = -EBADMSG;

        memset(out, 0, sizeof *out);
        if (root == NULL || !json_is_object(root))
                goto out;
        json_t *vs = json_object_get(root, "virtual-size");
        json_t *as = json_object_get(root, "actual-size");
        json_t *fmt = json_object_get(root, "format");
        json_t *bf = json_object_get(root, "backing-filename");
        if (!json_is_integer(vs) || !json_is_string(fmt))
                goto out;
        if (sd_format_parse(json_string_value(fmt), &out->format) < 0) {
                rc = -ENOTSUP;
                goto out;
        }
        out->virtual_size = (uint64_t)json_integer_value(vs);
        out->actual_size = json_is_integer(as) ? (uint64_t)json_integer_value(as) : 0;
        if (json_is_string(bf)) {
                out->backing = strdup(json_string_value(bf));
                if (out->backing == NULL) {
                        rc = -ENOMEM;
                        goto out;
                }
        }
        rc = 0;
out:
        json_decref(root);
        return rc;
}

int qimg_info(const char *path, struct qimg_info *out, struct sd_error *e)
{
        const char *argv[] = {"qemu-img", "info", "-U", "--output=json", path, NULL};
        char *json = NULL;
        int rc = sd_run_ok(argv, &json, e, SM_VDI_LOAD, "reading the image header");
        if (rc < 0)
                return rc;
        rc = qimg_info_parse(json, out);
        if (rc < 0)
                sd_fail(e, rc, SM_VDI_LOAD, "qemu-img info %s: unusable answer", path);
        free(json);
        return rc;
}

int qimg_create(const char *path, enum sd_format fmt, uint64_t size, struct sd_error *e)
{
        char sz[32];
        snprintf(sz, sizeof sz, "%" PRIu64, size);
        /* raw: a sparse file; qcow2: lazy refcounts off, the defaults XAPI-era tools expect */
        const char *argv[] = {"qemu-img",          "create", "-q", "-f",
                              sd_format_name(fmt), path,     sz,   NULL};
        return sd_run_ok(argv, NULL, e, SM_VDI_CREATE, "creating the image");
}

int qimg_resize(const char *path, enum sd_format fmt, uint64_t size, struct sd_error *e)
{
        char sz[32];
        snprintf(sz, sizeof sz, "%" PRIu64, size);
        const char *argv[] = {"qemu-img",          "resize", "-q", "-f",
                              sd_format_name(fmt), path,     sz,   NULL};
        return sd_run_ok(argv, NULL, e, SM_VDI_RESIZE, "resizing the image");
}

int qimg_convert(const char *src, enum sd_format sfmt, const char *dst, enum sd_format dfmt,
                 int dst_exists, struct sd_error *e)
{
        /* -U: the source may be in use read-only; -W: out-of-order writes are fine for a copy */
        const char *argv[16];
        size_t n = 0;
        argv[n++] = "qemu-img";
        argv[n++] = "convert";
        argv[n++] = "-U";
        argv[n++] = "-W";
        if (dst_exists)
                argv[n++] = "-n";
        argv[n++] = "-f";
        argv[n++] = sd_format_name(sfmt);
        argv[n++] = "-O";
        argv[n++] = sd_format_name(dfmt);
        argv[n++] = src;
        argv[n++] = dst;
        argv[n] = NULL;
        return sd_run_ok(argv, NULL, e, SM_VDI_CREATE, "copying the image");
}
