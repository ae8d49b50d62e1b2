/* Hash index of rows by ref or uuid. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xapid/db_index.h"

static const char tomb[] = "";
#define DB_INDEX_TOMB tomb

static uint64_t hash(const char *s)
{
        uint64_t h = 1469598103934665603ull; /* FNV-1a */
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ull;
        return h;
}

void db_index_init(struct db_index *ix)
{
        memset(ix, 0, sizeof(*ix));
}

void db_index_free(struct db_index *ix)
{
        free(ix->slots);
        memset(ix, 0, sizeof(*ix));
}

static void grow(struct db_index *ix)
{
        struct db_index old = *ix;
        ix->cap = old.cap ? old.cap * 2 : 16;
        ix->slots = calloc(ix->cap, sizeof(*ix->slots));
        if (!ix->slots)
                abort();
        ix->used = ix->live = 0;
        for (size_t i = 0; i < old.cap; i++)
                if (old.slots[i].key && old.slots[i].key != DB_INDEX_TOMB)
                        db_index_put(ix, old.slots[i].key, old.slots[i].row);
        free(old.slots);
}

int db_index_put(struct db_index *ix, const char *key, struct db_row *row)
{
        if ((ix->used + 1) * 4 >= ix->cap * 3)
                grow(ix);
        size_t i = hash(key) & (ix->cap - 1), tomb_at = SIZE_MAX;
        for (;; i = (i + 1) & (ix->cap - 1)) {
                const char *k = ix->slots[i].key;
                if (!k)
                        break;
                if (k == DB_INDEX_TOMB) {
                        if (tomb_at == SIZE_MAX)
                                tomb_at = i;
                } else if (strcmp(k, key) == 0) {
                        return -EEXIST;
                }
        }
        if (tomb_at != SIZE_MAX)
                i = tomb_at;
        else
                ix->used++;
        ix->slots[i].key = key;
        ix->slots[i].row = row;
        ix->live++;
        return 0;
}

static size_t find(const struct db_index *ix, const char *key)
{
        if (!ix->cap || !key)
                return SIZE_MAX;
        for (size_t i = hash(key) & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
                const char *k = ix->slots[i].key;
                if (!k)
                        return SIZE_MAX;
                if (k != DB_INDEX_TOMB && strcmp(k, key) == 0)
                        return i;
        }
}

struct db_row *db_index_get(const struct db_index *ix, const char *key)
{
        size_t i = find(ix, key);
        return i == SIZE_MAX ? NULL : ix->slots[i].row;
}

void db_index_del(struct db_index *ix, const char *key)
{
        size_t i = find(ix, key);
        if (i == SIZE_MAX)
                return;
        ix->slots[i].key = DB_INDEX_TOMB;
        ix->slots[i].row = NULL;
        ix->live--;
}
