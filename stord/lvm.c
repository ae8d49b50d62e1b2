#include "stord/lvm.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "stord/spawn.h"

LOG_MODULE(lvm)

void lvm_rows_clear(struct lvm_rows *r)
{
        if (r == NULL)
                return;
        for (size_t i = 0; i < r->n; i++)
                sd_map_clear(&r->rows[i]);
        free(r->rows);
        r->rows = NULL;
        r->n = 0;
}

int lvm_report_parse(const char *json, const char *section, struct lvm_rows *out)
{
        json_error_t jerr;
        json_t *root = json_loads(json, 0, &jerr);
        json_t *report = json_object_get(root, "report");
        int rc = 0;

        memset(out, 0, sizeof *out);
        if (!json_is_array(report)) {
                rc = -EBADMSG;
                goto out;
        }
        /* one element per report (several when lvm2 reports several VGs separately) */
        size_t i;
        json_t *rep;
        json_array_foreach(report, i, rep)
        {
                json_t *rows = json_object_get(rep, section);
                if (rows == NULL)
                        continue;
                if (!json_is_array(rows)) {
                        rc = -EBADMSG;
                        goto out;
                }
                size_t j;
                json_t *row;
                json_array_foreach(rows, j, row)
                {
                        if (!json_is_object(row)) {
                                rc = -EBADMSG;
                                goto out;
                        }
                        struct sd_map *nv = realloc(out->rows, (out->n + 1) * sizeof *nv);
                        if (nv == NULL) {
                                rc = -ENOMEM;
                                goto out;
                        }
                        out->rows = nv;
                        memset(&out->rows[out->n], 0, sizeof *nv);
                        struct sd_map *m = &out->rows[out->n++];
                        const char *k;
                        json_t *v;
                        json_object_foreach(row, k, v)
                        {
                                if (!json_is_string(v))
                                        continue;
                                if (sd_map_set(m, k, json_string_value(v)) < 0) {
                                        rc = -ENOMEM;
                                        goto out;
                                }
                        }
                }
        }
out:
        if (rc < 0)
                lvm_rows_clear(out);
        json_decref(root);
        return rc;
}

int lvm_run(const char *const args[], char **out, struct sd_error *e, int sm_code, const char *what)
{
        const char *argv[32];
        size_t n = 0;
        /* our own descriptors are close-on-exec; anything else inherited is not lvm's business */
        setenv("LVM_SUPPRESS_FD_WARNINGS", "1", 0);
        argv[n++] = "lvm";
        for (size_t i = 0; args[i] != NULL && n < 31; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        return sd_run_ok(argv, out, e, sm_code, what);
}

int lvm_report(const char *cmd, const char *fields, const char *target, const char *section,
               struct lvm_rows *out, struct sd_error *e, int sm_code)
{
        const char *args[] = {cmd,  "--reportformat", "json", "--units", "b", "--nosuffix",
                              "-o", fields,           target, NULL};
        char *text = NULL;
        memset(out, 0, sizeof *out);
        int rc = lvm_run(args, &text, e, sm_code, "querying LVM");
        if (rc < 0)
                return rc;
        rc = lvm_report_parse(text, section, out);
        if (rc < 0)
                sd_fail(e, rc, sm_code, "lvm %s: unparsable report", cmd);
        free(text);
        return rc;
}
