/* The driver registry, the dispatchers, and the value types shared by every driver. */
#include "stord/driver.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "stord/qimg.h"
#include "stord/srlock.h"

LOG_MODULE(driver)

/* ---- errors ---- */

static void set_reason(struct sd_error *e, const char *fmt, va_list ap)
{
        vsnprintf(e->reason, sizeof e->reason, fmt, ap);
}

int sd_fail(struct sd_error *e, int err, int sm_code, const char *fmt, ...)
{
        if (e == NULL)
                return err;
        memset(e, 0, sizeof *e);
        e->err = err;
        e->sm_code = sm_code;
        va_list ap;
        va_start(ap, fmt);
        set_reason(e, fmt, ap);
        va_end(ap);
        return err;
}

int sd_fail_api(struct sd_error *e, int err, const char *code, const char *p1, const char *p2,
                const char *fmt, ...)
{
        if (e == NULL)
                return err;
        memset(e, 0, sizeof *e);
        e->err = err;
        snprintf(e->api_code, sizeof e->api_code, "%s", code);
        snprintf(e->params[0], sizeof e->params[0], "%s", p1 ? p1 : "");
        snprintf(e->params[1], sizeof e->params[1], "%s", p2 ? p2 : "");
        va_list ap;
        va_start(ap, fmt);
        set_reason(e, fmt, ap);
        va_end(ap);
        return err;
}

int sd_error_to_api(const struct sd_error *e, struct api_error *out)
{
        if (e->api_code[0] != '\0') {
                const char *p[2] = {e->params[0], e->params[1]};
                size_t n = e->params[1][0] ? 2 : e->params[0][0] ? 1 : 0;
                return api_error_setv(out, e->api_code, p, n);
        }
        if (e->sm_code > 0) {
                char code[48];
                snprintf(code, sizeof code, "SR_BACKEND_FAILURE_%d", e->sm_code);
                return api_error_set(out, code, "", e->reason, "", NULL);
        }
        return api_error_set(out, "SR_BACKEND_FAILURE", strerrorname_np(-e->err) ?: "EIO", "",
                             e->reason, NULL);
}

/* ---- maps ---- */

const char *sd_map_get(const struct sd_map *m, const char *key)
{
        if (m == NULL)
                return NULL;
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->v[i].key, key) == 0)
                        return m->v[i].value;
        return NULL;
}

int sd_map_set(struct sd_map *m, const char *key, const char *value)
{
        char *v = strdup(value);
        if (v == NULL)
                return -ENOMEM;
        for (size_t i = 0; i < m->n; i++) {
                if (strcmp(m->v[i].key, key) == 0) {
                        free(m->v[i].value);
                        m->v[i].value = v;
                        return 0;
                }
        }
        struct sd_kv *nv = realloc(m->v, (m->n + 1) * sizeof *nv);
        char *k = strdup(key);
        if (nv == NULL || k == NULL) {
                if (nv != NULL)
                        m->v = nv;
                free(k);
                free(v);
                return -ENOMEM;
        }
        m->v = nv;
        m->v[m->n].key = k;
        m->v[m->n].value = v;
        m->n++;
        return 0;
}

int sd_map_copy(struct sd_map *dst, const struct sd_map *src)
{
        for (size_t i = 0; src != NULL && i < src->n; i++)
                if (sd_map_set(dst, src->v[i].key, src->v[i].value) < 0)
                        return -ENOMEM;
        return 0;
}

void sd_map_clear(struct sd_map *m)
{
        if (m == NULL)
                return;
        for (size_t i = 0; i < m->n; i++) {
                free(m->v[i].key);
                free(m->v[i].value);
        }
        free(m->v);
        m->v = NULL;
        m->n = 0;
}

/* ---- VDIs ---- */

const char *sd_format_name(enum sd_format f)
{
        return f == SD_FMT_QCOW2 ? "qcow2" : "raw";
}

int sd_format_parse(const char *name, enum sd_format *f)
{
        if (name != NULL && strcmp(name, "qcow2") == 0)
                *f = SD_FMT_QCOW2;
        else if (name != NULL && strcmp(name, "raw") == 0)
                *f = SD_FMT_RAW;
        else
                return -EINVAL;
        return 0;
}

void sd_vdi_clear(struct sd_vdi *v)
{
        if (v == NULL)
                return;
        free(v->location);
        free(v->uuid);
        free(v->type);
        free(v->parent);
        free(v->snapshot_of);
        free(v->snapshot_time);
        memset(v, 0, sizeof *v);
}

void sd_vdi_list_clear(struct sd_vdi_list *l)
{
        if (l == NULL)
                return;
        for (size_t i = 0; i < l->n; i++)
                sd_vdi_clear(&l->v[i]);
        free(l->v);
        l->v = NULL;
        l->n = 0;
}

int sd_vdi_list_take(struct sd_vdi_list *l, struct sd_vdi *v)
{
        struct sd_vdi *nv = realloc(l->v, (l->n + 1) * sizeof *nv);
        if (nv == NULL)
                return -ENOMEM;
        l->v = nv;
        l->v[l->n++] = *v;
        memset(v, 0, sizeof *v);
        return 0;
}

const struct sd_vdi *sd_vdi_list_find(const struct sd_vdi_list *l, const char *location)
{
        for (size_t i = 0; l != NULL && i < l->n; i++)
                if (strcmp(l->v[i].location, location) == 0)
                        return &l->v[i];
        return NULL;
}

size_t sd_vdi_list_snapshots(const struct sd_vdi_list *l, const char *location, const char **out,
                             size_t max)
{
        size_t n = 0;
        for (size_t i = 0; l != NULL && i < l->n; i++) {
                if (l->v[i].snapshot_of == NULL || strcmp(l->v[i].snapshot_of, location) != 0)
                        continue;
                if (out != NULL && n < max)
                        out[n] = l->v[i].location;
                n++;
        }
        return n;
}

void sd_attach_clear(struct sd_attach *a)
{
        if (a == NULL)
                return;
        free(a->path);
        a->path = NULL;
}

/* ---- probe ---- */

void sd_probe_clear(struct sd_probe *p)
{
        if (p == NULL)
                return;
        for (size_t i = 0; i < p->n; i++)
                free(p->srs[i].aux);
        free(p->srs);
        p->srs = NULL;
        p->n = 0;
}

static void xml_escape(FILE *f, const char *s)
{
        for (; *s; s++) {
                switch (*s) {
                case '<':
                        fputs("&lt;", f);
                        break;
                case '>':
                        fputs("&gt;", f);
                        break;
                case '&':
                        fputs("&amp;", f);
                        break;
                case '"':
                        fputs("&quot;", f);
                        break;
                default:
                        fputc(*s, f);
                }
        }
}

char *sd_probe_to_xml(const struct sd_probe *p)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (f == NULL)
                return NULL;
        fputs("<?xml version=\"1.0\" ?>\n<SRlist>\n", f);
        for (size_t i = 0; i < p->n; i++) {
                const struct sd_probe_sr *s = &p->srs[i];
                fprintf(f,
                        "\t<SR>\n\t\t<UUID>%s</UUID>\n\t\t<Size>%" PRIu64
                        "</Size>\n\t\t<FreeSpace>%" PRIu64 "</FreeSpace>\n",
                        s->uuid, s->size, s->free_space);
                if (s->aux != NULL) {
                        fputs("\t\t<Aux>", f);
                        xml_escape(f, s->aux);
                        fputs("</Aux>\n", f);
                }
                fputs("\t</SR>\n", f);
        }
        fputs("</SRlist>\n", f);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* ---- registry and dispatch ---- */

static const struct sd_driver *const all_drivers[] = {
    &sd_driver_file, &sd_driver_ext, &sd_driver_iso, &sd_driver_lvm, &sd_driver_nfs, NULL,
};

const struct sd_driver *const *sd_drivers(void)
{
        return all_drivers;
}

const struct sd_driver *sd_driver_find(const char *name)
{
        for (size_t i = 0; name != NULL && all_drivers[i] != NULL; i++)
                if (strcmp(all_drivers[i]->name, name) == 0)
                        return all_drivers[i];
        return NULL;
}

bool sd_driver_has_capability(const struct sd_driver *d, const char *cap)
{
        for (size_t i = 0; d->capabilities[i] != NULL; i++)
                if (strcmp(d->capabilities[i], cap) == 0)
                        return true;
        return false;
}

int sd_sr_open(const char *type, const char *sr_uuid, const struct sd_map *dconf,
               struct sd_sr **out, struct sd_error *e)
{
        const struct sd_driver *d = sd_driver_find(type);
        *out = NULL;
        if (d == NULL)
                return sd_fail(e, -ENOENT, SM_SR_UNKNOWN_TYPE, "unknown SR type '%s'",
                               type ? type : "");
        if (!uuid_is_valid(sr_uuid))
                return sd_fail(e, -EINVAL, SM_INVALID_ARG, "invalid SR uuid '%s'",
                               sr_uuid ? sr_uuid : "");
        struct sd_sr *sr = calloc(1, sizeof *sr);
        if (sr == NULL)
                return sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
        sr->drv = d;
        snprintf(sr->uuid, sizeof sr->uuid, "%s", sr_uuid);
        int rc = sd_map_copy(&sr->dconf, dconf);
        if (rc < 0) {
                sd_fail(e, rc, SM_GENERAL, "out of memory");
                goto fail;
        }
        sr->lock = sd_srlock_for(sr->uuid);
        if (sr->lock == NULL) {
                rc = sd_fail(e, -ENOMEM, SM_GENERAL, "out of memory");
                goto fail;
        }
        rc = d->open(sr, e);
        if (rc < 0)
                goto fail;
        *out = sr;
        return 0;
fail:
        sd_sr_close(sr);
        return rc;
}

void sd_sr_close(struct sd_sr *sr)
{
        if (sr == NULL)
                return;
        if (sr->drv->close != NULL)
                sr->drv->close(sr);
        sd_map_clear(&sr->dconf);
        free(sr->path);
        free(sr->vg);
        free(sr);
}

static int unsupported(const struct sd_sr *sr, const char *op, struct sd_error *e)
{
        return sd_fail_api(e, -EOPNOTSUPP, "SR_OPERATION_NOT_SUPPORTED", sr ? sr->uuid : "", NULL,
                           "%s SRs do not support %s", sr ? sr->drv->name : "these", op);
}

/* The driver's OP under the SR's lock, or SR_OPERATION_NOT_SUPPORTED. */
#define DISPATCH(sr, op, ...)                                                                      \
        ({                                                                                         \
                int rc_;                                                                           \
                if ((sr)->drv->op == NULL) {                                                       \
                        rc_ = unsupported((sr), #op, e);                                           \
                } else {                                                                           \
                        sd_srlock_take((sr)->lock);                                                \
                        rc_ = (sr)->drv->op(__VA_ARGS__);                                          \
                        sd_srlock_release((sr)->lock);                                             \
                }                                                                                  \
                rc_;                                                                               \
        })

int sd_sr_create(struct sd_sr *sr, uint64_t size, struct sd_error *e)
{
        return DISPATCH(sr, sr_create, sr, size, e);
}
int sd_sr_delete(struct sd_sr *sr, struct sd_error *e)
{
        return DISPATCH(sr, sr_delete, sr, e);
}
int sd_sr_attach(struct sd_sr *sr, struct sd_error *e)
{
        return DISPATCH(sr, sr_attach, sr, e);
}
int sd_sr_detach(struct sd_sr *sr, struct sd_error *e)
{
        return DISPATCH(sr, sr_detach, sr, e);
}
int sd_sr_scan(struct sd_sr *sr, struct sd_vdi_list *out, struct sd_error *e)
{
        memset(out, 0, sizeof *out);
        return DISPATCH(sr, sr_scan, sr, out, e);
}
int sd_sr_stat(struct sd_sr *sr, struct sd_sr_stat *out, struct sd_error *e)
{
        memset(out, 0, sizeof *out);
        return DISPATCH(sr, sr_stat, sr, out, e);
}
int sd_sr_probe(const char *type, const struct sd_map *dconf, struct sd_probe *out,
                struct sd_error *e)
{
        const struct sd_driver *d = sd_driver_find(type);
        memset(out, 0, sizeof *out);
        if (d == NULL)
                return sd_fail(e, -ENOENT, SM_SR_UNKNOWN_TYPE, "unknown SR type '%s'",
                               type ? type : "");
        if (d->sr_probe == NULL)
                return sd_fail_api(e, -EOPNOTSUPP, "SR_OPERATION_NOT_SUPPORTED", "", NULL,
                                   "%s SRs cannot be probed", d->name);
        return d->sr_probe(dconf, out, e);
}
int sd_vdi_create(struct sd_sr *sr, const struct sd_vdi_create_args *a, struct sd_vdi *out,
                  struct sd_error *e)
{
        memset(out, 0, sizeof *out);
        return DISPATCH(sr, vdi_create, sr, a, out, e);
}
int sd_vdi_delete(struct sd_sr *sr, const char *location, struct sd_error *e)
{
        return DISPATCH(sr, vdi_delete, sr, location, e);
}
int sd_vdi_clone(struct sd_sr *sr, const char *location, struct sd_vdi *out, struct sd_error *e)
{
        memset(out, 0, sizeof *out);
        return DISPATCH(sr, vdi_clone, sr, location, out, e);
}
int sd_vdi_snapshot(struct sd_sr *sr, const char *location, struct sd_vdi *out, struct sd_error *e)
{
        memset(out, 0, sizeof *out);
        return DISPATCH(sr, vdi_snapshot, sr, location, out, e);
}
int sd_vdi_resize(struct sd_sr *sr, const char *location, uint64_t new_size, struct sd_error *e)
{
        return DISPATCH(sr, vdi_resize, sr, location, new_size, e);
}
int sd_vdi_attach(struct sd_sr *sr, const char *location, bool read_only, struct sd_attach *out,
                  struct sd_error *e)
{
        memset(out, 0, sizeof *out);
        return DISPATCH(sr, vdi_attach, sr, location, read_only, out, e);
}
int sd_vdi_detach(struct sd_sr *sr, const char *location, struct sd_error *e)
{
        return DISPATCH(sr, vdi_detach, sr, location, e);
}
int sd_vdi_introduce(struct sd_sr *sr, const char *location, struct sd_vdi *out, struct sd_error *e)
{
        memset(out, 0, sizeof *out);
        return DISPATCH(sr, vdi_introduce, sr, location, out, e);
}

int sd_vdi_copy(struct sd_sr *src, const char *location, struct sd_sr *dst, enum sd_format fmt,
                struct sd_vdi *out, struct sd_error *e)
{
        struct sd_vdi sv = {0};
        struct sd_attach sa = {0}, da = {0};
        bool src_att = false, dst_att = false;
        int rc;

        memset(out, 0, sizeof *out);
        rc = sd_vdi_introduce(src, location, &sv, e);
        if (rc < 0)
                return rc;
        struct sd_vdi_create_args a = {
            .virtual_size = sv.virtual_size, .format = fmt, .type = sv.type};
        rc = sd_vdi_create(dst, &a, out, e);
        if (rc < 0)
                goto out;
        rc = sd_vdi_attach(src, location, true, &sa, e);
        if (rc < 0)
                goto fail;
        src_att = true;
        rc = sd_vdi_attach(dst, out->location, false, &da, e);
        if (rc < 0)
                goto fail;
        dst_att = true;
        /* Into the existing destination (-n): it may be an LV or carry our metadata already. */
        rc = qimg_convert(sa.path, sa.format, da.path, da.format, 1, e);
        if (rc < 0)
                goto fail;
        log_info("copied %s:%s to %s:%s (%" PRIu64 " bytes virtual)", src->uuid, location,
                 dst->uuid, out->location, sv.virtual_size);
        goto out;
fail:
        if (dst_att)
                sd_vdi_detach(dst, out->location, NULL);
        dst_att = false;
        if (out->location != NULL)
                sd_vdi_delete(dst, out->location, NULL);
        sd_vdi_clear(out);
out:
        if (dst_att && sd_vdi_detach(dst, out->location, NULL) < 0)
                log_warnx("copy: detaching %s failed", out->location);
        if (src_att)
                sd_vdi_detach(src, location, NULL);
        if (rc == 0) {
                /* report the destination as it is now (its real allocation) */
                struct sd_vdi fresh = {0};
                if (sd_vdi_introduce(dst, out->location, &fresh, NULL) == 0) {
                        sd_vdi_clear(out);
                        *out = fresh;
                }
        }
        sd_attach_clear(&sa);
        sd_attach_clear(&da);
        sd_vdi_clear(&sv);
        return rc;
}

void sd_crashpoint(const char *name)
{
        const char *want = getenv("STORD_CRASHPOINT");
        if (want == NULL || strcmp(want, name) != 0)
                return;
        log_warnx("crash point %s reached: stopping", name);
        raise(SIGSTOP);
}
