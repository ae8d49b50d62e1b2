/* A string-keyed hash index of rows (open addressing, linear probing, tombstones).
 * Keys are borrowed from the rows they index. */
#ifndef TS_XAPID_DB_INDEX_H
#define TS_XAPID_DB_INDEX_H

#include <stddef.h>

struct db_row;

struct db_index {
        struct db_index_slot {
                const char *key; /* NULL empty; DB_INDEX_TOMB deleted */
                struct db_row *row;
        } * slots;
        size_t cap, used, live;
};

void db_index_init(struct db_index *ix);
void db_index_free(struct db_index *ix);
/* Returns 0 or -EEXIST. */
int db_index_put(struct db_index *ix, const char *key, struct db_row *row);
struct db_row *db_index_get(const struct db_index *ix, const char *key);
void db_index_del(struct db_index *ix, const char *key);

#endif
