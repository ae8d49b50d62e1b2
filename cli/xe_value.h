/* A decoded XML-RPC value, the currency between xe's request writer, response parser and
 * commands. */
#ifndef TS_CLI_XE_VALUE_H
#define TS_CLI_XE_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum xv_kind { XV_STRING, XV_INT, XV_BOOL, XV_DOUBLE, XV_DATETIME, XV_ARRAY, XV_STRUCT, XV_NIL };

struct xv {
        enum xv_kind kind;
        char *s; /* XV_STRING, XV_DATETIME */
        int64_t i;
        bool b;
        double d;
        size_t n, cap;
        struct xv **items; /* XV_ARRAY elements, XV_STRUCT values */
        char **keys;       /* XV_STRUCT member names */
};

/* A message formatted into a new string (NULL when out of memory); the caller frees it. */
char *xe_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct xv *xv_string(const char *s);
struct xv *xv_datetime(const char *s);
struct xv *xv_int(int64_t i);
struct xv *xv_bool(bool b);
struct xv *xv_double(double d);
struct xv *xv_array(void);
struct xv *xv_struct(void);
struct xv *xv_nil(void);
/* Appends (taking ownership); returns the container. */
struct xv *xv_push(struct xv *array, struct xv *item);
struct xv *xv_put(struct xv *st, const char *key, struct xv *value);
/* Member of a struct, or NULL. */
struct xv *xv_get(const struct xv *st, const char *key);
/* The string of an XV_STRING (or ""), for fields known to be strings. */
const char *xv_str(const struct xv *v);
struct xv *xv_copy(const struct xv *v);
void xv_free(struct xv *v);

#endif
