/* The lvm2 command line: running `lvm <command>` and parsing its `--reportformat json`
 * reports (numbers in bytes through --units b --nosuffix). */
#ifndef TS_STORD_LVM_H
#define TS_STORD_LVM_H

#include <stddef.h>

#include "stord/driver.h"

/* One report row: field name → value, all strings as lvm2 prints them. */
struct lvm_rows {
        struct sd_map *rows;
        size_t n;
};
void lvm_rows_clear(struct lvm_rows *r);

/* Parses the rows of SECTION ("pv", "vg", "lv") out of a JSON report.  0, -EBADMSG when the
 * text is not such a report, -ENOMEM. */
int lvm_report_parse(const char *json, const char *section, struct lvm_rows *out);

/* Runs `lvm ARGS...` (ARGS NULL-terminated, without "lvm"); on failure E gets SM_CODE and
 * lvm's stderr.  OUT (if not NULL) receives stdout. */
int lvm_run(const char *const args[], char **out, struct sd_error *e, int sm_code,
            const char *what);
/* Runs the report command CMD ("pvs", "vgs", "lvs") with FIELDS (comma separated) on TARGET
 * and parses SECTION. */
int lvm_report(const char *cmd, const char *fields, const char *target, const char *section,
               struct lvm_rows *out, struct sd_error *e, int sm_code);

#endif
