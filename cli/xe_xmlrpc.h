/* XML-RPC for xe: the request writer and the response parser (libxml2). */
#ifndef TS_CLI_XE_XMLRPC_H
#define TS_CLI_XE_XMLRPC_H

#include <stddef.h>

#include "cli/xe_value.h"

/* A methodCall document (malloc'd, NUL-terminated; *len is its length). */
char *xe_xmlrpc_request(const char *method, struct xv *const *params, size_t n, size_t *len);
/* Parses a methodResponse: 0 and *value (the single param) on success; -1 and *error
 * (malloc'd text) when the document is not a methodResponse or carries a fault. */
int xe_xmlrpc_response(const char *body, size_t len, struct xv **value, char **error);

#endif
