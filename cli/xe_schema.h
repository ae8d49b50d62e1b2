/* xe's view of the XenAPI classes: generated from idl/xenapi.idl by idl/gen_xe.py. */
#ifndef TS_CLI_XE_SCHEMA_H
#define TS_CLI_XE_SCHEMA_H

#include <stddef.h>

enum xe_shape { XE_SCALAR, XE_SET, XE_MAP };
enum xe_kind {
        XE_K_STRING,
        XE_K_INT,
        XE_K_FLOAT,
        XE_K_BOOL,
        XE_K_DATETIME,
        XE_K_ENUM,
        XE_K_REF,
        XE_K_OTHER
};

struct xe_field {
        const char *wire; /* name_label */
        const char *xe;   /* name-label */
        enum xe_shape shape;
        enum xe_kind key;   /* maps: the key's kind */
        enum xe_kind val;   /* scalar, set element or map value kind */
        const char *ref;    /* class of a reference (val == XE_K_REF) */
        const char *setter; /* "set_name_label", or NULL when read-only */
        const char *adder;  /* add_X (sets) or add_to_X (maps), NULL when absent */
        const char *remover;
        const char *enum_values; /* "a|b|c": the values of an enum (element or map value) */
};

struct xe_class {
        const char *wire; /* VM */
        const char *xe;   /* vm */
        const struct xe_field *fields;
        size_t n_fields;
};

extern const struct xe_class xe_classes[];
extern const size_t xe_n_classes;

const struct xe_class *xe_class_by_xe(const char *xe_name);
const struct xe_class *xe_class_by_wire(const char *wire);
const struct xe_field *xe_field_by_xe(const struct xe_class *c, const char *xe_name);
const struct xe_field *xe_field_by_wire(const struct xe_class *c, const char *wire);

#endif
