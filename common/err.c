#include "common/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *xstrdup(const char *s)
{
        char *d = strdup(s != NULL ? s : "");
        if (d == NULL)
                abort();
        return d;
}

int api_error_setv(struct api_error *e, const char *code, const char *const *params, size_t n)
{
        api_error_clear(e);
        e->code = xstrdup(code);
        for (size_t i = 0; i < n && i < API_ERROR_MAX_PARAMS; i++)
                e->params[e->n_params++] = xstrdup(params[i]);
        return -EINVAL;
}

int api_error_set(struct api_error *e, const char *code, ...)
{
        const char *params[API_ERROR_MAX_PARAMS];
        size_t n = 0;
        va_list ap;
        va_start(ap, code);
        for (const char *p = va_arg(ap, const char *); p != NULL && n < API_ERROR_MAX_PARAMS;
             p = va_arg(ap, const char *))
                params[n++] = p;
        va_end(ap);
        return api_error_setv(e, code, params, n);
}

void api_error_add_paramf(struct api_error *e, const char *fmt, ...)
{
        if (e->n_params >= API_ERROR_MAX_PARAMS)
                return;
        va_list ap;
        char *s = NULL;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                abort();
        va_end(ap);
        e->params[e->n_params++] = s;
}

int api_error_is_set(const struct api_error *e)
{
        return e != NULL && e->code != NULL;
}

void api_error_clear(struct api_error *e)
{
        if (e == NULL)
                return;
        free(e->code);
        e->code = NULL;
        for (size_t i = 0; i < e->n_params; i++)
                free(e->params[i]);
        e->n_params = 0;
}

void api_error_move(struct api_error *dst, struct api_error *src)
{
        api_error_clear(dst);
        *dst = *src;
        memset(src, 0, sizeof *src);
}
