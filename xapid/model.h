/* Generic description of the datamodel, filled by the generated code in $(B)/gen/api
 * (idl/gen.py) and walked by everything generic: the store, the journal, marshalling.
 *
 * Every class has a typed C record (struct api_<class>, generated) and a struct mclass
 * listing its fields with their type tree and offset, OVS-IDL style.  A field's storage
 * ("slot") depends on its type: char * for string/ref, int64_t for int, double for float,
 * bool, time_t for datetime, int for enum, struct mset / struct mmap embedded for
 * containers.  Container elements are union mval, where nested containers are pointers. */
#ifndef TS_XAPID_MODEL_H
#define TS_XAPID_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct rpc_value;
struct rpc_writer;
struct api_error;

enum mtype_kind {
        MT_VOID,
        MT_STRING,
        MT_INT,
        MT_FLOAT,
        MT_BOOL,
        MT_DATETIME,
        MT_ENUM,
        MT_REF,
        MT_SET,
        MT_MAP,
        MT_RECORD, /* "<class> record": only as parameter / result, never stored */
        MT_OPAQUE, /* event_batch, "<class> record", options: built by hand-written code */
};

struct menum {
        const char *name;
        const char *const *values;
        int n;
};

struct mtype {
        enum mtype_kind kind;
        const struct mtype *elem; /* MT_SET */
        const struct mtype *key;  /* MT_MAP */
        const struct mtype *val;  /* MT_MAP */
        const struct menum *en;   /* MT_ENUM */
        const char *cls_name;     /* MT_REF / MT_RECORD: target class name */
        int cls;                  /* its class id, -1 when outside the served subset */
};

union mval {
        char *s;
        int64_t i;
        double d;
        bool b;
        int e;
        struct mset *set;
        struct mmap *map;
};

struct mset {
        size_t n;
        union mval *v; /* owned */
};

struct mmap {
        size_t n;
        union mval *k, *v; /* owned, parallel arrays */
};

enum mqual { MQ_RW, MQ_RO_CONSTRUCTOR, MQ_RO_RUNTIME };

struct mfield {
        const char *name;
        const struct mtype *type;
        size_t offset;
        enum mqual qual;
        const char *def_json; /* default as JSON text, NULL if none (then required in create) */
        /* Bound pair (XAPI's relations): for a ref field, the set field of the target class that
         * lists this object; for that set field, is_derived marks it as computed (not stored). */
        int partner_cls, partner_field; /* -1 when none */
        bool is_derived;
};

struct mclass {
        const char *name;
        int id;
        size_t size; /* sizeof(struct api_<name>) */
        const struct mfield *fields;
        int n_fields;
        bool persistent;                  /* journaled to SQLite */
        bool table;                       /* has rows at all (event has none) */
        int uuid_field, name_label_field; /* -1 if the class has none */
};

extern const struct mclass *const api_classes[];
extern const int api_n_classes;
const struct mclass *model_class_by_name(const char *name);
int model_field_index(const struct mclass *c, const char *name); /* -1 if none */

static inline void *model_slot(void *rec, const struct mfield *f)
{
        return (char *)rec + f->offset;
}

/* Parses every field default once.  Idempotent; returns 0 or -EINVAL (bad IDL). */
int model_init(void);

/* Records.  new() returns a record with every field at its default; caller frees. */
void *model_record_new(const struct mclass *c);
void model_record_free(const struct mclass *c, void *rec); /* NULL is fine */
void *model_record_copy(const struct mclass *c, const void *rec);

/* Slots. */
void model_slot_free(const struct mtype *t, void *slot); /* leaves the slot zeroed */
void model_slot_copy(const struct mtype *t, void *dst, const void *src); /* dst is empty */
bool model_slot_equal(const struct mtype *t, const void *a, const void *b);
void *model_elem_slot(const struct mtype *t, union mval *v); /* allocates nested containers */

/* Set/map helpers (elements are copied). */
void mset_add(const struct mtype *elem, struct mset *s, const void *slot);
bool mset_remove(const struct mtype *elem, struct mset *s, const void *slot);
bool mset_contains(const struct mtype *elem, const struct mset *s, const void *slot);
/* Returns the index of KEY in M or -1. */
long mmap_find(const struct mtype *key, const struct mmap *m, const void *slot);
void mmap_put(const struct mtype *mt, struct mmap *m, const void *key, const void *val);
bool mmap_remove(const struct mtype *mt, struct mmap *m, const void *key);

/* Enums: name <-> index; -1 if unknown. */
int menum_lookup(const struct menum *e, const char *name);

/* Marshalling.  to_rpc writes one value (every field of a record, in IDL order). */
void model_slot_write(struct rpc_writer *w, const struct mtype *t, const void *slot);
void model_record_write(struct rpc_writer *w, const struct mclass *c, const void *rec);
/* Decodes V into an empty SLOT; on a type mismatch sets FIELD_TYPE_ERROR [NAME] (or
 * INVALID_VALUE for an unknown enum value / bad number text) and returns -EINVAL. */
int model_slot_read(const struct mtype *t, const struct rpc_value *v, void *slot, const char *name,
                    struct api_error *err);
/* Builds a record for `create` from a struct: RW and RO/constructor fields are read, those
 * without a default are required (missing → FIELD_TYPE_ERROR [field]); others stay default.
 * Returns 0 with *OUT (caller frees) or -EINVAL with ERR set. */
int model_record_read(const struct mclass *c, const struct rpc_value *v, void **out,
                      struct api_error *err);

/* Text form of a slot as XAPI's database stores it (used by where-expressions): strings
 * verbatim, ints decimal, bools true/false, enums by name, datetimes 20240101T00:00:00Z,
 * sets and maps as XAPI's S-expressions.  Caller frees. */
char *model_slot_to_text(const struct mtype *t, const void *slot);

#endif
