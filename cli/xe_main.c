/* xe: the XenAPI command line (XAPI's `xe <class>-<verb> key=value ...`). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/xe.h"

static struct xe_ctx *dying;

static _Noreturn void finish(struct xe_ctx *x, int status)
{
        fflush(stdout);
        /* log out once; a failure while logging out ends here too */
        if (x && dying != x) {
                dying = x;
                xe_logout(x);
        }
        exit(status);
}

_Noreturn void xe_die_api(struct xe_ctx *x, const struct xv *ed)
{
        fflush(stdout);
        const char *code = ed && ed->kind == XV_ARRAY && ed->n ? xv_str(ed->items[0]) : "";
        fprintf(stderr, "Error code: %s\nError parameters: ", code);
        for (size_t i = 1; ed && ed->kind == XV_ARRAY && i < ed->n; i++)
                fprintf(stderr, "%s%s", i > 1 ? ", " : "", xv_str(ed->items[i]));
        fputc('\n', stderr);
        finish(x, 1);
}

_Noreturn void xe_die(struct xe_ctx *x, const char *fmt, ...)
{
        va_list ap;
        fflush(stdout);
        fputs("Error: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        finish(x, 1);
}

_Noreturn void xe_die_usage(struct xe_ctx *x, const char *what, const char *detail)
{
        fflush(stdout);
        if (*what)
                fprintf(stderr, "%s: %s\n", what, detail);
        else
                fprintf(stderr, "%s\n", detail);
        fputs("For usage run: 'xe help'\n", stderr);
        finish(x, 1);
}

const char *xe_required(struct xe_ctx *x, const char *key)
{
        const char *v = xe_param(x->args, key);
        if (!v)
                xe_die_usage(x, "Required parameter not found", key);
        return v;
}

int main(int argc, char **argv)
{
        struct xe_args args;
        char *error = NULL;
        if (xe_args_parse(argc, argv, &args, &error) < 0 ||
            xe_args_add_extra(&args, getenv("XE_EXTRA_ARGS"), &error) < 0) {
                fprintf(stderr, "%s\nFor usage run: 'xe help'\n", error);
                free(error);
                return 1;
        }
        struct xe_ctx x = {.args = &args, .conn = {.fd = -1}};
        const char *cmd = args.cmd ? args.cmd : "help";
        int status = xe_help_command(&x, cmd);
        if (status < 0)
                status = xe_generic_command(&x, cmd);
        if (status < 0)
                status = xe_vm_command(&x, cmd);
        if (status < 0)
                status = xe_object_command(&x, cmd);
        if (status < 0)
                status = xe_event_command(&x, cmd);
        if (status < 0)
                xe_die_usage(&x, "Unknown command", cmd);
        fflush(stdout);
        xe_logout(&x);
        xv_free(x.error);
        for (size_t i = 0; i < x.n_cache; i++) {
                free(x.cache[i].ref);
                free(x.cache[i].uuid);
        }
        free(x.cache);
        xe_args_free(&args);
        return status;
}
