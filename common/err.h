/* The one error convention: functions return 0 or a negative errno.  When a failure has to
 * reach a XenAPI client, it also fills a struct api_error: XAPI's error code and its
 * parameters, exactly as they travel in ErrorDescription. */
#ifndef TS_COMMON_ERR_H
#define TS_COMMON_ERR_H

#include <stddef.h>

#define API_ERROR_MAX_PARAMS 16

struct api_error {
        char *code;                         /* NULL when no error is set; owned */
        char *params[API_ERROR_MAX_PARAMS]; /* owned */
        size_t n_params;
};

/* Sets CODE with the NULL-terminated list of string parameters; replaces any earlier error.
 * Returns -EINVAL so callers can write `return api_error_set(e, ...)`. */
int api_error_set(struct api_error *e, const char *code, ...) __attribute__((sentinel));
/* Same with a parameter array. */
int api_error_setv(struct api_error *e, const char *code, const char *const *params, size_t n);
/* Appends one printf-formatted parameter. */
void api_error_add_paramf(struct api_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int api_error_is_set(const struct api_error *e);
/* Frees what E holds; E itself stays usable (and may be NULL). */
void api_error_clear(struct api_error *e);
/* Moves SRC into DST (DST cleared first, SRC left empty). */
void api_error_move(struct api_error *dst, struct api_error *src);

#endif
