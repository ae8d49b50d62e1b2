/* Failures of a convergence, per link (see apply_report.h). */
#include "netd/apply_report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct apply_failure *apply_report_find(const struct apply_report *r, const char *name)
{
        for (size_t i = 0; r != NULL && i < r->n; i++)
                if (strcmp(r->v[i].name, name) == 0)
                        return &r->v[i];
        return NULL;
}

void apply_report_add(struct apply_report *r, const char *name, int err, const char *fmt, ...)
{
        if (r == NULL || name == NULL || apply_report_find(r, name) != NULL)
                return;
        if (r->n == r->cap) {
                size_t cap = r->cap ? 2 * r->cap : 8;
                struct apply_failure *v = realloc(r->v, cap * sizeof(*v));
                if (v == NULL)
                        return; /* the failure is still logged by the caller */
                r->v = v;
                r->cap = cap;
        }
        struct apply_failure *f = &r->v[r->n++];
        snprintf(f->name, sizeof(f->name), "%s", name);
        f->err = err < 0 ? -err : err;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
        va_end(ap);
}

void apply_report_free(struct apply_report *r)
{
        if (r == NULL)
                return;
        free(r->v);
        memset(r, 0, sizeof(*r));
}
