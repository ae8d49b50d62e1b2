/* libFuzzer target: the where-expression parser of get_all_records_where, and evaluation
 * of what parsed against a VM row. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/model_gen.h"
#include "xapid/db.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct db *db;
        static struct db_row *row;
        if (db == NULL) {
                model_init();
                db_new(&db);
                db_insert(db, &mclass_VM, NULL, model_record_new(&mclass_VM), &row);
        }
        char *text = malloc(size + 1);
        if (text == NULL)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        struct db_expr *e = NULL;
        char *msg = NULL;
        if (db_expr_parse(text, &e, &msg) == 0) {
                (void)db_expr_eval(e, row);
                db_expr_free(e);
        }
        free(msg);
        free(text);
        return 0;
}
